"""POST /webhooks/telegram through the real Flask app, on SQLite and PostgreSQL.

Every update in tests/payloads/telegram/ is posted to the endpoint (a table: one case per
file, plus a check that no file is left out). For each one: the HTTP answer, what the
database stores (kind, text, media, location, button payload; unparseable updates with
the reason and the raw body), whether the citizen gets an answer through the local fake
Bot API, and that Telegram's retry of the same update stores and sends nothing new.

Also: a bad or missing secret is refused with 403 and stores nothing; a button press is
acknowledged (answerCallbackQuery) and its payload, not the prompt's text, drives the
dialogue; a blocked bot (my_chat_member "kicked") marks the address unreachable; an
oversized body gets 413 in JSON; the endpoint of a switched-off channel is a 404.

The ``world`` fixtures are in tests/bot/conftest.py, the helpers they build on in
tests/bot/world.py. One migrated database per module and kind is emptied before every test
(migrating a fresh PostgreSQL database per case would cost seconds each); every test gets its
own app, workers and fake providers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from bot.store.models import Conversation, Message
from tests.bot.world import SITI, SITI_CHAT, SQLITE_ONLY, TELEGRAM, World, media_keys, press, update
from tests.providers import SECRET, provider_env
from tests.support import wait_for

# -- the payload table ----------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """What one payload file must leave behind.

    ``stored``: Message attributes of the one inbound row. ``answered``: the dialogue replies
    (a sendMessage reaches the fake). ``reason``: for unparseable updates, a part of the
    stored reason.
    """

    stored: dict[str, Any]
    answered: bool = False
    reason: str | None = None


PHOTO = [{"url": "tg-file:AgACAgUAAxkBAAIBZ2dHlarge", "content_type": "image/jpeg",
          "caption": "Sampah menumpuk di Jl. Melati RT 03"}]

TABLE: dict[str, Case] = {
    "text.json": Case(dict(kind="message", urn=SITI, external_id="731245001:3527065:41",
                           text="Jalan di depan rumah saya berlubang besar, sudah dua minggu belum diperbaiki."),
                      answered=True),
    "command_start.json": Case(dict(kind="message", text="/start"), answered=True),
    "command_status.json": Case(dict(kind="message", text="/status JKT-2024-000123"), answered=True),
    "command_batal.json": Case(dict(kind="message", text="/batal"), answered=True),
    "photo_caption.json": Case(dict(kind="message", text="Sampah menumpuk di Jl. Melati RT 03", media=PHOTO),
                               answered=True),
    "document.json": Case(dict(kind="message", text="Surat pengantar dari RT", media=[
        {"url": "tg-file:BQACAgUAAxkBAAIBaGdHdoc", "content_type": "application/pdf",
         "caption": "Surat pengantar dari RT"}]), answered=True),
    "voice.json": Case(dict(kind="message", text="", media=[
        {"url": "tg-file:AwACAgUAAxkBAAIBaWdHvoice", "content_type": "audio/ogg", "caption": None}]),
        answered=True),
    "sticker.json": Case(dict(kind="message", media=[
        {"url": "tg-file:CAACAgIAAxkBAAIBbGdHsticker", "content_type": "image/webp", "caption": None}]),
        answered=True),
    "location.json": Case(dict(kind="message", text="", latitude=-6.175392, longitude=106.827153,
                               address_text=None), answered=True),
    "venue.json": Case(dict(kind="message", latitude=-6.2, longitude=106.816666,
                            address_text="Bundaran HI, Jl. M.H. Thamrin, Menteng, Jakarta Pusat"),
                       answered=True),
    "contact_own.json": Case(dict(kind="message", shared_phone="+6281234567890"), answered=True),
    # Someone else's contact card is just text: it must not link that number to Siti.
    "contact_other.json": Case(dict(kind="message", shared_phone=None, text="Pak RT +62 811-2233-4455"),
                               answered=True),
    # A pressed button "says" its payload, not the prompt's text.
    "callback_query.json": Case(dict(kind="message", text="category:jalan_rusak",
                                     button_payload="category:jalan_rusak",
                                     external_id="731245012:cb:4382bfdwdsb323b2d9"), answered=True),
    "callback_digest.json": Case(dict(kind="message", text="Ya, kirim",
                                      button_payload="sha256:TrJiM2G_jHi0Y8GDmxSVbHFTQrqFZ-g5"),
                                 answered=True),
    # Recorded for the transcript, never answered as a new message.
    "edited_message.json": Case(dict(kind="edited", status="recorded", external_id="731245014:3527065:41:edit",
                                     text="Jalan di depan rumah saya berlubang besar, sudah tiga minggu.")),
    "channel_post.json": Case(dict(kind="group", status="recorded", urn="telegram:-1001234567890",
                                   text="Kerja bakti hari Minggu pukul 07.00.")),
    "group_message.json": Case(dict(kind="group", status="recorded", urn=SITI,     # the member's own id
                                    text="Lampu jalan di gang 3 mati lagi")),
    "my_chat_member_kicked.json": Case(dict(kind="member", status="recorded", urn=SITI, text="kicked")),
    "my_chat_member_unblocked.json": Case(dict(kind="member", status="recorded", urn=SITI, text="member")),
    "message_reaction.json": Case(dict(kind="ignored", status="recorded", urn=SITI,
                                       external_id="731245019:message_reaction")),
    "dice.json": Case(dict(kind="ignored", status="recorded", text="")),
    # Authentic but not understood: stored raw with the reason, answered 200 (a non-2xx
    # would make Telegram re-send it for ever and hold every later update behind it).
    "unknown_kind.json": Case(dict(kind="unparseable", external_id="731245021:unparseable"),
                              reason="unsupported update kind: unknown:future_thing"),
    "only_update_id.json": Case(dict(kind="unparseable"), reason="unsupported update kind"),
    # python-telegram-bot refuses these; the tolerant reader still reads the message (issue 9).
    # (An older self-hosted Bot API server: no is_bot, no chat type.)
    "old_server_photo.json": Case(dict(kind="message", text="Pohon tumbang di Jl. Kenanga", urn=SITI, media=[
        {"url": "tg-file:AgACAgUAAxkBAAIBold-large", "content_type": "image/jpeg",
         "caption": "Pohon tumbang di Jl. Kenanga"}]), answered=True),
    "missing_date.json": Case(dict(kind="message", text="tanpa tanggal", urn=SITI), answered=True),
    "missing_is_bot.json": Case(dict(kind="message", text="halo", urn=SITI), answered=True),
    "message_without_chat.json": Case(dict(kind="unparseable"), reason="message without chat"),
    "no_update_id.json": Case(dict(kind="unparseable"), reason="update_id missing"),
    "not_object.json": Case(dict(kind="unparseable"), reason="not an object"),
    "malformed.json": Case(dict(kind="unparseable"), reason="invalid JSON"),
    "empty.json": Case(dict(kind="unparseable"), reason="empty body"),
}


def test_the_table_covers_every_payload_file() -> None:
    assert sorted(TABLE) == sorted(p.name for p in TELEGRAM.glob("*.json"))


@pytest.mark.parametrize("name", sorted(TABLE))
def test_payload_table(world: World, name: str) -> None:
    case = TABLE[name]
    body = (TELEGRAM / name).read_bytes()

    response = world.telegram(body)
    assert response.status_code == 200, response.data
    assert response.get_json() == {"ok": True}

    row = world.message(Message.direction == "in")
    assert row.channel == "telegram"
    assert row.raw == body.decode("utf-8")            # kept exactly as Telegram sent it
    for attr, want in case.stored.items():
        got = getattr(row, attr)
        assert (media_keys(got) if attr == "media" else got) == want, attr
    if case.reason is not None:
        assert row.status == "unparseable" and case.reason in (row.error_reason or "")
        assert row.conversation_id is None

    if case.answered:
        replies = world.wait_sent(row.id)
        chat_ids = {c.params["chat_id"] for c in world.fakes.telegram.calls("sendMessage")}
        assert chat_ids == {str(SITI_CHAT)}
        assert all(r.urn == row.urn and r.channel == "telegram" for r in replies)
    elif row.conversation_id is not None:
        assert row.urn is not None
        world.settle(row.urn)
        assert world.replies_to(row.id) == []
        assert world.messages(Message.direction == "out") == []
        assert world.fakes.telegram.calls("sendMessage") == []
    sends = len(world.fakes.telegram.calls("sendMessage"))

    # Telegram delivers the same update again (our 200 was lost): acknowledged, ignored.
    again = world.telegram(body)
    assert again.status_code == 200 and again.get_json() == {"ok": True}
    if row.conversation_id is not None:
        assert row.urn is not None
        world.settle(row.urn)
    assert [m.id for m in world.messages(Message.direction == "in")] == [row.id]
    assert len(world.fakes.telegram.calls("sendMessage")) == sends


@SQLITE_ONLY
@pytest.mark.parametrize("name, secret", [
    ("text.json", None), ("text.json", ""), ("text.json", "wrong-secret"), ("text.json", SECRET + "x"),
    ("text.json", SECRET[:-1]), ("callback_query.json", "wrong-secret"), ("malformed.json", None),
], ids=["missing", "empty", "wrong", "longer", "prefix", "button-wrong", "malformed-missing"])
def test_bad_or_missing_secret_is_403_and_stores_nothing(world: World, name: str, secret: str | None) -> None:
    response = world.telegram((TELEGRAM / name).read_bytes(), secret=secret)
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    assert world.messages() == []
    assert world.fakes.telegram.requests == []


@SQLITE_ONLY
def test_without_a_configured_secret_every_webhook_request_is_refused(make_world: Any) -> None:
    world = make_world(env={"TELEGRAM_WEBHOOK_SECRET": None})
    for secret in (None, "", SECRET):
        assert world.telegram((TELEGRAM / "text.json").read_bytes(), secret=secret).status_code == 403
    assert world.messages() == []


def test_button_press_is_acknowledged_and_its_payload_drives_the_dialogue(world: World) -> None:
    tg = world.fakes.telegram
    assert world.telegram(update(500001, text="lapor")).status_code == 200
    first = world.message(Message.direction == "in")
    [question] = world.wait_sent(first.id)
    ask = tg.calls("sendMessage")[-1]
    assert ask.params["text"].startswith("Laporan Anda tentang apa?")
    keyboard = ask.json_param("reply_markup")["inline_keyboard"]
    flood = next(k for row in keyboard for k in row if k["text"] == "Banjir")
    assert flood["callback_data"] == "cat:flood"

    # Siti presses "Banjir" under that very message (the id the fake gave it).
    assert question.provider_message_id is not None
    message_id = int(question.provider_message_id.split(":")[1])
    prompt = {"message_id": message_id, "date": int(time.time()), "text": ask.params["text"],
              "reply_markup": {"inline_keyboard": keyboard}}
    assert world.telegram(press(500002, "cat:flood", prompt)).status_code == 200

    pressed = world.message(Message.direction == "in", Message.external_id == "500002:cb:cbq500002")
    assert pressed.text == "cat:flood" and pressed.button_payload == "cat:flood"
    answered = wait_for(lambda: tg.calls("answerCallbackQuery"), what="answerCallbackQuery")
    assert [c.params["callback_query_id"] for c in answered] == ["cbq500002"]
    replies = world.wait_sent(pressed.id)
    # The payload chose the category (not the prompt's words): the next question is the story.
    assert replies[0].text.startswith("Silakan ceritakan masalahnya")
    with world.session() as s:
        conv = s.get(Conversation, pressed.conversation_id)
        assert conv is not None and conv.state["draft"]["category"] == "flood"

    # Telegram re-sends the press: not stored, not acknowledged, not answered again.
    assert world.telegram(press(500002, "cat:flood", prompt)).status_code == 200
    world.settle(SITI)
    assert len(world.messages(Message.direction == "in")) == 2
    assert len(tg.calls("answerCallbackQuery")) == 1
    assert len(tg.calls("sendMessage")) == 2


def test_edited_message_is_recorded_and_not_answered(world: World) -> None:
    original = update(600001, text="Lampu jalan di gang 3 mati")
    assert world.telegram(original).status_code == 200
    first = world.message(Message.direction == "in")
    world.wait_sent(first.id)
    sends = len(world.fakes.telegram.calls("sendMessage"))

    edited = {"update_id": 600002, "edited_message": {**original["message"], "edit_date": int(time.time()),
                                                       "text": "Lampu jalan di gang 3 dan 4 mati"}}
    assert world.telegram(edited).status_code == 200
    world.settle(SITI)
    row = world.message(Message.direction == "in", Message.kind == "edited")
    assert row.text == "Lampu jalan di gang 3 dan 4 mati" and row.status == "recorded"
    assert row.conversation_id == first.conversation_id           # in the same transcript
    assert world.replies_to(row.id) == []
    assert len(world.fakes.telegram.calls("sendMessage")) == sends


def test_blocking_the_bot_marks_the_address_unreachable_and_unblocking_clears_it(world: World) -> None:
    assert world.telegram(update(700001, text="halo")).status_code == 200
    world.wait_sent(world.message(Message.direction == "in").id, count=1)
    address = world.address(SITI)
    assert address is not None and address.unreachable_at is None

    assert world.telegram((TELEGRAM / "my_chat_member_kicked.json").read_bytes()).status_code == 200
    blocked = world.address(SITI)
    assert blocked is not None and blocked.unreachable_at is not None
    sends = len(world.fakes.telegram.calls("sendMessage"))
    later = world.notify(SITI, "Laporan WRG-2026-000001 (Jalan rusak) kini berstatus: Proses.")
    assert later.status == "failed" and "cannot be reached" in (later.error_reason or "")
    assert len(world.fakes.telegram.calls("sendMessage")) == sends       # never sent to Telegram

    assert world.telegram((TELEGRAM / "my_chat_member_unblocked.json").read_bytes()).status_code == 200
    unblocked = world.address(SITI)
    assert unblocked is not None and unblocked.unreachable_at is None


def test_group_and_channel_posts_are_stored_and_never_answered(world: World) -> None:
    for name in ("group_message.json", "channel_post.json"):
        assert world.telegram((TELEGRAM / name).read_bytes()).status_code == 200
    world.settle(SITI, "telegram:-1001234567890")
    rows = world.messages(Message.direction == "in")
    assert [(r.kind, r.urn) for r in rows] == [("group", SITI),
                                               ("group", "telegram:-1001234567890")]
    assert world.messages(Message.direction == "out") == []
    assert world.fakes.telegram.requests == []


@SQLITE_ONLY
def test_oversized_body_is_413_json_and_stores_nothing(world: World) -> None:
    limit = world.settings.server.max_request_kb * 1024
    big = update(800001, text="x" * limit)
    response = world.telegram(big)
    assert response.status_code == 413
    assert response.is_json and response.get_json()["error"] == "request_entity_too_large"
    assert world.messages() == []


@SQLITE_ONLY
def test_switched_off_channel_answers_404(make_world: Any) -> None:
    # No TELEGRAM_BOT_TOKEN (nor Twilio secrets): the channels stay off though enabled.
    off = make_world(env={k: None for k in provider_env(make_world.fakes)})
    assert "telegram" not in off.rt.channels
    response = off.telegram((TELEGRAM / "text.json").read_bytes())
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"

    # Secrets present, but the city switched Telegram off in channels.enabled.
    web_only = make_world(**{"channels.enabled": ["web"]})
    assert web_only.telegram((TELEGRAM / "text.json").read_bytes()).status_code == 404
    assert web_only.messages() == []
