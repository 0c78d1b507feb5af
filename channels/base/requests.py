"""What a provider's HTTP request is to a connector, and the answers a request can get.

:class:`WebhookRequest` is the part of a request a connector may look at; a connector declares
the paths its provider calls as :class:`WebhookRoute`; an unauthentic request is
:class:`WebhookRejected` (403), a client's mistake :class:`InvalidRequest` (400).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """The parts of an HTTP request a connector may look at.

    Attributes:
        url: The URL the provider called, as the provider saw it (public scheme and host),
            including the query string. Signature checks are computed over this.
        headers: Request headers (case-insensitive lookups are the caller's job: keys are
            stored lower-cased).
        body: The raw body bytes.
        form: Parsed ``application/x-www-form-urlencoded`` pairs in arrival order (repeats
            allowed, blank values kept: Twilio signs them), empty for JSON bodies. When it is
            empty, a form-encoded ``body`` is parsed by the connector itself.
        route: The kind of the connector's :class:`WebhookRoute` the request came to
            ("inbound" or "status"), so a connector with several routes knows what it was
            sent without guessing from the fields; None when it did not come to a route
            (polling, tests calling the connector directly).
        files: Files uploaded with a ``multipart/form-data`` request (the web chat's photo),
            already checked and saved on this machine by the web layer; ``form`` then holds
            the other fields.
    """

    url: str
    headers: Mapping[str, str]
    body: bytes
    form: tuple[tuple[str, str], ...] = ()
    route: Literal["inbound", "status"] | None = None
    files: tuple[UploadedFile, ...] = ()

    def header(self, name: str, default: str = "") -> str:
        """Return a header's value, matching the name case-insensitively."""
        value = self.headers.get(name.lower())
        if value is not None:
            return value
        wanted = name.lower()
        for key, val in self.headers.items():
            if key.lower() == wanted:
                return val
        return default


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file that came with a request, saved by the web layer under a name it generated.

    Attributes:
        field: The form field it came in.
        filename: The name the citizen's device gave it: text to show, never a path.
        content_type: The type its first bytes show (not the one the client declared).
        path: Where it is saved.
        size: Its length in bytes.
    """

    field: str
    filename: str
    content_type: str
    path: str
    size: int


@dataclass(frozen=True, slots=True)
class WebhookRoute:
    """A URL path a connector asks its provider to call, and how to acknowledge it.

    ``bot`` serves every declared route generically (verify, parse, store, then answer
    ``ack_body``), so it needs no provider names. Several connectors may declare the same
    path (Twilio's SMS and WhatsApp share one webhook); each of them must then handle every
    request on it, since any one of them may be given it.

    Attributes:
        path: The absolute URL path, e.g. "/webhooks/telegram".
        kind: "inbound" (citizens' messages) or "status" (delivery reports).
        ack_body: The body of the 2xx answer (Twilio: empty TwiML, i.e. "no reply now").
        ack_content_type: Its content type.
    """

    path: str
    kind: Literal["inbound", "status"]
    ack_body: str
    ack_content_type: str


class WebhookRejected(Exception):
    """The request is not authentic (bad or missing signature/secret): answer 403."""


class InvalidRequest(ValueError):
    """The request is the client's mistake, not a provider's message: answer 400, store nothing.

    Only connectors whose clients can correct themselves raise it (the web chat API); a
    provider's authentic request is never refused for its content (see :class:`Unparseable`).
    """
