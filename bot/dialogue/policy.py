"""The city's choices the dialogue follows: how long a handover may wait, office hours, how old
a draft may be before it is no longer resumed silently, what counts as a duplicate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class DialoguePolicy:
    """Settings of the conversation (config.yml ``dialogue:``).

    Attributes:
        handover_timeout: A handed-over conversation nobody took within this time returns to
            the bot, and the citizen is told so.
        expected_wait_minutes: What the citizen is told to expect while waiting for a person.
        office_hours: When staff answer, as shown to citizens ("Senin-Jumat 08.00-16.00").
        draft_stale_after: A complaint draft untouched this long is not resumed silently.
        duplicate_days: A complaint of the same category near the same place filed within this
            many days is offered to join instead of filing a new one.
        duplicate_meters: "Near" for two shared points.
    """

    handover_timeout: timedelta = timedelta(minutes=60)
    expected_wait_minutes: int = 15
    office_hours: str = "Senin-Jumat 08.00-16.00"
    draft_stale_after: timedelta = timedelta(hours=24)
    duplicate_days: float = 7.0
    duplicate_meters: float = 150.0


def dialogue_policy(settings: Settings) -> DialoguePolicy:
    """The policy config.yml's ``dialogue:`` section sets."""
    d = settings.dialogue
    return DialoguePolicy(handover_timeout=timedelta(minutes=d.handover_timeout_minutes),
                          expected_wait_minutes=d.expected_wait_minutes, office_hours=d.office_hours,
                          draft_stale_after=timedelta(hours=d.draft_stale_hours))
