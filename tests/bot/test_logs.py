"""JSON logs: one object per line, with the fields a log search needs."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timedelta

import pytest

from bot.runtime.logs import JsonFormatter, configure_logging


@pytest.fixture
def logger():
    """A private logger writing through JsonFormatter into a buffer."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("warga.test_logs")
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        yield log, buf
    finally:
        log.handlers[:] = []
        log.propagate = True


def lines(buf: io.StringIO) -> list[dict]:
    text = buf.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # Start from no Warga handler (another test's app may have installed one).
    root.handlers[:] = [h for h in handlers if not getattr(h, "_warga", False)]
    try:
        yield root
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_one_json_object_per_line_with_standard_fields(logger):
    log, buf = logger
    log.info("message %s stored", 17)
    log.warning("second\nline in the message")
    first, second = lines(buf)
    assert first["msg"] == "message 17 stored"
    assert first["level"].lower() == "info"
    assert first["logger"] == "warga.test_logs"
    ts = datetime.fromisoformat(first["ts"])
    assert ts.tzinfo is not None and ts.utcoffset() == timedelta(0)
    assert second["level"].lower() == "warning"
    assert second["msg"] == "second\nline in the message"   # still one line of output


def test_extra_fields_are_included(logger):
    log, buf = logger
    log.info("sent", extra={"conversation_id": 5, "channel": "telegram", "ok": True,
                            "latency": 0.25, "error": None})
    (out,) = lines(buf)
    assert out["conversation_id"] == 5
    assert out["channel"] == "telegram"
    assert out["ok"] is True
    assert out["latency"] == 0.25
    assert "error" in out and out["error"] is None
    # Nothing of logging's own bookkeeping leaks into the object.
    assert not {"args", "levelno", "pathname", "lineno", "msecs", "exc_info"} & set(out)


def test_values_json_cannot_hold_are_stringified(logger):
    class Ticket:
        def __str__(self) -> str:
            return "WRG-2026-000001"

    log, buf = logger
    when = datetime(2026, 3, 2, 8, 30)
    log.info("filed", extra={"ticket": Ticket(), "when": when, "raw": b"\x00\xff"})
    (out,) = lines(buf)
    assert out["ticket"] == "WRG-2026-000001"
    assert out["when"] == str(when)
    assert isinstance(out["raw"], str)


def test_exceptions_are_included(logger):
    log, buf = logger
    try:
        raise ValueError("bad payload")
    except ValueError:
        log.exception("could not parse", extra={"channel": "sms"})
    (out,) = lines(buf)
    assert out["level"].lower() == "error"
    assert out["msg"] == "could not parse"
    assert out["channel"] == "sms"
    assert "Traceback" in out["exc"]
    assert "ValueError: bad payload" in out["exc"]


def test_configure_logging_writes_json_lines_to_stderr_once(restore_root_logger, capsys):
    configure_logging("INFO")
    configure_logging("INFO")          # a second call must not add a second handler
    logging.getLogger("warga.cfg").info("ready", extra={"port": 8080})
    logging.getLogger("warga.cfg").debug("hidden")
    err = capsys.readouterr().err
    objs = [json.loads(line) for line in err.splitlines()]
    assert [(o["msg"], o["port"]) for o in objs] == [("ready", 8080)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_warning_that_repeats_is_written_once_a_minute_with_how_many_were_held_back(logger):
    from bot.runtime.logs import OncePerInterval

    log, buf = logger
    clock = Clock()
    log.addFilter(OncePerInterval(60, clock=clock))
    for depth in range(1, 6):                      # a burst: every request thread busy
        clock.now = depth
        log.warning("Task queue depth is %d", depth)
    clock.now = 61                                  # a minute after the first line
    log.warning("Task queue depth is %d", 9)
    clock.now = 200
    log.warning("Task queue depth is %d", 2)
    assert [(o["msg"], o.get("held_back")) for o in lines(buf)] == [
        ("Task queue depth is 1", None), ("Task queue depth is 9", 4), ("Task queue depth is 2", None)]


def test_configure_logging_throttles_waitress_queue_warnings(restore_root_logger, capsys):
    from bot.runtime.logs import OncePerInterval

    queue_log = logging.getLogger("waitress.queue")
    kept = queue_log.filters[:]
    queue_log.filters[:] = [f for f in kept if not isinstance(f, OncePerInterval)]
    try:
        configure_logging("INFO")
        throttle = next(f for f in queue_log.filters if isinstance(f, OncePerInterval))
        throttle.clock = Clock()                    # a burst within one instant: no wall clock
        for depth in range(100):
            queue_log.warning("Task queue depth is %d", depth)
        logging.getLogger("warga.cfg").warning("other warnings pass")
        objs = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert [o["msg"] for o in objs] == ["Task queue depth is 0", "other warnings pass"]
        assert sum(isinstance(f, OncePerInterval) for f in queue_log.filters) == 1
    finally:
        queue_log.filters[:] = kept
