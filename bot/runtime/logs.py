"""JSON structured logs: one object per line on stderr, with whatever ``extra`` a call adds."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class OncePerInterval(logging.Filter):
    """Lets one record through per ``seconds``; the next one that passes says how many were held
    back. For a warning that repeats with every request under load (waitress's "Task queue
    depth is N": every request thread busy), which would otherwise be most of the log."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._next_at: float | None = None
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = self.clock()
            if self._next_at is not None and now < self._next_at:
                self._held += 1
                return False
            if self._held:
                record.held_back = self._held      # an extra field of the JSON line
            self._next_at, self._held = now + self.seconds, 0
            return True


#: Loggers whose warnings repeat per request under load: at most one line a minute each.
THROTTLED = ("waitress.queue",)


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_warga", False) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._warga = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("werkzeug", "httpx", "urllib3", "telegram", "twilio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in THROTTLED:
        throttled = logging.getLogger(name)
        if not any(isinstance(f, OncePerInterval) for f in throttled.filters):
            throttled.addFilter(OncePerInterval(60))
