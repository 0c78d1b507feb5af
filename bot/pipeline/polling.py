"""Telegram without a public URL: long-poll getUpdates and feed the same store path."""

from __future__ import annotations

import logging
import threading

from bot.runtime import Runtime
from channels.base import Polls, SendError

log = logging.getLogger(__name__)


class TelegramPoller:
    """Polls in a thread. Each batch is stored and committed before the next poll confirms it,
    so a crash re-delivers the batch and the unique provider ids drop the repeats."""

    def __init__(self, runtime: Runtime, channel: Polls, timeout: int = 30) -> None:
        self.rt = runtime
        self.channel = channel
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="warga-telegram-poll", daemon=True)
        self.offset: int | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.timeout + 5)

    def poll_once(self) -> int:
        # The new offset is kept only once the whole batch is committed (end of this method):
        # the next poll sends it, and that confirms the batch to Telegram. Taking it before
        # storing made a batch whose storing failed (database away) confirmed, i.e. lost.
        requests, next_offset = self.channel.poll_updates(self.offset, timeout=self.timeout)
        stored = 0
        for req in requests:
            # Fetched by our own authenticated call: there is no webhook secret to verify.
            stored += self.rt.receiver.receive(self.channel, req, authenticated=True).stored
        self.offset = next_offset
        return stored

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self.poll_once()
                backoff = 1.0
            except SendError as exc:
                hint = " (a webhook is set: run `warga channels delete-webhook telegram`)" \
                    if exc.code == "409" or "409" in exc.reason else ""
                log.error("telegram polling failed" + hint, extra={"reason": exc.reason})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 60)
            except Exception:  # the edge of the polling thread: a database error must not end it
                # Without this the thread died on the first storage error and polling stopped
                # for good while the process looked healthy; the batch comes back next time.
                log.exception("telegram polling: storing the batch failed")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 60)
