"""Telegram attachments through getFile."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from channels.base import SendError
from channels.telegram import TelegramChannel
from tests.channels.telegram.support import TOKEN, config
from tests.fakes.fake_telegram import FakeTelegram


def test_fetch_media_downloads_through_getfile(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    fake_telegram.add_file("AgACAgUAAxkBAAIBZ2dHlarge", b"\xff\xd8\xff\xe0fake-jpeg", "photos/file_7.jpg")
    content_type, data = channel.fetch_media("tg-file:AgACAgUAAxkBAAIBZ2dHlarge")
    assert (content_type, data) == ("image/jpeg", b"\xff\xd8\xff\xe0fake-jpeg")
    assert fake_telegram.calls("getFile")[0].params == {"file_id": "AgACAgUAAxkBAAIBZ2dHlarge"}
    assert [unquote(r.path) for r in fake_telegram.downloads()] == [f"/file/bot{TOKEN}/photos/file_7.jpg"]
    with pytest.raises(SendError) as err:
        channel.fetch_media("tg-file:unknown")
    assert not err.value.retryable


def test_fetch_media_refuses_oversized_files(fake_telegram: FakeTelegram) -> None:
    fake_telegram.add_file("big", b"x" * 100, "documents/file_9.pdf")
    with TelegramChannel(config(fake_telegram, max_media_bytes=10)) as channel, pytest.raises(SendError) as err:
        channel.fetch_media("tg-file:big")
    assert err.value.code == "too_large" and fake_telegram.downloads() == []
