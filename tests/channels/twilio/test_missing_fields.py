"""Twilio payloads lacking any one field, optional or "always present" (issue 9).

Every payload in tests/payloads/twilio/ (written from Twilio's webhook reference:
https://www.twilio.com/docs/messaging/guides/webhook-request and the status callback
parameters of https://www.twilio.com/docs/messaging/api/message-resource) is taken apart one
field at a time and signed again, as Twilio would have signed it. Each variant is either
refused by ``verify`` (no SID of ours left) or parsed without raising into exactly one item;
a message still comes from the same sender with the same id unless ``From`` itself is
missing, and a delivery report still names the same message and status.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from channels.base import InboundMessage, StatusUpdate, Unparseable, WebhookRejected, WebhookRequest
from channels.twilio import TwilioChannel
from tests.channels.twilio.support import HOOK, PAYLOADS, STATUS, TOKEN, pairs_of
from tests.fakes.fake_twilio import sign

SID_FIELDS = {"MessageSid", "SmsSid", "SmsMessageSid"}


def files(prefix: str) -> list[str]:
    skip = {"empty.txt", "missing_sid.txt", "missing_from.txt", "unsupported_address.txt",
            "status_missing_sid.txt", "status_unknown.txt"}
    return sorted(p.name for p in PAYLOADS.glob(f"{prefix}*.txt") if p.name not in skip)


def cases(names: list[str]) -> Iterator[Any]:
    for name in names:
        for index, (key, _) in enumerate(pairs_of(name)):
            yield pytest.param(name, index, id=f"{name}-{key}")


def request(pairs: list[tuple[str, str]], url: str) -> WebhookRequest:
    return WebhookRequest(url, {"x-twilio-signature": sign(TOKEN, url, pairs),
                                "content-type": "application/x-www-form-urlencoded"}, urlencode(pairs).encode())


def parse(channel: TwilioChannel, pairs: list[tuple[str, str]], url: str) -> Any:
    req = request(pairs, url)
    channel.verify(req)
    items = channel.parse_inbound(req)
    assert len(items) == 1
    return items[0]


MESSAGE_FILES = files("sms_") + files("whatsapp_")
STATUS_FILES = files("status_")


@pytest.mark.parametrize("name, index", list(cases(MESSAGE_FILES)))
def test_a_message_lacking_one_field(offline: TwilioChannel, name: str, index: int) -> None:
    pairs = pairs_of(name)
    whole = parse(offline, pairs, HOOK)
    assert isinstance(whole, InboundMessage)
    key = pairs[index][0]
    rest = pairs[:index] + pairs[index + 1:]
    if key == "AccountSid" or (key in SID_FIELDS and not SID_FIELDS & {k for k, _ in rest}):
        with pytest.raises(WebhookRejected):
            parse(offline, rest, HOOK)
        return
    item = parse(offline, rest, HOOK)
    if key == "From":
        assert isinstance(item, Unparseable) and "without From" in item.reason
        return
    assert isinstance(item, InboundMessage), (key, item)
    assert (item.external_id, item.sender, item.channel) == (whole.external_id, whole.sender, whole.channel)


@pytest.mark.parametrize("name, index", list(cases(STATUS_FILES)))
def test_a_delivery_report_lacking_one_field(offline: TwilioChannel, name: str, index: int) -> None:
    pairs = pairs_of(name)
    whole = parse(offline, pairs, STATUS)
    assert isinstance(whole, StatusUpdate)
    key = pairs[index][0]
    rest = pairs[:index] + pairs[index + 1:]
    if key == "AccountSid" or (key in SID_FIELDS and not SID_FIELDS & {k for k, _ in rest}):
        with pytest.raises(WebhookRejected):
            parse(offline, rest, STATUS)
        return
    item = parse(offline, rest, STATUS)
    assert isinstance(item, StatusUpdate), (key, item)
    # The channel may no longer be told (no To/From): the report is matched on the SID alone.
    assert (item.provider_message_id, item.status) == (whole.provider_message_id, whole.status)
    if key != "ErrorCode":
        assert item.error_code == whole.error_code


def test_every_payload_file_is_in_a_table() -> None:
    tables = set(MESSAGE_FILES) | set(STATUS_FILES) | {
        "empty.txt", "missing_sid.txt", "missing_from.txt", "unsupported_address.txt",
        "status_missing_sid.txt", "status_unknown.txt"}
    assert {p.name for p in PAYLOADS.glob("*.txt")} == tables
