"""Long messages as citizens write them: the complaint or question wins over the courtesies
around it, its location is found, and a question asked inside a complaint is exposed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.dialogue.types import Incoming
from channels.twilio.channel import SMS_ABILITIES
from nlu.base import Parse
from nlu.long_messages import Ranking, clauses, read, read_long
from nlu.sklearn_engine import SklearnEngine
from nlu.sklearn_training import fit_model
from nlu.training_data import TrainingData
from tests.dialogue.chat import Chat, key_of
from tests.dialogue.memory_ports import NOW


@pytest.fixture(scope="module")
def engine(project_data: TrainingData) -> SklearnEngine:
    return SklearnEngine(Path("."), model=fit_model(project_data))


WRAPPED = [
    (
        "id",
        "Assalamualaikum wr. wb. Selamat pagi bapak/ibu. Mohon izin melapor, jalan di Jl. Anggrek Neli "
        "Murni No. 8 RT 04/RW 09 berlubang sangat dalam, sudah 3 minggu belum diperbaiki dan kemarin ada "
        "pengendara motor jatuh. Mohon ditindaklanjuti. Terima kasih banyak, wassalamualaikum.",
        "report_road_damage",
        "Jl. Anggrek Neli Murni No. 8 RT 04/RW 09",
        "road_damage",
    ),
    (
        "en",
        "Good morning and thank you for this service. I would like to report that the drain on "
        "Jl. Tanjung Duren Raya RT 02/RW 05 is completely clogged with mud and rubbish, so every time "
        "it rains the water spills onto the street. Please send someone soon. Thank you very much!",
        "report_drainage",
        "Jl. Tanjung Duren Raya RT 02/RW 05",
        "drainage",
    ),
]


@pytest.mark.parametrize("lang,text,intent,location,category", WRAPPED)
def test_a_complaint_wrapped_in_greetings_and_thanks_is_that_complaint(
    engine: SklearnEngine, lang: str, text: str, intent: str, location: str, category: str
) -> None:
    parse = engine.parse(text)
    assert parse.intent == intent, parse.ranking[:3]
    assert parse.language == lang
    spans = parse.spans("location")
    assert spans, "no location found"
    assert any(location in s.text or s.text in location and len(s.text) > 10 for s in spans), spans


@pytest.mark.parametrize("lang,text,intent,location,category", WRAPPED)
def test_a_wrapped_complaint_is_filed_with_its_location(
    engine: SklearnEngine, lang: str, text: str, intent: str, location: str, category: str
) -> None:
    """The real parse goes through the dialogue: the complaint is filed in its category with the
    location the citizen wrote, in the citizen's language."""
    chat = Chat(channel="sms", lang=lang)
    turn = chat.dialogue.step(chat.state, _incoming(text), engine.parse(text))
    chat.state = turn.state
    assert chat.say(button="yes") == ["complaint_filed"], chat.texts
    [filed] = chat.ports.filed()
    assert filed.category == category
    assert location in (filed.location_text or "")
    assert filed.language == lang


def _incoming(text: str) -> Incoming:
    return Incoming(text=text, channel="sms", received_at=NOW, button=None, location=None, media=(),
                    sender_name=None, abilities=SMS_ABILITIES)


def test_thanks_at_the_end_does_not_make_a_question_a_thank(engine: SklearnEngine) -> None:
    text = ("Selamat siang admin, mohon maaf mengganggu. Sudah 3 bulan KTP saya belum jadi padahal sudah "
            "rekam dari bulan Juni, kapan bisa diambil ya? Terima kasih banyak.")
    assert engine.parse(text).intent == "ask_id_card"


def test_short_courtesies_stay_what_they_are(engine: SklearnEngine) -> None:
    assert engine.parse("oke, makasih ya").intent in ("thank", "affirm")
    assert engine.parse("selamat pagi min").intent == "greet"
    assert engine.parse("terima kasih banyak ya min, sangat membantu sekali").intent == "thank"


def test_a_question_inside_a_complaint_is_the_secondary_intent(engine: SklearnEngine) -> None:
    text = ("Selamat pagi. Sampah di TPS Jl. Kenari RT 05 sudah seminggu tidak diangkut dan baunya sampai "
            "ke rumah warga. Sekalian mau tanya, bagaimana cara membayar PBB secara online? Terima kasih.")
    parse = engine.parse(text)
    assert parse.intent == "report_garbage"
    assert parse.secondary_intent == "ask_tax" and parse.secondary_confidence >= 0.5


def test_clauses_keep_addresses_whole() -> None:
    text = "Selamat pagi, jalan di Jl. Kenanga No. 12 Kel. Cipete rusak. Terima kasih!"
    assert [c.text for c in clauses(text)] == [
        "Selamat pagi",
        "jalan di Jl. Kenanga No. 12 Kel. Cipete rusak",
        "Terima kasih",
    ]
    for c in clauses(text):
        assert text[c.start : c.end] == c.text


def test_read_long_sets_courtesies_aside_with_any_classifier() -> None:
    def classify(text: str) -> tuple[tuple[str, float], ...]:
        if "terima kasih" in text.lower() and "banjir" not in text:
            return (("thank", 0.9),)
        if "selamat" in text.lower() and "banjir" not in text:
            return (("greet", 0.9),)
        return (("report_flood", 0.8),) if "banjir" in text else (("thank", 0.6),)

    reading = read_long("Selamat pagi bapak, di rumah kami banjir setinggi lutut. Terima kasih", classify,
                        threshold=0.5)
    assert reading is not None
    assert reading.ranking[0][0] == "report_flood" and reading.core == "di rumah kami banjir setinggi lutut"
    assert read_long("terima kasih banyak", classify, threshold=0.5) is None


def test_parse_defaults_keep_old_constructors_working() -> None:
    p = Parse("x", None, 0.0, (), (), "id", "rules", "v")
    assert p.secondary_intent is None and p.secondary_confidence == 0.0 and p.spans("location") == ()


# -- the dialogue's long-message cases, through the real model ---------------------------------

CASES: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (Path(__file__).parents[1] / "dialogue" / "data" / "long_messages.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES["wrapped"] + CASES["asking"],
                         ids=lambda c: f"{c['lang']}-{c['category']}-{c['text'][:24]}")
def test_real_model_files_long_messages_and_answers_their_questions(engine: SklearnEngine,
                                                                     case: dict[str, Any]) -> None:
    """The messages of tests/dialogue/data/long_messages.yml parsed by a model trained on nlu/data:
    filed in their category with their address and problem, never their courtesies, and every
    question answered in the first turn (in whichever order: a question may win as the main intent,
    the complaint then comes as the secondary one)."""
    parse = engine.parse(case["text"])
    assert parse.language == case["lang"]
    chat = Chat(channel="sms", lang=case["lang"])
    turn = chat.dialogue.step(chat.state, _incoming(case["text"]), parse)
    chat.state = turn.state
    keys = [key_of(r.text) for r in turn.replies]
    assert keys[-1] == "confirm_summary", (keys, parse.intent, parse.ranking[:3])
    answers = sorted(keys[:-1])
    assert len(answers) == len(case.get("answers", [])), keys
    for want in case.get("answers", []):
        assert any(a.startswith(want) for a in answers), (want, keys)
    assert chat.say(button="yes") == ["complaint_filed"], chat.texts
    [filed] = chat.ports.filed()
    assert filed.category == case["category"]
    assert case["place"][0] in (filed.location_text or ""), filed.location_text
    for words in case["problem"]:
        assert words in filed.description, (words, filed.description)
    for words in case["not"]:
        assert words.lower() not in filed.description.lower(), (words, filed.description)


def _scripted(table: Mapping[str, Ranking], whole: Ranking) -> Callable[[str], Ranking]:
    def classify(text: str) -> tuple[tuple[str, float], ...]:
        for words, ranking in table.items():
            if words in text and len(text) < 100:
                return ranking
        return whole
    return classify


def test_read_returns_every_clause_with_its_role_and_mark() -> None:
    text = "Selamat pagi pak. Got di Jl. Kenari mampet sudah seminggu, berapa lama ditangani? Terima kasih"
    classify = _scripted({"Selamat": (("greet", 0.95),), "Terima": (("thank", 0.97),),
                          "Got": (("report_drainage", 0.9),), "berapa": (("check_status", 0.4),)},
                         (("report_drainage", 0.8),))
    reading = read(text, classify, threshold=0.5)
    assert [(p.text, p.mark, p.intent, p.role) for p in reading.parts] == [
        ("Selamat pagi pak", ".", "greet", "courtesy"),
        ("Got di Jl. Kenari mampet sudah seminggu", ",", "report_drainage", "core"),
        ("berapa lama ditangani", "?", None, "core"),
        ("Terima kasih", "", "thank", "courtesy"),
    ]
    assert reading.ranking[0][0] == "report_drainage"


def test_an_unsure_message_takes_a_sure_clause_only_when_it_leans_to_it() -> None:
    text = ("The drain on Jl. Pemuda overflows every time it rains and floods the sidewalk. "
            "And what documents do I need for a new family card?")
    clause = {"drain": (("report_drainage", 0.9),), "documents": (("ask_family_card", 0.95),)}
    # Split votes: both topics near the top of the whole message; the complaint leads, the
    # question comes back as the secondary intent.
    reading = read(text, _scripted(clause, (("ask_family_card", 0.4), ("report_drainage", 0.3))), threshold=0.5)
    assert reading.ranking[0] == ("report_drainage", 0.9)
    assert reading.secondary == ("ask_family_card", 0.95)
    # A clause sure of something the whole does not lean to is not taken.
    reading = read(text, _scripted(clause, (("ask_tax", 0.45), ("report_flood", 0.3))), threshold=0.5)
    assert reading.ranking[0] == ("ask_tax", 0.45)


def test_a_capital_after_dll_starts_a_sentence_and_ibu_is_a_word() -> None:
    text = "Selamat pagi Bapak/Ibu. Sampah kasur, sofa dll. Mohon diangkut"
    assert [c.text for c in clauses(text)] == ["Selamat pagi Bapak/Ibu", "Sampah kasur", "sofa dll", "Mohon diangkut"]
