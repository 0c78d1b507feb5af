"""The twilio REST ``Client`` and the media session, built lazily in the process using them."""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from channels.twilio.config import TwilioConfig


class RedirectingHttpClient(TwilioHttpClient):
    """Sends every ``*.twilio.com`` request to ``base_url`` instead (a local fake in tests).

    ``Client(edge=..., region=...)`` cannot point at localhost (notes §6, option 2).
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == "twilio.com" or host.endswith(".twilio.com"):
            url = self._base + parts.path + ("?" + parts.query if parts.query else "")
        return super().request(method, url, *args, **kwargs)


class RestClient:
    """A lazily built, fork-aware twilio ``Client`` plus a session for media downloads.

    One is shared by the SMS and WhatsApp connectors of an account (one connection pool).
    """

    def __init__(self, config: TwilioConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._client: Client | None = None
        self._media: requests.Session | None = None

    def _ensure(self) -> None:
        if self._pid != os.getpid():            # built here, after any fork
            c = self._config
            http = (RedirectingHttpClient(c.api_base_url, timeout=c.timeout) if c.api_base_url
                    else TwilioHttpClient(timeout=c.timeout))
            self._client = Client(c.account_sid, c.auth_token, http_client=http)
            self._media = requests.Session()
            self._pid = os.getpid()

    def client(self) -> Client:
        """The REST client of this process."""
        with self._lock:
            self._ensure()
            assert self._client is not None
            return self._client

    def media_session(self) -> requests.Session:
        """The media download session of this process."""
        with self._lock:
            self._ensure()
            assert self._media is not None
            return self._media
