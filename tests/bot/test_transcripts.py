"""Transcripts (issue 12, item 6): browse and search every conversation one may see, by text,
contact, channel, date, intent and "not understood", with each citizen message's intent and
confidence beside it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.casework.filter_refusal import FilterRefused
from bot.casework.transcripts import is_not_understood, parse_filter
from bot.store.models import Complaint, Contact, ContactAddress, Conversation, Message
from tests.bot.staff_accounts import add_user, login

ROADS = "Dinas Bina Marga"
CHANNELS = ("web", "telegram", "sms", "whatsapp")


def conversation(app: Any, urn: str, channel: str, messages: list[tuple[str, dict[str, Any] | None, datetime]],
                 *, agency: str | None = None, name: str | None = None) -> int:
    """A conversation with citizen messages (text, nlu, when); linked to a complaint of ``agency``."""
    with app.extensions["warga"].sessions() as s, s.begin():
        contact = Contact(name=name)
        s.add(contact)
        s.flush()
        address = ContactAddress(urn=urn, channel=channel, contact_id=contact.id)
        s.add(address)
        s.flush()
        conv = Conversation(contact_id=contact.id, address_id=address.id, channel=channel, state={},
                            updated_at=messages[-1][2])
        s.add(conv)
        s.flush()
        for text, nlu, at in messages:
            s.add(Message(conversation_id=conv.id, direction="in", channel=channel, text=text, nlu=nlu,
                          urn=urn, status="processed", created_at=at, processed_at=at))
            s.add(Message(conversation_id=conv.id, direction="out", channel=channel, text=f"balasan untuk {text}",
                          status="delivered", created_at=at))
        if agency:
            s.add(Complaint(ticket=f"WRG-2026-{conv.id:06d}", contact_id=contact.id, conversation_id=conv.id,
                            channel=channel, category="road_damage", agency=agency, description=text,
                            status="menunggu"))
        return conv.id


def nlu(intent: str | None, confidence: float) -> dict[str, Any]:
    return {"intent": intent, "confidence": confidence, "engine": "sklearn"}


def ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'id="conv-(\d+)"', page)]


@pytest.fixture
def talks(app: Any) -> dict[str, int]:
    add_user(app, "admin", "admin")
    add_user(app, "dina", "staff", ROADS)
    nov = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)      # 10:00 WIB
    dec = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    return {
        "pothole": conversation(app, "telegram:1001", "telegram", [
            ("jalan berlubang di Jl. Salemba", nlu("report_road_damage", 0.91), nov)], agency=ROADS, name="Budi"),
        "gibberish": conversation(app, "web:" + "a" * 32, "web", [
            ("halo", nlu("greet", 0.88), nov), ("xqzv blorp", nlu("out_of_scope", 0.7), nov)]),
        "unsure": conversation(app, "tel:+6281234500", "sms", [
            ("lampu mati kayaknya", nlu("report_street_light", 0.31), dec)]),
        "rasa_none": conversation(app, "whatsapp:+6281234599", "whatsapp", [
            ("hmm <script>alert(1)</script>", nlu(None, 0.2), dec)]),
    }


def search(client: Any, **args: str) -> list[int]:
    r = client.get("/console/transcripts", query_string=args)
    assert r.status_code == 200, r.data
    return sorted(ids(r.get_data(as_text=True)))


def test_search_by_each_filter(talks, client):
    login(client, "admin")
    t = talks
    assert search(client) == sorted(t.values())
    assert search(client, q="salemba") == [t["pothole"]]
    assert search(client, contact="6281234599") == [t["rasa_none"]]
    assert search(client, contact="budi") == [t["pothole"]]
    assert search(client, channel="sms") == [t["unsure"]]
    assert search(client, intent="report_road_damage") == [t["pothole"]]
    assert search(client, **{"from": "2026-12-01"}) == sorted([t["unsure"], t["rasa_none"]])
    assert search(client, **{"to": "2026-11-20"}) == sorted([t["pothole"], t["gibberish"]])
    assert search(client, **{"from": "2026-11-21", "to": "2026-11-30"}) == []
    # Not understood: the fallback intent, a confidence under nlu.threshold (0.5), no intent at all.
    assert search(client, not_understood="1") == sorted([t["gibberish"], t["unsure"], t["rasa_none"]])
    # Filters on messages hold for one message: "halo" was understood.
    assert search(client, q="halo", not_understood="1") == []


def test_each_citizen_message_shows_intent_and_confidence_and_text_is_inert(talks, client):
    login(client, "admin")
    page = client.get("/console/transcripts", query_string={"not_understood": "1"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "tidak dipahami" in page
    conv_page = client.get(f"/console/conversations/{talks['gibberish']}").get_data(as_text=True)
    assert "greet (0.88)" in conv_page and "out_of_scope (0.70)" in conv_page
    assert conv_page.count("t--missed") == 1


def test_staff_see_only_transcripts_of_their_scope(talks, client):
    login(client, "dina")
    assert search(client) == [talks["pothole"]]
    assert client.get(f"/console/conversations/{talks['unsure']}").status_code == 404


def test_pages_of_fifty(app, client):
    add_user(app, "admin", "admin")
    at = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    made = [conversation(app, f"web:{n:032d}", "web", [(f"pesan {n}", None, at)]) for n in range(52)]
    login(client, "admin")
    first = client.get("/console/transcripts").get_data(as_text=True)
    second = client.get("/console/transcripts?page=2").get_data(as_text=True)
    assert len(ids(first)) == 50 and len(ids(second)) == 2
    assert sorted(ids(first) + ids(second)) == sorted(made)
    assert "Halaman 1 / 2" in first


def test_bad_filters_are_400_with_a_message(talks, client):
    login(client, "admin")
    for args in ({"from": "kemarin"}, {"channel": "fax"}, {"intent": "DROP TABLE"}, {"page": "²"},
                 {"from": "2026-12-02", "to": "2026-12-01"}, {"q": "x" * 201}, {"from": "0001-01-01"},
                 {"to": "9999-12-31"}):
        r = client.get("/console/transcripts", query_string=args)
        assert r.status_code == 400, args


def test_filter_parsing_and_the_not_understood_rule():
    f = parse_filter({"q": " lampu ", "from": "2026-11-01", "not_understood": "1"}, CHANNELS)
    assert (f.text, f.date_from, f.not_understood, f.page) == ("lampu", date(2026, 11, 1), True, 1)
    with pytest.raises(FilterRefused, match="day_format"):
        parse_filter({"to": "31/12/2026"}, CHANNELS)
    assert is_not_understood(nlu("out_of_scope", 0.99), 0.5)
    assert is_not_understood(nlu("greet", 0.49), 0.5)
    assert is_not_understood(nlu(None, 0.9), 0.5)
    assert not is_not_understood(nlu("greet", 0.5), 0.5)
    assert not is_not_understood(None, 0.5)
