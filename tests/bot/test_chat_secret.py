"""The web chat's sender id (the credential that reads a conversation) never travels in a URL
and never reaches an access log (issue 9, item 3)."""

from __future__ import annotations

import datetime
import uuid
from types import SimpleNamespace

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


def test_the_gunicorn_access_log_of_warga_serve_never_writes_the_query_string():
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from bot.cli.main import ACCESS_LOG_FORMAT

    secret = "0123456789abcdef0123456789abcdef"
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/api/v1/chat/messages?sender={secret}&after=0",
               "PATH_INFO": "/api/v1/chat/messages", "QUERY_STRING": f"sender={secret}&after=0",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.9",
               "HTTP_REFERER": f"https://city.example/?sender={secret}", "HTTP_USER_AGENT": "test"}
    resp = SimpleNamespace(status="400 BAD REQUEST", sent=10, headers=[])
    logger = Logger(Config())
    # gunicorn reads only these attributes of the response and request here.
    line = ACCESS_LOG_FORMAT % logger.atoms(resp, [], environ,  # type: ignore[arg-type]
                                            datetime.timedelta(milliseconds=3))
    assert "GET /api/v1/chat/messages HTTP/1.1" in line and "203.0.113.9" in line
    assert secret not in line
