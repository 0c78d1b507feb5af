"""Entry points RQ workers import (``warga worker`` with ``queue.backend: redis``)."""

from __future__ import annotations

from bot.runtime import Runtime, build_runtime
from bot.settings import load_settings

_runtime: Runtime | None = None


def worker_runtime() -> Runtime:
    # Built lazily in the worker process (after any fork), once.
    global _runtime
    if _runtime is None:
        _runtime = build_runtime(load_settings())
    return _runtime


def run_conversation(conv_id: int) -> None:
    worker_runtime().job(conv_id)
