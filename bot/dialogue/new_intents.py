"""Intents admins add in the console (issue 13) before anything answers them.

Until a complaint category (``complaints.categories``) is configured for a new ``report_*``
intent, or for any other new name, the bot cannot answer it, so the dialogue hands the
conversation to a person with the reason ``new_intent`` instead of guessing or showing the menu.
A new ``ask_*`` question is already answered by the knowledge base: its article once written,
until then the office that handles the subject (``kb_not_covered``).
"""

from __future__ import annotations

from nlu.intents import INTENTS

#: Intents the dialogue answers by itself although nlu/intents.py does not list them.
_BUILT_IN = frozenset({"info", "not_understood"})


def unanswered(intent: str, *, has_category: bool) -> bool:
    """True for an intent nothing in Warga answers yet."""
    if intent in INTENTS or intent in _BUILT_IN or intent.startswith("ask_"):
        return False
    return not (intent.startswith("report_") and has_category)
