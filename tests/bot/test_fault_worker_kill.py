"""Fault test with real processes (issue 10): `warga serve` + two `warga worker` on PostgreSQL and
Redis (db 12), citizens writing on Telegram, one worker killed with SIGKILL in the middle of the
load and a new one started.

Afterwards, once the sweeper has re-driven what the dead worker held: every acknowledged update
is stored once, every message is processed (none failed) with its replies stored once, in order
per conversation, and the fake Bot API received every reply. A reply the killed worker had
handed to Telegram but not yet recorded is sent again (the at-least-once case README and
bot/pipeline/outbox.py document): at most one such duplicate, and nothing else twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.fault_harness import (
    MESSAGES,
    Citizens,
    Processes,
    Schedule,
    check_nothing_lost_or_repeated,
    pg_url,  # noqa: F401  (fixture)
    process_env,
    settled_rows,
    upgrade,
)
from tests.fakes.fake_telegram import FakeTelegram
from tests.fakes.fake_twilio import FakeTwilio
from tests.providers import ACCOUNT_SID, AUTH_TOKEN, TOKEN, Fakes

REDIS_URL = "redis://127.0.0.1:6379/12"
CHATS = tuple(7000 + i for i in range(6))


@pytest.mark.faults
def test_a_worker_killed_mid_load_loses_nothing_and_repeats_nothing(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    redis = pytest.importorskip("redis")
    redis.Redis.from_url(REDIS_URL).flushdb()
    with FakeTelegram(token=TOKEN) as telegram, FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        env = process_env(Fakes(telegram, twilio), pg_url, REDIS_URL, tmp_path)
        upgrade(env)
        procs = Processes(env, tmp_path / "processes.log")
        try:
            procs.serve(workers=1)
            victim = procs.start("worker")
            procs.start("worker")

            def kill_a_worker() -> None:
                procs.kill(victim)
                procs.start("worker")

            schedule = Schedule([(len(CHATS) * len(MESSAGES) // 2, "worker killed", kill_a_worker)])
            citizens = Citizens(url=lambda: procs.url, telegram=telegram, chats=CHATS)
            try:
                citizens.run(schedule.progress)
            finally:
                schedule.finish()
            rows = settled_rows(pg_url)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- process output ---\n{procs.tail()}") from None
        finally:
            procs.stop()
    assert len(citizens.acknowledged) == len(CHATS) * len(MESSAGES)
    check_nothing_lost_or_repeated(rows, citizens)
