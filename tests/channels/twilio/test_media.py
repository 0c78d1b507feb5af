"""Twilio media downloads: credentials for our own account's URLs only."""

from __future__ import annotations

from typing import Any

import pytest

from channels.base import SendError
from channels.twilio import TwilioChannel, TwilioConfig
from tests.channels.twilio.support import SID, TOKEN, config
from tests.fakes.fake_twilio import FakeTwilio

# -- media -----------------------------------------------------------------------------------

def test_fetch_media_sends_credentials_to_twilio_only(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    url = fake_twilio.add_media(b"\xff\xd8jpeg-bytes", "image/jpeg")
    assert sms.fetch_media(url) == ("image/jpeg", b"\xff\xd8jpeg-bytes")
    [api] = fake_twilio.requests
    assert api.basic_auth() == (SID, TOKEN)
    [cdn] = fake_twilio.cdn.requests
    assert "authorization" not in cdn.headers                # the redirect is followed without credentials


def test_fetch_media_without_redirect(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    url = fake_twilio.add_media(b"video", "video/mp4", redirect=False)
    assert sms.fetch_media(url) == ("video/mp4", b"video")


def test_fetch_media_404_right_after_the_webhook_is_retryable(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    url = fake_twilio.add_media(b"img", not_found_times=1)
    with pytest.raises(SendError) as err:
        sms.fetch_media(url)
    assert err.value.retryable and err.value.code == "404"
    assert sms.fetch_media(url) == ("image/jpeg", b"img")


@pytest.mark.parametrize("make_url", [
    lambda f: f"https://evil.example.com/2010-04-01/Accounts/{SID}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}",
    lambda f: f"{f.url}/2010-04-01/Accounts/AC{'9' * 32}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}",
    lambda f: f"{f.url}/2010-04-01/Accounts/{SID}/Messages/../../../Accounts/AC{'9' * 32}/Messages.json",
    lambda f: f"{f.url}/2010-04-01/Accounts/{SID}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}?x=1",
    lambda f: (f"http://127.0.0.1:{f.port}@evil.example.com"
               f"/2010-04-01/Accounts/{SID}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}"),
    lambda f: f"{f.url}.evil.example.com/2010-04-01/Accounts/{SID}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}",
], ids=["foreign-host", "other-account", "path-traversal", "query", "userinfo", "host-suffix"])
def test_fetch_media_refuses_other_urls_before_any_request(sms: TwilioChannel, fake_twilio: FakeTwilio,
                                                           make_url: Any) -> None:
    with pytest.raises(SendError) as err:
        sms.fetch_media(make_url(fake_twilio))
    assert err.value.code == "media_url_rejected" and not err.value.retryable
    assert fake_twilio.requests == [] and fake_twilio.cdn.requests == []


def test_fetch_media_refuses_oversized_media(fake_twilio: FakeTwilio) -> None:
    channel = TwilioChannel(config(fake_twilio, max_media_bytes=3), "sms")
    with pytest.raises(SendError) as err:
        channel.fetch_media(fake_twilio.add_media(b"too big"))
    assert err.value.code == "too_large"


def test_fetch_media_with_wrong_credentials_is_not_retryable(fake_twilio: FakeTwilio) -> None:
    channel = TwilioChannel(TwilioConfig(SID, "wrong", media_api_origin=fake_twilio.url), "sms")
    with pytest.raises(SendError) as err:
        channel.fetch_media(fake_twilio.add_media(b"img"))
    assert not err.value.retryable and err.value.code == "401"


def test_config_hides_the_auth_token() -> None:
    assert TOKEN not in repr(config())
    with pytest.raises(ValueError):
        TwilioConfig(SID, "")


def test_empty_twiml_is_what_twilio_itself_renders() -> None:
    from twilio.twiml.messaging_response import MessagingResponse

    from channels.twilio import EMPTY_TWIML
    assert str(MessagingResponse()) == EMPTY_TWIML
