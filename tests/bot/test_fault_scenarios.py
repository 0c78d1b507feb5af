"""Faults in turn under load, with real processes (issue 10): `warga serve` (2 workers) and two
`warga worker` on PostgreSQL and Redis, both reached through proxies the test can cut.

Six citizens write on Telegram while, one after another: the whole web server is killed with
SIGKILL and started again; the database line is cut for a few seconds; the Redis line is cut;
the Bot API answers 500 and then 429 for a while; and one send times out after Telegram accepted
it. Each fault starts when the load reaches a given number of acknowledged updates (never at a
time), and the test only waits for states. Afterwards nothing is lost, nothing is stored twice,
order is kept, and the one send whose outcome the timeout made unknown is the only repeat the
citizen may see (README, "Delivery guarantees").
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.bot.fault_harness import (
    MESSAGES,
    Citizens,
    Processes,
    Schedule,
    check_nothing_lost_or_repeated,
    describe,
    pg_url,  # noqa: F401  (fixture)
    process_env,
    settled_rows,
    upgrade,
)
from tests.fakes.fake_telegram import FakeTelegram
from tests.fakes.fake_twilio import FakeTwilio
from tests.providers import ACCOUNT_SID, AUTH_TOKEN, TOKEN, Fakes
from tests.support import CuttableProxy, wait_for

REDIS_DB = 7
CHATS = tuple(7100 + i for i in range(6))
#: How long a line stays cut: long enough for every process to notice, short for the test.
OUTAGE_SECONDS = 3.0


class QueueWatcher:
    """Looks at the Redis queue over and over while the load runs: the most jobs it ever saw
    waiting for one conversation (job ids name their conversation)."""

    def __init__(self, client: Any) -> None:
        self.client, self.worst, self.samples = client, 1, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            ids = [i.decode() for i in self.client.lrange("rq:queue:warga", 0, -1)]
            per_conversation = Counter(i.rsplit("-", 1)[0] for i in ids)
            self.worst = max(self.worst, *per_conversation.values(), 1)
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.mark.faults
def test_faults_in_turn_lose_nothing_and_repeat_nothing(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    redis = pytest.importorskip("redis")
    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()
    db_proxy = CuttableProxy(("127.0.0.1", 5432))
    redis_proxy = CuttableProxy(("127.0.0.1", 6379))
    proxied_db = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{db_proxy.port}")
    with FakeTelegram(token=TOKEN) as telegram, FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        env = process_env(Fakes(telegram, twilio), proxied_db, f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_DB}",
                          tmp_path)
        upgrade(env)
        procs = Processes(env, tmp_path / "processes.log")
        web = {"proc": procs.serve(workers=2)}
        procs.start("worker")
        procs.start("worker")

        def kill_web() -> None:
            procs.kill(web["proc"])
            web["proc"] = procs.serve(workers=2)

        def outage(proxy: CuttableProxy) -> Callable[[], None]:
            def run() -> None:
                proxy.cut()
                time.sleep(OUTAGE_SECONDS)   # the fault's length, not an assertion
                proxy.restore()
            return run

        def provider_errors() -> None:
            telegram.fail("sendMessage", 500, "Internal Server Error", times=4)
            telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, times=3)

        def accepted_but_timed_out() -> None:
            # Telegram takes the message but answers after the client's 3 s timeout: the outcome
            # is unknown to Warga, which sends it again (the at-least-once case).
            telegram.delay("sendMessage", 5.0, times=1)

        total = len(CHATS) * len(MESSAGES)
        schedule = Schedule([
            (total * 1 // 8, "web killed", kill_web),
            (total * 2 // 8, "database cut", outage(db_proxy)),
            (total * 3 // 8, "redis cut", outage(redis_proxy)),
            (total * 4 // 8, "provider 500 and 429", provider_errors),
            (total * 5 // 8, "provider timeout", accepted_but_timed_out),
        ])
        citizens = Citizens(url=lambda: procs.url, telegram=telegram, chats=CHATS)
        watcher = QueueWatcher(redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB))
        try:
            try:
                citizens.run(schedule.progress)
            finally:
                schedule.finish()
                watcher.stop()
            rows = settled_rows(pg_url)
            # Nothing is left queued once the faults are gone.
            wait_for(lambda: redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).llen("rq:queue:warga") == 0,
                     60, "the Redis queue to drain")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- open messages ---\n{describe(pg_url)}"
                                 f"\n--- process output ---\n{procs.tail()}") from None
        finally:
            procs.stop()
            db_proxy.close()
            redis_proxy.close()
    assert len(citizens.acknowledged) == total
    # The queue never held two jobs for one conversation, faults or not.
    assert watcher.samples > 0 and watcher.worst == 1, watcher.worst
    check_nothing_lost_or_repeated(rows, citizens)
