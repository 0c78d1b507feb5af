"""Long first messages (issue 11 item 7, issue 14 item 1), through the dialogue alone.

A complaint wrapped in greetings, requests, thanks and emoji is filed with its description (the
problem, not the courtesies) and the location it names, asking only for what is missing; a
complaint that also asks a question gets the question answered in the same turn and the filing
goes on. The NLU's reading by parts is given (tests/dialogue/chat.py runs the shared
nlu/long_messages.py with a scripted classifier); tests/nlu/test_long_messages.py sends the same
messages through a real model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.dialogue.long_message import is_courtesy, place_of, read_letter
from tests.dialogue.chat import Chat, parse

CASES: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (Path(__file__).parent / "data" / "long_messages.yml").read_text(encoding="utf-8"))
WRAPPED = CASES["wrapped"]
ASKING = CASES["asking"]


def _id(case: dict[str, Any]) -> str:
    return f"{case['lang']}-{case['category']}-{case['text'][:24]}"


def _say_first(chat: Chat, case: dict[str, Any]) -> list[str]:
    return chat.say(case["text"], case["intent"], lang=case["lang"], loc=case["loc"], clauses=case["clauses"])


def _check_filed(chat: Chat, case: dict[str, Any]) -> None:
    [filed] = chat.ports.filed()
    assert filed.category == case["category"]
    assert filed.language == case["lang"]
    for words in case["problem"]:
        assert words in filed.description, (words, filed.description)
    for words in case["not"]:
        assert words.lower() not in filed.description.lower(), (words, filed.description)
    for words in case["place"]:
        assert words in (filed.location_text or ""), (words, filed.location_text)


def test_there_are_enough_realistic_messages_of_each_class() -> None:
    for cases in (WRAPPED, ASKING):
        assert len(cases) >= 10
        assert {c["lang"] for c in cases} == {"id", "en"}
        assert all(len(c["text"].split()) >= 15 or c in ASKING for c in cases)


@pytest.mark.parametrize("case", WRAPPED, ids=_id)
def test_a_wrapped_complaint_is_filed_with_what_it_says_asking_only_for_the_photo(case: dict[str, Any]) -> None:
    chat = Chat(lang=case["lang"])
    # Category, description and location are all in the message: only the photo is asked.
    assert _say_first(chat, case) == ["ask_photo"]
    assert chat.say("lewati" if case["lang"] == "id" else "skip") == ["confirm_summary"]
    summary = chat.texts[-1]
    assert case["problem"][0] in summary and case["place"][0] in summary
    assert chat.say(button="yes") == ["complaint_filed"]
    _check_filed(chat, case)


@pytest.mark.parametrize("case", WRAPPED, ids=_id)
def test_on_sms_a_wrapped_complaint_goes_straight_to_confirmation(case: dict[str, Any]) -> None:
    chat = Chat(channel="sms", lang=case["lang"])
    assert _say_first(chat, case) == ["confirm_summary"]
    assert chat.say("ya") == ["complaint_filed"]
    _check_filed(chat, case)


@pytest.mark.parametrize("case", ASKING, ids=_id)
def test_a_complaint_with_a_question_gets_both(case: dict[str, Any]) -> None:
    chat = Chat(lang=case["lang"])
    keys = _say_first(chat, case)
    # The answers first, then the filing goes on where it is (the photo here): nothing is lost.
    assert keys[-1] == "ask_photo", keys
    answers = keys[:-1]
    assert len(answers) == len(case["answers"]), keys
    for want, got in zip(case["answers"], answers, strict=True):
        assert got.startswith(want), keys
    assert chat.say("lewati" if case["lang"] == "id" else "skip") == ["confirm_summary"]
    assert chat.say(button="yes") == ["complaint_filed"]
    _check_filed(chat, case)


def test_the_sla_answer_names_the_category_and_its_times() -> None:
    chat = Chat()
    chat.say("jalan depan rumah berlubang di Jl. Kenari RT 03/RW 05, kapan biasanya diperbaiki? berapa lama "
             "laporan ditangani?", "report_road_damage", loc="Jl. Kenari RT 03/RW 05", clauses={})
    assert chat.texts[0].count("7") == 1 and "jalan rusak" in chat.texts[0]
    assert len([t for t in chat.texts if "7 hari" in t]) == 1     # two ways of asking, one answer


def test_a_question_that_also_reports_a_problem_is_answered_and_the_complaint_filed() -> None:
    chat = Chat()
    text = ("Selamat pagi min, mau tanya syarat bikin KTP baru apa saja ya? Oh iya sekalian, lampu jalan di "
            "Gg. Mawar RT 07/RW 02 sudah mati seminggu. Terima kasih.")
    keys = chat.say(text, "ask_id_card", loc="Gg. Mawar RT 07/RW 02",
                    clauses={"Selamat pagi": "greet", "syarat bikin KTP": "ask_id_card",
                             "lampu jalan": "report_street_light", "Terima kasih": "thank"})
    assert keys[0].startswith("kb:ask_id_card") and keys[-1] == "ask_photo", keys
    assert chat.say("lewati") == ["confirm_summary"]
    assert chat.say(button="yes") == ["complaint_filed"]
    [filed] = chat.ports.filed()
    assert filed.category == "street_light" and filed.location_text == "Gg. Mawar RT 07/RW 02"
    assert "lampu jalan" in filed.description and "KTP" not in filed.description


def test_without_clause_intents_a_short_complaint_still_gets_its_how_long_answer() -> None:
    """An engine that does not read by parts (or a message too short for it): the clauses are
    cut in the dialogue, and a how-long question is still answered and kept out."""
    chat = Chat(channel="sms")
    keys = chat.say("got mampet di Jl. Kenari, berapa lama ditangani?", "report_drainage", loc="Jl. Kenari")
    assert keys == ["sla_info", "confirm_summary"]
    assert chat.say("ya") == ["complaint_filed"]
    assert chat.ports.filed()[0].description == "got mampet di Jl. Kenari"


def test_a_story_question_stays_in_the_description() -> None:
    """ "kenapa belum juga diperbaiki?" is part of the complaint, not a question to answer."""
    chat = Chat(channel="sms")
    text = "Jalan di Jl. Kenari RT 03 rusak parah sudah 2 bulan, kenapa belum juga diperbaiki? Terima kasih."
    assert chat.say(text, "report_road_damage", loc="Jl. Kenari RT 03", clauses={"Terima kasih": "thank"}) \
        == ["confirm_summary"]
    chat.say("ya")
    assert chat.ports.filed()[0].description == "Jalan di Jl. Kenari RT 03 rusak parah sudah 2 bulan, " \
                                                "kenapa belum juga diperbaiki?"


def test_a_short_complaint_keeps_its_words() -> None:
    chat = Chat(channel="sms")
    chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    chat.say("ya")
    assert chat.ports.filed()[0].description == "pohon tumbang di Jl. Cikini Raya"


@pytest.mark.parametrize("text", [
    "Terima kasih banyak 🙏", "Mohon ditindaklanjuti", "Assalamualaikum wr. wb.", "mohon izin pak",
    "Thank you very much!", "Please follow up soon", "Selamat pagi Bapak/Ibu", "🙏🙏", "Makasih min",
    "Mohon izin menyampaikan keluhan", "Sekalian mau tanya", "Kind regards",
])
def test_courtesies_are_recognised(text: str) -> None:
    assert is_courtesy(text)


@pytest.mark.parametrize("text", [
    "lampu jalan mati", "tolong perbaiki jalan di depan rumah", "Mohon segera dikeruk salurannya",
    "the drain is clogged", "sudah 3 minggu", "dekat masjid", "please fix the broken street light",
])
def test_problems_are_not_courtesies(text: str) -> None:
    assert not is_courtesy(text)


def test_openers_stuck_to_the_problem_are_left_out() -> None:
    letter = read_letter("Tolong pak 🙏 lampu jalan di Gg. Mawar mati sudah seminggu, gelap. Makasih 🙏🙏", None,
                         "report_street_light")
    assert letter.description == "lampu jalan di Gg. Mawar mati sudah seminggu, gelap."


def test_every_place_is_kept_with_its_direction_word() -> None:
    text = "jalan di Jl. Kenanga No. 12 RT 03/RW 05 berlubang, dekat masjid Al-Ikhlas, depan SDN 01"
    p = parse(text, "report_road_damage", loc=["Jl. Kenanga No. 12 RT 03/RW 05", "masjid Al-Ikhlas", "SDN 01"])
    assert place_of(p) == "Jl. Kenanga No. 12 RT 03/RW 05, dekat masjid Al-Ikhlas, depan SDN 01"
    assert place_of(parse("banjir", "report_flood")) is None


def test_an_emergency_inside_a_complaint_is_answered_first() -> None:
    chat = Chat(channel="sms")
    text = ("Pohon besar tumbang di Jl. Cikini Raya menimpa pengendara motor, ada korban luka parah. "
            "Tolong segera dikirim bantuan!")
    keys = chat.say(text, "report_tree", loc="Jl. Cikini Raya", clauses={"korban": "ask_emergency"})
    assert keys == ["emergency", "confirm_summary"]
    assert chat.say("ya") == ["complaint_filed"]


@pytest.mark.parametrize("text,description", [
    ("Malam ini lampu jalan di Gg. Mawar mati lagi, gelap total. Terima kasih",
     "Malam ini lampu jalan di Gg. Mawar mati lagi, gelap total."),
    ("Warga RT 05 mengeluhkan bau sampah dari TPS, sudah seminggu. Makasih",
     "Warga RT 05 mengeluhkan bau sampah dari TPS, sudah seminggu."),
    ("Selamat pagi pak, mohon izin 🙏 got di depan rumah mampet, airnya meluap. Terima kasih",
     "got di depan rumah mampet, airnya meluap."),
])
def test_only_openers_are_trimmed_from_the_first_clause(text: str, description: str) -> None:
    assert read_letter(text, None, "report_garbage").description == description
