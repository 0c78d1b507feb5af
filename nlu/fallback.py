"""Answer every message: the primary engine (Rasa), else the in-process one, per message.

If the Rasa server is down, slow or loading a model (a ``PUT /model`` blocks it for ~15 s), each
message is answered by the sklearn engine instead, and the switch is logged and counted so
``/readyz`` and metrics can show it. After a failure the primary is skipped for
``retry_after`` seconds, so a dead server costs one timeout, not one per message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from nlu.base import NluEngine, NluError, Parse

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FallbackStats:
    """Counters since start.

    Attributes:
        primary: Messages the primary answered.
        fallbacks: Messages the secondary answered because the primary failed or was skipped.
        last_error: The primary's last error, if any.
    """

    primary: int
    fallbacks: int
    last_error: str | None


class FallbackEngine:
    """An :class:`~nlu.base.NluEngine` that asks ``primary`` and falls back to ``secondary``.

    Args:
        primary: Usually a :class:`~nlu.rasa_engine.RasaEngine`.
        secondary: Usually a :class:`~nlu.sklearn_engine.SklearnEngine` (always local).
        retry_after: Seconds to skip the primary after it failed.
        clock: Monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        primary: NluEngine,
        secondary: NluEngine,
        *,
        retry_after: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.secondary = secondary
        self.retry_after = retry_after
        self.name = f"{primary.name}+{secondary.name}"
        self._clock = clock
        self._lock = threading.Lock()
        self._primary = 0
        self._fallbacks = 0
        self._last_error: str | None = None
        self._skip_until = 0.0

    @property
    def fallback_count(self) -> int:
        """How many messages the secondary answered."""
        return self._fallbacks

    def stats(self) -> FallbackStats:
        with self._lock:
            return FallbackStats(self._primary, self._fallbacks, self._last_error)

    def ready(self) -> bool:
        """Ready when either engine can answer: citizens are answered by the fallback."""
        return self.secondary.ready() or self.primary.ready()

    def primary_skipped(self) -> bool:
        """Whether the primary is being skipped after a recent failure (the secondary answers)."""
        with self._lock:
            return self._clock() < self._skip_until

    def retry_primary(self) -> None:
        """Ask the primary again from the next message on (it is known to be back)."""
        with self._lock:
            self._skip_until = 0.0

    def primary_ready(self) -> bool:
        """Whether the primary answers now (for /readyz details)."""
        return self.primary.ready()

    def parse(self, text: str) -> Parse:
        """Parse with the primary, or with the secondary if the primary fails.

        Raises:
            NluError: Both engines failed.
        """
        if self._clock() >= self._skip_until:
            try:
                result = self.primary.parse(text)
            except NluError as exc:
                reason = str(exc)
                with self._lock:
                    self._skip_until = self._clock() + self.retry_after
                    self._last_error = reason
            else:
                with self._lock:
                    self._primary += 1
                    self._skip_until = 0.0
                return result
        else:
            reason = "primary skipped after a recent failure"
        result = self.secondary.parse(text)
        with self._lock:
            self._fallbacks += 1
            count = self._fallbacks
        log.warning("nlu fallback #%d to %s: %s", count, self.secondary.name, reason)
        return result
