"""The staff console: sign-in, scope by agency, complaint work, handover, media, escaping."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from bot.store.models import Complaint, ComplaintEvent, Conversation, Message, StaffUser
from tests.bot.citizen import WebCitizen, ticket_in

PASSWORD = "correct-horse-9"


def add_user(app: Any, username: str, role: str, agency: str | None) -> None:
    with app.extensions["warga"].sessions() as s, s.begin():
        s.add(StaffUser(username=username, name=username.title(), role=role, agency=agency,
                        password_hash=generate_password_hash(PASSWORD)))


def login(client: Any, username: str) -> str:
    r = client.post("/console/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.data
    page = client.get("/console/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, page
    return csrf.group(1)


def file_complaint(client: Any, text: str) -> tuple[WebCitizen, str]:
    citizen = WebCitizen(client)
    replies = citizen.say(text)
    for _ in range(4):
        if "Kirim laporan ini?" in replies[-1]:
            return citizen, ticket_in(citizen.say(button="yes")[0])
        if "kirim foto" in replies[-1]:
            replies = citizen.say("lewati")
        elif "Di mana lokasinya" in replies[-1]:
            replies = citizen.say("Jl. Kramat Raya 5")
        else:
            raise AssertionError(replies)
    raise AssertionError(replies)


@pytest.fixture
def staffed(app: Any) -> Any:
    add_user(app, "admin", "admin", None)
    add_user(app, "dina", "staff", "Dinas Bina Marga")
    add_user(app, "lukas", "staff", "Dinas Lingkungan Hidup")
    return app


def test_console_needs_a_login_and_refuses_a_wrong_password(staffed, client):
    assert client.get("/console/").status_code == 302
    bad = client.post("/console/login", data={"username": "admin", "password": "nope"})
    assert bad.status_code == 401 and "salah" in bad.get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_staff_see_only_their_agency_and_citizen_text_is_escaped(staffed, client):
    _, road = file_complaint(client, "jalan berlubang <script>alert(1)</script> di depan sekolah")
    _, trash = file_complaint(client, "sampah menumpuk tidak diangkut seminggu di pasar")
    login(client, "dina")
    page = client.get("/console/").get_data(as_text=True)
    assert road in page and trash not in page
    detail = client.get(f"/console/complaints/{road}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in detail and "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert client.get(f"/console/complaints/{trash}").status_code == 404


def test_status_change_from_the_console_notifies_the_citizen(staffed, client):
    citizen, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    csrf = login(client, "dina")
    r = client.post(f"/console/complaints/{ticket}/status",
                    data={"status": "disposisi", "note": "Tim menuju lokasi", "csrf": csrf})
    assert r.status_code == 302
    assert citizen.notifications() == [
        f"Laporan {ticket} (Jalan rusak) kini berstatus: Disposisi. Catatan petugas: Tim menuju lokasi"]
    # A refused move says why and changes nothing.
    r = client.post(f"/console/complaints/{ticket}/status", data={"status": "selesai", "csrf": csrf},
                    follow_redirects=True)
    assert "cannot go from disposisi to selesai" in r.get_data(as_text=True)
    with staffed.extensions["warga"].sessions() as s:
        c = s.scalars(select(Complaint).where(Complaint.ticket == ticket)).one()
        assert c.status == "disposisi"
        events = s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == c.id)).all()
        assert [(e.kind, e.actor) for e in events] == [("created", "citizen"), ("status", "staff:dina")]


def test_forms_without_the_csrf_token_are_refused(staffed, client):
    _, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    login(client, "admin")
    r = client.post(f"/console/complaints/{ticket}/status", data={"status": "disposisi"})
    assert r.status_code == 400


def test_handover_queue_take_reply_release(staffed, client):
    citizen = WebCitizen(client)
    citizen.say("saya mau bicara dengan petugas")
    csrf = login(client, "admin")
    queue = client.get("/console/conversations").get_data(as_text=True)
    assert f"web:{citizen.sender}" in queue
    with staffed.extensions["warga"].sessions() as s:
        conv_id = s.scalars(select(Conversation.id).where(Conversation.handover.is_(True))).one()
    client.post(f"/console/conversations/{conv_id}/reply", data={"text": "Halo, saya admin.", "csrf": csrf})
    assert citizen.notifications() == ["Petugas: Halo, saya admin."]
    client.post(f"/console/conversations/{conv_id}/release", data={"csrf": csrf})
    assert "kembali dilayani oleh Warga" in citizen.notifications()[0]
    assert f"web:{citizen.sender}" not in client.get("/console/conversations").get_data(as_text=True)


def test_stored_media_downloads_as_an_attachment(staffed, client, tmp_path):
    citizen = WebCitizen(client)
    citizen.say("halo")
    stored = tmp_path / "photo.jpg"
    stored.write_bytes(b"\xff\xd8jpeg")
    with staffed.extensions["warga"].sessions() as s, s.begin():
        msg = s.scalars(select(Message).where(Message.direction == "in")).first()
        msg.media = [{"url": "tg-file:x", "content_type": "image/jpeg", "stored": str(stored)},
                     {"url": "tg-file:y", "content_type": "image/jpeg"}]
        msg_id = msg.id
    login(client, "admin")
    r = client.get(f"/console/media/{msg_id}/0")
    assert r.status_code == 200 and r.data == b"\xff\xd8jpeg"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert client.get(f"/console/media/{msg_id}/1").status_code == 404   # not downloaded yet
    assert client.get(f"/console/media/{msg_id}/5").status_code == 404
