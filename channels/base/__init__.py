"""Types every channel connector shares: the one interface between ``bot`` and the connectors.

A connector turns a provider's HTTP request into plain frozen dataclasses and sends
:class:`OutboundMessage` back through the provider's API. Connectors never import ``bot``,
Flask or SQLAlchemy: ``bot`` composes them, so each one is testable alone with a table of
real-shaped payloads.

Everyone imports these names from ``channels.base``; they live in one module per part:
:mod:`.requests` (what a provider's request is, and how it is answered), :mod:`.messages`
(inbound messages, delivery reports, outbound messages), :mod:`.errors` (what a failed
provider call means) and :mod:`.protocols` (:class:`Channel` and its optional abilities).
"""

from channels.base.errors import SendError, SendFailure
from channels.base.messages import (
    Button,
    ContactEvent,
    DeliveryStatus,
    Inbound,
    InboundMessage,
    Location,
    Media,
    OutboundMessage,
    SendResult,
    StatusUpdate,
    Unparseable,
)
from channels.base.protocols import (
    AnswersButtons,
    Channel,
    CitizenAbilities,
    Closeable,
    DeclaresWebhooks,
    DeliversOnStore,
    DescribesCitizenAbilities,
    FetchesMedia,
    ManagesWebhook,
    NoDeliveryReports,
    Polls,
    WebhookInfo,
)
from channels.base.requests import InvalidRequest, UploadedFile, WebhookRejected, WebhookRequest, WebhookRoute

__all__ = [
    "AnswersButtons",
    "Button",
    "Channel",
    "CitizenAbilities",
    "Closeable",
    "ContactEvent",
    "DeclaresWebhooks",
    "DeliversOnStore",
    "DeliveryStatus",
    "DescribesCitizenAbilities",
    "FetchesMedia",
    "Inbound",
    "InboundMessage",
    "InvalidRequest",
    "Location",
    "ManagesWebhook",
    "Media",
    "NoDeliveryReports",
    "OutboundMessage",
    "Polls",
    "SendError",
    "SendFailure",
    "SendResult",
    "StatusUpdate",
    "UploadedFile",
    "Unparseable",
    "WebhookInfo",
    "WebhookRejected",
    "WebhookRequest",
    "WebhookRoute",
]
