"""Fixtures of the telegram connector tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels.telegram import TelegramChannel
from tests.channels.telegram.support import NOW, config
from tests.fakes.fake_telegram import FakeTelegram


@pytest.fixture
def offline() -> Iterator[TelegramChannel]:
    """A channel whose API is unreachable: parsing must never need it."""
    channel = TelegramChannel(config(), clock=lambda: NOW)
    yield channel
    channel.close()


@pytest.fixture
def channel(fake_telegram: FakeTelegram) -> Iterator[TelegramChannel]:
    channel = TelegramChannel(config(fake_telegram), clock=lambda: NOW)
    yield channel
    channel.close()
