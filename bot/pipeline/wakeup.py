"""Wake whoever waits for a message to be processed, instead of polling the database.

The web chat API answers a POST with the bot's replies: the request waits until the message it
stored has been processed. A worker announces each processed message here right after its
transaction commits, and the waiting request wakes at once.

* :class:`LocalWakeups`: one process (the thread backend; ``warga chat``).
* :class:`RedisWakeups`: across processes (the redis backend: workers in ``warga worker``
  processes, waiting requests in the web processes), over Redis pub/sub. The subscriber thread
  starts on the first wait, so nothing exists before a server forks its workers.

Who processed a message on the web chat's channel also leaves its replies here
(:meth:`LocalWakeups.answered`), so a request in the same process answers without reading them
back (three round trips); any other request reads them from the database, as every request
does on the redis backend (its jobs run in other processes).

A wake-up can be missed (a web process restarted, the sweeper of another process handled the
message); waiters therefore re-read the database at a slow safety interval and at their
deadline. The database stays the source of truth.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)
CHANNEL = "warga:processed"
#: Replies kept for requests of this process that have not taken them yet (a request that gave
#: up, or one in another process, never does: the oldest go first).
ANSWERS_KEPT = 1024


@dataclass(frozen=True, slots=True)
class StoredReply:
    """A reply as committed, what the web chat's answer shows of it."""

    id: int
    text: str | None
    buttons: list[dict[str, Any]]
    created_at: datetime


class Watch:
    """One waiter's interest in one message."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, timeout: float) -> bool:
        """Block until the message is announced or ``timeout`` seconds pass; True if announced."""
        return self._event.wait(timeout)


class Wakeups(Protocol):
    """Announce processed messages; let requests wait for theirs."""

    def processed(self, message_ids: Iterable[int],
                  answers: Mapping[int, tuple[StoredReply, ...]] | None = None) -> None:
        """Announce messages whose processing was committed; ``answers``: the replies each
        got, when they were committed delivered (the web chat), for :meth:`answered`."""

    def answered(self, message_id: int) -> tuple[StoredReply, ...] | None:
        """Take the replies this process committed delivered for ``message_id`` (each once),
        or None: then read them from the database."""

    def watch(self, message_id: int) -> AbstractContextManager[Watch]:
        """Register interest (before checking the database), then wait on the watch."""

    def close(self) -> None: ...


class LocalWakeups:
    """Wake-ups within one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: dict[int, list[Watch]] = {}
        self._answers: OrderedDict[int, tuple[StoredReply, ...]] = OrderedDict()

    @contextmanager
    def watch(self, message_id: int) -> Iterator[Watch]:
        w = Watch()
        with self._lock:
            self._watches.setdefault(message_id, []).append(w)
        try:
            yield w
        finally:
            with self._lock:
                waiting = self._watches.get(message_id, [])
                if w in waiting:
                    waiting.remove(w)
                if not waiting:
                    self._watches.pop(message_id, None)

    def processed(self, message_ids: Iterable[int],
                  answers: Mapping[int, tuple[StoredReply, ...]] | None = None) -> None:
        self._keep(answers)
        self._wake(message_ids)

    def _keep(self, answers: Mapping[int, tuple[StoredReply, ...]] | None) -> None:
        if not answers:
            return
        with self._lock:
            self._answers.update(answers)
            while len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)

    def answered(self, message_id: int) -> tuple[StoredReply, ...] | None:
        with self._lock:
            return self._answers.pop(message_id, None)

    def _wake(self, message_ids: Iterable[int]) -> None:
        with self._lock:
            for mid in message_ids:
                for w in self._watches.get(mid, ()):
                    w._event.set()

    def close(self) -> None:
        return None


class RedisWakeups(LocalWakeups):
    """Wake-ups across processes over Redis pub/sub (and within this process directly)."""

    def __init__(self, redis_url: str) -> None:
        super().__init__()
        self.redis_url = redis_url
        self._publisher: object | None = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._start_lock = threading.Lock()

    def _redis(self) -> object:
        from redis import Redis

        if self._publisher is None:
            # A Redis that hangs must not hold a worker that just committed a message.
            self._publisher = Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=2)
        return self._publisher

    def processed(self, message_ids: Iterable[int],
                  answers: Mapping[int, tuple[StoredReply, ...]] | None = None) -> None:
        # ``answers`` are not kept: on this backend jobs run in `warga worker` and the web
        # chat's requests wait in the web processes, so nobody here would ever take them.
        ids = list(message_ids)
        self._wake(ids)
        if not ids:
            return
        from redis.exceptions import RedisError

        try:
            self._redis().publish(CHANNEL, ",".join(map(str, ids)))  # type: ignore[attr-defined]
        except RedisError as exc:
            # The reply is stored either way; the waiting request finds it at its next check.
            log.warning("wake-up not published", extra={"reason": str(exc)})

    @contextmanager
    def watch(self, message_id: int) -> Iterator[Watch]:
        self._ensure_listener()
        with super().watch(message_id) as w:
            yield w

    def _ensure_listener(self) -> None:
        with self._start_lock:
            if self._listener is None or not self._listener.is_alive():
                self._subscribed.clear()
                self._listener = threading.Thread(target=self._listen, name="warga-wakeups", daemon=True)
                self._listener.start()
        # The first waiter would miss a wake-up published before the subscription exists.
        self._subscribed.wait(2.0)

    def _listen(self) -> None:
        from redis import Redis
        from redis.exceptions import RedisError

        backoff = 0.5
        while not self._stop.is_set():
            try:
                client = Redis.from_url(self.redis_url)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                pubsub.get_message(timeout=1.0)   # the subscription's confirmation
                self._subscribed.set()
                backoff = 0.5
                while not self._stop.is_set():
                    item = pubsub.get_message(timeout=1.0)
                    if item is not None and item.get("type") == "message":
                        self._wake(int(x) for x in item["data"].decode().split(",") if x.isdigit())
                pubsub.close()
                client.close()
            except RedisError as exc:
                # Redis away: waiters fall back to their safety re-reads until it is back.
                log.warning("wake-up listener lost Redis", extra={"reason": str(exc)})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
        if self._publisher is not None:
            self._publisher.close()  # type: ignore[attr-defined]
