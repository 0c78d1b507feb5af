"""The web chat's sender id (the credential that reads a conversation) never travels in a URL
and never reaches an access log (issue 9, item 3)."""

from __future__ import annotations

import json
import logging
import uuid

from tests.support import PROJECT


def test_reading_a_conversation_takes_the_sender_from_a_header_and_refuses_it_in_the_url(client):
    sender = uuid.uuid4().hex
    posted = client.post("/api/v1/chat/messages", json={"sender": sender, "id": "message-1", "text": "menu"})
    assert posted.status_code == 200
    leaked = client.get(f"/api/v1/chat/messages?sender={sender}&after=0")
    assert leaked.status_code == 400 and "X-Warga-Sender" in leaked.get_json()["message"]
    got = client.get("/api/v1/chat/messages?after=0", headers={"X-Warga-Sender": sender})
    assert got.status_code == 200
    assert [m["id"] for m in got.get_json()["messages"]] == [r["id"] for r in posted.get_json()["replies"]]


def test_the_chat_page_sends_the_sender_in_a_header():
    script = (PROJECT / "bot" / "web" / "static" / "chat.js").read_text()
    assert '"X-Warga-Sender": sender' in script
    assert "sender=" not in script


def test_the_access_log_of_warga_serve_never_writes_the_query_string(caplog):
    from bot.web.server import access_logged

    def app(environ, start_response):  # a view that answers 400, as a refused ?sender= does
        start_response("400 BAD REQUEST", [("Content-Type", "application/json")])
        return [b"{}"]

    secret = "0123456789abcdef0123456789abcdef"
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/chat/messages",
               "QUERY_STRING": f"sender={secret}&after=0", "REMOTE_ADDR": "203.0.113.9",
               "HTTP_REFERER": f"https://city.example/?sender={secret}"}
    with caplog.at_level(logging.INFO, logger="warga.access"):
        body = access_logged(app)(environ, lambda status, headers, exc_info=None: None)
    assert list(body) == [b"{}"]
    [record] = [r for r in caplog.records if r.name == "warga.access"]
    logged = json.dumps({k: str(v) for k, v in vars(record).items()})
    assert "/api/v1/chat/messages" in logged and '"status": "400"' in logged
    assert secret not in logged
