"""The shared connector types: the refinements the connectors rely on."""

from __future__ import annotations

import pytest

from channels.base import (
    Button,
    DeliveryStatus,
    OutboundMessage,
    SendError,
    SendFailure,
    StatusUpdate,
    WebhookRequest,
)


def test_header_lookup_is_case_insensitive() -> None:
    request = WebhookRequest("https://x/y", {"X-Twilio-Signature": "abc", "content-type": "text/plain"}, b"")
    assert request.header("x-twilio-signature") == "abc"
    assert request.header("Content-Type") == "text/plain"
    assert request.header("missing", "default") == "default"


def test_new_fields_default_to_the_old_behaviour() -> None:
    message = OutboundMessage("sms", "tel:+6281234567890", "Halo")
    assert message.resume_from == 0 and message.language is None
    assert Button("Ya", "yes").kind == "reply"
    error = SendError("x", kind=SendFailure.retry_later)
    assert (error.parts_sent, error.sent_ids, error.outcome_unknown) == (0, (), False)
    assert "kind=retry_later" in repr(error)


def test_status_ranking_never_goes_backwards() -> None:
    assert DeliveryStatus.parse("undelivered") == DeliveryStatus.failed
    assert DeliveryStatus.read > DeliveryStatus.delivered > DeliveryStatus.sent > DeliveryStatus.queued
    assert DeliveryStatus.parse("huh") is None
    assert StatusUpdate.__dataclass_fields__["failure"].default is None



@pytest.mark.parametrize("kind, retryable", [
    (SendFailure.retry_later, True), (SendFailure.throttled, True),
    (SendFailure.contact_stopped, False), (SendFailure.contact_unreachable, False),
    (SendFailure.needs_template, False), (SendFailure.permanent, False),
])
def test_only_transient_failures_are_retried(kind: SendFailure, retryable: bool) -> None:
    error = SendError("x", kind=kind, retry_after=3.0 if kind is SendFailure.throttled else None)
    assert error.retryable is retryable and error.kind is kind
