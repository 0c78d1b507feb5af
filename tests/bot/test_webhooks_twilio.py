"""POST /webhooks/twilio and /webhooks/twilio/status through the real Flask app, on SQLite and
PostgreSQL, with replies going to a local fake of Twilio's REST API.

A table runs every payload in tests/payloads/twilio/ (and a few keyword cases written here)
through the endpoint, signed as Twilio signs it: what is stored, whether and where a reply
goes (Messages.json To/From/StatusCallback), opt-out state, and that Twilio's retry of the
same request stores and sends nothing new. Then: status callbacks move an outbound message
forward only, keep the provider's error, hold a WhatsApp message on 63016 and opt the number
out on 21610; a callback that arrives before its message is recorded is kept and applied;
STOP/BERHENTI stop every later message and START/MULAI resume them; signatures are checked
against WARGA_PUBLIC_URL; oversized requests get 413 and a switched-off channel 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.store.models import Message
from channels.twilio import EMPTY_TWIML
from tests.bot.world import (
    CALLBACK,
    PAYLOADS,
    SMS_CITIZEN,
    SMS_URN,
    SQLITE_ONLY,
    WA_URN,
    World,
    WorldFactory,
    pairs_of,
    sms,
    whatsapp,
)
from tests.providers import ACCOUNT_SID, PUBLIC_URL, SMS_FROM, WHATSAPP_FROM, provider_env
from tests.support import wait_for

TWILIO = PAYLOADS / "twilio"
HOOK = "/webhooks/twilio"
STATUS = "/webhooks/twilio/status"
OPTED_OUT_REPLY = "Anda tidak akan menerima pesan lagi dari Warga"
OPTED_IN_REPLY = "Anda kembali menerima pesan dari Warga"
HELP_REPLY = "Warga - layanan pengaduan Pemkot"


# -- the payload table ------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One request and what it must leave behind.

    ``stored``: attributes of the one inbound Message row (None: no row). ``reply``: a part
    of the reply's Body, "" for any reply, None for no reply at all. ``receipt``: attributes
    of the DeliveryReceipt a status callback leaves (for a SID we never sent, it is kept,
    unapplied). ``reason``: part of the reason an unparseable request is stored with.
    ``refused``: the request is answered 403 and nothing is stored.
    """

    pairs: list[tuple[str, str]] | None = None     # None: the payload file of the same name
    endpoint: str = HOOK
    stored: dict[str, Any] | None = None
    reply: str | None = None
    opted_out: bool | None = None
    reason: str | None = None
    receipt: dict[str, Any] | None = None
    refused: bool = False


SMS_T = dict(channel="sms", kind="message", urn=SMS_URN)
WA_T = dict(channel="whatsapp", kind="message", urn=WA_URN)
MEDIA_BASE = ("https://api.twilio.com/2010-04-01/Accounts/ACa1b2c3d4e5f60718293a4b5c6d7e8f90/"
              "Messages/MM6f1e2d3c4b5a69788796a5b4c3d2e1f6/Media/")
SMC0FFEE = "SMc0ffee0c0ffee0c0ffee0c0ffee0c0ff"
SMDEAD = "SMdeadbeefdeadbeefdeadbeefdeadbeef"

TABLE: dict[str, Case] = {
    "sms_text.txt": Case(stored=dict(SMS_T, text="Lampu jalan di depan SDN 01 Menteng mati sejak kemarin",
                                     contact_event=None, provider_answered=False,
                                     external_id="SM0f1e2d3c4b5a69788796a5b4c3d2e1f0"), reply=""),
    "sms_choice.txt": Case(stored=dict(SMS_T, text="2"), reply=""),
    # Twilio answers its own STOP keyword on SMS and would refuse ours (21610): no reply.
    "sms_stop.txt": Case(stored=dict(SMS_T, text="STOP", contact_event="opt_out", provider_answered=True),
                         opted_out=True),
    "sms_berhenti.txt": Case(stored=dict(SMS_T, text="berhenti", contact_event="opt_out", provider_answered=False),
                             opted_out=True, reply=OPTED_OUT_REPLY),
    "sms_mulai.txt": Case(stored=dict(SMS_T, text="Mulai", contact_event=None), opted_out=False, reply=""),
    "whatsapp_text.txt": Case(stored=dict(WA_T, text="Halo, saya mau lapor banjir di Kampung Melayu"), reply=""),
    "whatsapp_media.txt": Case(stored=dict(WA_T, text="Foto genangan air", media=[
        {"url": MEDIA_BASE + "ME0a1b2c3d4e5f60718293a4b5c6d7e8f9", "content_type": "image/jpeg", "caption": None},
        {"url": MEDIA_BASE + "ME1a1b2c3d4e5f60718293a4b5c6d7e8f9", "content_type": "video/mp4", "caption": None}]),
        reply=""),
    # A photo without a caption: no Body at all, SmsStatus "received". A message (issue 9).
    "whatsapp_media_only.txt": Case(stored=dict(WA_T, text="", media=[
        {"url": MEDIA_BASE.replace("MM6f1e2d3c4b5a69788796a5b4c3d2e1f6", "MM7f1e2d3c4b5a69788796a5b4c3d2e1f7")
         + "ME2a1b2c3d4e5f60718293a4b5c6d7e8f9", "content_type": "image/jpeg", "caption": None}]), reply=""),
    "whatsapp_location.txt": Case(stored=dict(
        WA_T, text="", latitude=-6.225014, longitude=106.855833,
        address_text="Kampung Melayu, Jl. Jatinegara Barat No. 12, Jakarta Timur"), reply=""),
    # A pressed quick-reply button "says" its payload.
    "whatsapp_button.txt": Case(stored=dict(WA_T, text="status:JKT-2024-000123",
                                            button_payload="status:JKT-2024-000123"), reply=""),
    "missing_from.txt": Case(stored=dict(kind="unparseable", external_id="SMaf1e2d3c4b5a69788796a5b4c3d2e1fa"),
                             reason="message webhook without From"),
    # Without a MessageSid a request is not about a message of ours: refused, nothing stored (issue 9).
    "missing_sid.txt": Case(refused=True),
    "unsupported_address.txt": Case(stored=dict(kind="unparseable"), reason="unsupported sender address"),
    "empty.txt": Case(refused=True),
    "status_queued.txt": Case(endpoint=STATUS, receipt=dict(channel="sms", provider_message_id=SMC0FFEE,
                                                            status="queued", error_code=None)),
    "status_sent.txt": Case(endpoint=STATUS, receipt=dict(channel="sms", status="sent")),
    "status_delivered.txt": Case(endpoint=STATUS, receipt=dict(channel="sms", status="delivered")),
    "status_undelivered_30003.txt": Case(endpoint=STATUS, receipt=dict(
        status="failed", error_code="30003", error_reason="unreachable destination handset")),
    "status_failed_21610.txt": Case(endpoint=STATUS, receipt=dict(
        status="failed", error_code="21610", error_reason="Attempt to send to unsubscribed recipient",
        failure="contact_stopped")),
    "status_whatsapp_delivered.txt": Case(endpoint=STATUS, receipt=dict(channel="whatsapp", provider_message_id=SMDEAD,
                                                                        status="delivered")),
    "status_whatsapp_read.txt": Case(endpoint=STATUS, receipt=dict(channel="whatsapp", status="read")),
    "status_whatsapp_failed_63018.txt": Case(endpoint=STATUS, receipt=dict(
        channel="whatsapp", status="failed", error_code="63018", error_reason="Rate limit exceeded for Channel")),
    # WhatsApp's window was closed: not "lost" but held, for staff to send a template.
    "status_whatsapp_undelivered_63016.txt": Case(endpoint=STATUS, receipt=dict(
        channel="whatsapp", status="held", error_code="63016", failure="needs_template")),
    "status_unknown.txt": Case(endpoint=STATUS, stored=dict(kind="unparseable", external_id=f"status:{SMC0FFEE}:huh"),
                               reason="unknown message status 'huh'"),
    "status_missing_sid.txt": Case(endpoint=STATUS, refused=True),
    # Keyword cases written here (no payload file): HELP/BANTUAN, and WhatsApp opt-outs,
    # which Twilio does not handle for us.
    # Twilio answers HELP on SMS itself (Advanced Opt-Out): we store it and stay quiet.
    "sms_help": Case(sms("SM" + "a1" * 16, "HELP", OptOutType="HELP"),
                     stored=dict(SMS_T, text="HELP", contact_event="help", provider_answered=True),
                     reply=None, opted_out=False),
    "sms_bantuan": Case(sms("SM" + "a2" * 16, "Bantuan"), stored=dict(SMS_T, text="Bantuan"), reply=HELP_REPLY),
    "whatsapp_bantuan": Case(whatsapp("SM" + "a3" * 16, "BANTUAN"), stored=dict(WA_T, text="BANTUAN"),
                             reply=HELP_REPLY),
    "whatsapp_stop": Case(whatsapp("SM" + "a4" * 16, "stop"),
                          stored=dict(WA_T, text="stop", contact_event="opt_out", provider_answered=False),
                          opted_out=True,
                          reply=OPTED_OUT_REPLY),
    "whatsapp_berhenti": Case(whatsapp("SM" + "a5" * 16, "Berhenti."), stored=dict(WA_T), opted_out=True,
                              reply=OPTED_OUT_REPLY),
}


def test_the_table_covers_every_payload_file() -> None:
    files = {p.name for p in TWILIO.glob("*.txt")}
    assert files <= set(TABLE), files - set(TABLE)


def request_of(name: str, case: Case) -> tuple[list[tuple[str, str]], bytes | None]:
    if case.pairs is not None:
        return case.pairs, None
    return pairs_of(TWILIO / name), (TWILIO / name).read_bytes()


@pytest.mark.parametrize("name", sorted(TABLE))
def test_payload_table(world: World, name: str) -> None:
    case = TABLE[name]
    pairs, body = request_of(name, case)
    tw = world.fakes.twilio

    response = world.twilio(pairs, body=body, path=case.endpoint)
    if case.refused:
        assert response.status_code == 403, response.data
        assert world.messages() == [] and world.receipts() == []
        return
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml" and response.get_data(as_text=True) == EMPTY_TWIML

    rows = world.messages(Message.direction == "in")
    if case.stored is None:
        assert rows == []
    else:
        [row] = rows
        if body is not None:
            assert row.raw == body.decode("utf-8")      # kept exactly as Twilio sent it
        for attr, want in case.stored.items():
            got = getattr(row, attr)
            if attr == "media":
                got = [{k: m.get(k) for k in ("url", "content_type", "caption")} for m in got]
            assert got == want, attr
    if case.reason is not None:
        assert row.status == "unparseable" and case.reason in (row.error_reason or "")
    if case.receipt is not None:
        [receipt] = world.receipts()
        for attr, want in case.receipt.items():
            assert getattr(receipt, attr) == want, attr
        assert receipt.applied_at is None        # no message of ours has that SID (yet)
        if case.receipt["status"] == "held":
            assert "needs template" in (receipt.error_reason or "")

    if case.reply is not None:
        replies = world.wait_sent(row.id)
        created = [m for m in tw.messages if m.fields["To"] == pairs_to(row.urn)]
        assert len(created) == len(replies) and len(tw.messages) == len(replies)
        for m in created:
            assert m.fields["From"] == (WHATSAPP_FROM if row.channel == "whatsapp" else SMS_FROM)
            assert m.fields["StatusCallback"] == CALLBACK
        assert case.reply in created[0].fields["Body"]
        assert [r.provider_message_id for r in replies] == [m.sid for m in created]
    elif urn := conversation_urn(rows):
        world.settle(urn)
        assert world.messages(Message.direction == "out") == []
        assert tw.messages == []
    if case.opted_out is not None:
        assert rows[0].urn is not None
        address = world.address(rows[0].urn)
        assert address is not None and (address.opted_out_at is not None) == case.opted_out

    # Twilio retries the same request (our answer timed out): acknowledged, nothing new.
    sent = len(tw.messages)
    again = world.twilio(pairs, body=body, path=case.endpoint)
    assert again.status_code == 200
    if urn := conversation_urn(rows):
        world.settle(urn)
    assert [m.id for m in world.messages(Message.direction == "in")] == [r.id for r in rows]
    assert len(tw.messages) == sent


def pairs_to(urn: str | None) -> str:
    assert urn is not None
    return urn.removeprefix("tel:")


def conversation_urn(rows: list[Message]) -> str | None:
    """The URN of the conversation the stored row went to; None when it went to none."""
    if not rows or rows[0].conversation_id is None:
        return None
    assert rows[0].urn is not None
    return rows[0].urn


# -- delivery status ------------------------------------------------------------------------

def first_reply(world: World, channel: str) -> Message:
    """Have the citizen write on ``channel``; return our first reply once Twilio took it."""
    pairs = sms("SM" + "b1" * 16, "halo") if channel == "sms" else whatsapp("SM" + "b2" * 16, "halo")
    assert world.twilio(pairs).status_code == 200
    inbound = world.message(Message.direction == "in")
    reply = world.wait_sent(inbound.id, statuses=("queued",))[0]
    assert reply.provider_message_id and reply.provider_message_id.startswith("SM")
    return reply


def reload(world: World, msg: Message) -> Message:
    return world.message(Message.id == msg.id)


# Each step: (status Twilio reports, ErrorCode, ErrorMessage, our status afterwards).
SEQUENCES: dict[str, tuple[str, list[tuple[str, str | None, str | None, str]], str | None, str | None]] = {
    "forward-to-read": ("whatsapp", [
        ("queued", None, None, "queued"), ("sent", None, None, "sent"), ("delivered", None, None, "delivered"),
        ("read", None, None, "read"), ("sent", None, None, "read"), ("delivered", None, None, "read")],
        None, None),
    "delivered-before-sent": ("sms", [
        ("delivered", None, None, "delivered"), ("sent", None, None, "delivered"),
        ("queued", None, None, "delivered")], None, None),
    "undelivered-keeps-code": ("sms", [
        ("sent", None, None, "sent"), ("undelivered", "30003", None, "failed"),
        ("delivered", None, None, "failed")], "30003", "unreachable destination handset"),
    "failed-keeps-message": ("whatsapp", [
        ("failed", "63018", "Rate limit exceeded for Channel", "failed"), ("read", None, None, "failed")],
        "63018", "Rate limit exceeded for Channel"),
    "window-closed-is-held": ("whatsapp", [
        ("sent", None, None, "sent"), ("undelivered", "63016", "", "held"), ("delivered", None, None, "held")],
        "63016", "needs template"),
    "opted-out-21610": ("sms", [
        ("failed", "21610", "Attempt to send to unsubscribed recipient", "failed"), ("sent", None, None, "failed")],
        "21610", "Attempt to send to unsubscribed recipient"),
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_status_callbacks_move_the_message_forward_only(world: World, name: str) -> None:
    channel, steps, code, reason = SEQUENCES[name]
    reply = first_reply(world, channel)
    assert reply.provider_message_id is not None
    for status, error_code, error_message, expected in steps:
        response = world.status(reply.provider_message_id, status, error_code=error_code,
                                error_message=error_message)
        assert response.status_code == 200
        assert reload(world, reply).status == expected, (status, error_code)
    final = reload(world, reply)
    assert final.error_code == code
    if reason is None:
        assert final.error_reason is None
    else:
        assert reason in (final.error_reason or "")
    address = world.address(reply.urn or "")
    assert address is not None and (address.opted_out_at is not None) == (code == "21610")
    # Every callback is kept for the record, applied to the message it names; a repeated
    # report (same status and error) is kept once (issue 9).
    receipts = world.receipts()
    distinct = {(status, error_code) for status, error_code, _, _ in steps}
    assert len(receipts) == len(distinct) and all(r.applied_at is not None for r in receipts)


@SQLITE_ONLY
@pytest.mark.parametrize("status, code, expected", [
    ("delivered", None, "delivered"), ("failed", "21610", "failed"),
], ids=["delivered", "opted-out-21610"])
def test_status_for_a_message_not_recorded_yet_is_kept_and_applied_when_it_is(
        world: World, status: str, code: str | None, expected: str) -> None:
    tw = world.fakes.twilio
    answer = tw.hold()     # Twilio takes a moment to answer our create call ...
    assert world.twilio(sms("SM" + "c1" * 16, "halo")).status_code == 200
    created = wait_for(lambda: tw.messages, what="the create call to reach Twilio")
    sid = created[0].sid
    inbound = world.message(Message.direction == "in")
    sending = world.replies_to(inbound.id)[0]
    assert (sending.status, sending.provider_message_id) == ("sending", None)   # ... while its
    # status callback already arrives.

    assert world.status(sid, status, error_code=code).status_code == 200
    [early] = world.receipts()
    assert (early.provider_message_id, early.status, early.applied_at) == (sid, status, None)
    answer.set()

    applied = wait_for(lambda: reload(world, sending).status == expected and reload(world, sending),
                       what="the early receipt to be applied")
    assert (applied.provider_message_id, applied.error_code) == (sid, code)
    [receipt] = [r for r in world.receipts() if r.provider_message_id == sid]
    assert receipt.applied_at is not None
    # 21610 means the number texted STOP, however early the callback came.
    address = world.address(SMS_URN)
    assert address is not None and (address.opted_out_at is not None) == (code == "21610")


# -- opt-out keywords -------------------------------------------------------------------------

@pytest.mark.parametrize("channel, word, confirmed", [
    ("sms", "STOP", False), ("sms", "BERHENTI", True), ("whatsapp", "STOP", True), ("whatsapp", "berhenti", True),
])
def test_stop_opts_the_number_out_and_nothing_more_is_sent(world: World, channel: str, word: str,
                                                           confirmed: bool) -> None:
    tw = world.fakes.twilio
    make = sms if channel == "sms" else whatsapp
    urn = SMS_URN if channel == "sms" else WA_URN
    assert world.twilio(make("SM" + "d1" * 16, word)).status_code == 200
    stop = world.message(Message.direction == "in")
    if confirmed:
        [confirmation] = world.wait_sent(stop.id)
        assert OPTED_OUT_REPLY in confirmation.text
    else:
        world.settle(urn)
    address = world.address(urn)
    assert address is not None and address.opted_out_at is not None
    before = len(tw.messages)
    assert before == (1 if confirmed else 0)

    later = world.notify(urn, "Laporan WRG-2026-000001 (Banjir) kini berstatus: Proses.")
    assert later.status == "failed" and "opted out" in (later.error_reason or "")
    assert len(tw.messages) == before                   # it never reached Twilio


@pytest.mark.parametrize("channel, stop, start", [("sms", "BERHENTI", "MULAI"), ("whatsapp", "STOP", "start")])
def test_start_clears_the_opt_out_and_messages_flow_again(world: World, channel: str, stop: str,
                                                          start: str) -> None:
    make = sms if channel == "sms" else whatsapp
    urn = SMS_URN if channel == "sms" else WA_URN
    assert world.twilio(make("SM" + "e1" * 16, stop)).status_code == 200
    world.wait_sent(world.message(Message.external_id == "SM" + "e1" * 16).id)
    assert world.twilio(make("SM" + "e2" * 16, start)).status_code == 200
    resumed = world.message(Message.external_id == "SM" + "e2" * 16)
    [welcome] = world.wait_sent(resumed.id)
    assert OPTED_IN_REPLY in welcome.text
    address = world.address(urn)
    assert address is not None and address.opted_out_at is None

    later = world.notify(urn, "Laporan WRG-2026-000001 (Banjir) kini berstatus: Proses.")
    assert later.status == "queued"
    assert world.fakes.twilio.messages[-1].fields["To"] == pairs_to(urn)


def test_21610_when_sending_opts_the_number_out_until_it_texts_mulai(world: World) -> None:
    # Twilio refuses the create call itself: the number had texted STOP to our sender.
    tw = world.fakes.twilio
    tw.fail(400, 21610, "Attempt to send to unsubscribed recipient", to=SMS_CITIZEN)
    assert world.twilio(sms("SM" + "9a" * 16, "halo")).status_code == 200
    hello = world.message(Message.direction == "in")
    refused = world.wait_sent(hello.id, count=2, statuses=("failed",))
    assert refused[0].error_code == "21610" and refused[0].attempts == 1    # not retried
    assert "opted out" in (refused[1].error_reason or "")                  # nor the next reply
    address = world.address(SMS_URN)
    assert address is not None and address.opted_out_at is not None
    assert tw.messages == []

    # The citizen texts MULAI (Twilio re-subscribes the number): messages flow again.
    assert world.twilio(sms("SM" + "9b" * 16, "MULAI")).status_code == 200
    [welcome] = world.wait_sent(world.message(Message.external_id == "SM" + "9b" * 16).id, statuses=("queued",))
    assert OPTED_IN_REPLY in welcome.text
    assert [m.fields["To"] for m in tw.messages] == [SMS_CITIZEN]
    address = world.address(SMS_URN)
    assert address is not None and address.opted_out_at is None and address.unreachable_at is None


# -- signatures, limits, switched-off channels ---------------------------------------------------

@SQLITE_ONLY
@pytest.mark.parametrize("base_url", ["http://localhost", "http://10.0.0.5:8000"])
def test_signature_is_checked_against_the_public_url_not_the_one_flask_sees(world: World, base_url: str) -> None:
    # Twilio signs https://warga.example.go.id/webhooks/twilio; a proxy hands us plain http
    # on an internal host. WARGA_PUBLIC_URL makes the two meet.
    response = world.twilio(sms("SM" + "f1" * 16, "halo"), base_url=base_url)
    assert response.status_code == 200
    assert world.message(Message.direction == "in").text == "halo"


@SQLITE_ONLY
def test_public_url_with_a_path_prefix_the_proxy_strips(make_world: WorldFactory) -> None:
    world = make_world(env={"WARGA_PUBLIC_URL": "https://kota.go.id/warga"})
    response = world.twilio(sms("SM" + "f2" * 16, "halo"), signed_for="https://kota.go.id/warga/webhooks/twilio")
    assert response.status_code == 200
    assert len(world.messages(Message.direction == "in")) == 1


@SQLITE_ONLY
def test_without_a_public_url_the_proxys_forwarded_headers_are_honoured(make_world: WorldFactory) -> None:
    world = make_world(env={"WARGA_PUBLIC_URL": None})
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "warga.example.go.id"}
    # Twilio called (and signed) https://warga.example.go.id/...; the proxy called us on http.
    response = world.twilio(sms("SM" + "f0" * 16, "halo"), base_url="http://10.0.0.5:8000", headers=forwarded)
    assert response.status_code == 200
    # Without the headers the app cannot know the public URL: the signature does not match.
    refused = world.twilio(sms("SM" + "f9" * 16, "halo"), base_url="http://10.0.0.5:8000")
    assert refused.status_code == 403
    assert [m.external_id for m in world.messages(Message.direction == "in")] == ["SM" + "f0" * 16]


@SQLITE_ONLY
@pytest.mark.parametrize("path, case", [
    (HOOK, "signed-for-the-url-flask-sees"), (HOOK, "signed-for-another-host"), (HOOK, "signed-for-http"),
    (HOOK, "signed-for-the-status-path"), (HOOK, "tampered-body"), (HOOK, "missing"), (HOOK, "other-token"),
    (STATUS, "signed-for-another-host"), (STATUS, "missing"),
])
def test_bad_signature_is_403_and_stores_nothing(world: World, path: str, case: str) -> None:
    pairs = sms("SM" + "f3" * 16, "halo") if path == HOOK else pairs_of(TWILIO / "status_delivered.txt")
    public = PUBLIC_URL + path
    if case == "signed-for-the-url-flask-sees":
        response = world.twilio(pairs, path=path, signed_for="http://localhost" + path)
    elif case == "signed-for-another-host":
        response = world.twilio(pairs, path=path, signed_for="https://evil.example.com" + path)
    elif case == "signed-for-http":
        response = world.twilio(pairs, path=path, signed_for=public.replace("https://", "http://"))
    elif case == "signed-for-the-status-path":
        response = world.twilio(pairs, path=path, signed_for=PUBLIC_URL + STATUS)
    elif case == "tampered-body":
        signed = world.fakes.twilio.inbound(public, pairs)
        response = world.client.post(path, data=signed.body.replace(b"halo", b"hal0"), headers=signed.headers)
    elif case == "missing":
        response = world.client.post(path, data=world.fakes.twilio.inbound(public, pairs).body,
                                     content_type="application/x-www-form-urlencoded")
    else:
        from tests.fakes.fake_twilio import sign

        response = world.client.post(path, data=world.fakes.twilio.inbound(public, pairs).body, headers={
            "X-Twilio-Signature": sign("another-accounts-token", public, pairs),
            "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    assert world.messages() == [] and world.receipts() == []
    assert world.fakes.twilio.requests == []


@SQLITE_ONLY
@pytest.mark.parametrize("path", [HOOK, STATUS])
def test_oversized_request_is_413_json_and_stores_nothing(world: World, path: str) -> None:
    limit = world.settings.server.max_request_kb * 1024
    response = world.twilio(sms("SM" + "f4" * 16, "x" * limit), path=path)
    assert response.status_code == 413
    assert response.is_json and response.get_json()["error"] == "request_entity_too_large"
    assert world.messages() == [] and world.receipts() == []


@SQLITE_ONLY
def test_switched_off_channels_answer_404(make_world: WorldFactory) -> None:
    off = make_world(env={k: None for k in provider_env(make_world.fakes)})
    assert not {"sms", "whatsapp"} & set(off.rt.channels)
    for path, pairs in ((HOOK, sms("SM" + "f5" * 16, "halo")), (HOOK, whatsapp("SM" + "f6" * 16, "halo")),
                        (STATUS, pairs_of(TWILIO / "status_delivered.txt"))):
        response = off.twilio(pairs, path=path)
        assert response.status_code == 404 and response.get_json()["error"] == "not_found", path
    assert off.messages() == [] and off.receipts() == []

    # The secrets are there but the city runs Telegram only.
    telegram_only = make_world(**{"channels.enabled": ["web", "telegram"]})
    assert telegram_only.twilio(sms("SM" + "f7" * 16, "halo")).status_code == 404
    assert telegram_only.messages() == []


def test_whatsapp_reaches_its_own_connector_and_sms_its_own(world: World) -> None:
    assert world.twilio(sms("SM" + "f8" * 16, "halo")).status_code == 200
    assert world.twilio(whatsapp("SM" + "f9" * 16, "halo")).status_code == 200
    rows = world.messages(Message.direction == "in")
    assert [(r.channel, r.urn) for r in rows] == [("sms", SMS_URN), ("whatsapp", WA_URN)]
    for row in rows:
        world.wait_sent(row.id, statuses=("queued",))
    to = {m.fields["To"]: m.fields["From"] for m in world.fakes.twilio.messages}
    assert to == {SMS_CITIZEN: SMS_FROM, WA_URN: WHATSAPP_FROM}


def test_a_report_is_matched_on_the_message_sid_alone_and_a_repeat_is_stored_once(world: World) -> None:
    # Issue 9: a report that names neither From, To nor ChannelPrefix (fields Twilio does not
    # promise) was taken for SMS and never reached the WhatsApp message it is about.
    reply = first_reply(world, "whatsapp")
    sid = reply.provider_message_id
    assert sid is not None
    pairs = [("MessageSid", sid), ("MessageStatus", "delivered"), ("AccountSid", ACCOUNT_SID)]
    for _ in range(2):                        # Twilio repeats a report it thinks we missed
        assert world.twilio(pairs, path=STATUS).status_code == 200
    assert reload(world, reply).status == "delivered"
    receipts = world.receipts()
    assert [(r.channel, r.status) for r in receipts] == [("whatsapp", "delivered")]
    assert receipts[0].applied_at is not None


def test_a_media_only_message_is_a_message_and_gets_an_answer(world: World) -> None:
    sid = "MM" + "7c" * 16
    pairs = [(k, v) for k, v in whatsapp(sid, "") if k != "Body"] + [
        ("NumMedia", "1"), ("MediaContentType0", "image/jpeg"),
        ("MediaUrl0", f"{world.fakes.twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media/ME1")]
    assert world.twilio(pairs).status_code == 200
    row = world.message(Message.external_id == sid)
    assert (row.kind, row.channel, row.status in ("received", "processed")) == ("message", "whatsapp", True)
    assert world.wait_sent(row.id)
