"""A channel for ``warga chat``: the bot talks to whoever sits at the terminal.

The terminal goes through the same receive path as every channel: each typed line is handed
over as a request whose body is the text and whose ``x-warga-sender`` header names the person.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from channels.base import DeliveryStatus, Inbound, InboundMessage, OutboundMessage, SendResult, WebhookRequest

SENDER_HEADER = "x-warga-sender"


class TerminalChannel:
    """Reads typed lines and writes replies with a ``write`` callback.

    Args:
        write: Shows one reply (text plus numbered choices) to the person at the terminal.
    """

    name = "terminal"

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    @staticmethod
    def request_for(text: str, who: str) -> WebhookRequest:
        """The request that carries one typed line (what ``warga chat`` hands to receive)."""
        return WebhookRequest(url="terminal:", headers={SENDER_HEADER: who}, body=text.encode("utf-8"))

    def verify(self, request: WebhookRequest) -> None:
        """Accept every request: they come from the local terminal, never from the network."""
        return None

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        who = request.header(SENDER_HEADER) or "citizen"
        return [InboundMessage(channel=self.name, external_id=uuid.uuid4().hex, sender=f"terminal:{who}",
                               text=request.body.decode("utf-8", errors="replace"),
                               received_at=datetime.now(UTC), sender_name=who)]

    def send(self, message: OutboundMessage) -> SendResult:
        lines = [message.text]
        lines += [f"  [{i}] {b.title}" for i, b in enumerate(message.buttons, 1)]
        self.write("\n".join(lines))
        return SendResult((f"terminal-{message.idempotency_key}",), DeliveryStatus.delivered)
