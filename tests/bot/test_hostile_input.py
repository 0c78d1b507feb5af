"""Input that must never give a 500 (issue 9), through the real app on SQLite and PostgreSQL.

Bad client input gets 400 with a JSON error; an authentic provider webhook is always
acknowledged 2xx and stored, as a message when it can be read and stored, otherwise raw as
unparseable (a 5xx makes Telegram re-send it for ever, holding every later update behind it).
NUL is stripped, never stored as U+FFFD; a lone surrogate becomes U+FFFD.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.models import Message
from tests.bot.staff_accounts import stored_hash
from tests.conftest import migrate
from tests.fakes.fake_twilio import sign
from tests.providers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_URL,
    SECRET,
    SMS_FROM,
    Fakes,
    provider_settings,
)

CHAT = "/api/v1/chat/messages"
SENDER = "a" * 32
TG_HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}


@pytest.fixture
def app(db_url: str, tmp_path: Path, fakes: Fakes) -> Iterator[Any]:
    from bot.web.app import create_app

    overrides: dict[str, Any] = {"server.chat_reply_wait_seconds": 0}
    settings = provider_settings(db_url, tmp_path, fakes, overrides=overrides)
    migrate(settings.database_url)
    application = create_app(settings, start_workers=False)
    application.testing = True
    try:
        yield application
    finally:
        application.extensions["warga"].close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def rows(app: Any, **where: Any) -> list[Message]:
    with app.extensions["warga"].sessions() as session:
        stmt = select(Message).where(*(getattr(Message, k) == v for k, v in where.items()))
        return list(session.scalars(stmt.order_by(Message.id)))


def assert_json_400(resp: Any) -> None:
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.is_json and resp.get_json()["error"] == "bad_request"


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- the chat API: the client's mistakes are 400 -------------------------------------------

@pytest.mark.parametrize("body", [
    deep(100_000).encode(),
    ('{"sender": "' + SENDER + '", "text": ' + deep(50_000) + '}').encode(),
    b'{"sender": "' + SENDER.encode() + b'", "text": "\xff\xfe caf\xe9"}',     # not UTF-8
    b"\xed\xa0\x80",                                                          # an encoded surrogate
])
def test_chat_api_answers_bad_bodies_with_400_json(client: Any, body: bytes) -> None:
    assert_json_400(client.post(CHAT, data=body, content_type="application/json"))


@pytest.mark.parametrize("after", ["²", "99999999999999999999999", "-1", "1e3", "١٢", " 1"])
def test_chat_api_refuses_ids_that_are_not_whole_numbers_in_range(client: Any, after: str) -> None:
    assert_json_400(client.get(CHAT, query_string={"sender": SENDER, "after": after}))


def test_nul_in_a_query_parameter_is_400(client: Any) -> None:
    assert_json_400(client.get(CHAT, query_string={"sender": SENDER, "after": "1\x00"}))
    resp = client.get("/console/login", query_string={"next": "/console\x00"})
    assert resp.status_code == 400


def test_lone_surrogates_and_nul_in_chat_text_are_stored_readably(app: Any, client: Any) -> None:
    body = json.dumps({"sender": SENDER, "text": "jalan\x00 rusak \ud800 di sini", "name": "Bu\udfffdi\x00",
                       "id": "client-msg-1"})
    resp = client.post(CHAT, data=body, content_type="application/json")
    assert resp.status_code in (200, 202), resp.get_data(as_text=True)
    [row] = rows(app, channel="web", direction="in")
    assert row.text == "jalan rusak \ufffd di sini"       # NUL stripped, never U+FFFD
    assert "\x00" not in (row.raw or "")


# -- provider webhooks: authentic requests are acknowledged and kept -------------------------

@pytest.mark.parametrize("body", [deep(100_000).encode(), b"\xff\xfe\x00", b'{"update_id": 7, "x": "\\ud800'])
def test_telegram_update_that_cannot_be_read_is_200_and_kept_raw(app: Any, client: Any, body: bytes) -> None:
    resp = client.post("/webhooks/telegram", data=body, headers=TG_HEADERS)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    [row] = rows(app, channel="telegram")
    assert row.kind == "unparseable" and "\x00" not in (row.raw or "")


def tg_text(update_id: int, text: str, chat_id: int = 3527065) -> bytes:
    return json.dumps({"update_id": update_id, "message": {
        "message_id": 11, "date": 1732786200, "text": text,
        "chat": {"id": chat_id, "type": "private", "first_name": "Budi"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Budi\x00"}}}).encode()


def test_telegram_text_with_nul_and_a_lone_surrogate_is_stored_as_a_message(app: Any, client: Any) -> None:
    resp = client.post("/webhooks/telegram", data=tg_text(1, "lampu\x00 mati \udc00"), headers=TG_HEADERS)
    assert resp.status_code == 200
    [row] = rows(app, channel="telegram")
    assert (row.kind, row.text) == ("message", "lampu mati \ufffd")


def test_telegram_update_the_database_refuses_is_200_and_kept(app: Any, client: Any) -> None:
    # A chat id far longer than any address column: PostgreSQL refuses the row (SQLite
    # stores it). Either way Telegram gets its 200 and the update is kept.
    resp = client.post("/webhooks/telegram", data=tg_text(2, "halo", chat_id=int("9" * 400)),
                       headers=TG_HEADERS)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    [row] = rows(app, channel="telegram")
    if app.extensions["warga"].settings.database_url.startswith("postgresql"):
        assert row.kind == "unparseable" and "could not be stored" in (row.error_reason or "")
    assert '"halo"' in (row.raw or "")


def test_a_known_citizens_update_the_database_refuses_is_200_and_kept(app: Any, client: Any) -> None:
    # A message id that makes the provider id longer than its column, from a citizen who wrote
    # before (stored by the one statement for a known citizen): PostgreSQL refuses it, and
    # the raw update is kept instead.
    assert client.post("/webhooks/telegram", data=tg_text(3, "halo"), headers=TG_HEADERS).status_code == 200
    update = json.loads(tg_text(4, "lampu mati"))
    update["message"]["message_id"] = int("9" * 300)
    resp = client.post("/webhooks/telegram", data=json.dumps(update).encode(), headers=TG_HEADERS)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    first, second = rows(app, channel="telegram")
    assert first.kind == "message"
    if app.extensions["warga"].settings.database_url.startswith("postgresql"):
        assert second.kind == "unparseable" and "could not be stored" in (second.error_reason or "")
    else:
        assert (second.kind, second.conversation_id) == ("message", first.conversation_id)
    assert '"lampu mati"' in (second.raw or "")


def test_twilio_body_with_nul_is_200_and_stored_stripped(app: Any, client: Any) -> None:
    sid = "SM" + "1" * 32
    pairs = [("MessageSid", sid), ("SmsSid", sid), ("SmsStatus", "received"), ("AccountSid", ACCOUNT_SID),
             ("From", "+6281234567890"), ("To", SMS_FROM), ("Body", "got\x00 ong \ud800"), ("NumMedia", "0")]
    from urllib.parse import urlencode

    body = urlencode(pairs, encoding="utf-8", errors="surrogatepass")
    url = PUBLIC_URL + "/webhooks/twilio"
    signed = [(k, v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")) for k, v in pairs]
    resp = client.post("/webhooks/twilio", data=body, content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": sign(AUTH_TOKEN, url, signed)},
                       base_url=PUBLIC_URL)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    [row] = rows(app, channel="sms")
    assert (row.kind, row.text) == ("message", "got ong \ufffd\ufffd\ufffd")


@pytest.mark.parametrize("page", ["²", "99999999999999999999999", "1\x00"])
def test_console_page_number_out_of_range_is_400(app: Any, client: Any, page: str) -> None:
    from bot.store.models import StaffUser

    with app.extensions["warga"].sessions() as s, s.begin():
        user = StaffUser(username="admin", name="Admin", role="admin", agency=None,
                         password_hash=stored_hash("pw-123456789"))
        s.add(user)
    form = client.get("/console/login").get_data(as_text=True)
    found = re.search(r'name="csrf" value="([^"]+)"', form)
    assert found is not None
    signed_in = client.post("/console/login", data={"username": "admin", "password": "pw-123456789",
                                                     "csrf": found.group(1)})
    assert signed_in.status_code == 302
    assert client.get("/console/").status_code == 200
    assert client.get("/console/", query_string={"page": page}).status_code == 400


def test_a_connector_that_fails_to_parse_still_gets_the_update_acknowledged_and_kept(
        app: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    channel = app.extensions["warga"].channels["telegram"]

    def broken(request: Any) -> Any:
        raise RuntimeError("a bug in the connector")

    monkeypatch.setattr(channel, "parse_inbound", broken)
    resp = client.post("/webhooks/telegram", data=tg_text(3, "halo"), headers=TG_HEADERS)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    [row] = rows(app, channel="telegram")
    assert row.kind == "unparseable" and "could not be parsed: RuntimeError" in (row.error_reason or "")
    assert '"halo"' in (row.raw or "")


@pytest.mark.parametrize("host", ["[", "[::1", "exa mple.org:80:80]"])
def test_a_forwarded_host_no_url_can_hold_is_refused_not_a_500(client: Any, host: str) -> None:
    """Found by the fuzz test: X-Forwarded-Host "[" made the signature check raise."""
    for path in ("/webhooks/twilio", "/webhooks/twilio/status", "/webhooks/telegram"):
        resp = client.post(path, data={"MessageSid": "SM" + "ab" * 16, "AccountSid": ACCOUNT_SID},
                           headers={"X-Forwarded-Host": host, "X-Twilio-Signature": "bm90LWEtc2lnbmF0dXJl"})
        assert resp.status_code == 403, (path, resp.status_code)


@pytest.mark.parametrize("token", ["\x80", "é", "ж"])
def test_a_non_ascii_csrf_token_at_sign_in_is_refused_not_a_500(client: Any, token: str) -> None:
    """Found by the fuzz test: hmac.compare_digest raises on non-ASCII text."""
    resp = client.post("/console/login", data={"username": "a", "password": "b", "csrf": token})
    assert resp.status_code == 400
