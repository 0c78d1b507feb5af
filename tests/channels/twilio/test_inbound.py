"""Twilio inbound: a table of real-shaped message webhooks and status callbacks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from channels.base import (
    ContactEvent,
    DeliveryStatus,
    InboundMessage,
    Location,
    Media,
    SendFailure,
    StatusUpdate,
    Unparseable,
    WebhookRequest,
)
from channels.twilio import TwilioChannel, parse_choice_number
from tests.channels.twilio.support import (
    HOOK,
    NOW,
    PAYLOADS,
    SID,
    STATUS,
    TOKEN,
    pairs_of,
    signed,
    wa_out,
)
from tests.fakes._http import FakeServer, Recorded, Reply
from tests.fakes.fake_twilio import FakeTwilio, sign

# -- parse: the payload table ------------------------------------------------------------

MM = "MM6f1e2d3c4b5a69788796a5b4c3d2e1f6"
MEDIA_BASE = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages/{MM}/Media/"

MESSAGES: list[tuple[str, dict[str, Any]]] = [
    ("sms_text.txt", dict(channel="sms", external_id="SM0f1e2d3c4b5a69788796a5b4c3d2e1f0", sender="tel:+6281234567890",
                          text="Lampu jalan di depan SDN 01 Menteng mati sejak kemarin", received_at=NOW,
                          kind="message", event=None, media=(), location=None, sender_name=None)),
    ("sms_stop.txt", dict(channel="sms", text="STOP", event="opt_out")),
    ("sms_berhenti.txt", dict(text="berhenti", event="opt_out")),
    ("sms_mulai.txt", dict(text="Mulai", event="opt_in")),
    ("sms_choice.txt", dict(text="2", event=None)),
    ("whatsapp_text.txt", dict(channel="whatsapp", sender="whatsapp:+6281298765432", sender_name="Budi Santoso",
                               external_id="SM5f1e2d3c4b5a69788796a5b4c3d2e1f5",
                               text="Halo, saya mau lapor banjir di Kampung Melayu")),
    ("whatsapp_media.txt", dict(channel="whatsapp", external_id=MM, text="Foto genangan air", media=(
        Media(MEDIA_BASE + "ME0a1b2c3d4e5f60718293a4b5c6d7e8f9", "image/jpeg"),
        Media(MEDIA_BASE + "ME1a1b2c3d4e5f60718293a4b5c6d7e8f9", "video/mp4")))),
    ("whatsapp_media_only.txt", dict(channel="whatsapp", text="", external_id="MM7f1e2d3c4b5a69788796a5b4c3d2e1f7",
                                     media=(Media(MEDIA_BASE.replace("MM6f1e2d3c4b5a69788796a5b4c3d2e1f6",
                                                                     "MM7f1e2d3c4b5a69788796a5b4c3d2e1f7")
                                                  + "ME2a1b2c3d4e5f60718293a4b5c6d7e8f9", "image/jpeg"),))),
    ("whatsapp_location.txt", dict(channel="whatsapp", text="", location=Location(
        -6.225014, 106.855833, "Kampung Melayu, Jl. Jatinegara Barat No. 12, Jakarta Timur"))),
    ("whatsapp_button.txt", dict(text="status:JKT-2024-000123", reply_to_button="status:JKT-2024-000123")),
]

STATUSES: list[tuple[str, dict[str, Any]]] = [
    ("status_queued.txt", dict(channel="sms", status=DeliveryStatus.queued, error_code=None,
                               provider_message_id="SMc0ffee0c0ffee0c0ffee0c0ffee0c0ff", at=NOW)),
    ("status_sent.txt", dict(status=DeliveryStatus.sent)),
    ("status_delivered.txt", dict(status=DeliveryStatus.delivered, failure=None)),
    ("status_failed_21610.txt", dict(status=DeliveryStatus.failed, error_code="21610",
                                     failure=SendFailure.contact_stopped,
                                     error_reason="Attempt to send to unsubscribed recipient")),
    ("status_undelivered_30003.txt", dict(status=DeliveryStatus.failed, error_code="30003",
                                          failure=SendFailure.permanent,
                                          error_reason="unreachable destination handset")),
    ("status_whatsapp_read.txt", dict(channel="whatsapp", status=DeliveryStatus.read,
                                      provider_message_id="SMdeadbeefdeadbeefdeadbeefdeadbeef")),
    ("status_whatsapp_delivered.txt", dict(channel="whatsapp", status=DeliveryStatus.delivered)),
    # 63016 arrives asynchronously with an empty ErrorMessage (pitfalls §6).
    ("status_whatsapp_undelivered_63016.txt", dict(channel="whatsapp", status=DeliveryStatus.failed,
                                                   error_code="63016", failure=SendFailure.needs_template)),
    ("status_whatsapp_failed_63018.txt", dict(status=DeliveryStatus.failed, error_code="63018",
                                              failure=SendFailure.throttled,
                                              error_reason="Rate limit exceeded for Channel")),
]

# (The ones without MessageSid are refused by ``verify`` first: see test_identity.py.)
UNPARSEABLE = [
    ("missing_sid.txt", "without MessageSid"),
    ("missing_from.txt", "without From"),
    ("unsupported_address.txt", "unsupported sender address"),
    ("empty.txt", "empty body"),
    ("status_unknown.txt", "unknown message status 'huh'"),
    ("status_missing_sid.txt", "status callback without MessageSid"),
]
UNPARSEABLE_URL = {"status_unknown.txt": STATUS, "status_missing_sid.txt": STATUS}


@pytest.mark.parametrize("name, expected", MESSAGES, ids=[n for n, _ in MESSAGES])
@pytest.mark.parametrize("as_form", [False, True], ids=["body", "form"])
def test_parse_message_table(offline: TwilioChannel, name: str, expected: dict[str, Any], as_form: bool) -> None:
    request = signed(name, as_form=as_form)
    offline.verify(request)
    [item] = offline.parse_inbound(request)
    assert isinstance(item, InboundMessage), item
    assert item.raw == (PAYLOADS / name).read_text()
    for attr, value in expected.items():
        assert getattr(item, attr) == value, attr


@pytest.mark.parametrize("name, expected", STATUSES, ids=[n for n, _ in STATUSES])
def test_parse_status_table(offline: TwilioChannel, name: str, expected: dict[str, Any]) -> None:
    request = signed(name, url=STATUS)
    offline.verify(request)
    [item] = offline.parse_inbound(request)
    assert isinstance(item, StatusUpdate), item
    for attr, value in expected.items():
        assert getattr(item, attr) == value, attr
    assert (item.failure is SendFailure.needs_template) == (item.error_code == "63016")


@pytest.mark.parametrize("name, reason", UNPARSEABLE, ids=[n for n, _ in UNPARSEABLE])
def test_parse_unparseable_table(offline: TwilioChannel, name: str, reason: str) -> None:
    url = UNPARSEABLE_URL.get(name, HOOK)
    [item] = offline.parse_inbound(signed(name, url=url))
    assert isinstance(item, Unparseable), item
    assert reason in item.reason
    [again] = offline.parse_inbound(signed(name, url=url))
    assert isinstance(again, Unparseable), again
    assert item.external_id and item.external_id == again.external_id


def test_the_63016_reason_is_filled_in_when_twilio_leaves_it_empty(offline: TwilioChannel) -> None:
    [item] = offline.parse_inbound(signed("status_whatsapp_undelivered_63016.txt", url=STATUS))
    assert isinstance(item, StatusUpdate)
    assert "24-hour window" in (item.error_reason or "")


def test_parse_choice_number() -> None:
    assert [parse_choice_number(t) for t in ("1", " 2 ", "3.", "4)", "12", "1 2", "satu", "", "123")] == \
        [1, 2, 3, 4, 12, None, None, None, None]


# -- status callbacks round trip ---------------------------------------------------------

def test_an_async_63016_comes_back_as_a_window_closed_status(wa: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    [sid] = wa.send(wa_out("Halo")).provider_message_ids
    callback = fake_twilio.status_callback(sid, "undelivered", error_code="63016")
    assert callback.url == STATUS
    request = WebhookRequest(callback.url, {"X-Twilio-Signature": callback.signature,
                                            "Content-Type": "application/x-www-form-urlencoded"}, callback.body)
    wa.verify(request)
    [update] = wa.parse_inbound(request)
    assert isinstance(update, StatusUpdate)
    assert (update.channel, update.provider_message_id, update.status) == ("whatsapp", sid, DeliveryStatus.failed)
    assert update.failure is SendFailure.needs_template and update.error_code == "63016"


class _Sink(FakeServer):
    def handle(self, request: Recorded) -> Reply:
        return Reply(200, b"<Response/>", "text/xml")


def test_the_fake_can_deliver_a_callback_to_a_live_server(wa: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    [sid] = wa.send(wa_out("Halo")).provider_message_ids
    with _Sink() as sink:
        callback = fake_twilio.status_callback(sid, "delivered")
        assert FakeTwilio.deliver(callback, sink.url + "/webhooks/twilio/status") == 200
        [got] = sink.requests
    assert got.headers["x-twilio-signature"] == callback.signature
    assert dict(got.form())["MessageStatus"] == "delivered"


# -- neutral facts: keywords and who answers them -------------------------------------------

def _with(name: str, **fields: str) -> WebhookRequest:
    """A real payload with some fields changed, signed as Twilio would sign it."""
    pairs = [(k, fields.get(k, v)) for k, v in pairs_of(name)]
    if "OptOutType" not in fields:
        pairs = [(k, v) for k, v in pairs if k != "OptOutType" or name.startswith("sms_stop")]
    body = urlencode(pairs).encode()
    return WebhookRequest(HOOK, {"content-type": "application/x-www-form-urlencoded",
                                 "x-twilio-signature": sign(TOKEN, HOOK, pairs)}, body)


FACTS: list[tuple[str, dict[str, str], ContactEvent | None, bool]] = [
    # Twilio's Advanced Opt-Out answers its own English keywords on SMS (OptOutType is set).
    ("sms_stop.txt", {}, ContactEvent.opt_out, True),
    ("sms_text.txt", {"Body": "quit"}, ContactEvent.opt_out, True),
    ("sms_text.txt", {"Body": "Start", "OptOutType": "START"}, ContactEvent.opt_in, True),
    ("sms_text.txt", {"Body": "help!", "OptOutType": "HELP"}, ContactEvent.help, True),
    # Our Indonesian keywords: Twilio does not know them, so we answer.
    ("sms_berhenti.txt", {}, ContactEvent.opt_out, False),
    ("sms_text.txt", {"Body": "stop semua"}, ContactEvent.opt_out, False),
    ("sms_mulai.txt", {}, ContactEvent.opt_in, False),
    ("sms_text.txt", {"Body": "Bantuan."}, ContactEvent.help, False),
    # WhatsApp: Twilio answers nothing itself.
    ("whatsapp_text.txt", {"Body": "STOP"}, ContactEvent.opt_out, False),
    ("whatsapp_text.txt", {"Body": "mulai"}, ContactEvent.opt_in, False),
    ("whatsapp_text.txt", {"Body": "HELP"}, ContactEvent.help, False),
    # Only a whole message is a keyword.
    ("sms_text.txt", {"Body": "stop lampu mati"}, None, False),
    ("sms_choice.txt", {}, None, False),
    ("whatsapp_text.txt", {}, None, False),
]


@pytest.mark.parametrize("name, fields, event, answered", FACTS,
                         ids=[f"{n}:{f.get('Body', '')}" for n, f, _, _ in FACTS])
def test_keywords_are_reported_as_neutral_facts(offline: TwilioChannel, name: str, fields: dict[str, str],
                                                event: ContactEvent | None, answered: bool) -> None:
    request = _with(name, **fields)
    offline.verify(request)
    [item] = offline.parse_inbound(request)
    assert isinstance(item, InboundMessage)
    assert (item.event, item.provider_answered) == (event, answered)
