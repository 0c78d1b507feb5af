"""Every reply text in both languages renders: same keys, same placeholders, nothing left over."""

from __future__ import annotations

import re

import pytest

from bot.dialogue.knowledge import KnowledgeBase
from bot.dialogue.texts import LANGUAGES, TextError, catalogue, placeholders, render
from nlu.intents import INTENTS


def scalar_keys(lang: str) -> dict[str, str]:
    return {k: v for k, v in catalogue(lang).items() if isinstance(v, str)}


def test_both_languages_have_the_same_texts_and_placeholders():
    ids, ens = scalar_keys("id"), scalar_keys("en")
    assert ids.keys() == ens.keys()
    for key in ids:
        assert placeholders(ids[key]) == placeholders(ens[key]), key
    for table in ("status_names", "category_names"):
        assert catalogue("id")[table].keys() == catalogue("en")[table].keys()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_renders_without_placeholders_left(lang):
    for key, template in scalar_keys(lang).items():
        values = {name: f"<{name}>" for name in placeholders(template)}
        out = render(key, lang, **values)
        assert out.strip()
        assert not re.search(r"\{\w+\}", out), (key, out)
        for name in values:
            assert f"<{name}>" in out


def test_missing_value_or_key_fails_loudly():
    with pytest.raises(TextError):
        render("complaint_filed", "id", ticket="WRG-2026-000001")
    with pytest.raises(TextError):
        render("no_such_text", "en")


def test_every_configured_status_and_category_has_a_name_in_both_languages():
    from bot.settings import load_settings

    settings = load_settings(env={})
    for lang in LANGUAGES:
        assert set(settings.complaints.transitions) <= set(catalogue(lang)["status_names"])
        assert {c.name for c in settings.complaints.categories} <= set(catalogue(lang)["category_names"])


def test_knowledge_base_answers_every_question_intent_in_both_languages():
    kb = KnowledgeBase()
    asks = {i for i in INTENTS if i.startswith("ask_")}
    for lang in LANGUAGES:
        assert set(kb.keys(lang)) == asks
        for key in asks:
            article = kb.article(key, lang)
            assert article is not None and 0 < len(article.summary) <= 320
            assert all(0 < len(part) <= 460 for part in article.more)
            assert "{" not in article.summary
    emergency = kb.article("ask_emergency", "id")
    assert emergency is not None and emergency.summary.startswith("112")
