"""Twilio attachments: download an inbound ``MediaUrlN`` without leaking our credentials.

Only URLs on ``media_api_origin`` under ``/2010-04-01/Accounts/<our sid>/Messages/`` get
Basic auth; anything else is refused before any request is made (a forged webhook could
otherwise name a URL that collects our credentials: notes/channel-pitfalls.md §7). Twilio
answers with a redirect to a short-lived CDN URL, which is fetched without credentials.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import requests

from channels.base import SendError, SendFailure
from channels.twilio.client import RestClient
from channels.twilio.config import TwilioConfig

_TWILIO_SID = r"[A-Z]{2}[0-9a-fA-F]{32}"


def fetch_media(rest: RestClient, config: TwilioConfig, url: str) -> tuple[str, bytes]:
    """Download one attachment.

    Returns:
        (content type, bytes).

    Raises:
        SendError: ``media_url_rejected`` (permanent) for a foreign URL; retry later for 404
            (media can lag the webhook), 429, 5xx and network errors.
    """
    _check_media_url(config, url)
    session = rest.media_session()
    auth: tuple[str, str] | None = (config.account_sid, config.auth_token)
    current = url
    for _hop in range(4):
        try:
            response = session.get(current, auth=auth, allow_redirects=False, stream=True,
                                   timeout=config.timeout)
        except requests.RequestException as exc:
            raise SendError(f"media download failed: {type(exc).__name__}: {exc}",
                            kind=SendFailure.retry_later, code="network") from exc
        with response:
            if response.is_redirect:
                target = urljoin(current, response.headers.get("Location", ""))
                if urlsplit(target).scheme not in ("https", urlsplit(config.media_api_origin).scheme):
                    raise SendError(f"media redirect to {target!r} refused", kind=SendFailure.permanent,
                                    code="media_url_rejected")
                current, auth = target, None         # credentials on the first hop only
                continue
            return _read(config, response)
    raise SendError("media download: too many redirects", kind=SendFailure.permanent, code="redirects")


def _read(config: TwilioConfig, response: requests.Response) -> tuple[str, bytes]:
    status = response.status_code
    if status != 200:
        retry = status in (404, 429) or status >= 500
        raise SendError(f"media download: HTTP {status}", code=str(status),
                        kind=SendFailure.retry_later if retry else SendFailure.permanent)
    limit = config.max_media_bytes
    if int(response.headers.get("Content-Length") or 0) > limit:
        raise SendError("media too large", kind=SendFailure.permanent, code="too_large")
    data = bytearray()
    for chunk in response.iter_content(65536):
        data += chunk
        if len(data) > limit:
            raise SendError("media too large", kind=SendFailure.permanent, code="too_large")
    ctype = (response.headers.get("Content-Type") or "application/octet-stream").split(";")[0].strip()
    return ctype, bytes(data)


def _check_media_url(config: TwilioConfig, url: str) -> None:
    u = urlsplit(url)
    expected = config.media_api_origin.rstrip("/").lower()
    path_ok = re.fullmatch(
        rf"/2010-04-01/Accounts/{re.escape(config.account_sid)}/Messages/{_TWILIO_SID}"
        rf"/Media/{_TWILIO_SID}", u.path)
    if f"{u.scheme}://{u.netloc}".lower() != expected or not path_ok or u.query or u.fragment:
        raise SendError(f"not a media URL of our Twilio account: {url!r}", kind=SendFailure.permanent,
                        code="media_url_rejected")
