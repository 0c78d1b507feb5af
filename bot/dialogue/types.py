"""Types the dialogue takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.dialogue.state import DialogueState
from channels.base import Button, CitizenAbilities, Location, Media


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
    abilities: CitizenAbilities = CitizenAbilities()


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to the citizen: plain text, and buttons each channel renders its own way."""

    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class Turn:
    """What the dialogue decided: replies to send and the conversation's new memory.

    Attributes:
        replies: To send, in order.
        state: The conversation's memory after this message.
        language: The language the replies are in (the conversation's from now on).
        handover: The reason ("requested", "angry", "not_understood") when this message handed
            the conversation over (``state.handover`` says whether it is with a person).
    """

    replies: tuple[Reply, ...]
    state: DialogueState = field(default_factory=DialogueState)
    language: str = "id"
    handover: str | None = None


@dataclass(frozen=True, slots=True)
class ComplaintView:
    """A filed complaint as the citizen may see it (times are aware, UTC)."""

    ticket: str
    category: str
    agency: str
    status: str
    updated_at: datetime
    due_at: datetime | None
    resolve_due_at: datetime | None = None
    closed_at: datetime | None = None     # when it last became Selesai


@dataclass(frozen=True, slots=True)
class ComplaintDraft:
    """A confirmed complaint, ready to be filed."""

    category: str
    description: str
    language: str
    location_text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    media: tuple[Media, ...] = ()


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An open complaint the one being filed seems to repeat.

    Attributes:
        view: The complaint as the citizen may see it.
        location: Where it is, as filed (the address, or the shared point).
        own: The citizen filed it or already follows it.
    """

    view: ComplaintView
    location: str
    own: bool = False


class DialoguePorts(Protocol):
    """What the dialogue may ask of the rest of the application (backed by the database)."""

    def file_complaint(self, draft: ComplaintDraft) -> ComplaintView: ...

    def own_complaint(self, ticket: str) -> ComplaintView | None:
        """The citizen's complaint with this ticket; None for unknown or someone else's."""

    def recent_complaints(self, limit: int) -> list[ComplaintView]: ...

    def category_for_intent(self, intent: str | None) -> str | None: ...

    def categories(self) -> list[str]:
        """Category names in the order they are offered."""

    def rate(self, ticket: str, rating: int) -> bool:
        """Record a 1-5 rating on the citizen's own resolved complaint; False when it is not
        theirs or was already rated since it was last resolved (a rating is stored once)."""

    def sla_of(self, category: str) -> tuple[float, float]:
        """(coordination hours, resolution days) of a category: "how long does it take?"."""

    def reopen(self, ticket: str) -> ComplaintView | None:
        """Reopen the citizen's resolved complaint; None when the reopen period has passed."""

    def reopen_days(self) -> float: ...

    def find_duplicate(self, draft: ComplaintDraft) -> Duplicate | None:
        """An open complaint of the draft's category at the same place, filed recently by anyone
        (complaints.duplicate_days, duplicate_distance_m); None when there is none."""

    def follow(self, ticket: str, draft: ComplaintDraft) -> ComplaintView | None:
        """Add the draft to the open complaint ``ticket`` (its description as the citizen's note,
        its photos kept) and make the citizen a follower; None when it is closed or unknown."""
