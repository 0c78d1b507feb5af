"""Duplicates through the real app: citizens join a complaint on the web chat and follow it; staff
mark a complaint as a duplicate of another (console and CLI), scoped and recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.models import Complaint, ComplaintEvent, ComplaintFollower, Contact, ContactAddress
from tests.bot.citizen import WebCitizen, file_complaint, move_through, ticket_in
from tests.bot.test_console import add_user, login

SALEMBA = (-6.1952, 106.8510)
METRE = 1 / 111_195


def report(citizen: WebCitizen, text: str, location: Any = "Jl. Salemba Raya") -> list[str]:
    """Tell the problem and answer the location question if asked; the replies that follow."""
    replies = citizen.say(text)
    if "Di mana lokasinya" in replies[-1]:
        replies = citizen.say(location) if isinstance(location, str) else citizen.say(location=location)
    return replies


def answer_until_filed(citizen: WebCitizen, replies: list[str]) -> str:
    for _ in range(3):
        if "Kirim laporan ini?" in replies[-1]:
            return ticket_in(citizen.say(button="yes")[0])
        replies = citizen.say("lewati")
    raise AssertionError(replies)


def followers_of(app: Any, ticket: str) -> list[str]:
    """The web chat senders following the complaint."""
    with app.extensions["warga"].sessions() as s:
        return list(s.scalars(select(ContactAddress.urn).join(Contact).join(
            ComplaintFollower, ComplaintFollower.contact_id == Contact.id).join(
            Complaint, Complaint.id == ComplaintFollower.complaint_id).where(Complaint.ticket == ticket)))


def test_a_second_citizen_joins_on_the_web_chat_and_is_told_of_status_changes(app, client):
    first, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    second = WebCitizen(client)
    offer = report(second, "jalannya rusak, banyak lubang besar", "JALAN SALEMBA RAYA.")
    assert f"sudah dilaporkan sebagai {ticket}: Menunggu" in offer[-1]
    assert [b["payload"] for b in second.buttons] == ["dup:join", "dup:new"]
    assert second.say("gabung") == [f"Baik, laporan Anda ditambahkan ke {ticket}. "
                                    "Anda akan diberi kabar setiap ada perkembangan."]
    assert followers_of(app, ticket) == [f"web:{second.sender}"]
    with app.extensions["warga"].sessions() as s:
        assert s.scalar(select(Complaint.id).where(Complaint.ticket != ticket)) is None
        notes = s.scalars(select(ComplaintEvent.note).join(Complaint).where(
            Complaint.ticket == ticket, ComplaintEvent.kind == "note", ComplaintEvent.actor == "citizen")).all()
    assert notes == ["jalannya rusak, banyak lubang besar"]

    # The agency's staff may read the follower's conversation (their part of the story); others not.
    with app.extensions["warga"].sessions() as s:
        conv_id = s.scalar(select(ComplaintFollower.conversation_id))
    add_user(app, "dina", "staff", "Dinas Bina Marga")
    add_user(app, "lukas", "staff", "Dinas Lingkungan Hidup")
    csrf = login(client, "lukas")
    assert client.get(f"/console/conversations/{conv_id}").status_code == 404
    client.post("/console/logout", data={"csrf": csrf})
    login(client, "dina")
    page = client.get(f"/console/conversations/{conv_id}").get_data(as_text=True)
    assert "jalannya rusak, banyak lubang besar" in page

    move_through(app, ticket, "disposisi")
    told = f"Laporan {ticket} (Jalan rusak) kini berstatus: Disposisi."
    assert second.notifications() == [told]
    assert first.notifications() == [told]

    # The same citizen reporting it again is told it is theirs already.
    again = report(first, "jalan berlubang besar di Jl. Salemba Raya")
    assert f"Anda sudah melaporkan masalah ini sebagai {ticket}: Disposisi" in again[-1]
    assert first.say(button="dup:join")[0].startswith(f"Keterangan Anda ditambahkan ke {ticket}.")
    assert followers_of(app, ticket) == [f"web:{second.sender}"]


def read(citizen: WebCitizen, count: int) -> list[str]:
    """The next ``count`` messages the bot sends the citizen on its own."""
    got: list[str] = []
    while len(got) < count:
        got += citizen.notifications()
    return got


def test_followers_hear_of_the_resolution_without_a_rating_question_and_of_a_reopen(app, client):
    first, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    second = WebCitizen(client)
    report(second, "jalannya rusak, banyak lubang besar", "Jl Salemba Raya")
    assert second.say(button="dup:join")[0].startswith(f"Baik, laporan Anda ditambahkan ke {ticket}.")
    move_through(app, ticket, "disposisi", "proses", "menunggu_validasi", "selesai")
    assert read(second, 4)[-1] == f"Laporan {ticket} (Jalan rusak) kini berstatus: Selesai."
    assert second.buttons == []         # the rating belongs to the one who filed it
    assert "Seberapa puas Anda?" in read(first, 4)[-1]
    assert "dibuka kembali" in first.say("belum, masih berlubang")[0].lower()
    assert second.notifications() == [f"Laporan {ticket} (Jalan rusak) kini berstatus: Proses. "
                                      "Catatan petugas: Dibuka kembali oleh warga: masalah belum beres."]


def test_shared_points_near_within_the_window_are_offered(app, client):
    first = WebCitizen(client)
    ticket = answer_until_filed(first, report(first, "lampu jalan mati semua di gang kami", SALEMBA))
    near = WebCitizen(client)
    offer = report(near, "lampu jalan di gang mati semua, gelap", (SALEMBA[0] + 50 * METRE, SALEMBA[1]))
    assert f"sudah dilaporkan sebagai {ticket}" in offer[-1]
    far = WebCitizen(client)
    replies = report(far, "lampu jalan di gang mati semua, gelap", (SALEMBA[0] + 500 * METRE, SALEMBA[1]))
    assert "sudah dilaporkan" not in "\n".join(replies)
    # Filed longer ago than complaints.duplicate_days (14): no longer offered.
    with app.extensions["warga"].sessions() as s, s.begin():
        filed = s.scalars(select(Complaint).where(Complaint.ticket == ticket)).one()
        filed.created_at -= timedelta(days=15)
    late = WebCitizen(client)
    replies = report(late, "lampu jalan di gang mati semua, gelap", SALEMBA)
    assert "sudah dilaporkan" not in "\n".join(replies)


@pytest.fixture
def staffed(app: Any) -> Any:
    add_user(app, "admin", "admin", None)
    add_user(app, "dina", "staff", "Dinas Bina Marga")
    add_user(app, "lukas", "staff", "Dinas Lingkungan Hidup")
    return app


def test_staff_mark_a_duplicate_the_citizen_follows_the_original(staffed, client):
    _, original = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    citizen, dup = file_complaint(client, "jalan rusak parah berlubang di Jl. Pramuka no 9")
    _, trash = file_complaint(client, "sampah menumpuk tidak diangkut seminggu di pasar")
    url = f"/console/complaints/{dup}/duplicate"

    csrf = login(client, "lukas")          # Lingkungan Hidup: neither road complaint is theirs
    assert client.post(url, data={"original": original, "csrf": csrf}).status_code == 404
    client.post("/console/logout", data={"csrf": csrf})
    csrf = login(client, "dina")           # Bina Marga
    assert client.post(url, data={"original": trash, "csrf": csrf}).status_code == 404
    for bad, says in ((dup, "cannot be a duplicate of itself"), ("kemarin", "Isi nomor tiket laporan asal")):
        page = client.post(url, data={"original": bad, "csrf": csrf}, follow_redirects=True)
        assert page.status_code == 200 and says in page.get_data(as_text=True)
    with staffed.extensions["warga"].sessions() as s:
        assert s.scalar(select(Complaint.status).where(Complaint.ticket == dup)) == "menunggu"

    assert client.post(url, data={"original": original.lower(), "csrf": csrf}).status_code == 302
    assert citizen.notifications() == [
        f"Laporan {dup} ternyata sama dengan laporan {original} (Menunggu), jadi digabungkan ke sana dan "
        f"ditutup. Anda akan diberi kabar setiap ada perkembangan {original}."]
    with staffed.extensions["warga"].sessions() as s:
        closed = s.scalars(select(Complaint).where(Complaint.ticket == dup)).one()
        root = s.scalars(select(Complaint).where(Complaint.ticket == original)).one()
        assert (closed.status, closed.duplicate_of_id, closed.due_at) == ("ditolak", root.id, None)
        assert [(e.kind, e.to_status, e.note, e.actor) for e in closed.events][-1] == (
            "status", "ditolak", f"duplikat dari {original}", "staff:dina")
        assert [(e.kind, e.note, e.actor) for e in root.events][-1] == (
            "duplicate", f"{dup} duplikat dari laporan ini", "staff:dina")
    assert followers_of(staffed, original) == [f"web:{citizen.sender}"]
    page = client.get(f"/console/complaints/{original}").get_data(as_text=True)
    assert dup in page and "Warga yang mengikuti laporan ini (1)" in page
    assert f"Duplikat dari <a href=\"/console/complaints/{original}\">{original}</a>" in \
        client.get(f"/console/complaints/{dup}").get_data(as_text=True)

    # The follower hears of the original's next status change on their own conversation.
    client.post(f"/console/complaints/{original}/status", data={"status": "disposisi", "csrf": csrf})
    assert citizen.notifications() == [f"Laporan {original} (Jalan rusak) kini berstatus: Disposisi."]


def test_cli_marks_a_duplicate_of_a_duplicate_against_the_root(staffed, client):
    from click.testing import CliRunner

    from bot.cli.main import cli

    _, original = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    _, middle = file_complaint(client, "jalan rusak parah berlubang di Jl. Pramuka no 9")
    citizen, last = file_complaint(client, "aspal jalan mengelupas dan berlubang di Jl. Matraman")
    env = {"WARGA_DATABASE_URL": staffed.extensions["warga"].settings.database_url}
    runner = CliRunner()
    done = runner.invoke(cli, ["complaints", "mark-duplicate", middle, original, "--by", "dina"], env=env)
    assert done.exit_code == 0, done.output
    again = runner.invoke(cli, ["complaints", "mark-duplicate", middle, original, "--by", "dina"], env=env)
    assert again.exit_code == 1 and f"{middle} is already a duplicate of {original}" in again.output
    refused = runner.invoke(cli, ["complaints", "mark-duplicate", last, middle, "--by", "lukas"], env=env)
    assert refused.exit_code == 1 and f"no complaint {last}" in refused.output
    chained = runner.invoke(cli, ["complaints", "mark-duplicate", last, middle, "--by", "dina"], env=env)
    assert chained.exit_code == 0, chained.output
    with staffed.extensions["warga"].sessions() as s:
        root_id = s.scalar(select(Complaint.id).where(Complaint.ticket == original))
        assert s.scalar(select(Complaint.duplicate_of_id).where(Complaint.ticket == last)) == root_id
    assert original in citizen.notifications()[0]
