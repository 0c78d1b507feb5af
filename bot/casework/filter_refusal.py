"""A console filter's value that a page cannot use, said in the console's language.

The inbox, the transcripts and the dashboard read their query strings here in bot/casework (no
web code). What they refuse is a :class:`FilterRefused`: the parameter, and a reason that the
page words in the language staff chose (``refused.<reason>`` in bot/web/console/labels), so a
400 reads like the page it came from.
"""

from __future__ import annotations

from typing import Any


class FilterRefused(ValueError):
    """``param`` cannot be used; ``reason`` (with ``values``) says why, as a label key."""

    def __init__(self, param: str, reason: str, **values: Any) -> None:
        self.param = param
        self.reason = reason
        self.values = values
        details = ", ".join(f"{k}={v}" for k, v in values.items())
        super().__init__(f"{param}: {reason}" + (f" ({details})" if details else ""))
