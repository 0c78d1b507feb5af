"""The gate's rule on plain numbers."""

from bot.training.gate import GateRules, Scores, judge

RULES = GateRules(margin=0.02, intent_f1_floor=0.3)


def test_a_model_as_good_as_the_active_one_passes():
    assert judge(Scores(0.89, 0.88, {"greet": 0.9}), Scores(0.90, 0.89), RULES).passed


def test_worse_than_the_active_model_beyond_the_margin_is_refused_with_the_numbers():
    verdict = judge(Scores(0.80, 0.88, {"greet": 0.9}), Scores(0.90, 0.89), RULES)
    assert not verdict.passed
    assert "akurasi 0.800 lebih rendah dari model aktif 0.900" in verdict.reason


def test_one_intent_under_the_floor_is_refused_even_without_an_active_model():
    verdict = judge(Scores(0.95, 0.95, {"greet": 0.9, "ask_new": 0.0}), None, RULES)
    assert not verdict.passed and "ask_new 0.00" in verdict.reason
