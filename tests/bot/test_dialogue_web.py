"""Scripted conversations on the web chat, end to end: the smoke layer over the database.

The dialogue's rules (corrections, cancel, fallbacks, anger, knowledge answers, language,
emergencies, small talk) are covered case by case, fast, in tests/dialogue/; these scripts
check that the whole path (HTTP, storage, workers, the database-backed ports, notifications)
carries them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.models import Complaint, Conversation
from tests.bot.citizen import WebCitizen, complaint, move_through, staff, ticket_in

JAKARTA = (-6.2001, 106.8167)


@pytest.fixture
def citizen(client: Any) -> WebCitizen:
    return WebCitizen(client)


def test_complaint_with_everything_in_one_message(app, citizen):
    replies = citizen.say("Banjir setinggi lutut di Jl. Kemang Raya RT 02/RW 03 sejak pagi, mobil tidak bisa lewat")
    # Category, description and location were all in the message: only the photo is asked.
    assert replies == [replies[0]] and "kirim foto" in replies[0]
    summary = citizen.say("lewati")[0]
    assert "Kategori: Banjir" in summary and "Jl. Kemang Raya RT 02/RW 03" in summary
    assert [b["payload"] for b in citizen.buttons] == ["yes", "change", "cancel"]
    filed = citizen.say(button="yes")[0]
    ticket = ticket_in(filed)
    assert "Dinas Sumber Daya Air" in filed and "WIB" in filed
    c = complaint(app, ticket)
    assert c.category == "flood" and c.location_text == "Jl. Kemang Raya RT 02/RW 03"
    assert c.description.startswith("Banjir setinggi lutut")
    # Flood is coordinated within 2 hours (config.yml), counted from filing.
    assert c.due_at is not None
    assert timedelta(hours=1, minutes=59) < c.due_at - c.created_at <= timedelta(hours=2)


def test_complaint_built_over_several_messages_with_shared_location(app, citizen):
    assert "Laporan Anda tentang apa" in citizen.say("saya mau lapor")[0]
    assert len(citizen.buttons) == 13
    assert "ceritakan masalahnya" in citizen.say(button="cat:garbage")[0]
    assert "Di mana lokasinya" in citizen.say("sampah numpuk udah seminggu ga diangkut")[0]
    assert "kirim foto" in citizen.say(location=JAKARTA)[0]
    summary = citizen.say("baunya sampai ke rumah warga")[0]
    assert "titik lokasi (-6.20010, 106.81670)" in summary
    assert "baunya sampai ke rumah warga" in summary     # follow-ups are appended
    ticket = ticket_in(citizen.say("ya")[0])
    c = complaint(app, ticket)
    assert (c.category, c.latitude, c.longitude) == ("garbage", JAKARTA[0], JAKARTA[1])
    assert c.description == "sampah numpuk udah seminggu ga diangkut\nbaunya sampai ke rumah warga"


def file_one(citizen: WebCitizen, text: str = "pohon tumbang menimpa kabel di Jl. Cikini Raya") -> str:
    replies = citizen.say(text)
    for _ in range(4):
        last = replies[-1]
        if "Kirim laporan ini?" in last:
            return ticket_in(citizen.say(button="yes")[0])
        if "kirim foto" in last:
            replies = citizen.say("lewati")
        elif "Di mana lokasinya" in last:
            replies = citizen.say("Jl. Cikini Raya 73")
        else:
            raise AssertionError(last)
    raise AssertionError(replies)


def test_status_check_with_and_without_number(app, client, citizen):
    ticket = file_one(citizen)
    with_number = citizen.say(f"cek status {ticket.lower().replace('-', ' ')}")[0]
    assert ticket in with_number and "Menunggu" in with_number
    without = citizen.say("laporan saya kemarin gimana?")[0]
    assert without.startswith("Laporan Anda yang terbaru") and ticket in without
    # Someone else's ticket gets the same answer as a ticket that does not exist.
    stranger = WebCitizen(client)
    other = stranger.say(f"cek status {ticket}")[0]
    missing = stranger.say("cek status WRG-2026-999999")[0]
    assert other == missing and ticket not in other


def test_status_change_is_notified_and_resolution_asks_for_a_rating(app, citizen):
    ticket = file_one(citizen)
    staff(app, lambda svc: svc.set_status(ticket, "disposisi", "rina", note="Diteruskan ke Sudin Pertamanan"))
    note = citizen.notifications()
    assert note == [
        f"Laporan {ticket} (Pohon) kini berstatus: Disposisi. Catatan petugas: Diteruskan ke Sudin Pertamanan"]
    staff(app, lambda svc: svc.set_status(ticket, "proses", "rina"))
    staff(app, lambda svc: svc.set_status(ticket, "menunggu_validasi", "rina"))
    citizen.notifications()
    staff(app, lambda svc: svc.set_status(ticket, "selesai", "rina"))
    ask = citizen.notifications()[-1]
    assert "selesai ditangani" in ask
    assert [b["payload"] for b in citizen.buttons] == [f"rate:{ticket}:{n}" for n in range(1, 6)]
    assert "4/5" in citizen.say("4")[0]
    c = complaint(app, ticket)
    assert c.rating == 4
    assert [(e.kind, e.to_status) for e in c.events][-2:] == [("status", "selesai"), ("rating", None)]


def test_resolved_complaint_can_be_reopened_within_the_period(app, citizen):
    ticket = file_one(citizen)
    move_through(app, ticket, "disposisi", "proses", "menunggu_validasi", "selesai")
    citizen.notifications()
    assert "dibuka kembali" in citizen.say("belum beres, pohonnya masih di situ")[0]
    c = complaint(app, ticket)
    assert c.status == "proses" and c.events[-1].actor == "citizen"


def test_handover_to_a_person_and_back(app, citizen):
    started = citizen.say("saya mau bicara dengan petugas")[0]
    assert "teruskan ke petugas" in started and "08.00" in started and "15 menit" in started
    # While it waits, the citizen is told so (issue 11) ...
    waiting = citizen.say("halo? ada orang?")
    assert len(waiting) == 1 and "menunggu petugas" in waiting[0] and "batal" in waiting[0]
    # ... and an emergency is always answered.
    assert "112" in citizen.say("tolong ada kebakaran!")[0]
    with app.extensions["warga"].sessions() as s:
        conv = s.scalars(select(Conversation).where(Conversation.handover.is_(True))).one()
    staff(app, lambda svc: svc.take_over(conv.id, "rina"))
    staff(app, lambda svc: svc.reply(conv.id, "Halo, saya Rina. Ada yang bisa dibantu?", "rina"))
    assert citizen.notifications() == ["Petugas: Halo, saya Rina. Ada yang bisa dibantu?"]
    # Taken by a person: the bot stays quiet.
    assert citizen.say("halo? ada orang?") == []
    staff(app, lambda svc: svc.release(conv.id, "rina"))
    assert "kembali dilayani oleh Warga" in citizen.notifications()[0]
    assert "Pilih yang Anda perlukan" in citizen.say("menu")[0]


def test_same_message_twice_files_one_complaint(app, client):
    c = WebCitizen(client)
    c.say("pohon tumbang di Jl. Cikini Raya menutup jalan")
    c.say("lewati")
    body = {"sender": c.sender, "id": "confirm-once-1", "button": "yes"}
    first = client.post("/api/v1/chat/messages", json=body).get_json()
    again = client.post("/api/v1/chat/messages", json=body).get_json()
    assert again["duplicate"] and again["replies"] == first["replies"]
    with app.extensions["warga"].sessions() as s:
        assert len(s.scalars(select(Complaint)).all()) == 1


@pytest.mark.parametrize("nasty", [
    "<script>alert(1)</script> jalan rusak",
    "**bold** _italic_ [link](http://x) `code` jalan rusak",
    "jalan rusak " + "sangat " * 550,
    "🕳️🚗💥🕳️🚗💥 jalan rusak",
    "الطريق مكسور jalan rusak",
    "jalan\x00rusak\u202e",
])
def test_nothing_a_citizen_types_breaks_a_reply_or_a_stored_field(app, citizen, nasty):
    replies = citizen.say(nasty)
    assert replies
    with app.extensions["warga"].sessions() as s:
        from bot.store.models import Message
        stored = s.scalars(select(Message).where(Message.direction == "in")).one()
        # NUL is stripped (PostgreSQL cannot store it; issue 9: never stored as U+FFFD).
        assert stored.text == nasty.replace("\x00", "")


# -- issue 11: no traps ----------------------------------------------------------------------------

def test_the_way_out_of_a_handover_and_a_word_rating(app, citizen):
    citizen.say("saya mau bicara dengan petugas")
    back = citizen.say("batal")
    assert "kembali dilayani oleh Warga" in back[0] and "Pilih yang Anda perlukan" in back[1]
    with app.extensions["warga"].sessions() as s:
        assert s.scalars(select(Conversation).where(Conversation.handover.is_(True))).first() is None
    ticket = file_by_buttons_any(citizen)
    staff(app, lambda svc: svc.set_status(ticket, "disposisi", "rina"))
    staff(app, lambda svc: svc.set_status(ticket, "proses", "rina"))
    staff(app, lambda svc: svc.set_status(ticket, "menunggu_validasi", "rina"))
    staff(app, lambda svc: svc.set_status(ticket, "selesai", "rina"))
    assert any("Seberapa puas" in n for n in citizen.notifications())
    assert "5/5" in citizen.say("mantap, sudah beres, terima kasih pak")[0]
    assert complaint(app, ticket).rating == 5


def file_by_buttons_any(citizen) -> str:
    replies = citizen.say("lampu jalan mati")
    for _ in range(5):
        last = replies[-1]
        if "Kirim laporan ini?" in last:
            return ticket_in(citizen.say(button="yes")[0])
        if "Di mana" in last:
            # A description first: kept, and the location asked again with an example.
            again = citizen.say("sudah 3 malam lampu PJU di gang kami mati semua, gelap")
            assert "Contoh" in again[0]
            replies = citizen.say("Gg. Mawar RT 03/05 Kel. Kemiri")
        elif "kirim foto" in last:
            replies = citizen.say("lewati")
        else:
            replies = citizen.say("lampu PJU mati total")
    raise AssertionError(replies)


def test_staff_replies_name_the_ticket_they_concern(app, citizen):
    ticket = file_one(citizen)
    staff(app, lambda svc: svc.reply_to_complaint(ticket, "Tim kami menuju lokasi.", "rina"))
    assert citizen.notifications() == [f"[{ticket}] Petugas: Tim kami menuju lokasi."]
    with app.extensions["warga"].sessions() as s:
        conv_id = s.scalars(select(Conversation.id)).one()
    # A reply in the conversation names the citizen's open ticket when there is exactly one ...
    staff(app, lambda svc: svc.reply(conv_id, "Ada yang bisa dibantu lagi?", "rina"))
    assert citizen.notifications() == [f"[{ticket}] Petugas: Ada yang bisa dibantu lagi?"]
    # ... and guesses none among several.
    file_one(citizen, "sampah menumpuk di Jl. Kenari 3 sudah seminggu tidak diangkut")
    staff(app, lambda svc: svc.reply(conv_id, "Kami cek dulu.", "rina"))
    assert citizen.notifications()[-1] == "Petugas: Kami cek dulu."
