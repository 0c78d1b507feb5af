"""Fixtures of the twilio connector tests."""

from __future__ import annotations

import pytest

from channels.twilio import TwilioChannel
from tests.channels.twilio.support import NOW, config
from tests.fakes.fake_twilio import FakeTwilio


@pytest.fixture
def offline() -> TwilioChannel:
    return TwilioChannel(config(), "sms", clock=lambda: NOW)


@pytest.fixture
def sms(fake_twilio: FakeTwilio) -> TwilioChannel:
    return TwilioChannel(config(fake_twilio), "sms", clock=lambda: NOW)


@pytest.fixture
def wa(fake_twilio: FakeTwilio) -> TwilioChannel:
    return TwilioChannel(config(fake_twilio), "whatsapp", clock=lambda: NOW)
