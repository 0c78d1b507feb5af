"""Working a complaint in the console (issue 12, items 2 and 4) through the Flask client:
disposisi, corrections, assignment, filing from a conversation, and what the complaint page
shows (contact masked by role, map, photos served inline only when they are images)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.models import Complaint, Conversation, Message, StaffUser
from bot.web.app import console_csp, tile_origin
from tests.bot.citizen import WebCitizen, file_complaint
from tests.bot.staff_accounts import stored_hash

PASSWORD = "correct-horse-9"
ROAD = "Dinas Bina Marga"
WATER = "Dinas Sumber Daya Air"


@pytest.fixture
def desk(app: Any) -> Any:
    with app.extensions["warga"].sessions() as s, s.begin():
        for username, role, agency in (("sari", "supervisor", None), ("dina", "staff", ROAD),
                                       ("budi", "staff", ROAD), ("wati", "staff", WATER)):
            s.add(StaffUser(username=username, name=username.title(), role=role, agency=agency,
                            password_hash=stored_hash(PASSWORD)))
    return app


def login(client: Any, username: str) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    client.delete_cookie("session")   # whoever was signed in before
    form = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token
    r = client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf": token.group(1)})
    assert r.status_code == 302, r.data
    page = client.get("/console/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    return csrf.group(1)


def row(app: Any, ticket: str) -> Complaint:
    with app.extensions["warga"].sessions() as s:
        return s.scalars(select(Complaint).where(Complaint.ticket == ticket)).one()


def test_disposisi_takes_the_complaint_out_of_the_old_agencys_list(desk: Any, client: Any) -> None:
    _, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    csrf = login(client, "dina")
    page = client.get(f"/console/complaints/{ticket}").get_data(as_text=True)
    assert f'<option value="{WATER}">' in page and f'<option value="{ROAD}">' not in page
    # Without a reason: refused, said, nothing changed.
    r = client.post(f"/console/complaints/{ticket}/reroute", data={"agency": WATER, "reason": " ", "csrf": csrf},
                    follow_redirects=True)
    assert "Disposisi perlu alasan." in r.get_data(as_text=True) and row(desk, ticket).agency == ROAD
    r = client.post(f"/console/complaints/{ticket}/reroute",
                    data={"agency": WATER, "reason": "Saluran tersumbat", "csrf": csrf})
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/")
    inbox = client.get("/console/").get_data(as_text=True)
    assert "kini di instansi lain dan tidak lagi tampil di daftar Anda" in inbox
    assert ticket not in client.get("/console/").get_data(as_text=True)   # the flash is gone: no row
    assert client.get(f"/console/complaints/{ticket}").status_code == 404
    login(client, "wati")
    page = client.get(f"/console/complaints/{ticket}").get_data(as_text=True)
    assert f"dina mendisposisikan laporan dari {ROAD} ke {WATER}" in page and "Saluran tersumbat" in page


def test_a_correction_is_silent_unless_staff_tell_the_citizen(desk: Any, client: Any) -> None:
    citizen, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    csrf = login(client, "dina")
    form = {"category": "drainage", "description": "Saluran di Jl. Salemba Raya tersumbat",
            "location_text": "Jl. Salemba Raya 7", "latitude": "-6,1951", "longitude": "106.8505", "csrf": csrf}
    r = client.post(f"/console/complaints/{ticket}/edit", data={**form, "latitude": "utara"},
                    follow_redirects=True)
    assert "Lintang harus berupa angka" in r.get_data(as_text=True)
    assert row(desk, ticket).category == "road_damage"
    r = client.post(f"/console/complaints/{ticket}/edit", data=form, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "warga tidak diberi tahu" in page
    assert "dina mengubah kategori dari Jalan rusak menjadi Saluran air" in page
    c = row(desk, ticket)
    assert (c.category, c.agency, c.latitude, c.longitude) == ("drainage", ROAD, -6.1951, 106.8505)
    # Told this time: the citizen's channel gets the message.
    client.post(f"/console/complaints/{ticket}/edit",
                data={**form, "location_text": "Jl. Salemba Raya 9", "notify": "1"})
    assert citizen.notifications() == [
        f"Petugas memperbarui data laporan {ticket}: lokasi: Jl. Salemba Raya 9 (-6.1951, 106.85)."]


def test_assign_to_me_and_to_a_colleague(desk: Any, client: Any) -> None:
    _, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    csrf = login(client, "dina")
    client.post(f"/console/complaints/{ticket}/assign", data={"assignee": "me", "csrf": csrf})
    page = client.get(f"/console/complaints/{ticket}").get_data(as_text=True)
    assert 'data-testid="assignee">dina<' in page and "dina mengambil laporan ini" in page
    r = client.post(f"/console/complaints/{ticket}/assign", data={"assignee": "wati", "csrf": csrf},
                    follow_redirects=True)
    assert "wati bukan petugas aktif" in r.get_data(as_text=True)
    client.post(f"/console/complaints/{ticket}/assign", data={"assignee": "budi", "csrf": csrf})
    assert "dina menugaskan laporan ke budi" in client.get(f"/console/complaints/{ticket}").get_data(as_text=True)


def test_staff_file_a_complaint_from_a_conversation(desk: Any, client: Any) -> None:
    citizen = WebCitizen(client)
    citizen.say("saya mau bicara dengan petugas")
    citizen.say("pohon tumbang menutup jalan di Jl. Diponegoro")
    with desk.extensions["warga"].sessions() as s, s.begin():
        conv_id = s.scalars(select(Conversation.id)).one()
        picked = s.scalars(select(Message.id).where(Message.direction == "in", Message.text.like("pohon%"))).one()
        # No complaint yet, so the conversation waits in the general intake queue: dina serves it.
        s.scalars(select(StaffUser).where(StaffUser.username == "dina")).one().serves_intake = True
    csrf = login(client, "dina")
    page = client.get(f"/console/conversations/{conv_id}").get_data(as_text=True)
    # Prefilled with the citizen's last message; each citizen message can be picked.
    assert ">pohon tumbang menutup jalan di Jl. Diponegoro</textarea>" in page
    assert f'name="message" value="{picked}" form="file-complaint"' in page
    r = client.post(f"/console/conversations/{conv_id}/complaint",
                    data={"category": "tree", "description": "", "message": str(picked),
                          "location_text": "Jl. Diponegoro", "csrf": csrf})
    with desk.extensions["warga"].sessions() as s:
        c = s.scalars(select(Complaint)).one()
        assert (c.description, c.agency, c.source_message_id) == (
            "pohon tumbang menutup jalan di Jl. Diponegoro", "Dinas Pertamanan dan Hutan Kota", picked)
    assert r.headers["Location"].endswith("/console/")   # another agency's ticket: back to the inbox
    told = citizen.notifications()
    assert any(f"nomor tiket {c.ticket}" in t for t in told), told
    # A wrong form says why and files nothing.
    r = client.post(f"/console/conversations/{conv_id}/complaint",
                    data={"category": "tree", "description": "x", "message": "abc", "csrf": csrf},
                    follow_redirects=True)
    assert "Pilihan pesan tidak dikenal." in r.get_data(as_text=True)
    r = client.post(f"/console/conversations/{conv_id}/complaint",
                    data={"category": "tree", "description": "x", "message": str(10**30), "csrf": csrf},
                    follow_redirects=True)
    assert "Pilihan pesan tidak dikenal." in r.get_data(as_text=True)
    assert client.post(f"/console/conversations/{10**30}/complaint", data={"csrf": csrf}).status_code == 404


def test_the_contact_is_masked_for_staff_and_whole_for_supervisors(desk: Any, client: Any) -> None:
    citizen, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    login(client, "dina")
    page = client.get(f"/console/complaints/{ticket}").get_data(as_text=True)
    assert citizen.sender not in page and f"web:{citizen.sender[:2]}****{citizen.sender[-2:]}" in page
    login(client, "sari")
    assert f"web:{citizen.sender}" in client.get(f"/console/complaints/{ticket}").get_data(as_text=True)


def test_the_page_shows_the_map_the_button_titles_and_the_conversation_part(desk: Any, client: Any) -> None:
    _, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    with desk.extensions["warga"].sessions() as s, s.begin():
        c = s.scalars(select(Complaint).where(Complaint.ticket == ticket)).one()
        c.latitude, c.longitude = -6.1951, 106.8505
    login(client, "dina")
    page = client.get(f"/console/complaints/{ticket}").get_data(as_text=True)
    assert 'id="map"' in page and 'data-lat="-6.1951"' in page and 'data-tiles=""' in page
    assert "/static/vendor/leaflet/leaflet.js" in page and "/static/complaint.js" in page
    assert "https://www.openstreetmap.org/?mlat=-6.1951&amp;mlon=106.8505" in page and "buka di peta" in page
    assert "▸ Kirim" in page                                   # the citizen pressed "Kirim", not "yes"
    assert "Seluruh percakapan" in page                         # the whole transcript, one click away
    assert "warga mengirim laporan" in page


def test_the_console_csp_allows_images_from_the_tile_host_only() -> None:
    assert tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png") == "https://*.tile.example.org"
    assert tile_origin("") is None

    class Tiles:
        class console:
            map_tile_url = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

    policy = console_csp(Tiles())  # type: ignore[arg-type]
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in policy
    assert "script-src" not in policy and "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
HTML = b"<html><script>alert(1)</script></html>"


def test_photos_are_shown_inline_only_when_their_bytes_are_an_image(desk: Any, client: Any, tmp_path: Path) -> None:
    _, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    files = []
    for name, data in (("a.jpg", JPEG), ("b.svg", SVG), ("c.jpg", HTML)):
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    with desk.extensions["warga"].sessions() as s, s.begin():
        conv_id = s.scalar(select(Complaint.conversation_id).where(Complaint.ticket == ticket))
        msg = s.scalars(select(Message).where(Message.conversation_id == conv_id, Message.direction == "in")
                        .order_by(Message.id)).first()
        msg.media = [{"url": "u", "content_type": "image/jpeg", "stored": files[0], "caption": "lubang"},
                     {"url": "u", "content_type": "image/svg+xml", "stored": files[1]},
                     {"url": "u", "content_type": "image/jpeg", "stored": files[2]}]
        msg_id = msg.id
    login(client, "dina")
    r = client.get(f"/console/media/{msg_id}/0/view")
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data == JPEG
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in r.headers["Content-Security-Policy"]
    assert not r.headers.get("Content-Disposition", "").startswith("attachment")
    assert client.get(f"/console/media/{msg_id}/1/view").status_code == 404    # SVG: never inline
    assert client.get(f"/console/media/{msg_id}/2/view").status_code == 404    # HTML claiming JPEG
    assert client.get(f"/console/media/{msg_id}/2").headers["Content-Disposition"].startswith("attachment")
    page = client.get(f"/console/complaints/{ticket}").get_data(as_text=True)
    assert f'src="/console/media/{msg_id}/0/view"' in page and f"/console/media/{msg_id}/1/view" not in page
    assert client.get(f"/console/media/{10**30}/0/view").status_code == 404
    login(client, "wati")   # another agency: no photo either
    assert client.get(f"/console/media/{msg_id}/0/view").status_code == 404


@pytest.mark.parametrize("form", [
    {},
    {"category": "x" * 10_000, "description": "y" * 10_000, "latitude": "1e999", "longitude": "-inf",
     "agency": "z" * 5_000, "reason": "r" * 5_000, "assignee": "a" * 5_000, "message": "²"},
    {"category": "road_damage", "description": "ok", "latitude": "NaN", "longitude": "0", "agency": "",
     "reason": "\u202e\ufeff", "assignee": "me", "location_text": "\ud7ff" * 600},
])
def test_wrong_forms_are_refused_with_a_reason_never_a_5xx(desk: Any, client: Any, form: dict[str, str]) -> None:
    _, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    csrf = login(client, "dina")
    with desk.extensions["warga"].sessions() as s:
        conv_id = s.scalar(select(Complaint.conversation_id).where(Complaint.ticket == ticket))
    before = row(desk, ticket)
    for path in (f"/console/complaints/{ticket}/edit", f"/console/complaints/{ticket}/reroute",
                 f"/console/conversations/{conv_id}/complaint", f"/console/complaints/{ticket}/assign"):
        r = client.post(path, data={**form, "csrf": csrf})
        assert r.status_code in (302, 400, 404), (path, r.status_code)
    after = row(desk, ticket)
    assert (after.category, after.agency, after.description, after.latitude) == (
        before.category, before.agency, before.description, before.latitude)
