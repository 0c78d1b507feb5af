"""Twilio: the endpoint decides message vs delivery report; requests that are not about a
message of our account are refused before anything is stored (issue 9)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from channels.base import InboundMessage, StatusUpdate, WebhookRejected, WebhookRequest
from channels.twilio import TwilioChannel
from tests.channels.twilio.support import HOOK, SID, STATUS, TOKEN, pairs_of
from tests.fakes.fake_twilio import sign

MEDIA_SID = "MM" + "0a" * 16


def request(pairs: list[tuple[str, str]], url: str = HOOK, route: str | None = None) -> WebhookRequest:
    return WebhookRequest(url, {"x-twilio-signature": sign(TOKEN, url, pairs),
                                "content-type": "application/x-www-form-urlencoded"},
                          urlencode(pairs).encode(), route=route)  # type: ignore[arg-type]


def media_only() -> list[tuple[str, str]]:
    # What Twilio posts for a WhatsApp photo sent without a caption: no Body at all, and an
    # SmsStatus of "received" (https://www.twilio.com/docs/messaging/guides/webhook-request).
    return [("SmsMessageSid", MEDIA_SID), ("NumMedia", "1"), ("ProfileName", "Budi"),
            ("MessageType", "image"), ("SmsSid", MEDIA_SID), ("WaId", "6281298765432"),
            ("SmsStatus", "received"), ("To", "whatsapp:+14155238886"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl0", f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages/{MEDIA_SID}/Media/ME1"),
            ("MessageSid", MEDIA_SID), ("AccountSid", SID), ("From", "whatsapp:+6281298765432"),
            ("ApiVersion", "2010-04-01")]


@pytest.mark.parametrize("route", [None, "inbound"])
def test_a_media_only_message_without_body_is_a_message(offline: TwilioChannel, route: str | None) -> None:
    req = request(media_only(), route=route)
    offline.verify(req)
    [item] = offline.parse_inbound(req)
    assert isinstance(item, InboundMessage), item
    assert (item.channel, item.text, item.external_id) == ("whatsapp", "", MEDIA_SID)
    assert [m.content_type for m in item.media] == ["image/jpeg"]


def test_the_status_endpoint_gives_a_delivery_report_even_with_a_body_field(offline: TwilioChannel) -> None:
    pairs = [*pairs_of("status_delivered.txt"), ("Body", "")]
    for req in (request(pairs, STATUS), request(pairs, HOOK, route="status")):
        [item] = offline.parse_inbound(req)
        assert isinstance(item, StatusUpdate) and item.status.name == "delivered"


@pytest.mark.parametrize("field, value", [
    ("AccountSid", "AC" + "f" * 32),          # another Twilio account's request, validly signed
    ("AccountSid", ""),
    ("MessageSid", "SM123"),                   # not a message SID
    ("MessageSid", "CA" + "1" * 32),           # a call, not a message
    ("MessageSid", "SM" + "1" * 31 + "\x00"),
    ("MessageSid", "SM" + "g" * 32),
])
def test_requests_not_about_a_message_of_our_account_are_refused(offline: TwilioChannel, field: str,
                                                                 value: str) -> None:
    fields = {"MessageSid", "SmsSid", "SmsMessageSid"} if field == "MessageSid" else {field}
    pairs = [(k, value if k in fields else v) for k, v in pairs_of("sms_text.txt")]
    with pytest.raises(WebhookRejected):
        offline.verify(request(pairs))


@pytest.mark.parametrize("drop", ["AccountSid", "MessageSid"])
def test_requests_without_account_or_message_sid_are_refused(offline: TwilioChannel, drop: str) -> None:
    drops = {drop} if drop == "AccountSid" else {"MessageSid", "SmsSid", "SmsMessageSid"}
    pairs = [(k, v) for k, v in pairs_of("status_delivered.txt") if k not in drops]
    with pytest.raises(WebhookRejected):
        offline.verify(request(pairs, STATUS))
