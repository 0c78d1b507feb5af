"""TelegramChannel: a table of real-shaped updates, and sends against a local fake Bot API."""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote

import pytest

from channels.base import (Button, Channel, DeliveryStatus, InboundMessage, Location, Media,
                           OutboundMessage, SendError, SendFailure, Unparseable, WebhookRejected, WebhookRequest)
from channels.telegram import (MAX_TEXT, POLLING_URL, TelegramChannel, TelegramConfig,
                               callback_data_for)
from channels.text_split import utf16_len
from tests.fakes._http import unused_port
from tests.fakes.fake_telegram import FakeTelegram

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "telegram"
TOKEN = "123456:TEST-token"
SECRET = "s3cret-Token_1"
NOW = datetime(2024, 11, 28, 9, 30, tzinfo=timezone.utc)
HOOK = "https://warga.example.go.id/webhooks/telegram"
SITI = "telegram:3527065"


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def webhook(body: bytes, secret: str | None = SECRET) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-telegram-bot-api-secret-token"] = secret
    return WebhookRequest(url=HOOK, headers=headers, body=body)


def payload(name: str) -> WebhookRequest:
    return webhook((PAYLOADS / name).read_bytes())


def config(fake: FakeTelegram | None = None, **kw: Any) -> TelegramConfig:
    base = {"api_base_url": fake.url if fake else f"http://127.0.0.1:{unused_port()}",
            "connect_timeout": 1.0, "read_timeout": 2.0, "write_timeout": 2.0}
    base.update(kw)
    return TelegramConfig(token=TOKEN, webhook_secret=SECRET, **base)


@pytest.fixture
def offline() -> Iterator[TelegramChannel]:
    """A channel whose API is unreachable: parsing must never need it."""
    channel = TelegramChannel(config(), clock=lambda: NOW)
    yield channel
    channel.close()


@pytest.fixture
def channel(fake_telegram: FakeTelegram) -> Iterator[TelegramChannel]:
    channel = TelegramChannel(config(fake_telegram), clock=lambda: NOW)
    yield channel
    channel.close()


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "warga-telegram" and t.is_alive()]


# -- verify ----------------------------------------------------------------------------

def test_is_a_channel(offline: TelegramChannel) -> None:
    assert isinstance(offline, Channel)
    assert offline.name == "telegram"


@pytest.mark.parametrize("headers, ok", [
    ({"x-telegram-bot-api-secret-token": SECRET}, True),
    ({"X-Telegram-Bot-Api-Secret-Token": SECRET}, True),       # any header-name case
    ({}, False),
    ({"x-telegram-bot-api-secret-token": ""}, False),
    ({"x-telegram-bot-api-secret-token": "wrong"}, False),
    ({"x-telegram-bot-api-secret-token": SECRET[:-1]}, False),  # a prefix is not enough
    ({"x-telegram-bot-api-secret-token": SECRET + "x"}, False),
], ids=["ok", "mixed-case-name", "missing", "empty", "wrong", "prefix", "longer"])
def test_verify_secret_header(offline: TelegramChannel, headers: dict[str, str], ok: bool) -> None:
    request = WebhookRequest(url=HOOK, headers=headers, body=b"{}")
    if ok:
        offline.verify(request)
    else:
        with pytest.raises(WebhookRejected):
            offline.verify(request)


def test_verify_rejects_everything_without_a_configured_secret() -> None:
    channel = TelegramChannel(TelegramConfig(token=TOKEN))
    with pytest.raises(WebhookRejected):
        channel.verify(webhook(b"{}", secret=""))
    with pytest.raises(WebhookRejected):
        channel.verify(webhook(b"{}", secret="anything"))


def test_config_refuses_a_secret_telegram_would_reject_and_hides_secrets() -> None:
    with pytest.raises(ValueError):
        TelegramConfig(token=TOKEN, webhook_secret="bad secret!")
    with pytest.raises(ValueError):
        TelegramConfig(token="")
    assert TOKEN not in repr(TelegramConfig(token=TOKEN, webhook_secret=SECRET))
    assert SECRET not in repr(TelegramConfig(token=TOKEN, webhook_secret=SECRET))


# -- parse: the payload table ------------------------------------------------------------

PHOTO = Media("tg-file:AgACAgUAAxkBAAIBZ2dHlarge", "image/jpeg", "Sampah menumpuk di Jl. Melati RT 03")
LONG_PAYLOAD = "confirm_complaint:JKT-2024-000123:category=jalan_rusak:location=-6.175392,106.827153"

MESSAGES: list[tuple[str, dict[str, Any]]] = [
    ("text.json", dict(kind="message", external_id="731245001:3527065:41", sender=SITI,
                       text="Jalan di depan rumah saya berlubang besar, sudah dua minggu belum diperbaiki.",
                       sender_name="Siti Rahayu", received_at=at(1732780800))),
    ("command_start.json", dict(kind="message", text="/start", external_id="731245002:3527065:42")),
    ("command_status.json", dict(kind="message", text="/status JKT-2024-000123")),   # "@WargaKotaBot" dropped
    ("command_batal.json", dict(kind="message", text="/batal")),
    ("photo_caption.json", dict(kind="message", text="Sampah menumpuk di Jl. Melati RT 03", media=(PHOTO,))),
    ("document.json", dict(kind="message", text="Surat pengantar dari RT", media=(
        Media("tg-file:BQACAgUAAxkBAAIBaGdHdoc", "application/pdf", "Surat pengantar dari RT"),))),
    ("voice.json", dict(kind="message", text="", media=(Media("tg-file:AwACAgUAAxkBAAIBaWdHvoice", "audio/ogg"),))),
    ("sticker.json", dict(kind="message", media=(Media("tg-file:CAACAgIAAxkBAAIBbGdHsticker", "image/webp"),))),
    ("location.json", dict(kind="message", text="", location=Location(-6.175392, 106.827153))),
    ("venue.json", dict(kind="message", location=Location(
        -6.2, 106.816666, "Bundaran HI, Jl. M.H. Thamrin, Menteng, Jakarta Pusat"))),
    ("contact_own.json", dict(kind="message", phone="+6281234567890", text="")),
    # Someone else's contact card must not link that number to this citizen.
    ("contact_other.json", dict(kind="message", phone=None, text="Pak RT +62 811-2233-4455")),
    ("callback_query.json", dict(kind="message", text="category:jalan_rusak", reply_to_button="category:jalan_rusak",
                                 callback_id="4382bfdwdsb323b2d9", external_id="731245012:cb:4382bfdwdsb323b2d9",
                                 sender=SITI, received_at=NOW)),
    # A payload over 64 bytes went out as a digest: the title comes back as the text.
    ("callback_digest.json", dict(kind="message", text="Ya, kirim", reply_to_button=callback_data_for(LONG_PAYLOAD),
                                  callback_id="4382bfdwdsb323b2e0")),
    ("edited_message.json", dict(kind="edited", external_id="731245014:3527065:41:edit", received_at=at(1732780999),
                                 text="Jalan di depan rumah saya berlubang besar, sudah tiga minggu.")),
    ("channel_post.json", dict(kind="group", sender="telegram:-1001234567890", sender_name="Info Kelurahan Menteng")),
    ("group_message.json", dict(kind="group", sender="telegram:-1009876543210", text="Lampu jalan di gang 3 mati lagi")),
    ("my_chat_member_kicked.json", dict(kind="member", event="blocked", text="kicked", sender=SITI,
                                        external_id="731245017:member:3527065", received_at=at(1732781020))),
    ("my_chat_member_unblocked.json", dict(kind="member", event="unblocked", text="member")),
    ("message_reaction.json", dict(kind="ignored", sender=SITI, external_id="731245019:message_reaction")),
    ("dice.json", dict(kind="ignored", text="")),
]

UNPARSEABLE: list[tuple[str, str, str | None]] = [
    ("unknown_kind.json", "unsupported update kind: unknown:future_thing", "731245021:unparseable"),
    ("only_update_id.json", "unsupported update kind", "731245022:unparseable"),
    ("missing_date.json", "KeyError", "731245023:unparseable"),
    ("missing_is_bot.json", "TypeError", "731245024:unparseable"),
    ("message_without_chat.json", "message without chat", "731245025:unparseable"),
    ("no_update_id.json", "update_id missing", None),
    ("not_object.json", "not an object", None),
    ("malformed.json", "invalid JSON", None),
    ("empty.json", "empty body", None),
]


@pytest.mark.parametrize("name, expected", MESSAGES, ids=[n for n, _ in MESSAGES])
def test_parse_payload_table(offline: TelegramChannel, name: str, expected: dict[str, Any]) -> None:
    items = offline.parse_inbound(payload(name))
    assert len(items) == 1
    item = items[0]
    assert isinstance(item, InboundMessage), item
    assert item.channel == "telegram"
    assert item.raw == (PAYLOADS / name).read_text()
    for attr, value in expected.items():
        assert getattr(item, attr) == value, attr


@pytest.mark.parametrize("name, reason, key", UNPARSEABLE, ids=[n for n, _, _ in UNPARSEABLE])
def test_parse_unparseable_table(offline: TelegramChannel, name: str, reason: str, key: str | None) -> None:
    items = offline.parse_inbound(payload(name))
    assert len(items) == 1
    item = items[0]
    assert isinstance(item, Unparseable), item
    assert reason in item.reason
    assert item.raw == (PAYLOADS / name).read_text()
    assert item.received_at == NOW
    if key is not None:
        assert item.external_id == key
    else:       # no update_id: the key is derived from the body, so a retry maps to the same key
        again = offline.parse_inbound(payload(name))[0]
        assert item.external_id.startswith("raw:") and again.external_id == item.external_id


def test_parsing_never_touches_the_network(offline: TelegramChannel) -> None:
    for path in PAYLOADS.iterdir():
        offline.parse_inbound(payload(path.name))
    assert not loop_threads()


def test_an_edit_never_collides_with_the_original(offline: TelegramChannel) -> None:
    [original] = offline.parse_inbound(payload("text.json"))
    [edit] = offline.parse_inbound(payload("edited_message.json"))
    assert original.external_id != edit.external_id
    assert original.external_id.split(":")[1:] == edit.external_id.split(":")[1:3]   # same chat and message_id


def test_a_provider_retry_gives_the_same_external_id(offline: TelegramChannel) -> None:
    first = [offline.parse_inbound(payload(p.name))[0].external_id for p in sorted(PAYLOADS.iterdir())]
    second = [offline.parse_inbound(payload(p.name))[0].external_id for p in sorted(PAYLOADS.iterdir())]
    assert first == second
    assert len(set(first)) == len(first)


# -- send ----------------------------------------------------------------------------------

def out(text: str = "", **kw: Any) -> OutboundMessage:
    return OutboundMessage(channel="telegram", recipient=SITI, text=text, **kw)


def test_send_text_makes_exactly_one_sendmessage(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    result = channel.send(out("Laporan Anda sudah kami terima. Nomor tiket: JKT-2024-000123."))
    [call] = fake_telegram.calls()
    assert call.method == "sendMessage" and call.token == TOKEN
    assert call.request.method == "POST" and call.request.path == f"/bot{TOKEN}/sendMessage"
    assert call.params == {"chat_id": "3527065",
                           "text": "Laporan Anda sudah kami terima. Nomor tiket: JKT-2024-000123."}
    assert result.status == DeliveryStatus.sent
    assert result.provider_message_ids == ("3527065:1001",)


def sentences(n: int) -> str:
    return " ".join(f"Kalimat nomor {i} menjelaskan langkah penanganan laporan warga dengan rinci." for i in range(n))


def test_long_text_is_split_on_sentence_boundaries_in_order(channel: TelegramChannel,
                                                            fake_telegram: FakeTelegram) -> None:
    text = sentences(150)                       # about 11,000 characters
    result = channel.send(out(text))
    texts = [c.params["text"] for c in fake_telegram.calls("sendMessage")]
    assert len(texts) == 3 == len(result.provider_message_ids)
    assert all(utf16_len(t) <= MAX_TEXT for t in texts)
    assert all(t.endswith("rinci.") for t in texts)
    assert " ".join(texts) == text
    assert result.note == "sent as 3 messages"


def test_split_counts_utf16_units_like_telegram(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    text = "Terima kasih 🙏 " * 400                  # 6,400 characters but 6,800 UTF-16 units
    channel.send(out(text))
    texts = [c.params["text"] for c in fake_telegram.calls("sendMessage")]
    assert len(texts) == 2 and all(utf16_len(t) <= MAX_TEXT for t in texts)


def test_buttons_become_an_inline_keyboard(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    channel.send(out("Kirim laporan ini?", buttons=(Button("Ya", "confirm:yes"), Button("Tidak", "confirm:no"))))
    [call] = fake_telegram.calls("sendMessage")
    assert call.json_param("reply_markup") == {"inline_keyboard": [[
        {"text": "Ya", "callback_data": "confirm:yes"}, {"text": "Tidak", "callback_data": "confirm:no"}]]}


def test_long_choices_go_one_per_row_and_long_payloads_as_digests(channel: TelegramChannel,
                                                                  fake_telegram: FakeTelegram) -> None:
    buttons = (Button("Jalan rusak / berlubang", "category:jalan_rusak"),
               Button("Sampah menumpuk", "category:sampah"),
               Button("Ya, kirim", LONG_PAYLOAD))
    channel.send(out("Pilih kategori:", buttons=buttons))
    rows = fake_telegram.calls("sendMessage")[0].json_param("reply_markup")["inline_keyboard"]
    assert [len(r) for r in rows] == [1, 1, 1]
    data = [r[0]["callback_data"] for r in rows]
    assert data[:2] == ["category:jalan_rusak", "category:sampah"]
    assert data[2] == callback_data_for(LONG_PAYLOAD) and len(data[2].encode()) <= 64


def test_callback_data_for_is_stable_and_within_64_bytes() -> None:
    assert callback_data_for("category:sampah") == "category:sampah"
    assert callback_data_for("x" * 64) == "x" * 64
    for payload in ("x" * 65, "é" * 33, "sha256:short", LONG_PAYLOAD):
        data = callback_data_for(payload)
        assert data.startswith("sha256:") and len(data.encode()) <= 64
        assert data == callback_data_for(payload)
    assert callback_data_for("a" * 65) != callback_data_for("b" * 65)


def test_a_request_contact_button_becomes_a_reply_keyboard(channel: TelegramChannel,
                                                           fake_telegram: FakeTelegram) -> None:
    channel.send(out("Boleh kami minta nomor HP Anda?",
                     buttons=(Button("Bagikan nomor HP", "share_phone", kind="request_contact"),)))
    markup = fake_telegram.calls("sendMessage")[0].json_param("reply_markup")
    assert markup == {"keyboard": [[{"text": "Bagikan nomor HP", "request_contact": True}]],
                      "resize_keyboard": True, "one_time_keyboard": True}


def test_location_reply_with_keyboard_on_the_last_message(channel: TelegramChannel,
                                                          fake_telegram: FakeTelegram) -> None:
    result = channel.send(out("Kantor kelurahan terdekat:", location=Location(-6.1951, 106.8231),
                              buttons=(Button("Oke", "ok"),)))
    calls = fake_telegram.calls()
    assert [c.method for c in calls] == ["sendMessage", "sendLocation"]
    assert "reply_markup" not in calls[0].params
    assert calls[1].params["latitude"] == "-6.1951" and calls[1].params["longitude"] == "106.8231"
    assert calls[1].json_param("reply_markup") == {"inline_keyboard": [[{"text": "Oke", "callback_data": "ok"}]]}
    assert len(result.provider_message_ids) == 2


def test_photo_with_a_short_text_goes_as_one_captioned_photo(channel: TelegramChannel,
                                                             fake_telegram: FakeTelegram) -> None:
    channel.send(out("Petugas sudah memperbaiki jalan ini.", media_urls=("https://warga.example.go.id/m/1.jpg",)))
    [call] = fake_telegram.calls()
    assert call.method == "sendPhoto"
    assert call.params == {"chat_id": "3527065", "photo": "https://warga.example.go.id/m/1.jpg",
                           "caption": "Petugas sudah memperbaiki jalan ini."}


def test_photo_with_a_long_text_sends_text_then_photo(channel: TelegramChannel,
                                                      fake_telegram: FakeTelegram) -> None:
    channel.send(out(sentences(20), media_urls=("https://warga.example.go.id/m/1.jpg",)))
    calls = fake_telegram.calls()
    assert [c.method for c in calls] == ["sendMessage", "sendPhoto"]
    assert "caption" not in calls[1].params


def test_nothing_to_send_and_bad_recipients_are_refused_without_a_request(
        channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    with pytest.raises(SendError) as empty:
        channel.send(out("   "))
    assert empty.value.code == "empty" and not empty.value.retryable
    with pytest.raises(SendError) as bad:
        channel.send(OutboundMessage("telegram", "tel:+6281234567890", "Halo"))
    assert bad.value.code == "bad_recipient" and not bad.value.retryable
    assert fake_telegram.calls() == []


# -- errors --------------------------------------------------------------------------------

ERRORS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("429", dict(status=429, description="Too Many Requests: retry after 7", retry_after=7),
     dict(retryable=True, retry_after=7.0, code="429", kind=SendFailure.throttled)),
    ("403-blocked", dict(status=403, description="Forbidden: bot was blocked by the user"),
     dict(retryable=False, kind=SendFailure.contact_unreachable, code="403")),
    ("403-deactivated", dict(status=403, description="Forbidden: user is deactivated"),
     dict(retryable=False, kind=SendFailure.contact_unreachable)),
    # Not every 403 means the citizen left (courier PR 688).
    ("403-cannot-initiate", dict(status=403, description="Forbidden: bot can't initiate conversation with a user"),
     dict(retryable=False, kind=SendFailure.permanent)),
    ("400", dict(status=400, description="Bad Request: chat not found"),
     dict(retryable=False, kind=SendFailure.permanent, code="400")),
    ("400-migrated", dict(status=400, description="Bad Request: group chat was upgraded to a supergroup chat",
                          migrate_to_chat_id=-1001234567890),
     dict(retryable=False, code="chat_migrated")),
    ("500", dict(status=500, description="Internal Server Error"),
     dict(retryable=True, outcome_unknown=False, kind=SendFailure.retry_later)),
]


@pytest.mark.parametrize("label, fail, expected", ERRORS, ids=[e[0] for e in ERRORS])
def test_send_errors_are_mapped(channel: TelegramChannel, fake_telegram: FakeTelegram, label: str,
                                fail: dict[str, Any], expected: dict[str, Any]) -> None:
    fake_telegram.fail("sendMessage", **fail)
    with pytest.raises(SendError) as err:
        channel.send(out("Halo"))
    for attr, value in expected.items():
        assert getattr(err.value, attr) == value, attr


@pytest.mark.filterwarnings("error")
def test_429_maps_even_with_warnings_as_errors(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    # Without PTB_TIMEDELTA, PTB 22 builds RetryAfter with a deprecation warning, which
    # "filterwarnings = error" turns into the exception instead of RetryAfter (notes §3).
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(SendError) as err:
        channel.send(out("Halo"))
    assert err.value.retryable and err.value.retry_after == 3.0


def test_html_502_is_retryable_and_not_sent(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_html("sendMessage", 502)
    with pytest.raises(SendError) as err:
        channel.send(out("Halo"))
    assert err.value.retryable and not err.value.outcome_unknown and err.value.code == "network"


def test_read_timeout_is_retryable_with_unknown_outcome(fake_telegram: FakeTelegram) -> None:
    fake_telegram.delay("sendMessage", 1.5)
    with TelegramChannel(config(fake_telegram, read_timeout=0.3)) as channel:
        with pytest.raises(SendError) as err:
            channel.send(out("Halo"))
    assert err.value.retryable and err.value.outcome_unknown and err.value.code == "timeout"


def test_connection_refused_is_retryable_and_known_unsent() -> None:
    with TelegramChannel(config(None)) as channel:
        with pytest.raises(SendError) as err:
            channel.send(out("Halo"))
    assert err.value.retryable and not err.value.outcome_unknown


def test_a_wrong_token_is_not_retryable(fake_telegram: FakeTelegram) -> None:
    cfg = TelegramConfig(token="999:WRONG", api_base_url=fake_telegram.url)
    with TelegramChannel(cfg) as channel:
        with pytest.raises(SendError) as err:
            channel.send(out("Halo"))
    assert not err.value.retryable and err.value.code == "401"


def test_a_failed_part_reports_progress_and_a_retry_resumes_after_it(
        channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    message = out(sentences(150))
    parts = [dict(p.args)["text"] for p in channel.plan(message)]
    assert len(parts) == 3
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, after=1)
    with pytest.raises(SendError) as err:
        channel.send(message)
    assert err.value.parts_sent == 1 and err.value.sent_ids == ("3527065:1001",)
    retry = OutboundMessage(**{**{f: getattr(message, f) for f in message.__slots__},
                               "resume_from": err.value.parts_sent})
    result = channel.send(retry)
    attempts = [c.params["text"] for c in fake_telegram.calls("sendMessage")]
    # Part 1 went out once; part 2 was refused with 429 (not delivered) and then sent once.
    assert attempts == [parts[0], parts[1], parts[1], parts[2]]
    assert len(result.provider_message_ids) == 2


# -- the sync bridge (pattern D) -------------------------------------------------------------

def test_the_loop_starts_lazily_and_restarts_after_close(fake_telegram: FakeTelegram) -> None:
    before = len(loop_threads())
    channel = TelegramChannel(config(fake_telegram))
    assert len(loop_threads()) == before
    channel.send(out("satu"))
    assert len(loop_threads()) == before + 1
    channel.close()
    assert len(loop_threads()) == before
    channel.send(out("dua"))
    channel.close()
    assert [c.params["text"] for c in fake_telegram.calls()] == ["satu", "dua"]


def test_one_bot_reuses_keep_alive_connections(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    # The fake keeps connections open, which is what exposes a Bot used across event loops
    # ("Event loop is closed" on every second call, notes §2 pattern C).
    for i in range(30):
        channel.send(out(f"pesan {i}"))
    requests = fake_telegram.requests
    assert len(requests) == 30
    assert len({r.peer for r in requests}) < 5


def test_many_threads_share_one_bot(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    def send(i: int) -> tuple[str, ...]:
        return channel.send(out(f"pesan {i}")).provider_message_ids

    with ThreadPoolExecutor(8) as pool:
        ids = [i for r in pool.map(send, range(64)) for i in r]
    assert len(set(ids)) == 64
    assert sorted(c.params["text"] for c in fake_telegram.calls()) == sorted(f"pesan {i}" for i in range(64))
    assert len(loop_threads()) == 1


def test_a_forked_child_builds_its_own_loop(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    channel.send(out("dari induk"))                 # the parent's loop thread now exists
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # the child: gunicorn --preload after fork
        status = 1
        try:
            result = channel.send(out("dari anak"))
            os.write(write_fd, json.dumps(result.provider_message_ids).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    data = os.read(read_fd, 1000)
    os.close(read_fd)
    assert os.WEXITSTATUS(status) == 0 and len(json.loads(data)) == 1
    assert [c.params["text"] for c in fake_telegram.calls()] == ["dari induk", "dari anak"]


# -- other Bot API calls ---------------------------------------------------------------------

def test_answer_callback(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    assert channel.answer_callback("4382bfdwdsb323b2d9") is True
    assert channel.answer_callback("4382bfdwdsb323b2e0", text="Dicatat") is True
    calls = fake_telegram.calls("answerCallbackQuery")
    assert [c.params for c in calls] == [{"callback_query_id": "4382bfdwdsb323b2d9"},
                                         {"callback_query_id": "4382bfdwdsb323b2e0", "text": "Dicatat"}]
    fake_telegram.fail("answerCallbackQuery", 400,
                       "Bad Request: query is too old and response timeout expired or query ID is invalid")
    assert channel.answer_callback("old") is False


def test_fetch_media_downloads_through_getfile(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    fake_telegram.add_file("AgACAgUAAxkBAAIBZ2dHlarge", b"\xff\xd8\xff\xe0fake-jpeg", "photos/file_7.jpg")
    content_type, data = channel.fetch_media("tg-file:AgACAgUAAxkBAAIBZ2dHlarge")
    assert (content_type, data) == ("image/jpeg", b"\xff\xd8\xff\xe0fake-jpeg")
    assert fake_telegram.calls("getFile")[0].params == {"file_id": "AgACAgUAAxkBAAIBZ2dHlarge"}
    assert [unquote(r.path) for r in fake_telegram.downloads()] == [f"/file/bot{TOKEN}/photos/file_7.jpg"]
    with pytest.raises(SendError) as err:
        channel.fetch_media("tg-file:unknown")
    assert not err.value.retryable


def test_fetch_media_refuses_oversized_files(fake_telegram: FakeTelegram) -> None:
    fake_telegram.add_file("big", b"x" * 100, "documents/file_9.pdf")
    with TelegramChannel(config(fake_telegram, max_media_bytes=10)) as channel:
        with pytest.raises(SendError) as err:
            channel.fetch_media("tg-file:big")
    assert err.value.code == "too_large" and fake_telegram.downloads() == []


def test_set_webhook_sends_url_secret_and_allowed_updates(channel: TelegramChannel,
                                                          fake_telegram: FakeTelegram) -> None:
    channel.set_webhook(HOOK)
    [call] = fake_telegram.calls("setWebhook")
    assert call.params["url"] == HOOK
    assert call.params["secret_token"] == SECRET
    assert call.json_param("allowed_updates") == ["message", "edited_message", "channel_post",
                                                  "callback_query", "my_chat_member"]
    assert call.params["max_connections"] == "40"
    info = channel.get_webhook_info()
    assert info.url == HOOK and info.pending_update_count == 0
    channel.delete_webhook(drop_pending_updates=True)
    assert fake_telegram.calls("deleteWebhook")[0].params == {"drop_pending_updates": "true"}
    assert channel.get_webhook_info().url == ""


def test_set_webhook_refuses_bad_input_before_calling(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    with pytest.raises(ValueError):
        channel.set_webhook("http://warga.example.go.id/webhooks/telegram")
    with pytest.raises(ValueError):
        channel.set_webhook(HOOK, secret="has spaces")
    assert fake_telegram.calls() == []


def test_webhook_info_reports_the_last_error(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    fake_telegram.webhook_info_extra = {"url": HOOK, "pending_update_count": 3500,
                                        "last_error_date": 1732781000,
                                        "last_error_message": "Wrong response from the webhook: 500"}
    info = channel.get_webhook_info()
    assert info.pending_update_count == 3500
    assert info.last_error_date == at(1732781000)
    assert info.last_error_message == "Wrong response from the webhook: 500"


def test_get_me_checks_the_token(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    assert channel.get_me() == (123456, "warga_test_bot")


# -- polling -------------------------------------------------------------------------------

def test_polling_returns_raw_updates_for_the_same_parse_path(channel: TelegramChannel,
                                                             fake_telegram: FakeTelegram) -> None:
    good = json.loads((PAYLOADS / "text.json").read_text())
    bad = json.loads((PAYLOADS / "missing_date.json").read_text())
    fake_telegram.push_update(good)
    fake_telegram.push_update(bad)
    requests, offset = channel.poll_updates(None, timeout=0)
    assert offset == 731245024
    assert [r.url for r in requests] == [POLLING_URL, POLLING_URL]
    items = [channel.parse_inbound(r)[0] for r in requests]
    assert isinstance(items[0], InboundMessage) and items[0].external_id == "731245001:3527065:41"
    assert isinstance(items[1], Unparseable)        # stored raw; it does not block the next poll
    call = fake_telegram.calls("getUpdates")[0]
    assert call.params["timeout"] == "0" and "offset" not in call.params
    assert call.json_param("allowed_updates")[0] == "message"

    requests, next_offset = channel.poll_updates(offset, timeout=0)
    assert requests == [] and next_offset == offset
    assert fake_telegram.calls("getUpdates")[1].params["offset"] == str(offset)


def test_polling_while_a_webhook_is_set_is_a_409(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    channel.set_webhook(HOOK)
    with pytest.raises(SendError) as err:
        channel.poll_updates(None, timeout=0)
    assert err.value.code == "409" and not err.value.retryable


def test_polling_maps_429_and_network_errors(fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail("getUpdates", 429, "Too Many Requests: retry after 5", retry_after=5)
    with TelegramChannel(config(fake_telegram)) as channel:
        with pytest.raises(SendError) as err:
            channel.poll_updates(None, timeout=0)
    assert err.value.retryable and err.value.retry_after == 5.0
    with TelegramChannel(config(None)) as channel:
        with pytest.raises(SendError) as err:
            channel.poll_updates(None, timeout=0)
    assert err.value.retryable
