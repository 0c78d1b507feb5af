"""Duplicates: a complaint already filed at the same place is offered to join, never forced."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.casework.duplicates import Place, distance_m, normal_place, same_place
from channels.base import Media
from tests.dialogue.chat import Chat, lang_of
from tests.dialogue.memory_ports import NOW, MemoryPorts

CIKINI = (-6.1920, 106.8420)
METRE = 1 / 111_195       # degrees of latitude in one metre


def north(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return point[0] + metres * METRE, point[1]


def neighbour(chat: Chat, name: str = "tetangga") -> MemoryPorts:
    """Ports of another citizen of the same city."""
    return chat.ports.as_citizen(name)


# -- the same place -----------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [
    ("Jl. Cikini Raya", "jalan cikini raya"),
    ("JL.CIKINI RAYA no. 5", "Jalan Cikini Raya No 5"),
    ("Jln Cikini  Raya,", "jl. cikini raya"),
    ("Gang Mawar 3", "gg. mawar 3"),
])
def test_address_spellings_are_the_same_place(a, b):
    assert normal_place(a) == normal_place(b)
    assert same_place(Place(a), Place(b), 150)


def test_different_addresses_and_empty_ones_are_not_the_same_place():
    assert not same_place(Place("Jl. Cikini Raya"), Place("Jl. Cikini Raya 2"), 150)
    assert not same_place(Place(" , "), Place("."), 150)
    assert not same_place(Place(None, *CIKINI), Place("Jl. Cikini Raya"), 150)


def test_distance_is_haversine_in_metres():
    assert distance_m(CIKINI, north(CIKINI, 50)) == pytest.approx(50, abs=0.5)
    # One degree of longitude at the equator: 111.2 km.
    assert distance_m((0.0, 0.0), (0.0, 1.0)) == pytest.approx(111_195, rel=1e-3)


# -- the same citizen twice: the most common case -----------------------------------------

@pytest.mark.parametrize("lang,text,loc", [
    ("id", "pohon tumbang menimpa kabel di Jl. Cikini Raya", "Jl. Cikini Raya"),
    ("en", "a fallen tree is lying on the cables at Jalan Cikini Raya", "Jalan Cikini Raya"),
])
def test_the_same_citizen_reporting_again_is_told_and_adds_to_it(lang, text, loc):
    chat = Chat(lang=lang)
    ticket = chat.file()
    assert chat.say(text, "report_tree", loc=loc) == ["duplicate_yours"]
    assert ticket in chat.text and lang_of(chat.texts[0]) == lang
    assert chat.buttons == ["dup:join", "dup:new"] and ticket in chat.titles[0]
    assert chat.say(button="dup:join") == ["duplicate_added"]
    assert ticket in chat.text and chat.state.filing is None
    stored = chat.ports.complaints[ticket]
    assert len(chat.ports.complaints) == 1 and stored.followers == [] and stored.notes == [text]


# -- someone else's complaint at the same place -------------------------------------------

@pytest.mark.parametrize("lang,text,loc,answer", [
    ("id", "ada pohon tumbang di JALAN CIKINI RAYA, kabelnya putus", "JALAN CIKINI RAYA", "gabung"),
    ("id", "pohon besar roboh di jln cikini raya.", "jln cikini raya.", "tambahkan ke laporan itu saja"),
    ("id", "pohon tumbang depan rumah, jl cikini raya", "jl cikini raya", "Gabung ke WRG-2026-000001"),
    ("en", "a big tree fell down on jl. cikini raya", "jl. cikini raya", "join"),
    ("en", "tree collapsed at Jalan Cikini Raya blocking the road", "Jalan Cikini Raya", "add mine to it please"),
])
def test_same_address_in_another_spelling_is_offered_and_joined(lang, text, loc, answer):
    chat = Chat(lang=lang)
    ticket = neighbour(chat).add("tree", location="Jl. Cikini Raya")
    assert chat.say(text, "report_tree", loc=loc) == ["duplicate_found"]
    assert lang_of(chat.texts[0]) == lang
    status = "Menunggu" if lang == "id" else "Waiting"
    assert f"{ticket}: {status}" in chat.text and "Jl. Cikini Raya" in chat.text
    assert chat.buttons == ["dup:join", "dup:new"]
    assert chat.say(answer) == ["duplicate_joined"]
    stored = chat.ports.complaints[ticket]
    assert stored.followers == ["citizen"] and stored.notes == [text]
    assert chat.ports.filed() == [] and chat.state.filing is None


def test_a_shared_point_50_m_away_joins_and_its_photos_are_kept():
    chat = Chat()
    ticket = neighbour(chat).add("tree", point=CIKINI)
    assert chat.say("pohon tumbang menutup jalan", "report_tree") == ["ask_location"]
    assert chat.say(location=north(CIKINI, 50)) == ["duplicate_found"]
    assert f"{CIKINI[0]:.5f}" in chat.text
    photo = Media("tg-file:dup", "image/jpeg")
    # A photo sent while the question is open still belongs to the report.
    assert chat.say(photo=photo) == ["duplicate_reoffer"]
    assert chat.say(button="dup:join") == ["duplicate_joined"]
    assert chat.ports.complaints[ticket].media == ["tg-file:dup"]


@pytest.mark.parametrize("metres,offered", [(0, True), (140, True), (160, False), (500, False)])
def test_only_points_within_the_distance_are_the_same_place(metres, offered):
    chat = Chat()
    neighbour(chat).add("tree", point=CIKINI)
    chat.say("pohon tumbang menutup jalan", "report_tree")
    assert chat.say(location=north(CIKINI, metres)) == (["duplicate_found"] if offered else ["ask_photo"])


def test_another_category_at_the_same_place_is_not_offered():
    chat = Chat()
    neighbour(chat).add("garbage", location="Jl. Cikini Raya")
    neighbour(chat).add("street_light", point=CIKINI)
    assert chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya") == ["ask_photo"]


@pytest.mark.parametrize("days_ago,offered", [(1, True), (13, True), (15, False), (40, False)])
def test_only_complaints_within_the_window_are_offered(days_ago, offered):
    chat = Chat()
    neighbour(chat).add("tree", location="Jl. Cikini Raya", filed_at=NOW - timedelta(days=days_ago))
    got = chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    assert got == (["duplicate_found"] if offered else ["ask_photo"])


def test_a_window_of_zero_days_switches_duplicates_off():
    chat = Chat(ports=MemoryPorts(duplicate_days=0))
    neighbour(chat).add("tree", location="Jl. Cikini Raya")
    assert chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya") == ["ask_photo"]


@pytest.mark.parametrize("status", ["selesai", "ditolak"])
def test_closed_complaints_are_not_offered(status):
    chat = Chat()
    neighbour(chat).add("tree", status=status, location="Jl. Cikini Raya", closed_at=NOW)
    assert chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya") == ["ask_photo"]


# -- declining, or answering neither -------------------------------------------------------

@pytest.mark.parametrize("lang,answer", [
    ("id", None), ("id", "baru"), ("id", "buat laporan baru aja"), ("id", "beda, ini masalah lain"),
    ("en", "new"), ("en", "file a new one"), ("en", None),
])
def test_declining_files_a_new_ticket(lang, answer):
    chat = Chat(lang=lang)
    ticket = neighbour(chat).add("tree", location="Jl. Cikini Raya")
    chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    got = chat.say(button="dup:new") if answer is None else chat.say(answer)
    assert got == ["duplicate_new", "ask_photo"] and lang_of(chat.texts[0]) == lang
    chat.say("lewati")
    assert chat.say(button="yes") == ["complaint_filed"]
    assert ticket not in chat.text and len(chat.ports.complaints) == 2
    assert chat.ports.complaints[ticket].followers == []


def test_anything_else_asks_once_more_then_files_a_new_one():
    chat = Chat()
    ticket = neighbour(chat).add("tree", location="Jl. Cikini Raya")
    chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    assert chat.say("hmm maksudnya gimana ya", None) == ["duplicate_reoffer"]
    assert ticket in chat.text and chat.buttons == ["dup:join", "dup:new"]
    assert chat.say("ya", "affirm") == ["duplicate_new", "ask_photo"]
    assert chat.ports.complaints[ticket].followers == []


def test_cancel_while_the_offer_is_open_cancels_the_draft():
    chat = Chat()
    neighbour(chat).add("tree", location="Jl. Cikini Raya")
    chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    assert chat.say("batal") == ["cancelled"]
    assert chat.state.filing is None and chat.ports.filed() == []


def test_an_emergency_while_the_offer_is_open_is_answered_and_the_offer_stays():
    chat = Chat()
    ticket = neighbour(chat).add("tree", location="Jl. Cikini Raya")
    chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    assert chat.say("tolong ada kebakaran!", "ask_emergency") == ["emergency", "still_filing", "duplicate_reoffer"]
    assert ticket in chat.text and chat.buttons == ["dup:join", "dup:new"]
    assert chat.say(button="dup:join") == ["duplicate_joined"]


def test_a_complaint_closed_while_asking_is_filed_as_new_instead():
    chat = Chat()
    ticket = neighbour(chat).add("tree", location="Jl. Cikini Raya")
    chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    stored = chat.ports.complaints[ticket]
    stored.view = replace(stored.view, status="selesai", closed_at=NOW)
    assert chat.say(button="dup:join") == ["duplicate_new", "ask_photo"]


def test_a_changed_location_looks_again():
    chat = Chat()
    ticket = neighbour(chat).add("tree", location="Jl. Cikini Raya")
    assert chat.say("pohon tumbang di Jl. Salemba Raya", "report_tree", loc="Jl. Salemba Raya") == ["ask_photo"]
    chat.say("lewati")
    assert chat.say(button="field:location") == ["ask_location"]
    assert chat.say("Jl. Cikini Raya", loc="Jl. Cikini Raya") == ["duplicate_found"]
    assert ticket in chat.text


def test_two_citizens_one_follows_the_other():
    first = Chat()
    ticket = first.file()
    second = Chat(ports=first.ports.as_citizen("budi"))
    assert second.say("ada pohon tumbang di jalan cikini raya", "report_tree",
                      loc="jalan cikini raya") == ["duplicate_found"]
    assert second.say(button="dup:join") == ["duplicate_joined"]
    # Joined once: the next report of it is told it is already theirs.
    assert second.say("pohon tumbang di Jl. Cikini Raya", "report_tree",
                      loc="Jl. Cikini Raya") == ["duplicate_yours"]
    assert first.ports.complaints[ticket].followers == ["budi"]
