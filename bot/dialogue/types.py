"""Types the dialogue takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from channels.base import Button, Location, Media


@dataclass(frozen=True, slots=True)
class Incoming:
    """One citizen message as the dialogue sees it."""

    text: str
    channel: str
    received_at: datetime
    button: str | None = None
    location: Location | None = None
    media: tuple[Media, ...] = ()
    sender_name: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class Turn:
    """What the dialogue decided: replies to send and the conversation's new memory."""

    replies: tuple[Reply, ...]
    state: dict[str, Any] = field(default_factory=dict)
    language: str = "id"


@dataclass(frozen=True, slots=True)
class ComplaintView:
    ticket: str
    category: str
    agency: str
    status: str
    updated_at: datetime
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class ComplaintDraft:
    category: str
    description: str
    language: str
    location_text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    media: tuple[Media, ...] = ()


class DialoguePorts(Protocol):
    """What the dialogue may ask of the rest of the application (backed by the database)."""

    def file_complaint(self, draft: ComplaintDraft) -> ComplaintView: ...

    def own_complaint(self, ticket: str) -> ComplaintView | None:
        """The citizen's complaint with this ticket; None for unknown or someone else's."""

    def recent_complaints(self, limit: int) -> list[ComplaintView]: ...

    def category_for_intent(self, intent: str | None) -> str | None: ...
