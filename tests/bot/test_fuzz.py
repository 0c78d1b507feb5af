"""Random requests at every public endpoint find no 5xx (issue 9).

Hypothesis throws random bodies, headers and query strings at the chat API (GET and POST),
each provider webhook (with and without a valid signature or secret), /healthz, /readyz and
the console login, through the Flask test client of the real app on SQLite and PostgreSQL.
Text includes NUL, lone surrogates, non-ASCII digits and deep nesting. The number of
examples is bounded (150 per endpoint) so the whole module runs in well under a minute on CI; set
``FUZZ_EXAMPLES`` in the environment of pytest to run longer.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_settings, migrate
from tests.fakes.fake_telegram import FakeTelegram
from tests.fakes.fake_twilio import FakeTwilio, sign
from tests.providers import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SECRET, TOKEN, Fakes, provider_env

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
# The same examples on every CI run (a landing never depends on luck); FUZZ_RANDOM=1 explores
# new ones locally, and what it finds becomes a test in test_hostile_input.py.
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("FUZZ_RANDOM") != "1",
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much, HealthCheck.data_too_large])

# -- strategies ---------------------------------------------------------------------------

NASTY = st.sampled_from(["\x00", "\ud800", "\udfff", "a\ud83d", "²", "١٢", "99999999999999999999999", "-1",
                         "1e309", "NaN", "\u202e", "%00", "../../etc/passwd", "<script>", "' OR 1=1 --", ""])
TEXT = st.one_of(st.text(max_size=40), NASTY, st.text(alphabet=st.characters(), max_size=8).map(lambda s: s * 50))
PLAIN_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)   # what a form can carry
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63 - 2, max_value=2**80),
                   st.floats(allow_nan=False, allow_infinity=False), TEXT)
JSON = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def deep(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


RAW = st.one_of(st.binary(max_size=200), st.integers(2_000, 200_000).map(deep),
                st.sampled_from([b"\xff\xfe", b"\xed\xa0\x80", b"{", b"null", b"[]", b'"\\ud800"', b"1e999"]))


def body_of(value: Any) -> bytes:
    return json.dumps(value).encode()     # ensure_ascii: a lone surrogate goes out as "\ud800"


USER = st.fixed_dictionaries({}, optional={"id": SCALAR, "is_bot": SCALAR, "first_name": TEXT, "last_name": TEXT})
TG_CHAT = st.fixed_dictionaries({}, optional={"id": st.one_of(st.integers(), SCALAR),
                                           "type": st.one_of(st.sampled_from(["private", "group", "channel"]),
                                                             SCALAR), "title": TEXT})
MESSAGE = st.fixed_dictionaries({}, optional={
    "message_id": st.one_of(st.integers(), SCALAR), "date": st.one_of(st.integers(), SCALAR), "chat": TG_CHAT,
    "from": USER, "text": TEXT, "caption": TEXT, "location": st.dictionaries(
        st.sampled_from(["latitude", "longitude"]), SCALAR), "contact": st.dictionaries(
        st.sampled_from(["phone_number", "user_id", "first_name"]), SCALAR),
    "photo": st.lists(st.dictionaries(st.sampled_from(["file_id", "width"]), SCALAR), max_size=2),
    "document": st.dictionaries(st.sampled_from(["file_id", "mime_type", "file_name"]), SCALAR),
    "venue": JSON, "entities": JSON, "reply_markup": JSON})
UPDATE = st.one_of(JSON, st.fixed_dictionaries(
    {"update_id": st.one_of(st.integers(), st.integers(2**62, 2**70), SCALAR)},
    optional={"message": MESSAGE, "edited_message": MESSAGE, "channel_post": MESSAGE,
              "callback_query": st.fixed_dictionaries({}, optional={"id": SCALAR, "from": USER, "data": SCALAR,
                                                                    "message": MESSAGE}),
              "my_chat_member": JSON, "future_thing": JSON}))

TWILIO_FIELDS = ["Body", "From", "To", "NumMedia", "MediaUrl0", "MediaContentType0", "Latitude", "Longitude",
                 "Address", "Label", "SmsStatus", "MessageStatus", "ErrorCode", "ErrorMessage", "ButtonPayload",
                 "ListId", "OptOutType", "ProfileName", "ChannelPrefix", "WaId", "MessageType", "SmsSid"]
SID = st.one_of(st.just("SM" + "ab" * 16), st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
                .map(lambda h: "MM" + h), PLAIN_TEXT)
FORM = st.tuples(
    st.one_of(st.just(ACCOUNT_SID), PLAIN_TEXT), SID,
    st.lists(st.tuples(st.one_of(st.sampled_from(TWILIO_FIELDS), PLAIN_TEXT),
                       st.one_of(PLAIN_TEXT, st.sampled_from(["whatsapp:+6281234567890", "+6281234567890",
                                                              "delivered", "failed", "received", "63016",
                                                              "21610", "STOP", "-91", "1e400", "3"]))),
             max_size=8),
).map(lambda t: [("AccountSid", t[0]), ("MessageSid", t[1]), *t[2]])

HEADER_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20)
HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                       max_size=40)
HEADERS = st.dictionaries(st.one_of(HEADER_NAME, st.sampled_from(
    ["X-Forwarded-Proto", "X-Forwarded-Host", "Content-Type", "X-Twilio-Signature", "Accept",
     "X-Telegram-Bot-Api-Secret-Token", "Cookie", "X-Forwarded-For"])), HEADER_VALUE, max_size=4)
QUERY = st.lists(st.tuples(st.one_of(st.sampled_from(["sender", "after", "page", "next", "status", "q"]), TEXT),
                           TEXT), max_size=4)
CONTENT_TYPE = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain",
                                "multipart/form-data; boundary=x", "application/json; charset=latin-1", ""])


def query_string(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs, encoding="utf-8", errors="surrogatepass")     # percent-encoded ASCII


# -- the app --------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                pg_reason: str | None) -> Iterator[Any]:
    from tests.pg_databases import create_pg_database, release_pg_database

    tmp = tmp_path_factory.mktemp("fuzz")
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'warga.db'}"
    else:
        if pg_reason:
            pytest.skip(pg_reason)
        name, url = create_pg_database()
    telegram, twilio = FakeTelegram(token=TOKEN), FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    telegram.start()
    twilio.start()
    app = None
    try:
        from bot.web.app import create_app

        env = provider_env(Fakes(telegram, twilio))
        settings_ = make_settings(url, Path(tmp), env=env, overrides={
            "channels.enabled": ["web", "telegram", "sms", "whatsapp"], "server.chat_reply_wait_seconds": 0})
        migrate(settings_.database_url)
        app = create_app(settings_, start_workers=False)
        app.testing = False          # answer like production: errors become responses, not raises
        yield app.test_client()
    finally:
        if app is not None:
            app.extensions["warga"].close()
        telegram.stop()
        twilio.stop()
        if name is not None:
            release_pg_database(name)


def no_5xx(resp: Any, what: str) -> None:
    assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.get_data(as_text=True)[:500]}"


# -- the endpoints ----------------------------------------------------------------------------

CHAT = "/api/v1/chat/messages"


@FUZZ
@given(body=st.one_of(JSON.map(body_of), RAW, st.fixed_dictionaries(
    {"sender": st.one_of(st.just("fuzz" + "a" * 20), TEXT)},
    optional={"text": SCALAR, "id": SCALAR, "button": SCALAR, "name": SCALAR, "location": JSON}).map(body_of)),
    content_type=CONTENT_TYPE, headers=HEADERS)
def test_chat_api_post(fuzz_client: Any, body: bytes, content_type: str, headers: dict[str, str]) -> None:
    resp = fuzz_client.post(CHAT, data=body, headers={**headers, "Content-Type": content_type})
    no_5xx(resp, "POST chat")
    if resp.status_code == 400:
        assert resp.is_json and resp.get_json()["error"]


@FUZZ
@given(query=QUERY, headers=HEADERS)
def test_chat_api_get(fuzz_client: Any, query: list[tuple[str, str]], headers: dict[str, str]) -> None:
    no_5xx(fuzz_client.get(CHAT, query_string=query_string(query), headers=headers), "GET chat")


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40
SENDER_ID = st.one_of(st.just("fuzz" + "a" * 20), st.text(alphabet="abcdefXYZ019-_!.%/", max_size=70))


@FUZZ
@given(fields=st.lists(st.tuples(st.sampled_from(["sender", "id", "text", "language", "button", "location", "name",
                                                  "photo"]), PLAIN_TEXT), max_size=6),
       photos=st.lists(st.tuples(st.one_of(st.binary(max_size=64), st.just(PNG)), PLAIN_TEXT), max_size=2),
       sender=st.booleans())
def test_chat_api_photo_upload(fuzz_client: Any, fields: list[tuple[str, str]],
                               photos: list[tuple[bytes, str]], sender: bool) -> None:
    data: dict[str, Any] = {}
    for key, value in ([("sender", "fuzz" + "a" * 20)] if sender else []) + fields:
        data.setdefault(key, value)
    if photos:
        data["photo"] = [(io.BytesIO(content), name) for content, name in photos]
    resp = fuzz_client.post(CHAT, data=data, content_type="multipart/form-data")
    no_5xx(resp, "POST chat photo")
    if resp.status_code == 400:
        assert resp.is_json and resp.get_json()["error"]


@FUZZ
@given(path=st.one_of(st.sampled_from(["/api/v1/chat/history", "/api/v1/chat/media/1/0"]),
                      st.tuples(st.integers(0, 2**70), st.integers(0, 2**70)).map(
                          lambda ids: f"/api/v1/chat/media/{ids[0]}/{ids[1]}")),
       query=QUERY, headers=HEADERS, sender=SENDER_ID)
def test_chat_history_and_photos(fuzz_client: Any, path: str, query: list[tuple[str, str]],
                                 headers: dict[str, str], sender: str) -> None:
    resp = fuzz_client.get(path, query_string=query_string(query), headers={**headers, "X-Warga-Sender": sender})
    no_5xx(resp, path)


@FUZZ
@given(update=st.one_of(UPDATE.map(body_of), RAW), signed=st.booleans(), headers=HEADERS)
def test_telegram_webhook(fuzz_client: Any, update: bytes, signed: bool, headers: dict[str, str]) -> None:
    if signed:
        headers = {**headers, "X-Telegram-Bot-Api-Secret-Token": SECRET}
    resp = fuzz_client.post("/webhooks/telegram", data=update, headers=headers)
    no_5xx(resp, "telegram")
    if signed and len(update) < 100_000:
        assert resp.status_code == 200       # authentic: always acknowledged


@FUZZ
@given(pairs=FORM, path=st.sampled_from(["/webhooks/twilio", "/webhooks/twilio/status"]), signed=st.booleans(),
       raw=st.one_of(st.none(), RAW), headers=HEADERS)
def test_twilio_webhooks(fuzz_client: Any, pairs: list[tuple[str, str]], path: str, signed: bool,
                         raw: bytes | None, headers: dict[str, str]) -> None:
    body = raw if raw is not None else urlencode(pairs).encode()
    headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    if signed and raw is None:
        headers["X-Twilio-Signature"] = sign(AUTH_TOKEN, PUBLIC_URL + path, pairs)
    resp = fuzz_client.post(path, data=body, headers=headers)
    no_5xx(resp, path)


@FUZZ
@given(path=st.sampled_from(["/healthz", "/readyz", "/", "/console/login", "/console/", "/nope"]),
       query=QUERY, headers=HEADERS)
def test_pages_and_health(fuzz_client: Any, path: str, query: list[tuple[str, str]],
                          headers: dict[str, str]) -> None:
    no_5xx(fuzz_client.get(path, query_string=query_string(query), headers=headers), path)


@FUZZ
@given(form=st.lists(st.tuples(st.one_of(st.sampled_from(["username", "password", "csrf", "next"]), TEXT),
                               st.one_of(TEXT, st.just("admin"))), max_size=4),
       query=QUERY, raw=st.one_of(st.none(), RAW), content_type=CONTENT_TYPE)
def test_console_login(fuzz_client: Any, form: list[tuple[str, str]], query: list[tuple[str, str]],
                       raw: bytes | None, content_type: str) -> None:
    body = raw if raw is not None else query_string(form).encode()
    resp = fuzz_client.post("/console/login", data=body, query_string=query_string(query),
                            headers={"Content-Type": content_type or "application/x-www-form-urlencoded"})
    no_5xx(resp, "console login")
