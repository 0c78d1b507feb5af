"""Twilio failures map to SendFailure kinds."""

from __future__ import annotations

from typing import Any

import pytest

from channels.base import OutboundMessage, SendError, SendFailure
from channels.twilio import TwilioChannel, TwilioConfig
from tests.channels.twilio.support import SID, config, sms_out, wa_out
from tests.fakes.fake_twilio import FakeTwilio

# -- errors ----------------------------------------------------------------------------------

ERRORS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("429-20429", dict(status=429, code=20429, message="Too Many Requests"),
     dict(retryable=True, code="20429", kind=SendFailure.throttled)),
    ("503", dict(status=503, code=20503, message="Service Unavailable"), dict(retryable=True)),
    ("21610", dict(status=400, code=21610, message="Attempt to send to unsubscribed recipient"),
     dict(retryable=False, kind=SendFailure.contact_stopped, code="21610")),
    ("63016-sync", dict(status=400, code=63016, message="Failed to send freeform message because you are "
                        "outside the allowed window."),
     dict(retryable=False, kind=SendFailure.needs_template, code="63016")),
    ("63018", dict(status=429, code=63018, message="Rate limit exceeded for Channel"), dict(retryable=True)),
    ("21211", dict(status=400, code=21211, message="Invalid 'To' Phone Number"),
     dict(retryable=False, kind=SendFailure.permanent, code="21211")),
    ("rfc9457", dict(status=400, code=21211, message="Invalid 'To' Phone Number", problem_details=True),
     dict(retryable=False, code="21211")),
    ("rfc9457-429", dict(status=429, code=20429, message="Too Many Requests", problem_details=True),
     dict(retryable=True)),
]


@pytest.mark.parametrize("label, fail, expected", ERRORS, ids=[e[0] for e in ERRORS])
def test_send_errors_are_mapped(wa: TwilioChannel, fake_twilio: FakeTwilio, label: str, fail: dict[str, Any],
                                expected: dict[str, Any]) -> None:
    fake_twilio.fail(**fail)
    with pytest.raises(SendError) as err:
        wa.send(wa_out("Halo"))
    for attr, value in expected.items():
        assert getattr(err.value, attr) == value, attr


def test_html_502_is_retryable(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_html(502)
    with pytest.raises(SendError) as err:
        sms.send(sms_out("Halo"))
    assert err.value.retryable and err.value.code == "502"


def test_wrong_credentials_are_not_retryable(fake_twilio: FakeTwilio) -> None:
    channel = TwilioChannel(TwilioConfig(SID, "wrong-token", sms_from="+15005550006", api_base_url=fake_twilio.url))
    with pytest.raises(SendError) as err:
        channel.send(sms_out("Halo"))
    assert not err.value.retryable and err.value.code == "20003"


def test_read_timeout_is_retryable_with_unknown_outcome(fake_twilio: FakeTwilio) -> None:
    fake_twilio.delay(1.5)
    channel = TwilioChannel(config(fake_twilio, timeout=0.3), "sms")
    with pytest.raises(SendError) as err:
        channel.send(sms_out("Halo"))
    assert err.value.retryable and err.value.outcome_unknown and err.value.code == "timeout"


def test_connection_refused_is_retryable_and_known_unsent() -> None:
    channel = TwilioChannel(config(None), "sms")
    with pytest.raises(SendError) as err:
        channel.send(sms_out("Halo"))
    assert err.value.retryable and not err.value.outcome_unknown


def test_a_failed_part_reports_progress_and_a_retry_resumes_after_it(sms: TwilioChannel,
                                                                    fake_twilio: FakeTwilio) -> None:
    message = sms_out(" ".join(f"Langkah {i}: petugas memeriksa lokasi dan mencatat kerusakan." for i in range(25)))
    plan = sms.plan(message)
    assert isinstance(plan, list) and len(plan) == 4
    fake_twilio.fail(503, 20503, "Service Unavailable", after=2)
    with pytest.raises(SendError) as err:
        sms.send(message)
    assert err.value.parts_sent == 2 and len(err.value.sent_ids) == 2
    retry = OutboundMessage(**{**{f: getattr(message, f) for f in message.__slots__},
                               "resume_from": err.value.parts_sent})
    result = sms.send(retry)
    assert [m.fields["Body"] for m in fake_twilio.messages] == [p["body"] for p in plan]   # each exactly once
    assert len(result.provider_message_ids) == 2
