"""CPU time one citizen message costs the server, end to end, and where it goes.

One message at a time goes through the real app in this process (Flask test client, the thread
backend's workers, the outbox): the web chat API (POST → replies in the response) and a signed
Telegram webhook (→ reply accepted by a fake Bot API). The fake Bot API runs in a child process,
so its work is not counted. The first pass over the script is warm-up.

Two measurements, because a profiler costs CPU itself:

* **CPU ms per message**: ``time.process_time`` (every thread of this process: the request, the
  worker, the outbox, background loops, the garbage collector, C code) from the request until
  the workers are idle again, without any profiler. The machine is shared, so wall time lies;
  CPU time does not (much).
* **Where**: a second pass with one ``cProfile`` per thread on the thread's own CPU clock
  (``time.thread_time``: a process-wide clock would charge one thread's functions with what the
  others did), merged: the request thread around each request, each worker thread around each
  job.

Usage (from the repository root)::

    .venv/bin/python bench/cpu_profile.py                        # PostgreSQL (throw-away database)
    .venv/bin/python bench/cpu_profile.py --engine sqlite
    .venv/bin/python bench/cpu_profile.py --channel web --top 40 --sort cumulative
    .venv/bin/python bench/cpu_profile.py --dump var/cpu.prof    # pstats file for snakeviz & co.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import multiprocessing
import os
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOKEN = "123456:PROFILE-token"
SECRET = "profile-secret"
# bench/load.py's script: a greeting, a question, a three-turn complaint, a question, thanks.
MESSAGES = ("halo min", "jam buka kantor kelurahan kapan ya?",
            "jalan rusak parah di depan rumah saya, lubangnya dalam banget",
            "di Jl. Pramuka Raya no 10 dekat masjid", "ya", "bikin ktp baru syaratnya apa?", "terima kasih")
CHANNELS = ("web", "telegram")


# -- the fake Bot API, in its own process --------------------------------------------------


def _serve_fake_telegram(ready: Any, sent: Any, stop: Any) -> None:
    """Child process: a fake Bot API that reports every accepted sendMessage on ``sent``."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes._http import Recorded, Reply
    from tests.fakes.fake_telegram import FakeTelegram

    class Reporting(FakeTelegram):
        def handle(self, request: Recorded) -> Reply:
            reply = super().handle(request)
            if request.path.endswith("/sendMessage") and reply.status == 200:
                sent.put(request.form_dict().get("chat_id", ""))
            return reply

    with Reporting(token=TOKEN) as fake:
        ready.put(fake.url)
        stop.wait()


@contextmanager
def fake_telegram() -> Iterator[tuple[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    ready, sent, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_serve_fake_telegram, args=(ready, sent, stop), daemon=True)
    child.start()
    try:
        yield ready.get(timeout=60), sent
    finally:
        stop.set()
        child.join(timeout=10)


# -- per-thread profilers ------------------------------------------------------------------


class ThreadProfiles:
    """One cProfile per thread on that thread's CPU clock, switched on around chosen calls."""

    def __init__(self) -> None:
        self.on = False
        self._lock = threading.Lock()
        self._profiles: dict[int, cProfile.Profile] = {}

    @contextmanager
    def around(self) -> Iterator[None]:
        if not self.on:
            yield
            return
        ident = threading.get_ident()
        with self._lock:
            profile = self._profiles.setdefault(ident, cProfile.Profile(time.thread_time))
        profile.enable()
        try:
            yield
        finally:
            profile.disable()

    def wrap(self, fn: Callable[[int], None]) -> Callable[[int], None]:
        def profiled(arg: int) -> None:
            with self.around():
                fn(arg)
        return profiled

    def stats(self) -> pstats.Stats:
        profiles = list(self._profiles.values())
        stats = pstats.Stats(profiles[0], stream=io.StringIO())
        for p in profiles[1:]:
            stats.add(p)
        return stats


# -- driving one message -------------------------------------------------------------------


def wait_idle(rt: Any, deadline: float = 30.0) -> None:
    """Until the thread backend has nothing queued or running (the job that handled the
    message, its outbox and media included). Polls a few sets every millisecond: negligible."""
    q = rt.queue
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with q._lock:
            busy = bool(q._pending or q._running or q._again)
        if not busy and q._q.empty():
            return
        time.sleep(0.001)
    raise RuntimeError("the workers did not go idle")


class Driver:
    def __init__(self, client: Any, rt: Any, sent: Any, profiles: ThreadProfiles) -> None:
        self.client, self.rt, self.sent, self.profiles = client, rt, sent, profiles
        self.update_id = 0
        self.sender = f"profile-citizen-{os.getpid()}"

    def web(self, text: str) -> None:
        with self.profiles.around():
            r = self.client.post("/api/v1/chat/messages", json={"sender": self.sender, "text": text})
        assert r.status_code == 200 and r.get_json()["replies"], r.get_data(as_text=True)

    def telegram(self, text: str) -> None:
        self.update_id += 1
        update = {"update_id": self.update_id, "message": {
            "message_id": self.update_id, "date": int(time.time()), "text": text,
            "from": {"id": 4242, "is_bot": False, "first_name": "P"},
            "chat": {"id": 4242, "type": "private", "first_name": "P"}}}
        with self.profiles.around():
            r = self.client.post("/webhooks/telegram", data=json.dumps(update), content_type="application/json",
                                 headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert r.status_code == 200, r.get_data(as_text=True)
        self.sent.get(timeout=30)         # at least one reply reached the Bot API

    def one(self, channel: str, text: str) -> float:
        """CPU seconds of this process for one message, until the workers are idle."""
        wait_idle(self.rt)
        while not self.sent.empty():      # a second reply of the previous message
            self.sent.get()
        before = time.process_time()
        getattr(self, channel)(text)
        wait_idle(self.rt)
        return time.process_time() - before


def run(url: str, tmp: Path, args: argparse.Namespace) -> None:
    from tests.conftest import make_settings, migrate

    profiles = ThreadProfiles()
    with fake_telegram() as (tg_url, sent):
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "WARGA_CHANNELS_TELEGRAM_API_URL": tg_url}
        settings = make_settings(url, tmp, env=env, overrides={
            "channels.enabled": ["web", "telegram"], "queue.threads": 4,
            "queue.sweep_seconds": 60, "queue.stall_seconds": 60})
        migrate(url)
        from bot.web.app import create_app

        app = create_app(settings)
        rt = app.extensions["warga"]
        from bot.runtime import prepare_to_serve

        prepare_to_serve(rt)        # as `warga serve`, `run` and `worker` do once the app is built
        rt.queue.job = profiles.wrap(rt.queue.job)
        if args.quiet_logs:
            # Formatted as in production, written nowhere: the terminal is not what is measured.
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
        driver = Driver(app.test_client(), rt, sent, profiles)
        channels = CHANNELS if args.channel == "both" else (args.channel,)
        try:
            cpu: dict[str, list[float]] = {c: [] for c in channels}
            by_step: dict[tuple[str, str], list[float]] = {(c, t): [] for c in channels for t in MESSAGES}
            for round_ in range(args.rounds + 1):
                for text in MESSAGES:
                    for channel in channels:
                        spent = driver.one(channel, text)
                        if round_ > 0:
                            cpu[channel].append(spent)
                            by_step[channel, text].append(spent)
            profiles.on = True
            for _ in range(args.profile_rounds):
                for text in MESSAGES:
                    for channel in channels:
                        driver.one(channel, text)
            profiles.on = False
        finally:
            rt.close()
    engine = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(f"CPU per message ({engine}, {args.rounds} rounds of {len(MESSAGES)} messages after one warm-up round; "
          "every thread of the server process, no profiler):")
    for channel, values in cpu.items():
        values.sort()
        mean = sum(values) / len(values) * 1000
        print(f"  {channel:9s} mean {mean:6.2f} ms   median {values[len(values) // 2] * 1000:6.2f} ms   "
              f"min {values[0] * 1000:6.2f} ms   max {values[-1] * 1000:6.2f} ms")
        for text in MESSAGES:
            step = sorted(by_step[channel, text])
            median, p90, top = (step[len(step) // 2] * 1000, step[len(step) * 9 // 10] * 1000, step[-1] * 1000)
            print(f"    median {median:6.2f} ms   p90 {p90:6.2f} ms   max {top:6.2f} ms  {text[:40]}")
    n = args.profile_rounds * len(MESSAGES) * len(channels)
    if n == 0:
        return
    stats = profiles.stats()
    total = sum(t[2] for t in stats.stats.values())     # type: ignore[attr-defined]
    print(f"\nProfile: {n} messages, {total / n * 1000:.2f} ms profiled CPU per message (the profiler's own "
          f"cost inflates this); top {args.top} by {args.sort}, times per message:")
    print_top(stats, n, args.top, args.sort, total)
    if args.dump:
        stats.dump_stats(args.dump)
        print(f"\npstats written to {args.dump}")


def print_top(stats: pstats.Stats, n: int, top: int, sort: str, total: float) -> None:
    key = {"tottime": 2, "cumulative": 3}[sort]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][key], reverse=True)   # type: ignore[attr-defined]
    print(f"  {'own ms':>7s} {'cum ms':>7s} {'own %':>6s} {'calls':>7s}  function")
    for (filename, line, name), (_cc, calls, tt, ct, _callers) in rows[:top]:
        where = filename.replace(str(ROOT) + "/", "")
        for marker in ("site-packages/", "lib/python3"):
            if marker in where:
                where = where.split(marker, 1)[1]
                break
        print(f"  {tt / n * 1000:7.3f} {ct / n * 1000:7.2f} {tt / total * 100:5.1f}% {calls / n:7.1f}  "
              f"{name} ({where}:{line})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--channel", choices=("both", *CHANNELS), default="both")
    p.add_argument("--rounds", type=int, default=4, choices=range(1, 101), metavar="1..100",
                   help="measured passes over the script (default 4)")
    p.add_argument("--profile-rounds", type=int, default=2, help="profiled passes (default 2)")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime")
    p.add_argument("--dump", help="write the merged profile here (pstats format)")
    p.add_argument("--show-logs", dest="quiet_logs", action="store_false",
                   help="write the server's JSON logs to stderr (default: formatted, then discarded)")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="cpuprofile-"))
    if args.engine == "sqlite":
        run(f"sqlite:///{tmp / 'profile.db'}", tmp, args)
        return 0
    sys.path.insert(0, str(Path(__file__).parent))
    from load_targets import postgres_database  # sibling module

    with postgres_database() as url:
        run(url, tmp, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
