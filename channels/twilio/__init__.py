"""Twilio connector: SMS and WhatsApp through one Twilio account (twilio 9).

- ``config.py``: :class:`TwilioConfig` and the webhook paths.
- ``signature.py``: ``X-Twilio-Signature`` against the public URL Twilio called.
- ``inbound.py``: message webhooks and status callbacks to plain dataclasses, with neutral
  facts (opt-out / opt-in / help keywords, "Twilio already answered it") and failure kinds.
- ``outbound.py``: the REST API with ``StatusCallback``; SMS segments, WhatsApp's 24-hour
  window and templates, buttons as numbered lines.
- ``errors.py``: Twilio error codes to :class:`~channels.base.SendFailure` kinds.
- ``media.py``: downloads with credentials only for our own account's media URLs.
- ``client.py``: the lazily built, fork-aware REST client; ``channel.py``: the connectors.

The registry holds two thin instances, ``TwilioChannel(config, "sms")`` and
``TwilioChannel(config, "whatsapp")`` (:func:`twilio_channels`), because the outbox looks
channels up by name; either parses both kinds, since Twilio sends both to the same webhook.

Twilio docs: https://www.twilio.com/docs/messaging/guides/webhook-request,
https://www.twilio.com/docs/usage/webhooks/webhooks-security,
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status
"""

from channels.twilio.channel import TwilioChannel, twilio_channels
from channels.twilio.client import RedirectingHttpClient
from channels.twilio.config import EMPTY_TWIML, STATUS_PATH, WEBHOOK_PATH, TwilioConfig
from channels.twilio.errors import OPTED_OUT, WINDOW_CLOSED, failure_for, send_error
from channels.twilio.inbound import parse_choice_number

__all__ = ["TwilioConfig", "TwilioChannel", "RedirectingHttpClient", "twilio_channels", "send_error",
           "failure_for", "EMPTY_TWIML", "parse_choice_number", "WEBHOOK_PATH", "STATUS_PATH",
           "WINDOW_CLOSED", "OPTED_OUT"]
