"""The Twilio connector objects: one per channel name ("sms", "whatsapp"), sharing one account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from channels.base import (
    CitizenAbilities,
    Inbound,
    OutboundMessage,
    SendResult,
    WebhookRequest,
    WebhookRoute,
)
from channels.twilio import inbound, media, outbound
from channels.twilio.client import RestClient
from channels.twilio.config import (
    CHANNEL_NAMES,
    EMPTY_TWIML,
    STATUS_PATH,
    WEBHOOK_PATH,
    TwilioConfig,
)
from channels.twilio.signature import SignatureChecker, signed_url

SMS_ABILITIES = CitizenAbilities(share_location=False, send_photos=False)
_ROUTES = (WebhookRoute(WEBHOOK_PATH, "inbound", EMPTY_TWIML, "text/xml"),
           WebhookRoute(STATUS_PATH, "status", EMPTY_TWIML, "text/xml"))


class TwilioChannel:
    """The Twilio connector for one channel (see the package docstring).

    Either instance verifies and parses requests of both channels (Twilio sends both to the
    same webhook), so both declare the same routes; it sends on the channel the
    :class:`~channels.base.OutboundMessage` names.

    Args:
        config: Account, senders, public URL, templates.
        name: "sms" or "whatsapp": the registry name and the default channel for sends.
        clock: Returns "now" as an aware UTC datetime.
        rest: The account's REST client, shared with the sibling channel.
    """

    def __init__(self, config: TwilioConfig, name: str = "sms", *,
                 clock: Callable[[], datetime] | None = None, rest: RestClient | None = None) -> None:
        if name not in CHANNEL_NAMES:
            raise ValueError(f"TwilioChannel: name must be 'sms' or 'whatsapp', not {name!r}")
        self.name = name
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rest = rest or RestClient(config)
        self._signature = SignatureChecker(config.auth_token, config.public_url)

    def webhook_routes(self) -> tuple[WebhookRoute, ...]:
        """``POST /webhooks/twilio`` and ``/webhooks/twilio/status``, answered with empty TwiML."""
        return _ROUTES

    def signed_url(self, url: str) -> str:
        """See :func:`channels.twilio.signature.signed_url`."""
        return signed_url(self.config.public_url, url)

    def verify(self, request: WebhookRequest) -> None:
        """Check ``X-Twilio-Signature``, then that the request names a message of our
        account (see :func:`channels.twilio.inbound.check_identity`); raises ``WebhookRejected``."""
        self._signature.verify(request)
        inbound.check_identity(self.config, request)

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        """Parse a message webhook or a status callback. Never raises."""
        return inbound.parse(self.config, self.name, request, self._clock())

    def send(self, message: OutboundMessage) -> SendResult:
        """See :func:`channels.twilio.outbound.send`."""
        return outbound.send(self._rest, self.config, message, self._channel_of(message), self._clock())

    def plan(self, message: OutboundMessage, channel: str | None = None
             ) -> list[dict[str, Any]] | SendResult:
        """See :func:`channels.twilio.outbound.plan`."""
        return outbound.plan(self.config, message, channel or self._channel_of(message), self._clock())

    def window_open(self, last_inbound_at: datetime | None) -> bool:
        """See :func:`channels.twilio.outbound.window_open`."""
        return outbound.window_open(self.config, last_inbound_at, self._clock())

    def fetch_media(self, url: str) -> tuple[str, bytes]:
        """See :func:`channels.twilio.media.fetch_media`."""
        return media.fetch_media(self._rest, self.config, url)

    def _channel_of(self, message: OutboundMessage) -> str:
        return message.channel if message.channel in CHANNEL_NAMES else self.name

    @property
    def citizen_abilities(self) -> CitizenAbilities:
        """SMS carries text only (MMS is not offered in Indonesia): no map point, no photo."""
        return SMS_ABILITIES if self.name == "sms" else CitizenAbilities()


def twilio_channels(config: TwilioConfig, *, clock: Callable[[], datetime] | None = None
                    ) -> dict[str, TwilioChannel]:
    """The Twilio channels whose sender is configured: {"sms": ..., "whatsapp": ...}.

    They share one REST client (and its connection pool).
    """
    rest = RestClient(config)
    out: dict[str, TwilioChannel] = {}
    if config.sms_from:
        out["sms"] = TwilioChannel(config, "sms", clock=clock, rest=rest)
    if config.whatsapp_from:
        out["whatsapp"] = TwilioChannel(config, "whatsapp", clock=clock, rest=rest)
    return out
