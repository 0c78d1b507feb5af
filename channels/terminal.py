"""A channel for ``warga chat``: the bot talks to whoever sits at the terminal."""

from __future__ import annotations

from typing import Callable

from channels.base import DeliveryStatus, Inbound, OutboundMessage, SendResult, WebhookRequest


class TerminalChannel:
    name = "terminal"

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def verify(self, request: WebhookRequest) -> None:
        return None

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        return []

    def send(self, message: OutboundMessage) -> SendResult:
        lines = [message.text]
        lines += [f"  [{i}] {b.title}" for i, b in enumerate(message.buttons, 1)]
        self.write("\n".join(lines))
        return SendResult((f"terminal-{message.idempotency_key}",), DeliveryStatus.delivered)
