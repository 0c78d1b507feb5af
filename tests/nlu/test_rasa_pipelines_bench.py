"""bench/rasa_pipelines.py's pure parts (its candidates and report modules): the candidate table
as Rasa configs, the rule that chooses, the Markdown section. No Rasa training here (the benchmark itself does that)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from nlu.scores import EvaluationReport, Prediction, score
from tests.support import PROJECT

# The bench scripts import each other as siblings (bench/ is not a package).
sys.path.insert(0, str(PROJECT / "bench"))

from rasa_pipelines_candidates import (  # noqa: E402
    CANDIDATES,
    CRF,
    DEFAULT,
    DEFAULT_CONFIG,
    LEXICAL,
    LINEAR,
    PIPELINES_DIR,
    all_candidates,
    config_yaml,
    write_configs,
)
from rasa_pipelines_report import best_linear, choose, replace_section  # noqa: E402
from rasa_pipelines_runs import Result  # noqa: E402


def report(right: int, wrong: int, below: int = 0) -> EvaluationReport:
    """A report of ``right + wrong`` sentences, ``below`` of them (right ones first) under the threshold."""
    preds = [Prediction(f"r{i}", "greet", "greet", 0.9, i >= below) for i in range(right)]
    preds += [Prediction(f"w{i}", "greet", "thank", 0.9, True) for i in range(wrong)]
    return score(preds, engine="rasa", method="held-out")


def result(key: str, *, right: int, below: int = 0, cpu: float = 10.0, mb: float = 600.0) -> Result:
    """Right answers out of 200 short + 100 long sentences (the long set always 90 right)."""
    return Result(key, key, report(right - 90, 290 - right, below), report(90, 10), None,
                  # The wall time says the opposite of the CPU time: the rule must not read it.
                  train_seconds=1000.0 - cpu, p50_ms=5.0, p99_ms=9.0, serving_mb=mb, serving_peak_mb=mb,
                  load_average=1.0, train_cpu_seconds=cpu)


def test_a_candidate_becomes_a_rasa_config_with_its_pipeline() -> None:
    for candidate in all_candidates("a"):
        config = yaml.safe_load(config_yaml(candidate))
        assert config["recipe"] == "default.v1" and config["language"] == "id" and config["policies"] == []
        # A fixed id, or `rasa train` rewrites the file.
        assert config["assistant_id"] == "warga-nlu"
        assert config["pipeline"] == [dict(c) for c in candidate.pipeline]
        assert config["pipeline"][-1]["name"] == "FallbackClassifier"
        assert config["pipeline"][-1]["threshold"] <= 0.5


def test_the_entity_variants_keep_the_linear_intent_classifier_and_drop_the_crf() -> None:
    for linear in ("a", "b"):
        by_key = {c.key: c for c in all_candidates(linear)}
        base = by_key[linear]
        for key in ("d", "f"):
            variant = by_key[key]
            assert variant.intents_as == linear
            assert CRF not in variant.pipeline and LINEAR in variant.pipeline
            # Every sentence featurizer of the base stays, so its classifier sees the same input;
            # the word shapes (sequence features only) are added once for DIET.
            assert [c for c in base.pipeline if c is not CRF] == [c for c in variant.pipeline if c in base.pipeline]
            assert variant.pipeline.count(LEXICAL) == 1
            diet = next(c for c in variant.pipeline if c["name"] == "DIETClassifier")
            assert diet["intent_classification"] is False and diet["entity_recognition"] is True


def test_the_committed_candidate_configs_are_the_tables() -> None:
    committed = {p.name: p.read_text(encoding="utf-8") for p in PIPELINES_DIR.glob("*.yml")}
    tables = {linear: {c.file_name: config_yaml(c) for c in all_candidates(linear)} for linear in ("a", "b")}
    assert committed in tables.values(), "nlu/rasa/pipelines/ is stale: rerun bench/rasa_pipelines.py"


def test_write_configs_removes_candidates_no_longer_in_the_table(tmp_path: Path) -> None:
    (tmp_path / "z-gone.yml").write_text("old", encoding="utf-8")
    write_configs(CANDIDATES[:2], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(c.file_name for c in CANDIDATES[:2])


def test_the_default_rasa_config_is_the_default_candidate() -> None:
    default = next(c for c in all_candidates("a") if c.key == DEFAULT)
    assert yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))["pipeline"] == [dict(c) for c in default.pipeline]


def test_held_out_accuracy_pools_both_sets() -> None:
    r = result("a", right=270, below=6)
    assert r.examples == 300 and r.accuracy == pytest.approx(0.9) and r.below == pytest.approx(0.02)


def test_accuracy_decides_first() -> None:
    # One point more accurate wins although it asks again more often and trains 20 times longer.
    slow = result("c", right=273, below=30, cpu=200.0)
    quick = result("a", right=270, below=0)
    assert choose([quick, slow]).key == "c"


def test_within_half_a_point_fewer_answers_below_the_threshold_win() -> None:
    sure = result("a", right=270, below=3, cpu=50.0)
    unsure = result("b", right=271, below=12, cpu=5.0)
    assert choose([unsure, sure]).key == "a"


def test_when_both_tie_the_pipeline_cheaper_to_train_wins() -> None:
    cheap = result("a", right=270, below=3, cpu=8.0)
    costly = result("c", right=271, below=5, cpu=120.0)
    assert choose([costly, cheap]).key == "a"
    same_time = result("b", right=270, below=3, cpu=8.0, mb=1900.0)
    assert choose([same_time, cheap]).key == "a"


def test_best_linear_is_chosen_among_a_and_b_only() -> None:
    results = [result("a", right=260), result("b", right=265), result("c", right=280)]
    assert best_linear(results) == "b"
    assert best_linear([result("c", right=280)]) == "a"
    with pytest.raises(ValueError):
        choose([])


def test_the_section_is_written_between_its_markers_after_the_nlu_section(tmp_path: Path) -> None:
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# B\n\n<!-- nlu:begin -->\nnlu\n<!-- nlu:end -->\n\n<!-- inbox:begin -->\ni\n<!-- inbox:end -->\n",
                   encoding="utf-8")
    replace_section(doc, "first")
    assert doc.read_text(encoding="utf-8") == (
        "# B\n\n<!-- nlu:begin -->\nnlu\n<!-- nlu:end -->\n\n<!-- rasa-pipelines:begin -->\nfirst\n"
        "<!-- rasa-pipelines:end -->\n\n<!-- inbox:begin -->\ni\n<!-- inbox:end -->\n"
    )
    replace_section(doc, "second")
    text = doc.read_text(encoding="utf-8")
    assert "first" not in text
    assert "<!-- rasa-pipelines:begin -->\nsecond\n<!-- rasa-pipelines:end -->\n\n<!-- inbox" in text
