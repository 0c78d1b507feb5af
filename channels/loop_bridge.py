"""Run coroutines from sync code on one event loop owned by one daemon thread.

python-telegram-bot 22 is asyncio-only while Warga's web and worker code is sync. The
measured options are in notes/provider-libraries.md §2; this is pattern D:

- one event loop in a daemon thread, and every coroutine of one client runs on it. A client
  (PTB's ``Bot``) keeps pooled connections bound to the loop that opened them, so calling
  ``asyncio.run()`` per message with a shared client fails on every second call with
  "Event loop is closed" (pattern C);
- the loop and the client are created lazily, on first use, in the process that uses them:
  a thread started before ``os.fork()`` (gunicorn ``--preload``) does not exist in the
  child, and calls into it would hang until their timeout;
- a timed-out call is cancelled on the loop, but the request may already have reached the
  provider, so callers must treat a :class:`BridgeTimeout` as "outcome unknown".
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
C = TypeVar("C")


class BridgeTimeout(TimeoutError):
    """The coroutine did not finish in time; it was cancelled but may have had effects."""


class LoopBridge(Generic[C]):
    """A lazily started event-loop thread that owns one async client.

    Args:
        make_client: Coroutine function building the client; it runs on the loop thread.
        close_client: Coroutine function releasing it (closing connection pools).
        name: Thread name, shown in stack dumps.
    """

    def __init__(self, make_client: Callable[[], Awaitable[C]],
                 close_client: Callable[[C], Awaitable[None]], name: str) -> None:
        self._make_client = make_client
        self._close_client = close_client
        self._name = name
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: C | None = None
        _BRIDGES.add(self)

    @property
    def started(self) -> bool:
        """Whether this process has started the loop thread."""
        return self._loop is not None and self._pid == os.getpid()

    def run(self, call: Callable[[C], Awaitable[T]], timeout: float) -> T:
        """Run ``call(client)`` on the loop and wait for its result.

        Exceptions raised by the coroutine are re-raised unchanged in the calling thread.

        Raises:
            BridgeTimeout: After ``timeout`` seconds (the coroutine is cancelled).
            RuntimeError: If called from the loop thread itself (it would deadlock).
        """
        client, loop = self._ensure()
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"{self._name}: run() called from its own loop thread")
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(call(client)), loop)
        try:
            return future.result(timeout)
        except TimeoutError as exc:
            if future.done() and not future.cancelled() and future.exception() is exc:
                raise                              # the coroutine itself raised TimeoutError
            future.cancel()                        # without this the call keeps running
            raise BridgeTimeout(f"{self._name}: no answer within {timeout:g} s") from None

    def close(self, timeout: float = 5.0) -> None:
        """Release the client and stop the loop thread (no-op if never started here)."""
        with self._lock:
            if not self.started:
                self._forget()
                return
            loop, thread, client = self._loop, self._thread, self._client
            self._forget()
        assert loop is not None and thread is not None and client is not None
        try:
            asyncio.run_coroutine_threadsafe(_as_coroutine(self._close_client(client)), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            if not thread.is_alive():
                loop.close()

    def _ensure(self) -> tuple[C, asyncio.AbstractEventLoop]:
        with self._lock:
            if not self.started:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                try:
                    client: C = asyncio.run_coroutine_threadsafe(
                        _as_coroutine(self._make_client()), loop).result(30)
                except BaseException:
                    loop.call_soon_threadsafe(loop.stop)
                    raise
                self._loop, self._thread, self._client = loop, thread, client
                self._pid = os.getpid()
            assert self._loop is not None
            return self._client, self._loop        # type: ignore[return-value]

    def _forget(self) -> None:
        self._loop = self._thread = self._client = None
        self._pid = None

    def _after_fork_in_child(self) -> None:
        # The parent's loop thread does not exist here and its lock may have been held by
        # another parent thread at fork time: start from scratch, touching nothing inherited.
        self._lock = threading.Lock()
        self._forget()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


_BRIDGES: weakref.WeakSet[LoopBridge[Any]] = weakref.WeakSet()


def _reset_bridges_after_fork() -> None:
    for bridge in list(_BRIDGES):
        bridge._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_bridges_after_fork)
