"""Three citizens, three channels, one dialogue: the real app end to end, fake providers only.

Must hold (issue 3): "A Telegram update, an SMS and a WhatsApp message, each carrying text,
media and a location, reach the same dialogue and get a reply on the channel they came from;
the transcript in the database shows all of it with delivery statuses", and "Sending each of
the three a second time (provider retry) stores nothing new and sends nothing new".

Each citizen files a complaint by text, shares where (a Telegram location, a typed address
on SMS, a WhatsApp location pin), sends a photo and confirms: with the inline "Kirim" button
on Telegram, by replying "1" to the numbered choices on SMS and WhatsApp. Every request to
the fakes is asserted exactly. Then the outbox under provider trouble: 429/5xx retried with
backoff, a deadline after which it gives up visibly, a blocked bot, a reply too long for one
Telegram message, WhatsApp's 24-hour window (held without a template, a Content template
with one), and replies of one conversation going out in order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import select

from bot.casework.staff import StaffService
from bot.dialogue.texts import render
from bot.store.models import Complaint, ContactAddress, Message, ProviderMessageId, StaffUser
from channels.text_split import utf16_len
from tests.bot.world import (
    CALLBACK,
    SITI,
    SITI_CHAT,
    SMS_CITIZEN,
    SMS_URN,
    SQLITE_ONLY,
    TELEGRAM,
    WA_URN,
    World,
    WorldFactory,
    press,
    sms,
    update,
    whatsapp,
)
from tests.providers import ACCOUNT_SID, AUTH_TOKEN, SMS_FROM, TOKEN, WHATSAPP_FROM
from tests.support import wait_for

ASK_LOCATION = render("ask_location", "id")
ASK_PHOTO = render("ask_photo", "id")
CHOICES = "Balas 1 untuk Kirim\nBalas 2 untuk Ubah\nBalas 3 untuk Batal"
CONFIRM_KEYBOARD = {"inline_keyboard": [[{"text": "Kirim", "callback_data": "yes"},
                                         {"text": "Ubah", "callback_data": "change"},
                                         {"text": "Batal", "callback_data": "cancel"}]]}
TG_PHOTO = b"\xff\xd8\xff\xe0 telegram photo of the pothole"
SMS_PHOTO = b"\xff\xd8\xff\xe0 MMS photo of the dark street"
WA_PHOTO = b"\xff\xd8\xff\xe0 WhatsApp photo of the flood"
TEMPLATE_SID = "HX" + "5b62575e6e4ff6129ad7c8efe1f983e0"


def confirm(category: str, description: str, location: str, photos: str = "1 foto") -> str:
    return render("confirm_summary", "id", category=category, description=description, location=location,
                  photos=photos)


def idle(world: World, urn: str) -> bool:
    """Nothing of this conversation left to handle, send or download."""
    rows = world.messages(Message.urn == urn)
    return bool(rows) and all(
        (m.processed_at is not None and all(i.get("stored") for i in m.media)) if m.direction == "in"
        else m.status not in ("pending", "sending") for m in rows)


class Script:
    """Posts provider requests and remembers each, so the provider retry can replay them all."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.replay: list[Callable[[], Any]] = []

    def post(self, send: Callable[[], Any]) -> Message:
        before = {m.id for m in self.world.messages(Message.direction == "in")}
        response = send()
        assert response.status_code == 200, response.data
        self.replay.append(send)
        [row] = [m for m in self.world.messages(Message.direction == "in") if m.id not in before]
        return row

    def telegram(self, body: dict[str, Any]) -> Message:
        data = json.dumps(body).encode()
        return self.post(lambda: self.world.telegram(data))

    def twilio(self, pairs: list[tuple[str, str]]) -> Message:
        return self.post(lambda: self.world.twilio(pairs))


def test_three_channels_reach_one_dialogue_and_reply_where_they_came_from(world: World) -> None:
    tg, tw = world.fakes.telegram, world.fakes.twilio
    script = Script(world)

    def tg_says(body: dict[str, Any], **expected: Any) -> Message:
        row = script.telegram(body)
        world.wait_sent(row.id)
        call = tg.calls("sendMessage")[-1]
        assert {k: v for k, v in call.params.items() if k != "reply_markup"} == {
            "chat_id": str(SITI_CHAT), "text": expected["text"]}
        if "keyboard" in expected:
            assert call.json_param("reply_markup") == expected["keyboard"]
        else:
            assert "reply_markup" not in call.params
        return row

    def tw_says(pairs: list[tuple[str, str]], to: str, sender: str, body: str) -> Message:
        row = script.twilio(pairs)
        world.wait_sent(row.id, statuses=("queued",))
        assert tw.messages[-1].form == (("To", to), ("StatusCallback", CALLBACK), ("From", sender), ("Body", body))
        return row

    # -- Telegram: text, a location, a photo with a caption, then the "Kirim" button ------------
    tg.add_file("AgACAgUAAxkBAAIE2e", TG_PHOTO, "photos/file_7.jpg")
    pothole = "Jalan di depan rumah saya berlubang besar, sudah dua minggu belum diperbaiki."
    tg_says(update(910001, text=pothole), text=ASK_LOCATION)
    tg_says(update(910002, location={"latitude": -6.175392, "longitude": 106.827153}), text=ASK_PHOTO)
    caption = "Lubangnya sedalam 20 cm, bahaya untuk motor"
    photo = [{"file_id": "AgACAgUAAxkBAAIE2s", "file_unique_id": "s", "width": 90, "height": 67},
             {"file_id": "AgACAgUAAxkBAAIE2e", "file_unique_id": "e", "width": 1280, "height": 960}]
    tg_says(update(910003, photo=photo, caption=caption), keyboard=CONFIRM_KEYBOARD,   # the caption once
            text=confirm("Jalan rusak", f"{pothole}\n{caption}", "titik lokasi (-6.17539, 106.82715)"))
    prompt = {"message_id": 1003, "date": int(time.time()), "text": "Mohon periksa laporan Anda", "reply_markup":
              CONFIRM_KEYBOARD}
    yes = script.telegram(press(910004, "yes", prompt))
    world.wait_sent(yes.id)
    assert yes.text == "yes" and yes.button_payload == "yes"
    assert [c.params["callback_query_id"] for c in wait_for(lambda: tg.calls("answerCallbackQuery"),
                                                            what="the button press acknowledged")] == ["cbq910004"]
    filed_tg = tg.calls("sendMessage")[-1].params["text"]
    assert filed_tg.startswith("Terima kasih, laporan Anda sudah kami terima dengan nomor tiket WRG-")

    # -- SMS: text, a typed address (SMS has no location pin, and the bot asks for none), an
    #    MMS photo sent anyway before confirming, then "1" ---------------------------------------
    street = "Lampu jalan di gang kami mati sejak kemarin malam"
    tw_says(sms("SM" + "01" * 16, street), SMS_CITIZEN, SMS_FROM, render("ask_location_text", "id"))
    address = "Jl. Melati No. 3, RT 03/RW 05, Menteng"
    tw_says(sms("SM" + "02" * 16, address), SMS_CITIZEN, SMS_FROM,
            confirm("Lampu jalan", street, address, photos="tidak ada") + "\n\n" + CHOICES)
    sms_photo = tw.add_media(SMS_PHOTO, "image/jpeg")
    tw_says(sms("MM" + "03" * 16, "", NumMedia="1", MediaContentType0="image/jpeg", MediaUrl0=sms_photo),
            SMS_CITIZEN, SMS_FROM, confirm("Lampu jalan", street, address) + "\n\n" + CHOICES)
    one = script.twilio(sms("SM" + "04" * 16, "1"))        # "1" picks the first choice: Kirim
    world.wait_sent(one.id, statuses=("queued",))
    filed_sms = tw.messages[-1].fields["Body"]
    assert filed_sms.startswith("Terima kasih, laporan Anda sudah kami terima dengan nomor tiket WRG-")

    # -- WhatsApp: text, a location pin, a photo with words, then "1" -------------------------
    flood = "Rumah kami kebanjiran sejak tadi pagi, airnya masuk ke dalam rumah"
    tw_says(whatsapp("SM" + "11" * 16, flood), WA_URN, WHATSAPP_FROM, ASK_LOCATION)
    pin = dict(MessageType="location", Latitude="-6.225014", Longitude="106.855833",
               Address="Jl. Jatinegara Barat No. 12, Jakarta Timur", Label="Kampung Melayu")
    tw_says(whatsapp("SM" + "12" * 16, "", **pin), WA_URN, WHATSAPP_FROM, ASK_PHOTO)
    wa_photo = tw.add_media(WA_PHOTO, "image/jpeg")
    tw_says(whatsapp("MM" + "13" * 16, "Airnya setinggi lutut", NumMedia="1", MediaContentType0="image/jpeg",
                     MediaUrl0=wa_photo), WA_URN, WHATSAPP_FROM,
            confirm("Banjir", f"{flood}\nAirnya setinggi lutut",
                    "Kampung Melayu, Jl. Jatinegara Barat No. 12, Jakarta Timur; titik lokasi (-6.22501, 106.85583)")
            + "\n\n" + CHOICES)
    one_wa = script.twilio(whatsapp("SM" + "14" * 16, "1"))
    world.wait_sent(one_wa.id, statuses=("queued",))
    filed_wa = tw.messages[-1].fields["Body"]
    assert filed_wa.startswith("Terima kasih, laporan Anda sudah kami terima dengan nomor tiket WRG-")

    # -- one dialogue, three complaints, each with its media and location -------------------
    for urn in (SITI, SMS_URN, WA_URN):
        wait_for(partial(idle, world, urn), what=f"{urn} to settle (replies sent, media stored)")
    with world.session() as s:
        complaints = {c.channel: c for c in s.scalars(select(Complaint))}
    assert sorted(complaints) == ["sms", "telegram", "whatsapp"]
    tg_c, sms_c, wa_c = complaints["telegram"], complaints["sms"], complaints["whatsapp"]
    assert (tg_c.category, tg_c.latitude, tg_c.longitude) == ("road_damage", -6.175392, 106.827153)
    assert tg_c.media == [{"url": "tg-file:AgACAgUAAxkBAAIE2e", "content_type": "image/jpeg", "caption": caption}]
    assert (sms_c.category, sms_c.location_text) == ("street_light", address)
    assert sms_c.media == [{"url": sms_photo, "content_type": "image/jpeg", "caption": None}]
    assert (wa_c.category, wa_c.latitude, wa_c.longitude) == ("flood", -6.225014, 106.855833)
    assert wa_c.location_text == "Kampung Melayu, Jl. Jatinegara Barat No. 12, Jakarta Timur"
    assert wa_c.media == [{"url": wa_photo, "content_type": "image/jpeg", "caption": None}]
    for c, text in ((tg_c, filed_tg), (sms_c, filed_sms), (wa_c, filed_wa)):
        assert f"nomor tiket {c.ticket}." in text

    # -- attachments downloaded for staff: Telegram getFile + download; Twilio Basic auth on
    #    the API host only, the CDN it redirects to gets no credentials ------------------------
    media_dir = Path(world.settings.media_dir)
    stored = {m.urn: m.media[0] for m in world.messages(Message.direction == "in") if m.media}
    assert Path(stored[SITI]["stored"]).read_bytes() == TG_PHOTO
    assert Path(stored[SMS_URN]["stored"]).read_bytes() == SMS_PHOTO
    assert Path(stored[WA_URN]["stored"]).read_bytes() == WA_PHOTO
    assert all(Path(item["stored"]).parent == media_dir for item in stored.values())
    assert [c.params for c in tg.calls("getFile")] == [{"file_id": "AgACAgUAAxkBAAIE2e"}]
    assert [unquote(r.path) for r in tg.downloads()] == [f"/file/bot{TOKEN}/photos/file_7.jpg"]
    media_gets = [r for r in tw.requests if r.method == "GET"]
    assert sorted(r.path for r in media_gets) == sorted(urlsplit(u).path for u in (sms_photo, wa_photo))
    assert all(r.basic_auth() == (ACCOUNT_SID, AUTH_TOKEN) for r in media_gets)
    assert len(tw.cdn.requests) == 2 and all("authorization" not in r.headers for r in tw.cdn.requests)

    # -- delivery statuses as the providers report them -------------------------------------
    for created in tw.messages:
        final = ("sent", "delivered") if created.fields["To"] == SMS_CITIZEN else ("delivered", "read")
        for status in final:
            assert world.status(created.sid, status).status_code == 200

    # -- the transcript: every message in order, replies on the channel they came from -------
    def transcript(urn: str) -> list[tuple[str, str, str]]:
        return [(m.direction, m.channel, m.status) for m in world.messages(Message.urn == urn)]

    assert transcript(SITI) == [("in", "telegram", "processed"), ("out", "telegram", "sent")] * 4
    assert transcript(SMS_URN) == [("in", "sms", "processed"), ("out", "sms", "delivered")] * 4
    assert transcript(WA_URN) == [("in", "whatsapp", "processed"), ("out", "whatsapp", "read")] * 4
    assert {c.params["chat_id"] for c in tg.calls("sendMessage")} == {str(SITI_CHAT)}
    assert {(m.fields["To"], m.fields["From"]) for m in tw.messages} == {(SMS_CITIZEN, SMS_FROM),
                                                                         (WA_URN, WHATSAPP_FROM)}
    with world.session() as s:
        pids = {p.provider_message_id for p in s.scalars(select(ProviderMessageId))}
    assert {m.sid for m in tw.messages} <= pids

    # -- every provider sends every request a second time: nothing new ------------------------
    counts = (len(world.messages()), len(tg.requests), len(tw.requests), len(tw.cdn.requests))
    for send in script.replay:
        assert send().status_code == 200
    world.settle(SITI, SMS_URN, WA_URN)
    assert (len(world.messages()), len(tg.requests), len(tw.requests), len(tw.cdn.requests)) == counts
    with world.session() as s:
        assert len(s.scalars(select(Complaint)).all()) == 3


# -- the outbox under provider trouble (SQLite: the same code paths run on both databases in
#    the webhook tables; these are about timing) -------------------------------------------------

def ask_for_location(world: World, channel: str) -> Message:
    """The citizen starts a complaint; returns the inbound row (one reply is due)."""
    if channel == "telegram":
        assert world.telegram((TELEGRAM / "text.json").read_bytes()).status_code == 200
    else:
        text = "Lampu jalan di gang kami mati sejak kemarin malam"
        assert world.twilio(sms("SM" + "21" * 16, text)).status_code == 200
    return world.message(Message.direction == "in")


@SQLITE_ONLY
def test_telegram_429_and_5xx_are_retried_with_backoff_then_sent(world: World) -> None:
    tg = world.fakes.telegram
    tg.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    tg.fail_html("sendMessage", 502)
    row = ask_for_location(world, "telegram")
    [reply] = world.wait_sent(row.id)
    calls = tg.calls("sendMessage")
    assert len(calls) == 3 and all(c.params == {"chat_id": str(SITI_CHAT), "text": ASK_LOCATION} for c in calls)
    # The schedule itself (retry_after honoured, then exponential backoff) is checked with an
    # injected clock in tests/bot/test_outbox.py.
    assert (reply.status, reply.attempts, reply.error_code, reply.error_reason) == ("sent", 3, None, None)


@SQLITE_ONLY
def test_twilio_20429_and_5xx_are_retried_with_backoff_then_queued(world: World) -> None:
    tw = world.fakes.twilio
    tw.fail(429, 20429, "Too Many Requests")
    tw.fail(503, 20503, "Service Unavailable")
    row = ask_for_location(world, "sms")
    [reply] = world.wait_sent(row.id, statuses=("queued",))
    posts = [r for r in tw.requests if r.method == "POST"]
    assert len(posts) == 3 and len({r.body for r in posts}) == 1  # the same request each time
    assert len(tw.messages) == 1 and reply.provider_message_id == tw.messages[0].sid
    assert (reply.status, reply.attempts, reply.error_code) == ("queued", 3, None)


@SQLITE_ONLY
@pytest.mark.parametrize("channel", ["telegram", "sms"])
def test_gives_up_after_the_deadline_with_the_error_visible(make_world: WorldFactory, channel: str) -> None:
    world = make_world(**{"outbox.give_up_after_minutes": 0.01})        # 0.6 seconds
    # How many retries fit before the deadline is the outbox's schedule, tested with an injected
    # clock in tests/bot/test_outbox.py; here: the real providers' errors end in "failed".
    if channel == "telegram":
        world.fakes.telegram.fail("sendMessage", 500, "Internal Server Error: restarting", times=None)
    else:
        world.fakes.twilio.fail(503, 20503, "Service Unavailable: restarting", times=None)
    row = ask_for_location(world, channel)
    [reply] = world.wait_sent(row.id, statuses=("failed",))
    def provider_calls() -> int:
        return len(world.fakes.telegram.calls("sendMessage") if channel == "telegram"
                   else [r for r in world.fakes.twilio.requests if r.method == "POST"])

    assert provider_calls() >= 1
    # The provider's own words stay on the message for staff (Telegram's 5xx is reported by
    # PTB as a network error, so its code is "network").
    assert reply.error_code == ("network" if channel == "telegram" else "20503")
    assert "Service Unavailable: restarting" in (reply.error_reason or "") if channel == "sms" \
        else "Internal Server Error: restarting" in (reply.error_reason or "")
    assert reply.sent_at is None
    calls = provider_calls()
    world.settle(row.urn or "")
    assert provider_calls() == calls                                 # and it stopped for good


@SQLITE_ONLY
def test_blocked_telegram_contact_becomes_unreachable_and_gets_nothing_more(world: World) -> None:
    tg = world.fakes.telegram
    tg.block(SITI_CHAT)
    row = ask_for_location(world, "telegram")
    [reply] = world.wait_sent(row.id, statuses=("failed",))
    assert (reply.error_code, reply.error_reason, reply.attempts) == (
        "403", "Forbidden: bot was blocked by the user", 1)
    address = world.address(SITI)
    assert address is not None and address.unreachable_at is not None

    later = world.notify(SITI, "Laporan WRG-2026-000001 (Jalan rusak) kini berstatus: Proses.")
    assert later.status == "failed" and "cannot be reached" in (later.error_reason or "")
    assert len(tg.calls("sendMessage")) == 1                     # only the one that was refused


def staff(world: World) -> str:
    with world.session() as s, s.begin():
        s.add(StaffUser(username="petugas", name="Petugas", role="admin", agency=None, password_hash="-"))
    return "petugas"


@SQLITE_ONLY
def test_long_telegram_reply_is_split_under_4096_in_order(world: World) -> None:
    row = ask_for_location(world, "telegram")
    world.wait_sent(row.id)
    sentences = [f"Kalimat nomor {i} 🚧 menjelaskan perbaikan jalan di RT {i % 9 + 1} secara rinci."
                 for i in range(160)]
    text = " ".join(sentences)
    assert utf16_len(text) > 2 * 4096
    with world.session() as s, s.begin():
        woken = StaffService(s, world.settings).reply(row.conversation_id or 0, text, staff(world))
    for conv_id in woken.conversation_ids:
        world.rt.queue.enqueue(conv_id)
    long_reply = wait_for(lambda: [m for m in world.messages(Message.direction == "out", Message.status == "sent")
                                   if m.text.endswith(sentences[-1])], what="the long reply to be sent")[0]
    parts = [c.params["text"] for c in world.fakes.telegram.calls("sendMessage")[1:]]
    assert len(parts) == 3 and all(utf16_len(p) <= 4096 for p in parts)
    assert all(p.endswith(".") for p in parts)                    # cut at sentence ends
    assert " ".join(parts) == render("staff_reply", "id", text=text)
    with world.session() as s:
        ids = s.scalars(select(ProviderMessageId.provider_message_id)
                        .where(ProviderMessageId.message_id == long_reply.id).order_by(ProviderMessageId.id)).all()
    assert len(ids) == 3 and long_reply.provider_message_id == ids[0]


def file_on_whatsapp(world: World) -> str:
    """A citizen files a complaint on WhatsApp; returns the ticket."""
    steps = [whatsapp("SM" + "31" * 16, "Rumah kami kebanjiran sejak tadi pagi, airnya masuk ke dalam rumah"),
             whatsapp("SM" + "32" * 16, "Jl. Jatinegara Barat No. 12, Kampung Melayu"),
             whatsapp("SM" + "33" * 16, "lewati"), whatsapp("SM" + "34" * 16, "1")]
    for pairs in steps:
        assert world.twilio(pairs).status_code == 200
        world.wait_sent(world.message(Message.external_id == dict(pairs)["MessageSid"]).id, statuses=("queued",))
    with world.session() as s:
        return s.scalars(select(Complaint.ticket)).one()


@SQLITE_ONLY
@pytest.mark.parametrize("template", [None, TEMPLATE_SID], ids=["no-template", "template"])
def test_whatsapp_outside_24_hours(make_world: WorldFactory, template: str | None) -> None:
    world = make_world(env={"WARGA_CHANNELS_WHATSAPP_TEMPLATES_STATUS_CHANGED": template})
    tw = world.fakes.twilio
    ticket = file_on_whatsapp(world)
    user = staff(world)
    with world.session() as s, s.begin():         # the citizen last wrote 25 hours ago
        address = s.scalars(select(ContactAddress).where(ContactAddress.urn == WA_URN)).one()
        assert address.last_inbound_at is not None
        address.last_inbound_at = address.last_inbound_at - timedelta(hours=25)
    before = len(tw.messages)

    with world.session() as s, s.begin():
        woken = StaffService(s, world.settings).set_status(ticket, "koordinasi", user)
    for conv_id in woken.conversation_ids:
        world.rt.queue.enqueue(conv_id)
    note = wait_for(lambda: [m for m in world.messages(Message.template == "status_changed")
                             if m.status not in ("pending", "sending")], what="the notification")[0]
    if template is None:
        assert note.status == "held"                 # shown to staff, never silently dropped
        assert "needs template" in (note.error_reason or "")
        assert len(tw.messages) == before            # nothing went to WhatsApp
    else:
        assert note.status == "queued"
        [sent] = tw.messages[before:]
        assert sorted(sent.form) == sorted([("To", WA_URN), ("From", WHATSAPP_FROM), ("StatusCallback", CALLBACK),
                                            ("ContentSid", TEMPLATE_SID),
                                            ("ContentVariables", json.dumps({"1": ticket, "2": "Koordinasi"}))])
        # A JSON *string*, as Twilio requires (a dict would go out as its first key).
        assert json.loads(sent.fields["ContentVariables"]) == {"1": ticket, "2": "Koordinasi"}
        assert note.error_reason == "sent as template status_changed"
        assert note.provider_message_id == sent.sid


@SQLITE_ONLY
def test_replies_of_one_conversation_go_out_in_order(world: World) -> None:
    tg = world.fakes.telegram
    tg.fail("sendMessage", 500, "Internal Server Error")          # the first reply must be retried ...
    assert world.telegram((TELEGRAM / "command_start.json").read_bytes()).status_code == 200
    row = world.message(Message.direction == "in")
    greeting, menu = world.wait_sent(row.id, count=2)
    assert greeting.id < menu.id and greeting.attempts == 2 and menu.attempts == 1
    texts = [c.params["text"] for c in tg.calls("sendMessage")]
    # ... and the menu waits for it instead of overtaking it.
    assert texts == [greeting.text, greeting.text, menu.text]
    assert greeting.text.startswith("Halo Siti Rahayu!") and menu.text == render("menu", "id")
    assert tg.calls("sendMessage")[2].json_param("reply_markup") == {"inline_keyboard": [
        [{"text": "Buat laporan", "callback_data": "lapor"}],
        [{"text": "Cek status laporan", "callback_data": "status"}],
        [{"text": "Informasi layanan", "callback_data": "info"}]]}
    assert greeting.sent_at is not None and menu.sent_at is not None and greeting.sent_at <= menu.sent_at
