"""The conversation's memory: named operations, and reading every stored shape without a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.dialogue.state import (
    DialogueState,
    Draft,
    Filing,
    Handover,
    KnowledgeCursor,
    Question,
)
from channels.base import Media
from tests.dialogue.chat import Chat

AT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def test_handover_operations():
    state = DialogueState(language="id", fallbacks=1)
    asked = state.hand_over("requested", AT)
    assert asked.handover == Handover("requested", since=AT, noticed_at=AT) and asked.handover.waiting
    taken = asked.taken_by("rina", AT + timedelta(minutes=5))
    assert taken.handover == Handover("requested", AT, "rina", AT + timedelta(minutes=5), noticed_at=AT)
    assert not taken.handover.waiting
    assert taken.release() == DialogueState(language="id")
    # Staff can take a conversation nobody handed over.
    assert DialogueState().taken_by("budi", AT).handover == Handover("staff", AT, "budi", AT)
    assert state.handover is None     # values never change in place
    # Issue 11: nobody took it within the timeout; a taken one never expires.
    assert asked.unanswered(AT + timedelta(minutes=30), timedelta(minutes=30))
    assert not asked.unanswered(AT + timedelta(minutes=29), timedelta(minutes=30))
    assert not taken.unanswered(AT + timedelta(days=3), timedelta(minutes=30))


def test_a_draft_is_held_across_a_handover():
    filing = DialogueState(filing=Filing(Draft("flood")))
    assert filing.hand_over("angry", AT).filing.held        # type: ignore[union-attr]
    assert filing.release().filing.held                     # type: ignore[union-attr]


def test_rating_operations():
    state = DialogueState().await_rating("WRG-2026-000001")
    assert state.rating_for == "WRG-2026-000001" and state.rating_done().rating_for is None


FULL = DialogueState(
    language="en",
    filing=Filing(Draft("flood", "air setinggi lutut\nsudah surut", "Jl. Kemang", -6.2, 106.8,
                        (Media("tg-file:1", "image/jpeg", "ini"), Media("https://x/2")), True),
                  Question.CONFIRM, True),
    handover=Handover("angry", AT, "rina", AT + timedelta(hours=1)),
    rating_for="WRG-2026-000009", knowledge=KnowledgeCursor("ask_tax", 2), clarifying="air naik", fallbacks=1)


@pytest.mark.parametrize("state", [DialogueState(), FULL, DialogueState(filing=Filing()),
                                   DialogueState(handover=Handover("not_understood"))])
def test_what_is_stored_reads_back_the_same(state):
    assert DialogueState.from_json(state.to_json()) == state


def test_the_empty_state_stores_nothing():
    assert DialogueState().to_json() == {}


def test_the_first_releases_dict_is_read():
    legacy = {"language": "id", "flow": "complaint", "awaiting": "photo", "replace_description": True,
              "draft": {"category": "garbage", "description": "sampah", "location_text": None,
                        "lat": -6.2, "lon": 106.8, "media": [{"url": "tg-file:9", "content_type": "image/jpeg",
                                                               "caption": None}], "photo_done": False},
              "kb": {"key": "ask_id_card", "part": 1}, "rating_for": "WRG-2026-000002",
              "pending_text": "hmm", "fallbacks": 1, "handover": "staff:rina"}
    state = DialogueState.from_json(legacy)
    assert state == DialogueState(
        language="id",
        filing=Filing(Draft("garbage", "sampah", None, -6.2, 106.8, (Media("tg-file:9", "image/jpeg"),)),
                      Question.PHOTO, True),
        handover=Handover("staff", staff="rina"), rating_for="WRG-2026-000002",
        knowledge=KnowledgeCursor("ask_id_card", 1), clarifying="hmm", fallbacks=1)
    assert DialogueState.from_json({"handover": "angry"}).handover == Handover("angry")
    assert DialogueState.from_json({"handover": "staff"}).handover == Handover("staff")
    # The draft's keys are those of the first release, so older readers still find them.
    assert state.to_json()["draft"]["category"] == "garbage"


@pytest.mark.parametrize("stored", [
    None, [], "x", 3, {"language": 5}, {"flow": "complaint", "draft": "oops"},
    {"flow": "complaint", "awaiting": "dance", "draft": {"description": 7, "lat": "x", "media": [1, {"url": 2}]}},
    {"flow": "complaint", "draft": {"lat": -6.2}}, {"flow": "survey"}, {"kb": {"key": 3}}, {"kb": "ask_tax"},
    {"kb": {"key": "ask_tax", "part": -1}}, {"fallbacks": "2"}, {"fallbacks": True}, {"handover": {"since": "x"}},
    {"handover": {"reason": "angry", "since": "yesterday", "taken_at": 5}}, {"handover": 1},
    {"rating_for": ["WRG"]}, {"pending_text": {}}, {"future_key": {"anything": 1}},
])
def test_invalid_or_unknown_values_never_crash_a_conversation(stored):
    state = DialogueState.from_json(stored)
    # Whatever was stored, the conversation goes on: each message is answered.
    chat = Chat()
    chat.state = state
    for text, intent in [("halo", "greet"), ("lapor", "report_start"), ("Jl. Mawar", None), ("lewati", None),
                         ("lewati", None), ("ya", None)]:
        chat.say(text, intent)
        assert chat.replies or chat.state.handover is not None


def test_an_unreadable_question_goes_on_with_the_next_missing_answer():
    state = DialogueState.from_json({"flow": "complaint", "awaiting": "dance",
                                     "draft": {"category": "tree", "description": "pohon tumbang"}})
    chat = Chat()
    chat.state = state
    assert chat.say("di depan sekolah") == ["ask_location"]
