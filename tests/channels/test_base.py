"""The shared connector types: the refinements the connectors rely on."""

from __future__ import annotations

from channels.base import (Button, DeliveryStatus, OutboundMessage, SendError, SendFailure, StatusUpdate,
                           WebhookRequest)


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


def test_connectors_never_import_the_app_flask_or_sqlalchemy() -> None:
    import subprocess
    import sys
    code = ("import sys, channels.telegram, channels.twilio, channels.sms_segments; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'bot', 'flask', 'sqlalchemy', 'werkzeug'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=__import__("pathlib").Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
