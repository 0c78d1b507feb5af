"""The web chat API, end to end: request → store → dialogue → reply → store."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

from sqlalchemy import func, select

from bot.store.models import Complaint, ComplaintEvent, Conversation, Message, StaffUser
from tests.bot.citizen import WebCitizen, staff, ticket_in, tiny_png
from tests.bot.staff_accounts import stored_hash

SENDER = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def post(client, **body):
    return client.post("/api/v1/chat/messages", json={"sender": SENDER, **body})


def add_staff(app, username: str) -> None:
    with app.extensions["warga"].sessions() as s, s.begin():
        s.add(StaffUser(username=username, name=username, role="admin",
                        password_hash=stored_hash("sandi-rahasia-123")))


def console_login(client, username: str) -> None:
    page = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    r = client.post("/console/login", data={"username": username, "password": "sandi-rahasia-123",
                                            "csrf": csrf.group(1)})
    assert r.status_code == 302, r.data


def count(app, model) -> int:
    with app.extensions["warga"].sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_menu_reply_is_returned_and_both_messages_are_stored(app, client):
    r = post(client, text="menu")
    assert r.status_code == 200
    body = r.get_json()
    assert len(body["replies"]) == 1
    reply = body["replies"][0]
    assert "Pilih yang Anda perlukan" in reply["text"]
    assert [b["payload"] for b in reply["buttons"]] == ["lapor", "status", "info"]
    with app.extensions["warga"].sessions() as s:
        msgs = s.scalars(select(Message).order_by(Message.id)).all()
        assert [(m.direction, m.text[:4]) for m in msgs] == [("in", "menu"), ("out", "Pili")]
        assert msgs[0].conversation_id == msgs[1].conversation_id is not None
        conv = s.get(Conversation, msgs[0].conversation_id)
        assert conv.channel == "web" and conv.address.urn == f"web:{SENDER}"
        assert msgs[1].reply_to_id == msgs[0].id


def test_replies_are_delivered_with_the_processing_and_a_later_staff_reply_by_its_own_job(app, client):
    """A web chat reply is recorded delivered in the transaction that processes the message; a
    reply queued by anyone else (staff) is recorded delivered when the job it wakes runs."""
    from bot.pipeline.replies import queue_reply

    assert post(client, text="menu").status_code == 200
    rt = app.extensions["warga"]
    with rt.sessions() as s:
        assert [m.status for m in s.scalars(select(Message).where(Message.direction == "out"))] == ["delivered"]
    with rt.sessions() as s, s.begin():
        conv = s.scalars(select(Conversation)).one()
        queue_reply(s, rt.settings.outbox, conv, "Petugas: halo")
        conv_id = conv.id
    rt.job(conv_id)           # what the console's wake-up runs
    with rt.sessions() as s:
        rows = s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)).all()
        assert [(m.text[:8], m.status) for m in rows][1:] == [("Petugas:", "delivered")]


def test_a_turns_replies_are_stored_delivered_and_an_open_reply_goes_with_them(app, client):
    """The dialogue's replies are inserted already delivered: no statement records them
    afterwards. A reply still open in the conversation (a staff reply whose job has not run
    yet) is recorded delivered in the same transaction, so the outbox has nothing left."""
    from sqlalchemy import event

    from bot.pipeline.replies import queue_reply

    rt = app.extensions["warga"]
    post(client, text="halo")
    with rt.sessions() as s, s.begin():
        conv = s.scalars(select(Conversation)).one()
        queue_reply(s, rt.settings.outbox, conv, "Petugas: halo")
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    def recorded_sends() -> list[str]:
        return [s for s in statements if s.lstrip().startswith("UPDATE messages") and "sent_at" in s]

    event.listen(rt.engine, "before_cursor_execute", seen)
    try:
        assert post(client, text="menu").status_code == 200
        assert len(recorded_sends()) == 1            # the staff reply's, in one batched update
        statements.clear()
        assert post(client, text="menu").status_code == 200
        assert recorded_sends() == []                 # nothing was open: no update at all
    finally:
        event.remove(rt.engine, "before_cursor_execute", seen)
    with rt.sessions() as s:
        rows = s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)).all()
        assert len(rows) >= 4 and {m.status for m in rows} == {"delivered"}
        assert "Petugas: halo" in [m.text for m in rows]
        assert all(m.sent_at is not None and m.attempts == 1 for m in rows)
    assert rt.outbox.drain(conv.id) == 0


def test_a_reply_the_turn_queues_through_the_orm_goes_out_first_and_delivered(app, client, monkeypatch):
    """A reply the dialogue's casework queues to this same conversation during the turn (a
    follower's notification when the citizen reopens a complaint they follow) is stored before
    the turn's own replies and recorded delivered in the same transaction: the outbox has
    nothing left, so nothing waits for the sweeper."""
    from bot.casework.dialogue_ports import DbDialoguePorts
    from bot.pipeline.replies import queue_reply

    rt = app.extensions["warga"]
    post(client, text="halo")
    real_init = DbDialoguePorts.__init__

    def queuing(self, session, settings, conversation, message_id):
        real_init(self, session, settings, conversation, message_id)
        queue_reply(session, settings.outbox, conversation, "Laporan yang Anda ikuti dibuka kembali.")

    monkeypatch.setattr(DbDialoguePorts, "__init__", queuing)
    body = post(client, text="menu").get_json()
    with rt.sessions() as s:
        note = s.scalars(select(Message).where(Message.text == "Laporan yang Anda ikuti dibuka kembali.")).one()
        assert note.status == "delivered"
        assert all(note.id < r["id"] for r in body["replies"])
        conv_id = note.conversation_id
    assert rt.outbox.drain(conv_id) == 0


def file_by_buttons(client, description: str) -> str:
    """Menu button, category button, the description, then answer whatever is still asked."""
    post(client, button="lapor")
    post(client, button="cat:street_light")
    reply = post(client, text=description).get_json()["replies"][-1]["text"]
    for _ in range(4):
        if "Di mana lokasinya" in reply:
            reply = post(client, text="Jl. Melati RT 03/RW 05").get_json()["replies"][-1]["text"]
        elif "kirim foto" in reply:
            reply = post(client, text="lewati").get_json()["replies"][-1]["text"]
        elif "Kirim laporan ini?" in reply:
            return post(client, button="yes").get_json()["replies"][0]["text"]
    raise AssertionError(f"the complaint was not ready to send: {reply}")


def test_minimal_complaint_gets_a_ticket_number(app, client):
    text = file_by_buttons(client, "Lampu jalan di Jl. Melati mati <b>sudah</b> seminggu 🙏")
    ticket = re.search(r"WRG-\d{4}-\d{6}", text)
    assert ticket, text
    with app.extensions["warga"].sessions() as s:
        c = s.scalars(select(Complaint)).one()
        assert c.ticket == ticket.group(0)
        assert c.description == "Lampu jalan di Jl. Melati mati <b>sudah</b> seminggu 🙏"
        assert c.status == "menunggu" and c.agency
        events = s.scalars(select(ComplaintEvent)).all()
        assert [(e.kind, e.to_status, e.actor) for e in events] == [("created", "menunggu", "citizen")]


def test_status_check_finds_only_own_complaints(app, client):
    filed = re.search(r"WRG-\d{4}-\d{6}", file_by_buttons(client, "got mampet"))
    assert filed
    ticket = filed.group(0)
    mine = post(client, text=f"status {ticket.lower().replace('-', ' ')}").get_json()["replies"][0]["text"]
    assert ticket in mine and "Menunggu" in mine
    other = client.post("/api/v1/chat/messages",
                        json={"sender": "z" * 32, "text": f"status {ticket}"}).get_json()
    assert ticket not in other["replies"][0]["text"]
    assert "tidak menemukan" in other["replies"][0]["text"]


def test_retried_post_with_same_client_id_is_stored_once(app, client):
    first = post(client, text="menu", id="msg-000000001")
    again = post(client, text="menu", id="msg-000000001")
    assert first.status_code == again.status_code == 200
    assert again.get_json()["duplicate"] is True
    assert again.get_json()["replies"] == first.get_json()["replies"]
    assert count(app, Message) == 2


def test_the_request_that_processed_its_message_answers_without_reading_the_replies_back(app, client):
    """The replies come from the transaction that stored them (three round trips fewer), and
    they are what the database holds: ids, texts, buttons, times. A retry reads them back."""
    from sqlalchemy import event

    rt = app.extensions["warga"]
    post(client, text="halo")                       # the conversation exists
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(rt.engine, "before_cursor_execute", seen)
    try:
        first = post(client, text="menu", id="msg-000000002")
    finally:
        event.remove(rt.engine, "before_cursor_execute", seen)
    assert first.status_code == 200
    assert not [s for s in statements if s.lstrip().startswith("SELECT") and "reply_to_id =" in s]
    body = first.get_json()
    with rt.sessions() as s:
        stored = s.scalars(select(Message).where(Message.reply_to_id == body["message_id"])
                           .order_by(Message.id)).all()
        assert body["replies"] == [{"id": m.id, "text": m.text, "buttons": m.buttons,
                                    "created_at": m.created_at.isoformat()} for m in stored]
    assert len(body["replies"]) == 1 and body["replies"][0]["buttons"]
    again = post(client, text="menu", id="msg-000000002").get_json()
    assert again["duplicate"] is True and again["replies"] == body["replies"]


def test_poll_returns_later_messages_only(app, client):
    r1 = post(client, text="menu").get_json()["replies"][0]["id"]
    post(client, text="batal")
    got = client.get(f"/api/v1/chat/messages?after={r1}", headers={"X-Warga-Sender": SENDER}).get_json()["messages"]
    assert len(got) == 1 and "Tidak ada yang sedang berjalan" in got[0]["text"]
    assert client.get("/api/v1/chat/messages?after=0",
                      headers={"X-Warga-Sender": "q" * 32}).get_json() == {"messages": []}


def test_malformed_json_is_400_and_changes_nothing(app, client):
    r = client.post("/api/v1/chat/messages", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"] == "bad_request"
    assert count(app, Message) == 0


def test_invalid_fields_are_400_with_reason(app, client):
    cases = [
        ({"text": "hi"}, "sender"),
        ({"sender": "short", "text": "hi"}, "sender"),
        ({"sender": SENDER, "text": 5}, "text"),
        ({"sender": SENDER, "text": "  "}, "send text"),
        ({"sender": SENDER, "location": {"lat": 100, "lon": 0}}, "location"),
        ({"sender": SENDER, "location": "here"}, "location"),
        ({"sender": SENDER, "text": "x" * 4001}, "longer"),
        ({"sender": SENDER, "text": "hi", "id": "!"}, "id"),
        (["not", "an", "object"], "object"),
    ]
    for body, needle in cases:
        r = client.post("/api/v1/chat/messages", data=json.dumps(body), content_type="application/json")
        assert r.status_code == 400, body
        assert needle in r.get_json()["message"], (body, r.get_json())
    assert client.get("/api/v1/chat/messages", headers={"X-Warga-Sender": "bad"}).status_code == 400
    assert client.get("/api/v1/chat/messages?after=x", headers={"X-Warga-Sender": SENDER}).status_code == 400
    assert count(app, Message) == 0


def test_oversized_body_is_413_json(app, client):
    big = json.dumps({"sender": SENDER, "text": "a" * (300 * 1024)})
    r = client.post("/api/v1/chat/messages", data=big, content_type="application/json")
    assert r.status_code == 413
    assert r.get_json()["error"] == "request_entity_too_large"
    assert count(app, Message) == 0


def test_unknown_routes_are_404_json_for_api_and_html_for_pages(client):
    api = client.get("/api/v1/nope")
    assert api.status_code == 404 and api.get_json()["error"] == "not_found"
    page = client.get("/nope")
    assert page.status_code == 404 and b"Kembali ke obrolan" in page.data


def test_location_only_message_is_stored_with_coordinates(app, client):
    r = post(client, location={"lat": -6.2, "lon": 106.8})
    assert r.status_code == 200 and r.get_json()["replies"]
    with app.extensions["warga"].sessions() as s:
        m = s.scalars(select(Message).where(Message.direction == "in")).one()
        assert (m.latitude, m.longitude) == (-6.2, 106.8)


def test_what_was_understood_is_stored_with_the_message_and_nothing_for_a_bare_location(app, client):
    """Staff read the intent beside each message; a message without words is not parsed, and
    stores no understanding (SQL NULL, not a JSON null that reads back the same in Python)."""
    words = post(client, text="jalan rusak parah di depan rumah saya").get_json()["message_id"]
    point = post(client, location={"lat": -6.2, "lon": 106.8}).get_json()["message_id"]
    with app.extensions["warga"].sessions() as s:
        understood = s.get(Message, words)
        assert understood is not None and understood.nlu is not None
        assert understood.nlu["intent"] == "report_road_damage" and understood.nlu["engine"] == "sklearn"
        assert understood.status == "processed" and understood.processed_at is not None
        assert s.scalar(select(func.count()).select_from(Message).where(
            Message.id == point, Message.nlu.is_(None), Message.processed_at.is_not(None))) == 1


def test_chat_page_and_console_placeholder_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and b'id="form"' in page.data
    assert b"<script src=\"/static/chat.js\">" in page.data
    console = client.get("/console/")
    assert console.status_code == 302 and "/console/login" in console.headers["Location"]


def test_health_and_readiness(client, caplog):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    with caplog.at_level(logging.INFO):
        ready = client.get("/readyz")
    body = ready.get_json()
    assert ready.status_code == 200
    assert body["checks"]["database"] == "ok" and body["checks"]["nlu"] == "ok"
    # Probed every few seconds by a load balancer: a probe that finds everything well logs nothing.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []


# -- photos, history and the chosen language (issue 11 item 8) ---------------------------------

def post_photo(client, data: bytes, *, name: str = "foto.png", declared: str = "image/png", **fields):
    form = {"sender": SENDER, **fields, "photo": (io.BytesIO(data), name, declared)}
    return client.post("/api/v1/chat/messages", data=form, content_type="multipart/form-data",
                       headers={"X-Warga-Sender": SENDER})


def uploads(app) -> list[Path]:
    folder = app.extensions["warga"].settings.media_dir / "web"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_photo_is_stored_once_like_other_media_under_a_generated_name(app, client):
    # Larger than server.max_request_kb (256): only the photo upload may be.
    picture = tiny_png() + b"\0" * (300 * 1024)
    first = post_photo(client, picture, name="<b>lubang</b>.png", id="photo-00000001", text="lubang di sini")
    again = post_photo(client, picture, name="<b>lubang</b>.png", id="photo-00000001", text="lubang di sini")
    assert first.status_code == again.status_code == 200, first.get_json()
    assert again.get_json()["duplicate"] is True
    with app.extensions["warga"].sessions() as s:
        m = s.scalars(select(Message).where(Message.direction == "in")).one()
        item = m.media[0]
    assert m.text == "lubang di sini"
    assert item["content_type"] == "image/png" and item["size"] == len(picture)
    assert item["name"] == "<b>lubang</b>.png" and item["caption"] == "lubang di sini"
    [saved] = uploads(app)                 # the retry's copy was not kept
    assert item["stored"] == str(saved) and re.fullmatch(r"[0-9a-f]{32}\.png", saved.name)
    assert saved.read_bytes() == picture
    # Every other request keeps the app's limit.
    big = json.dumps({"sender": SENDER, "text": "a" * (300 * 1024)})
    assert client.post("/api/v1/chat/messages", data=big, content_type="application/json").status_code == 413


def test_too_big_or_not_an_image_is_refused_with_a_reason_and_nothing_is_stored(app, client):
    limit = app.extensions["warga"].settings.server.max_photo_kb * 1024
    too_big = post_photo(client, tiny_png() + b"\0" * limit, id="photo-00000002")
    assert too_big.status_code == 413 and "larger than 5120 KB" in too_big.get_json()["message"]
    # Declared as a PNG, but its bytes are a script: what counts is what it is.
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for data in (svg, b"", b"GIF8" + b"\0" * 10):
        r = post_photo(client, data, id="photo-00000003")
        assert r.status_code == 400 and r.get_json()["error"] == "bad_request", r.get_json()
    two = client.post("/api/v1/chat/messages", content_type="multipart/form-data", data={
        "sender": SENDER, "photo": [(io.BytesIO(tiny_png()), "a.png"), (io.BytesIO(tiny_png()), "b.png")]})
    assert two.status_code == 400 and "one photo" in two.get_json()["message"]
    assert count(app, Message) == 0 and uploads(app) == []


def test_photo_at_the_photo_step_is_filed_and_staff_can_open_it(app, client):
    citizen = WebCitizen(client)
    assert "kirim foto" in citizen.say("Lampu jalan mati di Jl. Melati RT 03/RW 05 sudah seminggu")[-1]
    summary = citizen.say(photo=True)[-1]       # exactly as a Telegram photo at that step
    assert "Kirim laporan ini?" in summary and "1 foto" in summary
    ticket = ticket_in(citizen.say(button="yes")[0])
    with app.extensions["warga"].sessions() as s:
        c = s.scalars(select(Complaint).where(Complaint.ticket == ticket)).one()
        photo_msg = s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)).all()[1]
    assert c.media[0]["url"] == photo_msg.media[0]["url"]
    add_staff(app, "admin")
    console_login(client, "admin")
    served = client.get(f"/console/media/{photo_msg.id}/0")
    assert served.status_code == 200 and served.data == tiny_png()
    assert "foto-jalan.png" in client.get(f"/console/complaints/{ticket}").get_data(as_text=True)


def test_history_is_the_whole_conversation_in_order_for_that_sender_only(app, client):
    citizen = WebCitizen(client, SENDER)
    citizen.say("menu")
    citizen.say(button="lapor")
    citizen.say("<i>lampu</i> mati", photo=True)
    with app.extensions["warga"].sessions() as s:
        conv_id = s.scalars(select(Conversation.id)).one()
    staff(app, lambda svc: svc.reply(conv_id, "Kami cek, ya.", "rina"))
    citizen.notifications()
    body = client.get("/api/v1/chat/history", headers={"X-Warga-Sender": SENDER}).get_json()
    got = [(m["direction"], m["text"][:20]) for m in body["messages"]]
    assert got[:3] == [("in", "menu"), ("out", "Pilih yang Anda perl"), ("in", "Buat laporan")]
    assert body["messages"][-1]["text"] == "Petugas: Kami cek, ya." and body["messages"][-1]["staff"] is True
    assert [m["id"] for m in body["messages"]] == sorted(m["id"] for m in body["messages"])
    photo_in = next(m for m in body["messages"] if m["photos"])
    assert photo_in["text"] == "<i>lampu</i> mati" and photo_in["photos"][0]["name"] == "foto-jalan.png"
    # Buttons the citizen already answered are not offered again.
    assert body["messages"][1]["buttons"] == [] and body["more"] is False
    url = photo_in["photos"][0]["url"]
    assert SENDER not in url
    own = client.get(url, headers={"X-Warga-Sender": SENDER})
    assert own.status_code == 200 and own.data == tiny_png() and own.mimetype == "image/png"
    assert own.headers["Cache-Control"] == "private, no-store"
    # The photo and the history are the sender's alone: the id is the capability.
    assert client.get(url, headers={"X-Warga-Sender": "q" * 32}).status_code == 404
    past_64_bits = "/api/v1/chat/media/99999999999999999999/0"
    assert client.get(past_64_bits, headers={"X-Warga-Sender": SENDER}).status_code == 404
    assert client.get(url).status_code == 400
    assert client.get(url + f"?sender={SENDER}", headers={"X-Warga-Sender": SENDER}).status_code == 400
    other = client.get("/api/v1/chat/history", headers={"X-Warga-Sender": "q" * 32}).get_json()
    assert other == {"messages": [], "language": None, "more": False}


def test_choosing_english_makes_the_bot_answer_in_english(app, client):
    assert "Pilih yang Anda perlukan" in post(client, text="menu").get_json()["replies"][0]["text"]
    chosen = post(client, language="en").get_json()["replies"]
    assert chosen[0]["text"].startswith("Hello! I am Warga") and "Buat laporan" not in chosen[1]["text"]
    # Indonesian words afterwards do not switch back: the citizen chose.
    after = post(client, text="saya mau lapor jalan rusak di depan rumah").get_json()["replies"]
    assert "Where is it?" in after[-1]["text"] or "photo" in after[-1]["text"], after
    with app.extensions["warga"].sessions() as s:
        assert s.scalars(select(Conversation.language)).one() == "en"
    history = client.get("/api/v1/chat/history", headers={"X-Warga-Sender": SENDER}).get_json()
    assert history["language"] == "en" and history["messages"][2]["text"] == "English"
    for body, needle in (({"language": "fr"}, "one of: id, en"), ({"language": "en", "text": "hi"}, "alone"),
                         ({"language": "EN!"}, "language")):
        r = post(client, **body)
        assert r.status_code == 400 and needle in r.get_json()["message"], r.get_json()


def test_a_message_is_two_statements_on_postgresql(app, client):
    """On PostgreSQL a known citizen's message is one transaction of two statements: the message
    stored with its conversation locked and read, then the replies, the "processed" mark and the
    state (SQLite: the message stored, then the lock, the next message, the INSERT and the two
    UPDATEs of the turn's end). The replies keep their order,
    the columns reply_values leaves to the model's defaults, and JSON null where it gives None
    (as SQLAlchemy stores None in a JSON column)."""
    from sqlalchemy import event, text

    rt = app.extensions["warga"]
    post(client, text="menu")
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    event.listen(rt.engine, "before_cursor_execute", seen)
    try:
        body = post(client, text="halo").get_json()     # a greeting and the menu: two replies
    finally:
        event.remove(rt.engine, "before_cursor_execute", seen)
    writes = [s.split()[0] for s in statements if not s.startswith(("BEGIN", "SELECT"))]
    if rt.engine.dialect.name == "postgresql":
        # The message stored under its conversation's lock; the turn's end with its replies.
        assert [" ".join(s.split()[:2]) for s in statements] == ["WITH locked", "WITH processed"]
    else:
        assert writes[-3:] == ["INSERT", "UPDATE", "UPDATE"]   # the replies, "processed", the state
    assert len(body["replies"]) >= 2
    with rt.sessions() as s:
        rows = s.scalars(select(Message).where(Message.reply_to_id == body["message_id"]).order_by(Message.id)).all()
        null_vars = s.execute(text("SELECT count(*) FROM messages WHERE reply_to_id = :m AND template_vars IS NULL"),
                              {"m": body["message_id"]}).scalar_one()
    assert [(m.id, m.text) for m in rows] == [(r["id"], r["text"]) for r in body["replies"]]
    assert [m.buttons for m in rows] == [r["buttons"] for r in body["replies"]]
    assert all(m.media == [] and m.parts_sent == 0 and m.provider_answered is False and m.status == "delivered"
               and m.template_vars is None and m.created_at.tzinfo is not None for m in rows)
    assert null_vars == 0                          # JSON null, not SQL NULL
