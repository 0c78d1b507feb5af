"""The Rasa engine reads long messages by their parts with the shared logic of
nlu/long_messages.py: one real-server test (``rasa`` marker), and the request pattern and the time
budget at the HTTP transport seam with Rasa-shaped answers."""

from __future__ import annotations

import json

import httpx
import pytest

from nlu.rasa_engine import RasaEngine
from nlu.rasa_text import rasa_text

LONG = ("Selamat pagi bapak ibu. Sampah di TPS Jl. Kenari RT 05 sudah seminggu tidak diangkut, baunya "
        "sampai ke rumah warga. Sekalian mau tanya, bagaimana cara bayar PBB online? Terima kasih banyak.")


def _ranked(*pairs: tuple[str, float]) -> dict[str, object]:
    return {
        "intent": {"name": pairs[0][0], "confidence": pairs[0][1]},
        "entities": [],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in pairs],
    }


def _by_words(text: str) -> dict[str, object]:
    """A Rasa that is sure of the words it knows: courtesies, garbage, tax; unsure of the rest."""
    courtesy = "terima" in text or "selamat" in text
    if "sampah" in text and not courtesy:
        return _ranked(("report_garbage", 0.95), ("report_pollution", 0.03))
    if "pbb" in text and "sampah" not in text:
        return _ranked(("ask_tax", 0.93), ("out_of_scope", 0.04))
    if courtesy and "sampah" not in text:
        return _ranked(("thank" if "terima" in text else "greet", 0.97), ("goodbye", 0.02))
    if "sampah" in text:
        # The whole message: the thanks and greeting outweigh the complaint (issue 14's failure).
        return _ranked(("thank", 0.46), ("report_garbage", 0.41))
    return {"intent": {"name": "nlu_fallback", "confidence": 0.3}, "entities": [],
            "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.3}, {"name": "affirm", "confidence": 0.2}]}


class FakeRasa:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/status":
            return httpx.Response(200, json={"model_file": "rasa-20261129-030000-abc.tar.gz"})
        text = json.loads(request.content)["text"]
        self.sent.append(text)
        return httpx.Response(200, json={"text": text, **_by_words(text.lower())})


def _engine(fake: FakeRasa, **kwargs: object) -> RasaEngine:
    return RasaEngine("http://rasa.test", "tok", threshold=0.5, transport=httpx.MockTransport(fake), **kwargs)  # type: ignore[arg-type]


def test_a_long_message_is_read_by_its_parts_through_rasa() -> None:
    fake = FakeRasa()
    parse = _engine(fake).parse(LONG)
    assert parse.intent == "report_garbage"
    assert (parse.secondary_intent, parse.secondary_confidence) == ("ask_tax", 0.93)
    roles = [(p.role, p.intent) for p in parse.parts]
    assert roles[0] == ("courtesy", "greet") and roles[-1] == ("courtesy", "thank")
    assert ("secondary", "ask_tax") in roles
    assert [p.mark for p in parse.parts if p.role == "secondary"] == ["?"]
    for p in parse.parts:
        assert LONG[p.start : p.end] == p.text
    # Rasa is sent what it was trained on: the normalised text of the whole, then of each clause.
    assert fake.sent[0] == rasa_text(LONG).text
    assert rasa_text("Terima kasih banyak").text in fake.sent


def test_reading_whole_keeps_rasas_answer() -> None:
    fake = FakeRasa()
    parse = _engine(fake, by_parts=False).parse(LONG)
    assert parse.intent is None and parse.ranking[0][0] == "thank"
    assert parse.parts == () and len(fake.sent) == 1


def test_short_messages_cost_one_request() -> None:
    fake = FakeRasa()
    assert _engine(fake).parse("sampah numpuk di gang").intent == "report_garbage"
    assert len(fake.sent) == 1


def test_past_the_time_budget_the_whole_reading_is_kept() -> None:
    """A budget of zero: the clause requests are not even started, and the citizen still gets
    Rasa's answer for the whole message rather than an error."""
    fake = FakeRasa()
    parse = _engine(fake, parts_budget=-1.0).parse(LONG)
    assert parse.ranking[0][0] == "thank" and parse.parts == ()
    assert len(fake.sent) == 1


@pytest.mark.rasa
def test_the_real_server_reads_a_wrapped_complaint_by_parts(rasa_engine: RasaEngine) -> None:
    text = ("Assalamualaikum, selamat pagi pak. Sampah di pinggir jalan dekat pasar sudah seminggu tidak "
            "diangkut dan baunya menyengat sekali. Mohon segera ditindaklanjuti. Terima kasih banyak pak.")
    parse = rasa_engine.parse(text)
    assert parse.intent == "report_garbage", parse.ranking[:3]
    assert parse.parts and parse.parts[-1].role == "courtesy"
    assert any(p.role == "core" and "Sampah" in p.text for p in parse.parts)
