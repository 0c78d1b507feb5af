"""The staff console: sign-in, scope by agency, complaint work, handover, media, escaping."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.models import Complaint, ComplaintEvent, Conversation, Message, StaffUser
from tests.bot.citizen import WebCitizen, file_complaint
from tests.bot.staff_accounts import PASSWORD, add_user


def login_form(client: Any) -> str:
    """The CSRF token of the sign-in form (GET /console/login)."""
    page = client.get("/console/login").get_data(as_text=True)
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, "no CSRF token on the sign-in page"
    return found.group(1)


def try_login(client: Any, username: str, password: str = PASSWORD, **environ: Any) -> Any:
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf": login_form(client)}, environ_base=dict(environ))


def login(client: Any, username: str) -> str:
    r = try_login(client, username)
    assert r.status_code == 302, r.data
    page = client.get("/console/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, page
    return csrf.group(1)


@pytest.fixture
def staffed(app: Any) -> Any:
    add_user(app, "admin", "admin", None)
    add_user(app, "dina", "staff", "Dinas Bina Marga")
    add_user(app, "lukas", "staff", "Dinas Lingkungan Hidup")
    return app


def test_console_needs_a_login_and_refuses_a_wrong_password(staffed, client):
    assert client.get("/console/").status_code == 302
    bad = try_login(client, "admin", "nope")
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


# -- conversations are scoped like complaints (issue 9, item 1) -----------------------------
def conversation_of(app: Any, ticket: str) -> int:
    with app.extensions["warga"].sessions() as s:
        return s.scalars(select(Complaint.conversation_id).where(Complaint.ticket == ticket)).one()


def test_staff_of_another_agency_cannot_open_take_reply_or_release_a_conversation(staffed, client):
    citizen, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    conv_id = conversation_of(staffed, ticket)
    csrf = login(client, "lukas")   # Lingkungan Hidup; the complaint is Bina Marga's
    assert client.get(f"/console/conversations/{conv_id}").status_code == 404
    for action in ("take", "reply", "release"):
        r = client.post(f"/console/conversations/{conv_id}/{action}", data={"text": "hai", "csrf": csrf})
        assert r.status_code == 404, action
    # An id that does not exist looks the same: ids cannot be probed.
    assert client.get(f"/console/conversations/{conv_id + 1000}").status_code == 404
    with staffed.extensions["warga"].sessions() as s:
        conv = s.get(Conversation, conv_id)
        assert conv.handover is False
        assert s.scalars(select(Message).where(Message.conversation_id == conv_id,
                                               Message.text.contains("hai"))).all() == []
    # Nothing was queued for the citizen (checked in the store above, and as the citizen sees it).
    unseen = client.get(f"/api/v1/chat/messages?after={citizen.last_id}",
                        headers={"X-Warga-Sender": citizen.sender}).get_json()["messages"]
    assert unseen == []


def test_take_reply_release_record_the_staff_member_in_the_transcript(staffed, client):
    citizen, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    conv_id = conversation_of(staffed, ticket)
    csrf = login(client, "dina")    # Bina Marga: the complaint's agency
    assert client.get(f"/console/conversations/{conv_id}").status_code == 200
    assert client.post(f"/console/conversations/{conv_id}/take", data={"csrf": csrf}).status_code == 302
    client.post(f"/console/conversations/{conv_id}/reply", data={"text": "Tim kami menuju lokasi.", "csrf": csrf})
    # The reply names the citizen's one open ticket (issue 11 item 8).
    assert citizen.notifications() == [f"[{ticket}] Petugas: Tim kami menuju lokasi."]
    client.post(f"/console/conversations/{conv_id}/release", data={"csrf": csrf})
    assert "kembali dilayani oleh Warga" in citizen.notifications()[0]
    with staffed.extensions["warga"].sessions() as s:
        dina = s.scalars(select(StaffUser.id).where(StaffUser.username == "dina")).one()
        staff_written = s.scalars(select(Message.text).where(Message.conversation_id == conv_id,
                                                             Message.staff_user_id == dina)
                                  .order_by(Message.id)).all()
    assert staff_written[0] == f"[{ticket}] Petugas: Tim kami menuju lokasi."
    assert "kembali dilayani oleh Warga" in staff_written[1]
    page = client.get(f"/console/conversations/{conv_id}").get_data(as_text=True)
    assert re.findall(r"(menangani|membalas|mengembalikan ke bot) · staff:dina", page) == [
        "menangani", "membalas", "mengembalikan ke bot"]
    assert page.count("petugas: dina") == 2


def test_the_intake_queue_is_served_by_staff_marked_for_it(staffed, client):
    waiting = WebCitizen(client)
    waiting.say("saya mau bicara dengan petugas")
    with staffed.extensions["warga"].sessions() as s, s.begin():
        conv_id = s.scalars(select(Conversation.id).where(Conversation.handover.is_(True))).one()
        s.scalars(select(StaffUser).where(StaffUser.username == "lukas")).one().serves_intake = True
    csrf = login(client, "lukas")
    assert client.get(f"/console/conversations/{conv_id}").status_code == 200
    assert client.post(f"/console/conversations/{conv_id}/take", data={"csrf": csrf}).status_code == 302
    assert "menangani · staff:lukas" in client.get(f"/console/conversations/{conv_id}").get_data(as_text=True)


def test_cli_transcript_is_scoped_and_shows_staff_events(staffed, client):
    from click.testing import CliRunner

    from bot.cli.main import cli

    _, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    conv_id = conversation_of(staffed, ticket)
    rt = staffed.extensions["warga"]
    env = {"WARGA_DATABASE_URL": rt.settings.database_url}
    runner = CliRunner()
    for args in (["show", str(conv_id)], ["take", str(conv_id)], ["reply", str(conv_id), "hai"]):
        refused = runner.invoke(cli, ["conversations", *args, "--by", "lukas"], env=env)
        assert refused.exit_code == 1 and f"no conversation {conv_id}" in refused.output, refused.output
    took = runner.invoke(cli, ["conversations", "take", str(conv_id), "--by", "dina"], env=env)
    assert took.exit_code == 0, took.output
    shown = runner.invoke(cli, ["conversations", "show", str(conv_id), "--by", "dina"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "event: take by staff:dina" in shown.output


# -- sign-in hardening (issue 9, item 2) ----------------------------------------------------
class Clock:
    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


@pytest.fixture
def clock(staffed: Any) -> Clock:
    c = Clock()
    staffed.extensions["warga.clock"] = lambda: c.now
    return c


def test_the_login_form_needs_its_csrf_token(staffed, client):
    r = client.post("/console/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 400
    assert client.get("/console/").status_code == 302


def test_an_unknown_user_costs_one_password_hash_like_a_wrong_password(staffed, client, monkeypatch):
    import bot.casework.accounts as accounts

    checks: list[str] = []
    real = accounts.check_password_hash

    def counting(stored: str, password: str) -> bool:
        checks.append(password)
        return real(stored, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    unknown = try_login(client, "nobody", "guess-1")
    wrong = try_login(client, "admin", "guess-2")
    assert (unknown.status_code, wrong.status_code) == (401, 401)
    assert "salah" in unknown.get_data(as_text=True) and "salah" in wrong.get_data(as_text=True)
    assert checks == ["guess-1", "guess-2"]


def test_failures_slow_down_then_lock_the_account_until_an_admin_unlocks_it(staffed, client, clock):
    from click.testing import CliRunner

    from bot.cli.main import cli

    def attempt(n: int, password: str = "wrong-password") -> Any:
        # Each from another address: only the account's count applies.
        return try_login(client, "dina", password, REMOTE_ADDR=f"198.51.100.{n}")

    assert [attempt(i).status_code for i in range(3)] == [401, 401, 401]
    # The 4th attempt comes too soon: refused without checking, even the right password.
    early = attempt(3, PASSWORD)
    assert early.status_code == 429 and early.headers["Retry-After"] == "1"
    assert "Coba lagi dalam 1 detik" in early.get_data(as_text=True)
    for i in range(3, 10):
        clock.advance(seconds=10)
        assert attempt(i).status_code == (403 if i == 9 else 401)
    clock.advance(hours=2)
    locked = attempt(20, PASSWORD)
    assert locked.status_code == 403 and "dikunci" in locked.get_data(as_text=True)
    env = {"WARGA_DATABASE_URL": staffed.extensions["warga"].settings.database_url}
    unlocked = CliRunner().invoke(cli, ["users", "unlock", "dina"], env=env)
    assert unlocked.exit_code == 0 and "unlocked account dina" in unlocked.output
    assert attempt(21, PASSWORD).status_code == 302


def test_failures_from_one_address_lock_that_address_only(staffed, client, clock):
    for i in range(10):
        clock.advance(seconds=10)
        try_login(client, f"guess{i}", "wrong-password", REMOTE_ADDR="203.0.113.66")
    assert try_login(client, "admin", REMOTE_ADDR="203.0.113.66").status_code == 403
    assert try_login(client, "admin", REMOTE_ADDR="203.0.113.67").status_code == 302


def test_password_checks_are_bounded_and_a_full_server_says_busy(staffed, client, monkeypatch):
    import threading

    import bot.casework.accounts as accounts
    import bot.web.console.auth as console

    checks: list[str] = []
    def counting_check(stored: str, pw: str) -> bool:
        checks.append(pw)
        return False

    monkeypatch.setattr(accounts, "check_password_hash", counting_check)
    monkeypatch.setattr(console, "LOGIN_SLOT_WAIT_SECONDS", 0.05)
    slots = threading.BoundedSemaphore(1)
    staffed.extensions["warga.login_slots"] = slots
    assert slots.acquire(blocking=False)   # another sign-in is hashing right now
    busy = try_login(client, "admin", "x-password")
    assert busy.status_code == 503 and "sibuk" in busy.get_data(as_text=True) and checks == []
    slots.release()
    assert try_login(client, "admin", "x-password").status_code == 401 and checks == ["x-password"]


def test_logout_revokes_the_session_on_the_server(staffed, client):
    csrf = login(client, "admin")
    cookie = client.get_cookie("session").value
    assert client.post("/console/logout", data={"csrf": csrf}).status_code == 302
    thief = staffed.test_client()
    thief.set_cookie("session", cookie)
    r = thief.get("/console/")
    assert r.status_code == 302 and "/console/login" in r.headers["Location"]


def test_an_idle_session_expires(staffed, client, clock):
    login(client, "admin")
    clock.advance(minutes=59)
    assert client.get("/console/").status_code == 200    # used: the idle time starts again
    clock.advance(minutes=59)
    assert client.get("/console/").status_code == 200
    clock.advance(minutes=61)
    assert client.get("/console/").status_code == 302


def test_console_pages_are_not_cached_and_cannot_be_framed(staffed, client):
    login(client, "admin")
    for path in ("/console/", "/console/login", "/console/conversations"):
        r = client.get(path)
        assert r.headers["Cache-Control"] == "no-store", path
        assert r.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"], path


def test_cli_reply_with_the_redis_backend_queues_the_conversations_job(staffed, client):
    import redis
    from click.testing import CliRunner

    from bot.cli.main import cli
    from bot.pipeline.queue import RedisQueue

    url = "redis://127.0.0.1:6379/11"
    r = redis.Redis.from_url(url)
    r.flushdb()
    _, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    conv_id = conversation_of(staffed, ticket)
    env = {"WARGA_DATABASE_URL": staffed.extensions["warga"].settings.database_url,
           "WARGA_QUEUE_BACKEND": "redis", "WARGA_QUEUE_REDIS_URL": url}
    try:
        done = CliRunner().invoke(cli, ["complaints", "reply", ticket, "Sudah kami cek.", "--by", "dina"], env=env)
        assert done.exit_code == 0, done.output
        # A `warga worker` sends the reply: the conversation's one job waits for it on Redis.
        assert r.get(RedisQueue.marker(conv_id)) is not None
        assert r.llen("rq:queue:warga") == 1
    finally:
        r.flushdb()
        r.close()
