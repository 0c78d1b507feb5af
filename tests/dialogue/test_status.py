"""Status checks: with a ticket number (own, someone else's, unknown) and without one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.dialogue.chat import Chat
from tests.dialogue.memory_ports import NOW, MemoryPorts


@pytest.fixture
def chat() -> Chat:
    return Chat()


@pytest.mark.parametrize("template", [
    "cek status {t}", "status {t}", "{t}", "laporan {t} gimana?", "{lower}", "{spaced}", "{dotted}",
    "how is {t} going?",
])
def test_own_ticket_in_any_spelling(chat, template):
    ticket = chat.ports.add("tree", status="disposisi")
    text = template.format(t=ticket, lower=ticket.lower(), spaced=ticket.replace("-", " "),
                           dotted=ticket.replace("-", "."))
    # A bare ticket number is a status question even when the NLU is unsure.
    assert chat.say(text, "check_status" if " " in template.strip("{t}") else None) == ["status_one"]
    assert chat.text == f"Laporan {ticket} (Pohon): status Disposisi, terakhir diperbarui 02-03-2026 10:00 WIB."


def test_the_ticket_entity_wins_over_the_text(chat):
    ticket = chat.ports.add("flood")
    assert chat.say("cek laporan saya nomor satu", "check_status", ticket=ticket) == ["status_one"]
    assert ticket in chat.text


@pytest.mark.parametrize("whose", ["someone else", "nobody"])
def test_someone_elses_ticket_looks_like_an_unknown_one(chat, whose):
    ticket = chat.ports.add("tree", owner="neighbour") if whose == "someone else" else "WRG-2026-999999"
    assert chat.say(f"cek status {ticket}", "check_status") == ["status_none"]
    assert ticket not in chat.text


def test_two_citizens_see_only_their_own():
    mine = Chat()
    ticket = mine.file()
    theirs = Chat(ports=MemoryPorts("neighbour", complaints=mine.ports.complaints))
    assert theirs.say(f"cek status {ticket}", "check_status") == ["status_none"]
    assert theirs.say("laporan saya kemarin gimana?", "check_status") == ["status_recent_none"]
    assert mine.say(f"cek status {ticket}", "check_status") == ["status_one"]


@pytest.mark.parametrize("ask", [{"text": "laporan saya kemarin gimana?", "intent": "check_status"},
                                 {"text": "status"}, {"text": "/status"}, {"text": "cek status"},
                                 {"button": "status"}, {"text": "how is my report?", "intent": "check_status",
                                                             "lang": "en"}])
def test_without_a_number_the_latest_three_are_listed_newest_first(chat, ask):
    assert chat.say(**ask) in (["status_recent_none"],)
    tickets = [chat.ports.add(c) for c in ("tree", "flood", "garbage", "traffic")]
    assert chat.say(**ask) == ["status_recent_header"]
    lines = chat.text.split("\n")
    assert len(lines) == 4 and all(t in line for t, line in zip(tickets[::-1], lines[1:], strict=False))
    if ask.get("lang") == "en":
        assert lines[0] == "Your latest complaints:" and "(Traffic): status Waiting" in lines[1]


def test_times_are_shown_in_the_city_zone():
    chat = Chat()
    chat.ports.clock = lambda: NOW + timedelta(hours=15)    # 18:00 UTC is 01:00 WIB the next day
    ticket = chat.ports.add("tree")
    chat.say(ticket)
    assert "terakhir diperbarui 03-03-2026 01:00 WIB" in chat.text


@pytest.mark.parametrize("status,name_id,name_en", [
    ("menunggu", "Menunggu", "Waiting"), ("disposisi", "Disposisi", "Dispatched"),
    ("menunggu_validasi", "Menunggu Validasi", "Awaiting validation"), ("selesai", "Selesai", "Resolved"),
    ("ditolak", "Ditolak", "Rejected"),
])
def test_every_status_has_a_name_in_each_language(status, name_id, name_en):
    chat = Chat()
    ticket = chat.ports.add("garbage", status=status)
    chat.say(ticket)
    assert f"status {name_id}," in chat.text
    en = Chat(lang="en", ports=chat.ports)
    en.say(f"what is the status of {ticket}", "check_status", lang="en")
    assert f"status {name_en}," in en.text
