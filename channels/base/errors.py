"""What a failed provider call means: :class:`SendError` and its closed set of kinds."""

from __future__ import annotations

import enum


class SendFailure(enum.StrEnum):
    """The closed set of things a failed provider call can mean, and so what to do next."""

    retry_later = "retry_later"                    # 5xx, timeouts, network: try again later
    throttled = "throttled"                        # rate limited: wait (``retry_after``), then retry
    contact_stopped = "contact_stopped"            # the citizen opted out (Twilio 21610)
    contact_unreachable = "contact_unreachable"    # blocked the bot or deactivated (Telegram 403)
    needs_template = "needs_template"              # WhatsApp's 24-hour window is closed (63016)
    permanent = "permanent"                        # anything else: retrying fails again

    @property
    def retryable(self) -> bool:
        """Whether trying the same call again later may succeed."""
        return self in (SendFailure.retry_later, SendFailure.throttled)


class SendError(Exception):
    """A call to a provider failed (sending, and also the other provider calls a connector
    makes: fetching media, answering a button, registering a webhook, polling).

    Attributes:
        reason: What went wrong, for staff and logs.
        kind: What the failure means (:class:`SendFailure`).
        retry_after: Seconds the provider asked us to wait, if it said.
        code: The provider's error code.
        outcome_unknown: The request may have reached the provider (a timeout after sending).
        parts_sent: For a message sent as several provider messages: how many parts in
            total (counting ``OutboundMessage.resume_from``) went out before this failure.
            Pass it back as ``resume_from`` on the retry.
        sent_ids: Provider ids of the parts this attempt did send before failing.
    """

    def __init__(self, reason: str, *, kind: SendFailure, retry_after: float | None = None,
                 code: str | None = None, outcome_unknown: bool = False,
                 parts_sent: int = 0, sent_ids: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.retry_after = retry_after
        self.code = code
        self.outcome_unknown = outcome_unknown
        self.parts_sent = parts_sent
        self.sent_ids = sent_ids

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed (``kind`` is retry_later or throttled)."""
        return self.kind.retryable

    def __repr__(self) -> str:
        return (f"SendError({self.reason!r}, kind={self.kind.value}, code={self.code!r}, "
                f"retry_after={self.retry_after}, outcome_unknown={self.outcome_unknown}, "
                f"parts_sent={self.parts_sent})")
