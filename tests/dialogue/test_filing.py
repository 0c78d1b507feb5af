"""Filing a complaint: only the missing questions, corrections, cancel, confirmation."""

from __future__ import annotations

import pytest

from channels.base import Location, Media
from tests.dialogue.chat import Chat, Said

JAKARTA = (-6.2001, 106.8167)
CHANNELS = ["web", "telegram", "whatsapp", "sms"]


@pytest.fixture(params=CHANNELS)
def chat(request: pytest.FixtureRequest) -> Chat:
    return Chat(channel=request.param)


def location_question(chat: Chat) -> str:
    # SMS carries no shared location: the question asks for a written address.
    return "ask_location_text" if chat.channel == "sms" else "ask_location"


def after_location(chat: Chat) -> str:
    # SMS carries no photo: the summary follows the location at once.
    return "confirm_summary" if chat.channel == "sms" else "ask_photo"


# -- only the missing questions -----------------------------------------------------------

@pytest.mark.parametrize("text,intent,loc,category", [
    ("Banjir setinggi lutut di Jl. Kemang Raya RT 02/RW 03 sejak pagi", "report_flood",
     "Jl. Kemang Raya RT 02/RW 03", "flood"),
    ("Jalan berlubang besar di Jl. Margonda Raya no 5, bahaya buat motor", "report_road_damage",
     "Jl. Margonda Raya no 5", "road_damage"),
    ("sampah numpuk di depan pasar Minggu", "report_garbage", "pasar Minggu", "garbage"),
    ("lampu jalan mati di depan masjid Al-Ikhlas", "report_street_light", "masjid Al-Ikhlas", "street_light"),
    ("pohon tumbang di Jl. Cikini Raya menutup jalan", "report_tree", "Jl. Cikini Raya", "tree"),
    ("there is a big pothole on Jl. Sudirman near my house", "report_road_damage", "Jl. Sudirman",
     "road_damage"),
])
def test_everything_in_one_message_asks_only_for_the_photo(chat, text, intent, loc, category):
    assert chat.say(text, intent, loc=loc) == [after_location(chat)]
    if chat.channel != "sms":
        assert chat.say("lewati") == ["confirm_summary"]
    assert chat.buttons == ["yes", "change", "cancel"]
    assert f"Lokasi: {loc}" in chat.text and "Foto: tidak ada" in chat.text
    assert chat.say(button="yes") == ["complaint_filed"]
    [filed] = chat.ports.filed()
    assert (filed.category, filed.description, filed.location_text) == (category, text, loc)
    assert filed.media == () and filed.latitude is None and filed.language == "id"


def test_the_filed_answer_names_ticket_agency_and_times_in_the_city_zone():
    chat = Chat()
    chat.say("Banjir setinggi lutut di Jl. Kemang Raya", "report_flood", loc="Jl. Kemang Raya")
    chat.say("lewati")
    chat.say(button="yes")
    # Filed at 03:00 UTC: flood is coordinated within 2 hours and resolved within 3 days.
    assert chat.text == ("Terima kasih, laporan Anda sudah kami terima dengan nomor tiket WRG-2026-000001. "
                         "Kategori: Banjir, diteruskan ke Dinas Sumber Daya Air. Tanggapan pertama paling "
                         "lambat 02-03-2026 12:00 WIB, penyelesaian ditargetkan paling lambat 05-03-2026 "
                         "10:00 WIB. Simpan nomor tiket ini untuk cek status.")


def test_complaint_built_over_several_messages(chat):
    assert chat.say("saya mau lapor", "report_start") == ["ask_category"]
    assert len(chat.buttons) == 13 and chat.buttons[0] == "cat:road_damage" and chat.titles[1] == "Banjir"
    assert chat.say(button="cat:garbage") == ["ask_description"]
    assert chat.say("sampah numpuk udah seminggu ga diangkut") == [location_question(chat)]
    if chat.channel == "sms":
        assert chat.say("Jl. Melati RT 03/RW 05") == ["confirm_summary"]
    else:
        assert chat.say(location=JAKARTA) == ["ask_photo"]
        assert chat.say("baunya sampai ke rumah warga", photo=True) == ["confirm_summary"]
    chat.say(button="yes")
    [filed] = chat.ports.filed()
    assert filed.category == "garbage"
    if chat.channel == "sms":
        assert filed.location_text == "Jl. Melati RT 03/RW 05" and filed.media == ()
        assert filed.description == "sampah numpuk udah seminggu ga diangkut"
    else:
        assert (filed.latitude, filed.longitude, filed.location_text) == (*JAKARTA, None)
        assert filed.media == (Media("tg-file:AgAD1", "image/jpeg", "baunya sampai ke rumah warga"),)
        assert filed.description == "sampah numpuk udah seminggu ga diangkut\nbaunya sampai ke rumah warga"


@pytest.mark.parametrize("text,intent,expected", [
    ("banjir", "report_flood", "ask_description"),           # a word names the problem only
    ("sampah numpuk", "report_garbage", "ask_description"),
    ("jalan rusak parah sekali", "report_road_damage", "location"),  # a sentence describes it
    ("mau lapor", "report_start", "ask_category"),
    ("saya mau melaporkan sesuatu yang terjadi di kampung", "report_start", "ask_category"),
])
def test_first_message_decides_the_first_question(chat, text, intent, expected):
    got = chat.say(text, intent)
    assert got == [location_question(chat) if expected == "location" else expected]


def test_a_long_first_message_without_a_category_is_kept_as_the_description():
    chat = Chat()
    chat.say("saya mau melaporkan sesuatu yang terjadi di kampung", "report_start")
    assert chat.say(button="cat:other") == ["ask_location"]
    chat.say("Gg. Mawar")
    chat.say("lewati")
    chat.say("ya")
    assert chat.ports.filed()[0].description == "saya mau melaporkan sesuatu yang terjadi di kampung"


def test_a_pressed_report_button_is_not_a_description():
    chat = Chat()
    assert chat.say(button="lapor") == ["ask_category"]
    assert chat.say(button="cat:tree") == ["ask_description"]


@pytest.mark.parametrize("text,intent,category,described", [
    ("banjir", "report_flood", "flood", False),
    ("air selokan meluap ke jalan", "report_drainage", "drainage", True),
])
def test_the_category_can_be_typed(text, intent, category, described):
    chat = Chat()
    chat.say("lapor", "report_start")
    assert chat.say(text, intent) == (["ask_location"] if described else ["ask_description"])
    if not described:
        chat.say("air setinggi lutut")
    chat.say("Jl. Kenanga 1")
    chat.say("lewati")
    chat.say("ya")
    filed = chat.ports.filed()[0]
    assert filed.category == category
    assert filed.description == (text if described else "air setinggi lutut")


@pytest.mark.parametrize("answer", [{"button": "cat:nonsense"}, {"text": "hmm", "intent": None},
                                    {"text": "yang itu", "intent": "affirm"}])
def test_an_answer_that_is_no_category_asks_again(answer):
    chat = Chat()
    chat.say("lapor", "report_start")
    assert chat.say(**answer) == ["ask_category"]


def test_a_location_named_in_the_description_is_not_asked():
    chat = Chat()
    chat.say("lapor", "report_start")
    chat.say(button="cat:garbage")
    assert chat.say("sampah numpuk di depan pasar Minggu", loc="pasar Minggu") == ["ask_photo"]
    chat.say("lewati")
    assert "Lokasi: pasar Minggu" in chat.text


def test_the_description_step_keeps_the_category_entity_out_of_the_location():
    # At the description question, a location entity is kept; the awaited step decides.
    chat = Chat()
    chat.say("lapor", "report_start")
    chat.say(button="cat:tree")
    assert chat.say("ranting besar patah", loc="ranting") == ["ask_photo"]


@pytest.mark.parametrize("skip", ["lewati", "skip", "Lewati.", "tidak ada", "none"])
def test_skipping_the_location_asks_again(chat, skip):
    chat.say("sampah menumpuk sudah seminggu tidak diangkut", "report_garbage")
    assert chat.say(skip) == [location_question(chat)]
    assert chat.say("Jl. Melati RT 03/RW 05") == [after_location(chat)]


@pytest.mark.parametrize("address", [
    "Jl. Margonda Raya no 5, Kel. Kemiri Muka, Kec. Beji",
    "depan kantor kelurahan Menteng",
    "Gg. Mawar RT 01/RW 04",
    "x" * 600,
])
def test_a_written_address_answers_the_location_question(chat, address):
    chat.say("sampah menumpuk sudah seminggu tidak diangkut", "report_garbage")
    # The NLU may take "kantor kelurahan" for an office-hours question: with a location
    # entity, at the location question, it is the answer.
    intent = "ask_office_hours" if "kelurahan" in address else None
    assert chat.say(address, intent, loc=address if intent else None) == [after_location(chat)]
    chat.say("lewati") if chat.channel != "sms" else None
    chat.say("ya")
    assert chat.ports.filed()[0].location_text == address[:500]


def test_a_question_without_a_location_at_the_location_step_is_answered_and_the_filing_resumes():
    chat = Chat()
    chat.say("sampah menumpuk sudah seminggu tidak diangkut", "report_garbage")
    assert chat.say("jam buka kelurahan?", "ask_office_hours") == [
        "kb:ask_office_hours", "still_filing", "ask_location"]


def test_a_shared_location_with_a_venue_name_is_the_address():
    chat = Chat(channel="telegram")
    chat.say("lampu jalan mati", "report_street_light")
    assert chat.say(location=Location(-6.2, 106.8, "Taman Suropati")) == ["ask_photo"]
    chat.say("lewati")
    assert "Lokasi: Taman Suropati; titik lokasi (-6.20000, 106.80000)" in chat.text


@pytest.mark.parametrize("answer,photos,appended", [
    ({"text": "lewati"}, 0, None),
    ({"text": "tidak ada foto"}, 0, None),
    ({"text": "nanti saja"}, 0, None),
    ({"text": "gak"}, 0, None),
    ({"text": "", "photo": True}, 1, None),
    ({"text": "airnya sudah surut sedikit"}, 0, "airnya sudah surut sedikit"),
    ({"text": "ini fotonya", "photo": True}, 1, "ini fotonya"),
])
def test_photo_step(answer, photos, appended):
    chat = Chat(channel="whatsapp")
    chat.say("Banjir setinggi lutut di Jl. Kemang Raya", "report_flood", loc="Jl. Kemang Raya")
    assert chat.say(**answer) == ["confirm_summary"]
    assert (f"Foto: {photos} foto" if photos else "Foto: tidak ada") in chat.text
    chat.say("ya")
    filed = chat.ports.filed()[0]
    assert len(filed.media) == photos
    expected = "Banjir setinggi lutut di Jl. Kemang Raya" + (f"\n{appended}" if appended else "")
    assert filed.description == expected


def test_a_photo_sent_first_is_kept_and_its_caption_describes():
    chat = Chat(channel="telegram")
    chat.say("lapor", "report_start")
    chat.say(button="cat:road_damage")
    assert chat.say("jalan ambles", photo=True) == ["ask_location"]   # the caption is the text too
    chat.say("Jl. Kenanga 2")
    assert chat.say("ya") == ["complaint_filed"]
    filed = chat.ports.filed()[0]
    assert filed.description == "jalan ambles" and len(filed.media) == 1


def test_the_same_photo_twice_is_kept_once():
    chat = Chat(channel="telegram")
    chat.say("Banjir setinggi lutut di Jl. Kemang Raya", "report_flood", loc="Jl. Kemang Raya")
    chat.say(photo=True)
    chat.say(photo=True)
    assert "Foto: 1 foto" in chat.text


def test_more_words_at_the_confirmation_join_the_description():
    chat = Chat()
    chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    chat.say("lewati")
    assert chat.say("menimpa dua motor") == ["confirm_summary"]
    assert "pohon tumbang di Jl. Cikini Raya\nmenimpa dua motor" in chat.text
    chat.say("ya")
    assert chat.ports.filed()[0].description == "pohon tumbang di Jl. Cikini Raya\nmenimpa dua motor"


def test_the_summary_clips_a_long_description_but_the_complaint_keeps_it():
    chat = Chat(channel="sms")
    long = "jalan rusak " + "sangat " * 700
    chat.say(long, "report_road_damage", loc="jalan rusak")
    summary = chat.text
    assert "…" in summary and len(summary) < 600
    chat.say("ya")
    assert chat.ports.filed()[0].description == long[:4000]


# -- confirmation and corrections ------------------------------------------------------------

@pytest.mark.parametrize("yes", [{"button": "yes"}, {"text": "ya"}, {"text": "iya"}, {"text": "ok"},
                                 {"text": "Kirim"}, {"text": "yes"}, {"text": "boleh", "intent": "affirm"}])
def test_every_way_of_saying_yes_files(chat, yes):
    chat.say("pohon tumbang di Jl. Cikini Raya", "report_tree", loc="Jl. Cikini Raya")
    if chat.channel != "sms":
        chat.say("lewati")
    assert chat.say(**yes) == ["complaint_filed"]
    assert len(chat.ports.filed()) == 1
    # Filed: nothing is left to cancel or to remind of.
    assert chat.say("batal") == ["nothing_to_cancel"]
    assert chat.say("halo") == ["greeting", "menu"]


def confirming(channel: str = "web") -> Chat:
    chat = Chat(channel=channel)
    chat.say("lampu jalan mati di depan masjid Al-Ikhlas", "report_street_light", loc="masjid Al-Ikhlas")
    if channel != "sms":
        chat.say("tidak ada foto")
    assert chat.buttons == ["yes", "change", "cancel"]
    return chat


@pytest.mark.parametrize("words,question", [
    ("lokasinya salah", "ask_location"),
    ("alamatnya keliru", "ask_location"),
    ("the location is wrong", "ask_location"),
    ("kategorinya salah", "ask_category"),
    ("ganti jenis laporan", "ask_category"),
    ("ganti foto", "ask_photo"),
    ("keterangannya salah", "ask_new_description"),
    ("fix the description", "ask_new_description"),
])
def test_naming_what_is_wrong_asks_that_again(words, question):
    chat = confirming()
    assert chat.say(words) == [question]


@pytest.mark.parametrize("change", [{"button": "change"}, {"text": "ubah"}, {"text": "tidak"},
                                    {"text": "bukan"}, {"text": "nggak dulu", "intent": "deny"}])
def test_change_offers_the_parts(change):
    chat = confirming()
    assert chat.say(**change) == ["which_field"]
    assert chat.buttons == ["field:category", "field:description", "field:location", "field:photo"]


@pytest.mark.parametrize("pick,question", [
    ({"button": "field:category"}, "ask_category"),
    ({"button": "field:description"}, "ask_new_description"),
    ({"button": "field:location"}, "ask_location"),
    ({"button": "field:photo"}, "ask_photo"),
    ({"text": "lokasi"}, "ask_location"),
    ({"text": "fotonya"}, "ask_photo"),
    ({"text": "the category"}, "ask_category"),
    ({"text": "keterangan"}, "ask_new_description"),
    ({"text": "hmm entahlah"}, "which_field"),
])
def test_picking_the_part_to_change(pick, question):
    chat = confirming()
    chat.say(button="change")
    assert chat.say(**pick) == [question]


def test_a_replaced_description_and_location_are_filed():
    chat = confirming()
    assert chat.say("lokasinya salah") == ["ask_location"]
    assert chat.say("Jl. Cempaka Putih Raya no 10, Kel. Cempaka Putih Timur") == ["confirm_summary"]
    assert "Lokasi: Jl. Cempaka Putih Raya no 10, Kel. Cempaka Putih Timur" in chat.text
    chat.say(button="change")
    chat.say(button="field:description")
    assert chat.say("Lampu PJU mati tiga tiang berturut-turut") == ["confirm_summary"]
    assert "Keterangan: Lampu PJU mati tiga tiang berturut-turut\n" in chat.text
    chat.say(button="yes")
    filed = chat.ports.filed()[0]
    assert filed.description == "Lampu PJU mati tiga tiang berturut-turut"
    assert filed.location_text == "Jl. Cempaka Putih Raya no 10, Kel. Cempaka Putih Timur"


def test_a_changed_category_and_photo():
    chat = confirming("telegram")
    chat.say(button="change")
    assert chat.say(button="field:category") == ["ask_category"]
    assert chat.say(button="cat:public_facility") == ["confirm_summary"]
    chat.say(button="change")
    assert chat.say(button="field:photo") == ["ask_photo"]
    assert chat.say(photo=Media("tg-file:X", "image/jpeg")) == ["confirm_summary"]
    chat.say(button="yes")
    filed = chat.ports.filed()[0]
    assert filed.category == "public_facility" and filed.media == (Media("tg-file:X", "image/jpeg"),)


def test_a_correction_before_the_confirmation():
    chat = Chat()
    chat.say("lampu jalan mati di depan masjid Al-Ikhlas", "report_street_light", loc="masjid Al-Ikhlas")
    assert chat.say("eh lokasinya salah") == ["ask_location"]
    assert chat.say("depan SDN 01") == ["ask_photo"]


def test_a_shared_location_replaces_a_wrong_one():
    chat = confirming("whatsapp")
    chat.say("lokasinya salah")
    assert chat.say(location=JAKARTA) == ["confirm_summary"]
    assert "Lokasi: titik lokasi (-6.20010, 106.81670)" in chat.text


# -- cancel ----------------------------------------------------------------------------------

STEPS: dict[str, list[Said]] = {
    "category": [{"text": "lapor", "intent": "report_start"}],
    "description": [{"text": "lapor", "intent": "report_start"}, {"button": "cat:tree"}],
    "location": [{"text": "jalan berlubang besar di depan sekolah", "intent": "report_road_damage"}],
    "photo": [{"text": "jalan berlubang di Jl. Kenanga", "intent": "report_road_damage", "loc": "Jl. Kenanga"}],
    "confirm": [{"text": "jalan berlubang di Jl. Kenanga", "intent": "report_road_damage", "loc": "Jl. Kenanga"},
                {"text": "lewati"}],
    "which_field": [{"text": "jalan berlubang di Jl. Kenanga", "intent": "report_road_damage", "loc": "Jl. Kenanga"},
                    {"text": "lewati"}, {"button": "change"}],
}


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("cancel", [{"text": "batal"}, {"text": "/batal"}, {"text": "Cancel"},
                                    {"text": "/cancel"}, {"button": "cancel"},
                                    {"text": "gak jadi deh", "intent": "cancel"}])
def test_cancel_at_any_step_files_nothing(step, cancel):
    chat = Chat(channel="telegram")
    for message in STEPS[step]:
        chat.say(**message)
    assert chat.say(**cancel) == ["cancelled"]
    assert chat.say("batal") == ["nothing_to_cancel"]
    assert chat.say("ya") == ["menu"]          # nothing left to confirm
    assert chat.ports.filed() == []


@pytest.mark.parametrize("step", list(STEPS))
def test_an_empty_message_at_any_step_is_pointed_out(step):
    chat = Chat()
    for message in STEPS[step]:
        chat.say(**message)
    assert chat.say("") == ["empty_message"]


# -- interruptions ---------------------------------------------------------------------------

@pytest.mark.parametrize("step,question", [("category", "ask_category"), ("description", "ask_description"),
                                           ("location", "ask_location"), ("photo", "ask_photo"),
                                           ("confirm", "confirm_summary")])
@pytest.mark.parametrize("message,answer", [
    ({"text": "eh ada kebakaran di rumah tetangga!", "intent": "ask_emergency"}, ["emergency"]),
    ({"text": "halo"}, ["greeting", "menu"]),
    ({"text": "menu"}, ["menu"]),
    ({"text": "makasih", "intent": "thank"}, ["thanks_reply"]),
    ({"text": "kamu bot ya?", "intent": "bot_challenge"}, ["bot_challenge"]),
    ({"text": "cek status"}, ["status_recent_none"]),
    ({"text": "bagaimana cara membuat e-KTP?", "intent": "ask_id_card"}, ["kb:ask_id_card"]),
])
def test_an_interruption_is_answered_and_the_filing_resumes(step, question, message, answer):
    chat = Chat()
    for m in STEPS[step]:
        chat.say(**m)
    assert chat.say(**message) == answer + ["still_filing", question]
    # The filing goes on where it was.
    chat.say("batal")
    assert chat.replies and chat.say("batal") == ["nothing_to_cancel"]


def test_the_filing_resumes_after_an_emergency_with_the_next_answer():
    chat = Chat()
    chat.say("saluran air mampet depan rumah", "report_drainage")
    assert chat.say("eh ada kebakaran di rumah tetangga!", "ask_emergency") == [
        "emergency", "still_filing", "ask_location"]
    assert chat.say("Gg. Mawar RT 01/RW 04") == ["ask_photo"]


def test_a_photo_or_a_point_at_the_confirmation_is_added_and_confirmed_again():
    chat = confirming("telegram")
    assert chat.say(photo=Media("tg-file:P", "image/jpeg")) == ["confirm_summary"]
    assert "Foto: 1 foto" in chat.text
    assert chat.say(location=JAKARTA) == ["confirm_summary"]
    assert "masjid Al-Ikhlas; titik lokasi (-6.20010, 106.81670)" in chat.text
    chat.say(button="yes")
    filed = chat.ports.filed()[0]
    assert filed.description == "lampu jalan mati di depan masjid Al-Ikhlas"    # nothing appended
    assert (filed.latitude, filed.longitude) == JAKARTA and len(filed.media) == 1


def test_a_photo_instead_of_the_new_description_keeps_the_old_one():
    chat = confirming()
    chat.say("keterangannya salah")
    # A photo without a caption is no description: the old one stays, and the photo is added.
    assert chat.say(photo=Media("tg-file:Q", "image/jpeg")) == ["confirm_summary"]
    assert "Keterangan: lampu jalan mati di depan masjid Al-Ikhlas\n" in chat.text
    assert "Foto: 1 foto" in chat.text
