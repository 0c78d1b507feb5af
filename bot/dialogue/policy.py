"""The city's choices the dialogue follows: how long a handover may wait, office hours, how old
a draft may be before it is no longer resumed silently, which languages it speaks."""

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
        languages: The languages replies may be in (``languages.supported``).
        default_language: The language of a conversation before the citizen shows theirs.
    """

    handover_timeout: timedelta = timedelta(minutes=60)
    expected_wait_minutes: int = 15
    office_hours: str = "Senin-Jumat 08.00-16.00"
    draft_stale_after: timedelta = timedelta(hours=24)
    languages: tuple[str, ...] = ("id", "en")
    default_language: str = "id"


def dialogue_policy(settings: Settings) -> DialoguePolicy:
    """The policy config.yml's ``dialogue:`` section sets."""
    d = settings.dialogue
    return DialoguePolicy(handover_timeout=timedelta(minutes=d.handover_timeout_minutes),
                          expected_wait_minutes=d.expected_wait_minutes, office_hours=d.office_hours,
                          draft_stale_after=timedelta(hours=d.draft_stale_hours),
                          languages=tuple(settings.languages), default_language=settings.default_language)
