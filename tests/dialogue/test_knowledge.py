"""Public-service answers: a short summary first, then the rest one part at a time on "more"."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.dialogue.chat import KB, Chat

ARTICLES = [(lang, key) for lang in ("id", "en") for key in KB.keys(lang) if key != "ask_emergency"]
MORE = {"id": ["lagi", "selengkapnya", "lanjut", "Lanjutkan!", "info lagi", "detail"],
        "en": ["more", "tell me more", "next", "More info."]}


@pytest.mark.parametrize("lang,key", ARTICLES)
def test_summary_then_every_part_then_the_links(lang, key):
    chat = Chat(lang=lang)
    article = KB.article(key, lang)
    assert article is not None
    # The question names the article's subject (its title); see test_knowledge_choice.py.
    assert chat.say(f"info {article.title}", key, lang=lang) == [f"kb:{key}"]
    assert chat.text == article.summary
    words = MORE[lang]
    for n in range(len(article.more)):
        got = chat.say(words[n % len(words)], lang=lang)
        last = n == len(article.more) - 1
        assert got == [f"kb:{key}:more:{n}"] + (["kb_links"] if last and article.links else [])
    if article.links:
        assert all(link in chat.texts[-1] for link in article.links)
    # The article is finished: "more" is no longer about it.
    assert chat.say(words[0], lang=lang) != [f"kb:{key}:more:0"]


def test_a_question_with_no_article_says_so_and_names_the_office():
    # Issue 11 item 9: was the list of topics; now the office that answers it.
    chat = Chat()
    assert chat.say("syarat bikin paspor?", "ask_passport") == ["kb_not_covered"]
    assert "Imigrasi" in chat.text


@pytest.mark.parametrize("ask", [{"text": "info"}, {"text": "informasi"}, {"button": "info"}])
def test_info_lists_the_topics(ask):
    assert Chat().say(**ask) == ["info_intro"]


def test_more_without_a_question_is_not_a_knowledge_answer():
    assert Chat().say("lagi") == ["not_understood", "menu"]


def test_a_new_question_replaces_the_old_one():
    chat = Chat()
    chat.say("cara bikin e-KTP?", "ask_id_card")
    chat.say("kalau KK?", "ask_family_card")
    assert chat.say("lagi") == ["kb:ask_family_card:more:0"]


def test_starting_a_complaint_forgets_the_article():
    chat = Chat()
    chat.say("cara bikin e-KTP?", "ask_id_card")
    chat.say("lapor", "report_start")
    chat.say("batal")
    assert chat.say("lagi") == ["not_understood", "menu"]


def test_an_answer_in_english_uses_the_english_article():
    chat = Chat(lang="en")
    assert chat.say("how do I apply for a family card?", "ask_family_card", lang="en") == ["kb:ask_family_card"]
    assert "amily" in chat.text


def test_a_missing_english_article_falls_back_to_indonesian(tmp_path):
    from bot.dialogue.engine import Dialogue
    from bot.dialogue.knowledge import KnowledgeBase

    (tmp_path / "id.yml").write_text("ask_tax:\n  title: Pajak\n  summary: Bayar PBB di bank.\n", encoding="utf-8")
    (tmp_path / "en.yml").write_text("{}\n", encoding="utf-8")
    chat = Chat(lang="en")
    chat.dialogue = Dialogue(chat.ports, KnowledgeBase(tmp_path))
    assert chat.say("how do I pay property tax?", "ask_tax", lang="en") == ["?Bayar PBB di bank."]


_WORDS = ["pbb", "bayar", "izin", "surat", "mengemudi", "ktp", "baru", "sim"]


@given(question=st.lists(st.sampled_from(_WORDS), max_size=12),
       keyword=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8))
def test_a_question_names_a_keyword_exactly_when_its_words_hold_the_phrase(question, keyword):
    from bot.dialogue.knowledge import Question, _contains, words

    text, phrase = " ".join(question), words(" ".join(keyword))     # both stemmed, as the KB's are
    assert Question.of(text).names(phrase) == _contains(words(text), phrase)


def test_a_warmed_knowledge_base_stems_only_the_question(monkeypatch):
    """Serving processes warm the knowledge base before they take work (runtime.prepare_to_serve):
    the first question is answered as by a cold one, and only its own words are stemmed."""
    from bot.dialogue import knowledge
    from bot.dialogue.knowledge import KnowledgeBase

    question = "gimana cara bayar PBB rumah saya"
    cold = KnowledgeBase().choose("ask_tax", question, "id")
    warmed = KnowledgeBase()
    warmed.warm()
    stemmed: list[str] = []
    real_stem = knowledge.stem

    def counting(word: str) -> str:
        stemmed.append(word)
        return real_stem(word)

    monkeypatch.setattr(knowledge, "stem", counting)
    answer = warmed.choose("ask_tax", question, "id")
    assert answer == cold and answer is not None and answer.key == "ask_tax.property"
    assert stemmed == question.lower().split()
