"""Everything around filing: greeting, small talk, clarification, fallbacks, anger, handover,
ratings and reopening, language."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.dialogue.policy import DialoguePolicy
from tests.dialogue.chat import Chat, Said, lang_of
from tests.dialogue.memory_ports import NOW

# -- greeting, menu, small talk ----------------------------------------------------------------

@pytest.mark.parametrize("hello", ["halo", "Hai", "/start", "mulai", "hello", "hi!", "selamat pagi"])
@pytest.mark.parametrize("name", [None, "Siti Rahayu"])
def test_greeting_uses_the_name_and_offers_the_menu(hello, name):
    chat = Chat(name=name)
    assert chat.say(hello, "greet") == ["greeting", "menu"]
    assert chat.texts[0].startswith(f"Halo {name}!" if name else "Halo!")
    assert chat.buttons == ["lapor", "status", "info"]


@pytest.mark.parametrize("text", ["menu", "/menu", "/help", "bantuan", "Help"])
def test_menu(text):
    chat = Chat()
    assert chat.say(text) == ["menu"]
    assert chat.titles == ["Buat laporan", "Cek status laporan", "Informasi layanan"]


@pytest.mark.parametrize("text,intent,key", [
    ("makasih ya", "thank", "thanks_reply"), ("terima kasih", "thank", "thanks_reply"),
    ("dadah", "goodbye", "goodbye"), ("kamu bot ya?", "bot_challenge", "bot_challenge"),
    ("resep nasi goreng dong", "out_of_scope", "out_of_scope"),
    ("ya", None, "menu"), ("tidak", None, "menu"),
    # An acknowledgement gets a light answer (issue 11), not the menu.
    ("sip", "affirm", "ack_reply"),
])
def test_small_talk(text, intent, key):
    assert Chat().say(text, intent) == [key]


@pytest.mark.parametrize("message", [{"text": ""}, {"text": "   "}])
def test_an_empty_message(message):
    assert Chat().say(**message) == ["empty_message"]


def test_keywords_work_without_the_nlu():
    chat = Chat()
    assert chat.say("menu", nlu=False) == ["menu"]
    assert chat.say("lapor", nlu=False) == ["ask_category"]
    assert chat.say(button="cat:flood", nlu=False) == ["ask_description"]
    assert chat.say("batal", nlu=False) == ["cancelled"]


# -- clarification ----------------------------------------------------------------------------

UNSURE = (("report_flood", 0.4), ("ask_id_card", 0.3), ("greet", 0.2), ("report_start", 0.18),
          ("ask_tax", 0.1))


def test_unsure_offers_the_likely_meanings_as_buttons():
    chat = Chat()
    assert chat.say("air naik ktp basah", None, 0.4, ranking=UNSURE) == ["clarify"]
    # Complaints and known questions are offered; greetings, "report_start" and the unlikely are not.
    assert chat.buttons == ["intent:report_flood", "intent:ask_id_card", "none"]
    assert chat.titles == ["Buat laporan: Banjir", "e-KTP", "Bukan semuanya"]


def test_a_chosen_meaning_answers_the_earlier_message():
    chat = Chat()
    chat.say("air naik sampai lutut di gang kami", None, 0.4, ranking=UNSURE)
    assert chat.say(button="intent:report_flood") == ["ask_location"]
    chat.say("Gg. Mawar")
    chat.say("lewati")
    chat.say("ya")
    assert chat.ports.filed()[0].description == "air naik sampai lutut di gang kami"


def test_a_chosen_question_is_answered():
    chat = Chat()
    chat.say("air naik ktp basah", None, 0.4, ranking=UNSURE)
    assert chat.say(button="intent:ask_id_card") == ["kb:ask_id_card"]


def test_none_of_these_counts_as_not_understood():
    chat = Chat()
    chat.say("air naik ktp basah", None, 0.4, ranking=UNSURE)
    assert chat.say(button="none") == ["handover_fallbacks"]
    assert chat.handover == "not_understood"


def test_no_likely_meaning_says_so_and_shows_the_menu():
    chat = Chat()
    assert chat.say("blorp fnarg", None, 0.3, ranking=(("greet", 0.3), ("ask_tax", 0.1))) == [
        "not_understood", "menu"]


# -- fallbacks, anger, handover ---------------------------------------------------------------

NOT_UNDERSTOOD: Said = {"text": "blorp fnarg wubb"}


@pytest.mark.parametrize("first,second", [
    (NOT_UNDERSTOOD, {"text": "zorg plim quax vrrt"}),
    (NOT_UNDERSTOOD, {"text": "resep nasi goreng", "intent": "out_of_scope"}),
    ({"text": "resep nasi goreng", "intent": "out_of_scope"}, {"text": "cara main catur", "intent": "out_of_scope"}),
    ({"text": "resep nasi goreng", "intent": "out_of_scope"}, NOT_UNDERSTOOD),
])
def test_two_misunderstandings_in_a_row_hand_over(first, second):
    chat = Chat()
    assert "handover_fallbacks" not in chat.say(**first)
    assert chat.handover is None
    assert chat.say(**second) == ["handover_fallbacks"]
    assert chat.handover == "not_understood"


@pytest.mark.parametrize("between", [{"text": "halo"}, {"text": "makasih", "intent": "thank"},
                                     {"text": "cara bikin KTP", "intent": "ask_id_card"}])
def test_an_understood_message_in_between_starts_the_count_again(between):
    chat = Chat()
    chat.say(**NOT_UNDERSTOOD)
    chat.say(**between)
    assert chat.say(**NOT_UNDERSTOOD) == ["not_understood", "menu"]
    assert chat.say(**NOT_UNDERSTOOD) == ["handover_fallbacks"]


def test_answers_while_filing_start_the_count_again():
    chat = Chat()
    chat.say(**NOT_UNDERSTOOD)
    chat.say("lapor", "report_start")
    chat.say(button="cat:tree")
    chat.say("batal")
    assert chat.say(**NOT_UNDERSTOOD) == ["not_understood", "menu"]


ANGRY = ["PELAYANAN KALIAN PAYAH SEKALI, LAPORAN SAYA GAK PERNAH DIURUS!!!",
         "dasar goblok, laporan saya ga diurus", "pemkot gak becus", "this is useless", "bangsat",
         "kalian tidak becus ngurus jalan", "anjing lu, dari kemarin ga dibales"]


@pytest.mark.parametrize("text", ANGRY)
def test_an_angry_citizen_is_handed_over(text):
    chat = Chat()
    assert chat.say(text) == ["handover_angry"]
    assert chat.handover == "angry"
    assert chat.buttons == ["handover:leave"]


@pytest.mark.parametrize("text", ANGRY)
def test_strong_words_in_a_complaint_never_cancel_it(text):
    # Issue 11: the complaint is filed as usual; a person is one button away.
    chat = Chat()
    keys = chat.say(text, "report_road_damage")
    assert keys[0] == "strong_words_offer" and keys[1] in ("ask_description", "ask_location")
    assert chat.handover is None and chat.replies[0].buttons[0].payload == "handover:ask"
    assert chat.state.filing is not None
    assert chat.say(button="handover:ask") == ["handover_started"]


@pytest.mark.parametrize("text,intent,lang", [
    ("jalan di Jl. Margonda Raya rusak parah banget, banyak lubang", "report_road_damage", "id"),
    ("saya kecewa banget jalannya belum diperbaiki juga", "report_road_damage", "id"),
    ("saya kecewa banget sama pelayanannya", None, "id"),
    ("sudah muak tiap hujan rumah kebanjiran", "report_flood", "id"),
    ("anjing liar berkeliaran di taman, anak-anak takut", "report_public_facility", "id"),
    ("the road is terrible, this pothole is damn dangerous", "report_road_damage", "en"),
])
def test_strong_words_about_a_problem_are_not_anger(text, intent, lang):
    chat = Chat(lang=lang)
    keys = chat.say(text, intent, lang=lang)
    assert chat.handover is None and "handover_angry" not in keys and "strong_words_offer" not in keys


@pytest.mark.parametrize("text", ["JALAN RUSAK!!", "TOLONG DIPERBAIKI JALAN DEPAN RUMAH.",
                                  "Lampu mati!!! sudah seminggu tidak menyala sama sekali"])
def test_capitals_or_exclamations_alone_are_not_anger(text):
    chat = Chat()
    chat.say(text, "report_road_damage")
    assert chat.handover is None


@pytest.mark.parametrize("ask", [{"text": "saya mau bicara dengan petugas", "intent": "request_human"},
                                 {"text": "can I talk to a person", "intent": "request_human", "lang": "en"}])
def test_asking_for_a_person_hands_over(ask):
    chat = Chat(lang=ask.get("lang", "id"))
    assert chat.say(**ask) == ["handover_started"]
    assert chat.handover == "requested" and lang_of(chat.text) == ask.get("lang", "id")


def test_asking_for_a_person_while_filing_hands_over():
    chat = Chat()
    chat.say("lapor", "report_start")
    assert chat.say("mau ngomong sama orang", "request_human") == ["handover_started"]


def handed_over(chat: Chat, how: str) -> None:
    if how == "requested":
        chat.say("saya mau bicara dengan petugas", "request_human")
    elif how == "angry":
        chat.say("dasar goblok")
    elif how == "fallbacks":
        chat.say(**NOT_UNDERSTOOD)
        chat.say(**NOT_UNDERSTOOD)
    else:
        chat.take_over("rina")


@pytest.mark.parametrize("how", ["requested", "angry", "fallbacks", "taken"])
@pytest.mark.parametrize("message", [{"text": "lapor", "intent": "report_start"}, {"button": "yes"},
                                     {"text": ""}, {"text": "jalannya masih rusak pak"}])
def test_while_a_person_handles_it_the_bot_is_quiet(how, message):
    chat = Chat()
    handed_over(chat, how)
    if how != "taken":
        chat.now += timedelta(minutes=1)      # just told they wait: no second notice yet
    assert chat.say(**message) == []


@pytest.mark.parametrize("how", ["requested", "angry", "fallbacks", "taken"])
@pytest.mark.parametrize("way_out", [{"text": "batal"}, {"text": "menu"}, {"text": "Menu"},
                                     {"text": "cancel", "lang": "en"}, {"button": "handover:leave"},
                                     {"text": "kembali ke bot"}])
def test_the_way_out_always_returns_to_the_bot(how, way_out):
    chat = Chat()
    handed_over(chat, how)
    assert chat.say(**way_out) == ["handover_left", "menu"]
    assert chat.state.handover is None
    assert chat.say("cara bikin KTP", "ask_id_card") == ["kb:ask_id_card"]


@pytest.mark.parametrize("how", ["requested", "angry", "fallbacks"])
@pytest.mark.parametrize("probe", [{"text": "halo?"}, {"text": "halo? ada orang?"},
                                   {"text": "tolong dong, ada orang?", "intent": "ask_emergency"},
                                   {"text": "anyone there?", "lang": "en"}, {"text": "p"}])
def test_while_waiting_the_citizen_is_told_so_with_hours_and_wait(how, probe):
    chat = Chat()
    handed_over(chat, how)
    assert "08.00" in chat.text and "15" in chat.text      # office hours and expected wait, at once
    assert chat.say(**probe) == ["handover_waiting"]
    assert "08.00" in chat.text and "handover:leave" in chat.buttons


def test_while_waiting_status_and_public_service_questions_are_answered():
    chat = Chat()
    ticket = chat.ports.add("tree")
    chat.say("saya mau bicara dengan petugas", "request_human")
    assert chat.say(ticket) == ["status_one"] and ticket in chat.text
    assert chat.say("cek status", "check_status") == ["status_recent_header"]
    assert chat.say("syarat bikin KTP apa?", "ask_id_card") == ["kb:ask_id_card"]
    assert chat.state.handover is not None and chat.state.handover.waiting


def test_once_taken_status_questions_are_left_to_the_person():
    chat = Chat()
    ticket = chat.ports.add("tree")
    chat.take_over()
    assert chat.say(ticket) == [] and chat.say("halo?") == []


def test_a_waiting_handover_nobody_took_returns_to_the_bot():
    chat = Chat()
    chat.say("saya mau bicara dengan petugas", "request_human")
    chat.now += timedelta(minutes=59)
    assert chat.say("halo?") == ["handover_waiting"]
    chat.now += timedelta(minutes=1)       # the default policy: 60 minutes
    assert chat.say("halo?") == ["handover_timed_out", "greeting", "menu"]
    assert chat.state.handover is None


def test_the_timeout_is_the_policys():
    from bot.dialogue.policy import DialoguePolicy
    chat = Chat()
    chat.dialogue = type(chat.dialogue)(chat.ports, policy=DialoguePolicy(handover_timeout=timedelta(minutes=5)))
    chat.say("can I talk to a person", "request_human", lang="en")
    chat.now += timedelta(minutes=5)
    assert chat.say("menu") == ["handover_timed_out", "menu"]


def test_a_taken_handover_never_times_out():
    chat = Chat()
    chat.say("saya mau bicara dengan petugas", "request_human")
    chat.take_over()
    chat.now += timedelta(days=2)
    assert chat.say("halo?") == []


def test_a_long_wait_is_noticed_again_without_asking():
    chat = Chat()
    chat.say("saya mau bicara dengan petugas", "request_human")
    chat.now += timedelta(minutes=11)
    assert chat.say("jalannya masih rusak pak") == ["handover_waiting"]
    chat.now += timedelta(minutes=1)
    assert chat.say("foto menyusul ya") == []


@pytest.mark.parametrize("how", ["requested", "taken"])
def test_except_for_an_emergency(how):
    chat = Chat()
    if how == "requested":
        chat.say("saya mau bicara dengan petugas", "request_human")
    else:
        chat.take_over()
    assert chat.say("tolong ada kebakaran!", "ask_emergency") == ["emergency"]


def test_released_the_bot_answers_again_and_the_count_starts_over():
    chat = Chat()
    chat.say(**NOT_UNDERSTOOD)
    chat.say("saya mau bicara dengan petugas", "request_human")
    chat.take_over("rina")
    chat.release()
    assert chat.say("menu") == ["menu"]
    assert chat.say(**NOT_UNDERSTOOD) == ["not_understood", "menu"]


@pytest.mark.parametrize("leave", ["release", "batal"])
def test_a_draft_survives_a_handover_but_is_not_resumed_silently(leave):
    chat = Chat()
    chat.say("saluran air mampet depan rumah", "report_drainage")
    assert chat.say("dasar tolol") == ["strong_words_offer", "still_filing", "ask_location"] \
        or chat.handover is None
    chat.say("saya mau bicara dengan petugas", "request_human")
    if leave == "release":
        chat.release()
        assert chat.say("oke makasih", "thank") == ["thanks_reply", "resume_draft"]
    else:
        assert chat.say("batal") == ["handover_left", "menu"]
        assert chat.say("oke makasih", "thank") == ["thanks_reply", "resume_draft"]
    assert chat.buttons == ["resume:yes", "resume:no"]
    assert chat.say(button="resume:yes") == ["ask_location"]


# -- rating and reopening ---------------------------------------------------------------------

def resolved(chat: Chat, days_ago: float = 1) -> str:
    ticket = chat.ports.add("tree", status="selesai", closed_at=NOW - timedelta(days=days_ago))
    chat.await_rating(ticket)
    return ticket


@pytest.mark.parametrize("answer,rating", [
    ({"text": "4"}, 4), ({"text": "5/5"}, 5), ({"text": "1 bintang"}, 1), ({"text": "3 stars"}, 3),
    ({"text": " 2 . "}, 2), ({"button": "rate:4"}, 4), ({"button": "rate:1"}, 1),
])
def test_a_rating_is_recorded_once(answer, rating):
    chat = Chat()
    ticket = resolved(chat)
    assert chat.say(**answer) == ["rating_thanks"]
    assert f"{rating}/5" in chat.text and ticket in chat.text
    assert chat.ports.complaints[ticket].ratings == [rating]
    # The question is closed: another digit is not a second rating.
    chat.say("5")
    assert chat.ports.complaints[ticket].ratings == [rating]


@pytest.mark.parametrize("answer", [{"text": "6"}, {"text": "0"}, {"text": "hmm"},
                                    {"text": "ok"}, {"text": "tidak"}, {"text": "ya", "intent": "affirm"}])
def test_an_unreadable_rating_asks_again(answer):
    chat = Chat()
    ticket = resolved(chat)
    assert chat.say(**answer) == ["rating_invalid"]
    assert chat.say("4") == ["rating_thanks"]
    assert chat.ports.complaints[ticket].ratings == [4]


@pytest.mark.parametrize("answer", [{"text": "belum beres, pohonnya masih di situ"}, {"text": "belum"},
                                    {"text": "it is not fixed", "lang": "en"}, {"button": "reopen"},
                                    {"text": "tolong buka kembali"}])
def test_not_fixed_reopens_within_the_period(answer):
    chat = Chat()
    ticket = resolved(chat, days_ago=2)
    assert chat.say(**answer) == ["reopened"]
    assert chat.ports.complaints[ticket].view.status == "proses"
    assert chat.say("belum") != ["reopened"]       # asked once


def test_not_fixed_after_the_period_says_so():
    chat = Chat()
    ticket = resolved(chat, days_ago=8)
    assert chat.say("belum beres") == ["reopen_expired"]
    assert "7 hari" in chat.text and chat.ports.complaints[ticket].view.status == "selesai"


def test_moving_on_drops_the_rating_question():
    chat = Chat()
    ticket = resolved(chat)
    assert chat.say("cek status", "check_status") == ["status_recent_header"]
    assert chat.say("4") != ["rating_thanks"]
    assert chat.ports.complaints[ticket].ratings == []


def test_a_new_complaint_instead_of_a_rating_is_filed():
    chat = Chat()
    resolved(chat)
    assert chat.say("ada pohon tumbang lagi di Jl. Kenanga", "report_tree", loc="Jl. Kenanga") == ["ask_photo"]


def test_cancel_does_not_close_the_rating_question():
    chat = Chat()
    ticket = resolved(chat)
    assert chat.say("batal") == ["nothing_to_cancel"]
    assert chat.say("5") == ["rating_thanks"] and chat.ports.complaints[ticket].ratings == [5]


def test_a_rating_in_english():
    chat = Chat(lang="en")
    chat.say("hello there my friend", "greet", lang="en")
    resolved(chat)
    chat.say("4", lang="en")
    assert chat.texts[0].startswith("Thank you") and "4/5" in chat.text


# -- language -------------------------------------------------------------------------------

def test_the_first_message_sets_the_language():
    chat = Chat(lang="en")
    assert chat.say("there is a big pothole on the main road", "report_road_damage", lang="en") == [
        "ask_location"]
    assert lang_of(chat.text) == "en" and chat.turns[-1].language == "en"


def test_an_english_complaint_stays_english_through_addresses_and_short_words():
    chat = Chat(lang="en")
    chat.say("there is a big pothole on the main road near my house", "report_road_damage", lang="en")
    # An address is in no language; the NLU's guess must not switch.
    assert chat.say("Jl. Sudirman km 3, depan bank", lang="id") == ["ask_photo"]
    assert lang_of(chat.text) == "en"
    assert chat.say("ok", lang="id") == ["confirm_summary"]      # short: no reason to switch
    assert lang_of(chat.text) == "en" and "Send this complaint?" in chat.text
    chat.say("yes", lang="en")
    assert chat.ports.filed()[0].language == "en"


def test_a_clear_message_in_the_other_language_switches():
    chat = Chat(lang="en")
    chat.say("there is a big pothole on the main road near my house", "report_road_damage", lang="en")
    chat.say("Jl. Sudirman km 3")
    replies = chat.say("tolong cek status laporan saya yang kemarin", "check_status", lang="id")
    assert replies == ["status_recent_none", "still_filing", "ask_photo"]
    assert all(lang_of(t) == "id" for t in chat.texts) and chat.turns[-1].language == "id"


def test_only_the_supported_languages_are_spoken():
    """languages.supported: a city that answers in Indonesian only never switches to English,
    and its default language greets a citizen whose words are in no supported language."""
    only_id = DialoguePolicy(languages=("id",), default_language="id")
    chat = Chat(lang="en", policy=only_id)
    chat.say("there is a big pothole on the main road near my house", "report_road_damage", lang="en")
    assert lang_of(chat.text) == "id" and chat.turns[-1].language == "id"
    english_first = Chat(lang="id", policy=DialoguePolicy(default_language="en"))
    english_first.say("menu", lang="fr")
    assert english_first.turns[-1].language == "en"


def test_a_location_entity_is_no_signal_of_language():
    chat = Chat()
    chat.say("lapor", "report_start")
    chat.say(button="cat:tree")
    chat.say("pohon besar tumbang")
    assert chat.say("Jl. Jenderal Sudirman Kav 52", lang="en", loc="Jl. Jenderal Sudirman Kav 52") == [
        "ask_photo"]
    assert lang_of(chat.text) == "id"


def test_mostly_a_location_keeps_the_language():
    chat = Chat()
    chat.say("halo", "greet")
    chat.say("Taman Menteng Park Central Jakarta", "ask_office_hours", lang="en",
             loc="Taman Menteng Park Central Jakarta")
    assert lang_of(chat.texts[0]) == "id"


def test_without_the_nlu_the_language_is_kept():
    chat = Chat(lang="en")
    chat.say("hello there my friend", "greet", lang="en")
    chat.say("menu", nlu=False)
    assert lang_of(chat.text) == "en"


def test_an_emergency_or_a_person_comes_before_the_rating():
    chat = Chat()
    ticket = resolved(chat)
    assert chat.say("ada kebakaran!", "ask_emergency") == ["emergency"]
    assert chat.say("4") == ["rating_thanks"]
    resolved(chat)
    assert chat.say("mau bicara dengan petugas", "request_human") == ["handover_started"]
    assert chat.ports.complaints[ticket].ratings == [4]


def test_a_rating_for_someone_elses_ticket_is_not_stored():
    chat = Chat()
    ticket = chat.ports.add("tree", status="selesai", owner="neighbour", closed_at=NOW)
    chat.await_rating(ticket)
    assert chat.say("5") == ["rating_thanks"]
    assert chat.ports.complaints[ticket].ratings == []


def test_an_understood_message_ends_the_clarification():
    chat = Chat()
    chat.say("air naik ktp basah", None, 0.4, ranking=UNSURE)
    chat.say("halo")
    # A late press on an old clarifying button answers only its own meaning.
    assert chat.say(button="intent:report_flood") == ["ask_description"]


# -- the language the citizen chose (the web chat's ID/EN switch: a "lang:xx" press) ----------

@pytest.mark.parametrize("lang,other", [("en", "id"), ("id", "en")])
def test_a_chosen_language_greets_in_it_and_is_kept(lang, other):
    chat = Chat(lang=other)
    chat.say("halo" if other == "id" else "hello there", "greet", lang=other)
    assert chat.say(button=f"lang:{lang}") == ["greeting", "menu"]
    assert all(lang_of(t) == lang for t in chat.texts) and chat.turns[-1].language == lang
    # Several words in the other language no longer switch back: the citizen chose.
    chat.say("there is a big pothole on the main road near my house" if other == "en"
             else "ada jalan berlubang besar di depan rumah saya", "report_road_damage", lang=other)
    assert all(lang_of(t) == lang for t in chat.texts)


def test_choosing_a_language_while_filing_repeats_the_question_in_it():
    chat = Chat()
    chat.say("ada jalan berlubang besar di depan rumah saya", "report_road_damage")
    assert chat.say(button="lang:en") == ["greeting", "still_filing", "ask_location"]
    assert all(lang_of(t) == "en" for t in chat.texts)
    assert chat.state.filing is not None and chat.state.filing.draft.category == "road_damage"


def test_choosing_a_language_while_with_a_person_only_confirms_it():
    chat = Chat()
    chat.say("saya mau bicara dengan petugas", "request_human")
    chat.take_over()
    assert chat.say(button="lang:en") == ["language_set"]
    assert chat.state.handover is not None and chat.state.language == "en"


def test_a_language_the_city_does_not_offer_is_no_choice():
    chat = Chat(policy=DialoguePolicy(languages=("id",), default_language="id"))
    chat.say(button="lang:en")
    assert chat.turns[-1].language == "id" and not chat.state.language_chosen
