"""Issue 11: the traps just off the happy path, one class of messages per test, several wordings
each, in Indonesian and English."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.dialogue.chat import Chat
from tests.dialogue.memory_ports import NOW

# -- 2. answers are checked against what was asked --------------------------------------------


def at_location(lang: str = "id") -> Chat:
    chat = Chat(lang=lang)
    text = "lampu jalan mati" if lang == "id" else "the street light is broken"
    assert chat.say(text, "report_street_light", lang=lang) == ["ask_location"]
    return chat


@pytest.mark.parametrize("text,lang", [
    ("sudah 3 malam lampu PJU di gang kami mati semua, gelap", "id"),
    ("lampunya mati sudah seminggu", "id"),
    ("udah dari kemarin gelap banget, bahaya buat anak-anak", "id"),
    ("the light on my street has been off for a week", "en"),
    ("it has been dark for days and nobody came", "en"),
])
def test_a_description_at_the_location_question_is_kept_and_the_location_asked_again(text, lang):
    chat = at_location(lang)
    assert chat.say(text, lang=lang) == ["location_not_a_place"]
    draft = chat.state.filing.draft       # type: ignore[union-attr]
    assert draft.location_text is None and text in draft.description
    # Asked again once: the next answer is the location.
    assert chat.say("Gg. Mawar RT 03/05", lang=lang) == ["ask_photo"]
    assert chat.state.filing.draft.location_text == "Gg. Mawar RT 03/05"   # type: ignore[union-attr]


@pytest.mark.parametrize("place", ["Jl. Margonda Raya no. 12", "deket pasar Kemiri", "depan SDN 3 Pondok Cina",
                                   "RT 03/05 Kel. Kemiri Muka", "Taman Suropati", "gang sebelah masjid",
                                   "near the mosque on Jalan Kenanga", "Kemiri Muka"])
def test_a_place_is_taken_at_once(place):
    chat = at_location()
    assert chat.say(place) == ["ask_photo"]
    assert chat.state.filing.draft.location_text == place   # type: ignore[union-attr]


@pytest.mark.parametrize("step", ["photo", "confirm"])
@pytest.mark.parametrize("question,intent,answer", [
    ("berapa lama biasanya ditangani?", None, "sla_info"),
    ("kira-kira kapan diperbaiki?", None, "sla_info"),
    ("how long does it usually take?", None, "sla_info"),
    ("syarat bikin KTP apa ya?", "ask_id_card", "kb:ask_id_card"),
    ("apakah bisa dipercepat?", None, "question_unanswered"),
])
def test_a_question_mid_filing_is_answered_and_filing_resumes(step, question, intent, answer):
    chat = Chat()
    chat.say("pohon tumbang menimpa kabel di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    if step == "confirm":
        chat.say("lewati")
    before = chat.state.filing.draft.description     # type: ignore[union-attr]
    keys = chat.say(question, intent)
    assert keys[0] == answer and keys[1] == "still_filing"
    assert keys[2] == ("ask_photo" if step == "photo" else "confirm_summary")
    assert chat.state.filing.draft.description == before     # type: ignore[union-attr]


@pytest.mark.parametrize("word", ["lewati", "skip", "ok", "👍", "oke", "sip", "kirim"])
def test_control_words_never_end_up_in_a_complaint(word):
    chat = Chat()
    chat.say("pohon tumbang menimpa kabel di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    chat.say(word)
    chat.say("lewati")
    chat.say(button="yes")
    filed = chat.ports.filed()
    assert filed and filed[0].description == "pohon tumbang menimpa kabel di Jl. Cikini Raya"


# -- 3. ratings -------------------------------------------------------------------------------

def resolved(chat: Chat) -> str:
    ticket = chat.ports.add("tree", status="selesai", closed_at=NOW - timedelta(days=1))
    chat.await_rating(ticket)
    return ticket


@pytest.mark.parametrize("answer,rating,lang", [
    ("mantap, sudah beres, terima kasih pak", 5, "id"), ("5", 5, "id"), ("⭐⭐⭐⭐", 4, "id"),
    ("★★★", 3, "id"), ("puas", 4, "id"), ("sangat puas", 5, "id"), ("kurang", 2, "id"),
    ("kurang puas", 2, "id"), ("jelek", 1, "id"), ("lumayan", 3, "id"), ("👍", 4, "id"),
    ("😡", 1, "id"), ("4 bintang", 4, "id"), ("great, thanks!", 5, "en"), ("good", 4, "en"),
    ("not satisfied", 2, "en"), ("terrible", 1, "en"), ("I give it 3/5", 3, "en"),
])
def test_a_rating_is_read_from_digits_stars_emoji_and_words(answer, rating, lang):
    chat = Chat(lang=lang)
    ticket = resolved(chat)
    assert chat.say(answer, lang=lang) == ["rating_thanks"]
    assert chat.ports.complaints[ticket].ratings == [rating]


@pytest.mark.parametrize("answer", ["belum", "belum beres pak", "masih rusak", "not fixed", "it is still not fixed"])
def test_not_fixed_still_reopens(answer):
    chat = Chat()
    ticket = resolved(chat)
    assert chat.say(answer) == ["reopened"]
    assert chat.ports.complaints[ticket].ratings == []


@pytest.mark.parametrize("payload", ["rate:{ticket}:5", "rate:5"])
def test_a_rating_button_pressed_later_still_counts_once(payload):
    chat = Chat()
    ticket = resolved(chat)
    chat.say("cek status", "check_status")           # moved on: the question is closed
    assert chat.say(button=payload.format(ticket=ticket)) == ["rating_thanks"]
    assert chat.handover is None and chat.ports.complaints[ticket].ratings == [5]
    assert chat.say(button=payload.format(ticket=ticket)) == ["rating_already"]
    assert chat.say(button=payload.format(ticket=ticket)) == ["rating_already"]
    assert chat.handover is None and chat.ports.complaints[ticket].ratings == [5]


def test_a_new_complaint_with_strong_words_is_no_rating():
    chat = Chat()
    ticket = resolved(chat)
    chat.say("jalan di Jl. Mawar rusak parah banget, banyak lubang", "report_road_damage", loc="Jl. Mawar")
    assert chat.ports.complaints[ticket].ratings == [] and chat.state.filing is not None


# -- 4. emoji and one-word acknowledgements ---------------------------------------------------

@pytest.mark.parametrize("ack,intent", [("👍", None), ("👍👍", None), ("🙏", None), ("ok", None),
                                        ("oke", "affirm"), ("sip", None), ("noted", None), ("thx", None),
                                        ("siap", None), ("👌", "out_of_scope"), ("haha", "out_of_scope")])
def test_acknowledgements_get_a_light_answer_and_never_hand_over(ack, intent):
    chat = Chat()
    chat.say("cara bikin KTP", "ask_id_card")
    for _ in range(4):
        keys = chat.say(ack, intent)
        assert keys in (["ack_reply"], ["thanks_reply"]) and chat.handover is None
    assert chat.state.fallbacks == 0


def test_an_acknowledgement_between_misunderstandings_does_not_add_up():
    chat = Chat()
    chat.say("blorp fnarg wubb")
    chat.say("👍")
    assert chat.say("blorp fnarg wubb") == ["not_understood", "menu"]


# -- 5. stale drafts ---------------------------------------------------------------------------

@pytest.mark.parametrize("reply,intent", [("oke makasih", "thank"), ("halo", None), ("Jl. Kenanga 5", None)])
def test_an_old_draft_is_not_resumed_silently(reply, intent):
    chat = Chat()
    chat.say("saluran air mampet depan rumah", "report_drainage")
    chat.now += timedelta(days=2)
    keys = chat.say(reply, intent)
    assert keys[-1] == "resume_draft" and "ask_location" not in keys
    assert chat.say(button="resume:no") == ["draft_discarded"] and chat.state.filing is None


def test_an_old_draft_continued_asks_its_question():
    chat = Chat(lang="en")
    chat.say("the drain is blocked in front of my house", "report_drainage", lang="en")
    chat.now += timedelta(days=2)
    assert chat.say("hello", lang="en")[-1] == "resume_draft"
    assert chat.say("yes", "affirm", lang="en") == ["ask_location"]


def test_a_new_complaint_replaces_an_old_draft():
    chat = Chat()
    chat.say("saluran air mampet depan rumah", "report_drainage")
    chat.now += timedelta(days=2)
    assert chat.say("pohon tumbang di Jl. Kenanga", "report_tree", loc="Jl. Kenanga") == ["ask_photo"]
    assert chat.state.filing.draft.category == "tree"      # type: ignore[union-attr]


def test_a_recent_draft_resumes_as_before():
    chat = Chat()
    chat.say("saluran air mampet depan rumah", "report_drainage")
    chat.now += timedelta(hours=2)
    assert chat.say("menu") == ["menu", "still_filing", "ask_location"]
