"""Count the SQL statements one citizen message costs, end to end, and show which they are.

SQLAlchemy event listeners count every statement the process sends (``before_cursor_execute``),
every BEGIN, COMMIT and ROLLBACK, every connection checkout and every test of an idle connection
(``bot.store.engine.ping_idle_connections``): the round trips to the database. One message at a
time goes through the real app (Flask test client, the thread backend's workers, the outbox
sending to a local fake Telegram): the web chat API (POST → replies in the response) and a
signed Telegram webhook (→ reply delivered). The first messages
of a conversation are warm-up; the numbers are for messages in an ongoing conversation.

Usage (from the repository root)::

    .venv/bin/python bench/sql_profile.py             # PostgreSQL (a throw-away database)
    .venv/bin/python bench/sql_profile.py --sqlite
    .venv/bin/python bench/sql_profile.py --show      # every statement of the last message
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event  # noqa: E402
from sqlalchemy.pool import Pool  # noqa: E402

from tests.conftest import make_settings, migrate  # noqa: E402
from tests.fakes.fake_telegram import FakeTelegram  # noqa: E402

TOKEN = "123456:PROFILE-token"
SECRET = "profile-secret"
MESSAGES = ("halo", "jam buka kantor kelurahan?", "jalan rusak di depan rumah saya",
            "di Jl. Pramuka Raya no 10", "ya", "syarat bikin ktp apa?", "terima kasih")


class Statements:
    """Every statement and commit this process sends, while switched on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.on = False
        self.sql: list[str] = []
        self.commits = 0
        self.checkouts = 0
        self.other = 0           # BEGIN, ROLLBACK and idle-connection pings: round trips too
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)
        event.listen(Engine, "begin", self._edge)
        event.listen(Engine, "rollback", self._edge)
        event.listen(Pool, "checkout", self._checkout)
        event.listen(Pool, "reset", self._reset)
        from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

        ping = PGDialect_psycopg.do_ping

        def counted_ping(dialect: Any, dbapi_conn: Any) -> bool:
            self._round_trip()
            return bool(ping(dialect, dbapi_conn))

        PGDialect_psycopg.do_ping = counted_ping  # type: ignore[method-assign]

    def _round_trip(self, *args: Any) -> None:
        if self.on:
            with self.lock:
                self.other += 1

    def _edge(self, conn: Any) -> None:
        # In autocommit mode (one statement that commits itself) SQLAlchemy still reports a
        # BEGIN and a ROLLBACK, but the driver sends neither.
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self._round_trip()

    def _reset(self, dbapi_conn: Any, *args: Any) -> None:
        # A connection returned inside a transaction (a read that never committed) is rolled
        # back by the pool: a round trip on PostgreSQL, none when no transaction is open.
        info = getattr(dbapi_conn, "info", None)
        if info is not None and int(getattr(info, "transaction_status", 0)) != 0:
            self._round_trip()

    def _checkout(self, *args: Any) -> None:
        if self.on:
            with self.lock:
                self.checkouts += 1

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.on:
            with self.lock:
                self.sql.append(" ".join(statement.split()))

    def _commit(self, conn: Any) -> None:
        if self.on and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            with self.lock:
                self.commits += 1

    def start(self) -> None:
        with self.lock:
            self.sql, self.commits, self.checkouts, self.other, self.on = [], 0, 0, 0, True

    def stop(self) -> tuple[list[str], int, int, int]:
        with self.lock:
            self.on = False
            return list(self.sql), self.commits, self.checkouts, self.other


def kind(sql: str) -> str:
    """"SELECT messages", "UPDATE conversations", "BEGIN", ... for the summary."""
    m = re.match(r"(SELECT|INSERT INTO|UPDATE|DELETE FROM)\s", sql, re.I)
    if not m:
        return sql.split()[0].upper() if sql else "?"
    verb = m.group(1).upper().split()[0]
    table = re.search(r"(?:FROM|INTO|UPDATE)\s+(\w+)", sql, re.I)
    return f"{verb} {table.group(1) if table else '?'}"


def settle(rt: Any, seconds: float = 0.3) -> None:
    """Wait until the workers and the outbox are idle (nothing queued, nothing running)."""
    time.sleep(seconds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sqlite", action="store_true")
    p.add_argument("--show", action="store_true")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="sqlprofile-"))
    if args.sqlite:
        url = f"sqlite:///{tmp / 'profile.db'}"
        cleanup = None
    else:
        from load_targets import postgres_database  # sibling module

        cleanup = postgres_database()
        url = cleanup.__enter__()
    stats = Statements()
    try:
        with FakeTelegram(token=TOKEN) as tg:
            env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
                   "WARGA_CHANNELS_TELEGRAM_API_URL": tg.url}
            settings = make_settings(url, tmp, env=env, overrides={
                "channels.enabled": ["web", "telegram"], "queue.sweep_seconds": 60, "queue.stall_seconds": 60})
            migrate(url)
            from bot.web.app import create_app

            app = create_app(settings)
            client = app.test_client()
            rt = app.extensions["warga"]
            try:
                report(client, rt, tg, stats, args.show)
            finally:
                rt.close()
    finally:
        if cleanup is not None:
            cleanup.__exit__(None, None, None)
    return 0


def report(client: Any, rt: Any, tg: FakeTelegram, stats: Statements, show: bool) -> None:
    per: dict[str, list[tuple[int, int, int, int, float]]] = {"web": [], "telegram": []}
    last: dict[str, list[str]] = {}
    for round_ in range(3):
        for i, text in enumerate(MESSAGES):
            # Web chat: the POST answers once the replies are stored.
            stats.start()
            t0 = time.perf_counter()
            r = client.post("/api/v1/chat/messages", json={"sender": "profile-citizen-0001", "text": text})
            elapsed = time.perf_counter() - t0
            assert r.status_code == 200, r.get_data(as_text=True)
            settle(rt)
            sql, commits, checkouts, other = stats.stop()
            if round_ > 0:
                per["web"].append((len(sql), commits, checkouts, other, elapsed))
            last["web"] = sql
            # Telegram: webhook → processed → sent to the fake Bot API.
            before = len(tg.calls("sendMessage"))
            update = {"update_id": 1000 * round_ + i + 1, "message": {
                "message_id": 1000 * round_ + i + 1, "date": int(time.time()), "text": text,
                "from": {"id": 4242, "is_bot": False, "first_name": "P"},
                "chat": {"id": 4242, "type": "private", "first_name": "P"}}}
            stats.start()
            t0 = time.perf_counter()
            r = client.post("/webhooks/telegram", data=json.dumps(update), content_type="application/json",
                            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert r.status_code == 200
            while len(tg.calls("sendMessage")) == before and time.perf_counter() - t0 < 10:
                time.sleep(0.001)
            elapsed = time.perf_counter() - t0
            settle(rt)
            sql, commits, checkouts, other = stats.stop()
            if round_ > 0:
                per["telegram"].append((len(sql), commits, checkouts, other, elapsed))
            last["telegram"] = sql
    for channel, rows in per.items():
        n = [r[0] for r in rows]
        c = [r[1] for r in rows]
        k = [r[2] for r in rows]
        trips = [r[0] + r[1] + r[3] for r in rows]
        ms = sorted(r[4] * 1000 for r in rows)
        print(f"{channel}: {sum(n) / len(n):.1f} statements per message (min {min(n)}, max {max(n)}), "
              f"{sum(c) / len(c):.1f} commits, {sum(k) / len(k):.1f} connection checkouts, "
              f"{sum(trips) / len(trips):.1f} round trips (statements, BEGIN, COMMIT, ROLLBACK, pings), "
              f"median {ms[len(ms) // 2]:.1f} ms to the reply (one at a time)")
        print("   last message: " + ", ".join(f"{k} ×{v}" for k, v in Counter(map(kind, last[channel])).most_common()))
        if show:
            for s in last[channel]:
                print("     " + s[:160])


if __name__ == "__main__":
    sys.exit(main())
