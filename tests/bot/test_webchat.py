"""The web chat API, end to end: request → store → dialogue → reply → store."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from bot.store.models import Complaint, ComplaintEvent, Conversation, Message

SENDER = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def post(client, **body):
    return client.post("/api/v1/chat/messages", json={"sender": SENDER, **body})


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


def test_chat_page_and_console_placeholder_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and b'id="form"' in page.data
    assert b"<script src=\"/static/chat.js\">" in page.data
    console = client.get("/console/")
    assert console.status_code == 302 and "/console/login" in console.headers["Location"]


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    body = ready.get_json()
    assert ready.status_code == 200
    assert body["checks"]["database"] == "ok" and body["checks"]["nlu"] == "ok"
