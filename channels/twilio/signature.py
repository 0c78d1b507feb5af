"""Twilio webhook authenticity: ``X-Twilio-Signature`` over the public URL Twilio called.

Checked with twilio's ``RequestValidator`` against the *public* URL (behind a proxy Flask
sees another one: notes/channel-pitfalls.md §8), over every form field including blank ones;
a JSON body (``?bodySHA256=``) is checked against its raw text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from twilio.request_validator import RequestValidator

from channels.base import WebhookRejected, WebhookRequest

try:  # twilio >= 9.13: SharedKey webhook signing may use HMAC-SHA256 (notes §5)
    from twilio.request_validator import (
        SIGNATURE_SETTINGS_HEADER,
        get_signature_algorithm,
    )
except ImportError:  # pragma: no cover - older 9.x
    SIGNATURE_SETTINGS_HEADER, get_signature_algorithm = "X-Twilio-Webhooks-Signature-Settings", None


def signed_url(public_url: str, url: str) -> str:
    """The URL Twilio signed, rebuilt from ``public_url`` and ``url``'s path and query.

    Pass the request URL as your web framework sees it (Flask: ``request.url``); only its
    path and query string are used. Scheme and host come from ``public_url``, and a path
    prefix in ``public_url`` is added when the proxy stripped it. The query string is
    kept exactly as received: it is signed. With no ``public_url``, ``url`` is used as
    is, so it must already be the public one (e.g. via ProxyFix).
    """
    if not public_url:
        return url
    public, got = urlsplit(public_url), urlsplit(url)
    prefix = public.path.rstrip("/")
    path = got.path or "/"
    if prefix and path != prefix and not path.startswith(prefix + "/"):
        path = prefix + path
    return urlunsplit((public.scheme, public.netloc, path, got.query, ""))


class SignatureChecker:
    """Checks requests signed with one account's auth token.

    Args:
        auth_token: The token Twilio signs with.
        public_url: The public base URL (see :func:`signed_url`).
    """

    def __init__(self, auth_token: str, public_url: str) -> None:
        self._validator = RequestValidator(auth_token)
        self._public_url = public_url

    def verify(self, request: WebhookRequest) -> None:
        """Check ``X-Twilio-Signature``.

        Raises:
            WebhookRejected: Missing or wrong signature (never a TypeError).
        """
        signature = request.header("X-Twilio-Signature")
        if not signature:
            raise WebhookRejected("twilio: missing X-Twilio-Signature")
        try:
            url = signed_url(self._public_url, request.url)
        except ValueError:   # a host header no URL can hold ("[", a bad IPv6 literal...)
            raise WebhookRejected("twilio: the request URL cannot be read") from None
        kwargs: dict[str, str] = {}
        settings = request.header(SIGNATURE_SETTINGS_HEADER)
        if settings:
            if get_signature_algorithm is None:
                raise WebhookRejected("twilio: signature settings header needs twilio >= 9.13")
            kwargs["algorithm"] = get_signature_algorithm(settings)
        params: Any
        if "bodySHA256" in parse_qs(urlsplit(url).query):
            # A JSON body: Twilio signs the URL, which carries the body's hash. The validator
            # checks that hash only when given the raw body as str; given a dict it would
            # skip the body check entirely (notes §5).
            try:
                params = request.body.decode("utf-8")
            except UnicodeDecodeError:
                raise WebhookRejected("twilio: body is not UTF-8") from None
        else:
            params = _FormParams(form_pairs(request))
        if not self._validator.validate(url, params, signature, **kwargs):
            raise WebhookRejected(f"twilio: bad X-Twilio-Signature for {url}")


class _FormParams:
    """Form pairs as the validator wants them: distinct keys, and ``getlist`` for repeats."""

    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self._pairs = pairs
        self._keys = list(dict.fromkeys(k for k, _ in pairs))

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._pairs if k == key]


def form_pairs(request: WebhookRequest) -> tuple[tuple[str, str], ...]:
    """The request's form fields in arrival order, blank ones included."""
    if request.form:
        return request.form
    ctype = request.header("Content-Type").lower()
    if request.body and ("x-www-form-urlencoded" in ctype or not ctype):
        # keep_blank_values: Twilio signs "ToCity=" too; dropping it breaks the signature.
        return tuple(parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return ()
