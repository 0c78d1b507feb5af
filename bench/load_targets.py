"""bench/load.py's targets: the server processes of each set-up, started, measured and stopped,
and what the database says about the run afterwards."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from load_citizens import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_URL,
    SECRET,
    SMS_FROM,
    TOKEN,
    BenchTelegram,
    BenchTwilio,
    Deliveries,
    ReplyCheck,
    drive,
    mixed,
)
from load_report import Result
from process_memory import process_tree, status_mb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.settings.schema import QueueSettings  # noqa: E402
from bot.web.server import DEFAULT_THREADS  # noqa: E402
from tests.fakes.fake_telegram import FakeTelegram  # noqa: E402
from tests.fakes.fake_twilio import FakeTwilio  # noqa: E402
from tests.support import free_port  # noqa: E402

WARGA = str(ROOT / ".venv" / "bin" / "warga")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
WORK = ROOT / "var" / "bench"
REDIS_URL = "redis://127.0.0.1:6379/13"      # db 13 belongs to benchmarks
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# What `warga serve` runs with by default with the bench's sklearn engine (server.threads,
# queue.threads): the ceiling runs under the same server with the same request threads.
REQUEST_THREADS = DEFAULT_THREADS["sklearn"]
WORKER_THREADS = QueueSettings().threads
SERVE = f"2 processes × {REQUEST_THREADS} request threads"


@dataclass
class Servers:
    procs: list[subprocess.Popen[bytes]]
    url: str
    database_url: str | None = None

    def cpu_seconds(self) -> float:
        """User + system CPU time of every server process so far."""
        return sum(cpu_seconds(pid) for proc in self.procs for pid in process_tree(proc.pid))

    def memory_mib(self) -> list[int]:
        pids = [p for proc in self.procs for p in process_tree(proc.pid)]
        return sorted((int(mb) for p in pids if (mb := status_mb(p, "VmRSS")) > 0), reverse=True)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """User + system CPU time of ``pid`` so far (0 for a process that is gone); with ``reaped``,
    plus that of its children that exited and were waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    except (OSError, IndexError, ValueError):
        return 0.0
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine so far. A backend's time would be
    lost when its connection closes, were it not added to the postmaster's once it is reaped."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head = stat.read_text()
        except OSError:
            continue
        if head[head.find("(") + 1:head.rfind(")")] == "postgres":
            total += cpu_seconds(int(stat.parent.name), reaped=True)
    return total


def spawn(cmd: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        # Its own process group: stopping it stops gunicorn's workers and Rasa's children too.
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(url: str, procs: list[subprocess.Popen[bytes]], timeout: float, log: Path,
               serving: int = 0, rq_workers: int = 0) -> None:
    """Until ``url`` answers 200, ``serving`` worker processes of `warga serve` have logged that
    they take connections, and ``rq_workers`` RQ workers have registered. The first 200 comes from
    the first worker to build its app: keep-alive citizens that connected then would all stay on
    it for the whole run, and a server in a city does not get its load in its first second."""
    deadline = time.monotonic() + timeout
    answered = False
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a server exited at start-up; see {log}")
        if not answered:
            with suppress(requests.RequestException):
                answered = requests.get(url, timeout=1).status_code == 200
        if (answered and len(serving_pids(log, procs)) >= serving
                and (not rq_workers or registered_rq_workers() >= rq_workers)):
            return
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout:g} s (answered: {answered}; worker processes that "
                     f"logged 'worker serving', at INFO: {len(serving_pids(log, procs))} of {serving}; RQ workers: "
                     f"{registered_rq_workers() if rq_workers else 0} of {rq_workers}); see {log}")


def serving_pids(log: Path, procs: list[subprocess.Popen[bytes]]) -> set[int]:
    """The live processes of ``procs`` that logged "worker serving" (bot/web/server.py) in ``log``;
    a worker that died and was replaced counts once its successor logs it."""
    alive = {pid for proc in procs for pid in process_tree(proc.pid)}
    found = set()
    for line in log.read_text(errors="replace").splitlines():
        if '"worker serving"' not in line or not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("logger") == "bot.web.server" and entry.get("msg") == "worker serving":
            found.add(entry.get("pid"))
    return found & alive


def registered_rq_workers() -> int:
    from redis import Redis
    from rq import Worker

    return int(Worker.count(connection=Redis.from_url(REDIS_URL)))


def sklearn_models() -> Path:
    models = WORK / "models"
    if not (models / "sklearn").exists() and not any(models.glob("*")):
        from nlu.config import NluConfig
        from nlu.factory import build_sklearn_engine

        models.mkdir(parents=True, exist_ok=True)
        build_sklearn_engine(NluConfig(engine="sklearn", data_dir=ROOT / "nlu" / "data", models_dir=models))
    return models


def warga_env(fake_tg: FakeTelegram, fake_tw: FakeTwilio, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WARGA_", "TELEGRAM_", "TWILIO_"))}
    env.update({
        "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_SMS_FROM": SMS_FROM,
        "WARGA_PUBLIC_URL": PUBLIC_URL,
        "WARGA_CHANNELS_TELEGRAM_API_URL": fake_tg.url, "WARGA_CHANNELS_TWILIO_API_URL": fake_tw.url,
        "WARGA_CHANNELS_TWILIO_MEDIA_ORIGIN": fake_tw.url,
        "WARGA_CHANNELS_ENABLED": "web,telegram,sms",
        "WARGA_DATABASE_URL": database_url,
        "WARGA_NLU_ENGINE": "sklearn", "WARGA_NLU_RASA_AUTOSTART": "false",
        "WARGA_NLU_MODELS_DIR": str(sklearn_models()),
        "WARGA_STORAGE_MEDIA_DIR": str(WORK / "media"),
        # A bench citizen writes every half second, far faster than a person, and all of them
        # from one address: the chat API's rate limits (30 a minute per sender) would refuse
        # them and count as unanswered. The limits have their own tests.
        "WARGA_SECURITY_CHAT_PER_SENDER_PER_MINUTE": "100000",
        "WARGA_SECURITY_CHAT_PER_ADDRESS_PER_MINUTE": "100000",
        **extra,
        **SETTINGS_OVERRIDES,
    })
    return env


#: ``--set`` overrides for Warga's settings (e.g. WARGA_QUEUE_THREADS=8), to steer by measurement.
SETTINGS_OVERRIDES: dict[str, str] = {}


@contextmanager
def postgres_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    name = f"warga_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        subprocess.run([WARGA, "db", "upgrade"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)


# -- what the database says after a run ---------------------------------------------------


def stored_latencies(database_url: str) -> tuple[list[float], list[float], str]:
    """Per message (ms, database clock): inbound stored → first reply stored, and for the
    webhook channels inbound stored → first reply accepted by the provider; what was left."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as c:
            rows = c.execute(text(
                "SELECT i.created_at, MIN(o.created_at), MIN(o.sent_at), i.channel FROM messages i "
                "JOIN messages o ON o.reply_to_id = i.id WHERE i.direction = 'in' AND o.direction = 'out' "
                "GROUP BY i.id, i.created_at, i.channel")).all()
            unprocessed = c.execute(text(
                "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND processed_at IS NULL")).scalar_one()
            unsent = c.execute(text(
                "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND channel <> 'web' "
                "AND status IN ('pending', 'sending')")).scalar_one()
            twice = c.execute(text(
                "SELECT COUNT(*) FROM (SELECT reply_to_id, text FROM messages WHERE direction = 'out' "
                "GROUP BY reply_to_id, text HAVING COUNT(*) > 1) d")).scalar_one()
    finally:
        engine.dispose()
    stored = [(_dt(b) - _dt(a)).total_seconds() * 1000 for a, b, _, _ in rows]
    delivered = [(_dt(s) - _dt(a)).total_seconds() * 1000 for a, _, s, ch in rows if ch != "web" and s is not None]
    return stored, delivered, f"{unprocessed} unprocessed, {unsent} unsent, {twice} stored twice"


def _dt(v: object) -> datetime:
    return datetime.fromisoformat(v) if isinstance(v, str) else v  # type: ignore[return-value]


def wait_drained(database_url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, _, left = stored_latencies(database_url)
        if left.startswith("0 unprocessed, 0 unsent"):
            return
        time.sleep(0.5)


class JobWatch:
    """Samples the RQ queue: the most jobs ever queued at once for one conversation."""

    def __init__(self) -> None:
        from redis import Redis
        from rq import Queue

        self.q = Queue("warga", connection=Redis.from_url(REDIS_URL))
        self.most = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            counts: dict[object, int] = {}
            for job in self.q.get_jobs():
                if job is not None and job.args:
                    counts[job.args[0]] = counts.get(job.args[0], 0) + 1
            self.most = max([self.most, *counts.values()])
            self.stop.wait(0.2)

    def close(self) -> int:
        self.stop.set()
        self.thread.join(5)
        return self.most


# -- one run -----------------------------------------------------------------------------


def run_target(name: str, args: argparse.Namespace, tg: BenchTelegram, tw: BenchTwilio,
               deliveries: Deliveries, logdir: Path) -> Result:
    log = logdir / f"{name}.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    timeout = args.reply_timeout
    if name == "bare-flask":
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        # The same server as `warga serve`: gunicorn with Warga's waitress worker, its threads.
        procs = [spawn([GUNICORN, "-w", "2", "-k", "bot.web.server.WaitressWorker", "--threads", str(REQUEST_THREADS),
                        "-b", f"127.0.0.1:{port}", "bench.bare_app:app"], env, log)]
        servers = Servers(procs, url)
        wait_ready(url + "/healthz", procs, 30, log, serving=2)
        return _measure(name, f"bare Flask endpoint, same server ({SERVE})", servers,
                        ["bare"] * args.clients, args, deliveries, timeout)
    if name == "rasa-rest":
        # A sibling script (bench/ is not a package): its folder is on sys.path when run.
        from rasa_rest import WORK as RASA_WORK
        from rasa_rest import rasa_env, serve_command, train

        if not (RASA_WORK / "models" / "rest.tar.gz").exists():
            train()
        procs = [spawn(serve_command(port), rasa_env(), log, cwd=RASA_WORK)]
        servers = Servers(procs, url)
        wait_ready(url + "/status", procs, 180, log)
        return _measure(name, "Rasa 3.6 REST channel, 1 process (sanic), same intents",
                        servers, ["rasa"] * args.clients, args, deliveries, timeout)
    if name == "run-sqlite":
        db = WORK / f"load-{os.getpid()}.db"
        db.unlink(missing_ok=True)
        env = warga_env(tg, tw, f"sqlite:///{db}")
        migrate(env, log)
        procs = [spawn([WARGA, "run", "--port", str(port)], env, log)]
        servers = Servers(procs, url, f"sqlite:///{db}")
        wait_ready(url + "/healthz", procs, 60, log)
        try:
            return _measure(name, "`warga run` (1 process, 4 worker threads), SQLite", servers,
                            mixed(args.clients), args, deliveries, timeout)
        finally:
            db.unlink(missing_ok=True)
    with postgres_database() as database_url:
        kinds = mixed(args.clients)
        if name in ("serve-pg", "serve-pg-web"):
            env = warga_env(tg, tw, database_url)
            migrate(env, log)
            procs = [spawn([WARGA, "serve", "--port", str(port), "--workers", "2"], env, log)]
            desc = f"`warga serve` ({SERVE} + {WORKER_THREADS} worker threads), PostgreSQL"
            if name == "serve-pg-web":
                # Like for like with the ceiling and Rasa: the same web-chat-shaped citizens only.
                kinds = ["web"] * args.clients
                desc += ", web chat citizens only"
        elif name == "serve-pg-redis":
            from redis import Redis

            Redis.from_url(REDIS_URL).flushdb()
            env = warga_env(tg, tw, database_url, WARGA_QUEUE_BACKEND="redis", WARGA_QUEUE_REDIS_URL=REDIS_URL)
            migrate(env, log)
            procs = [spawn([WARGA, "serve", "--port", str(port), "--workers", "2"], env, log),
                     spawn([WARGA, "worker"], env, log), spawn([WARGA, "worker"], env, log)]
            desc = f"`warga serve` ({SERVE}) + 2 `warga worker`, PostgreSQL + Redis"
        else:
            raise SystemExit(f"unknown target {name}")
        servers = Servers(procs, url, database_url)
        wait_ready(url + "/healthz", procs, 60, log, serving=2, rq_workers=2 if name == "serve-pg-redis" else 0)
        return _measure(name, desc, servers, kinds, args, deliveries, timeout,
                        watch_jobs=name == "serve-pg-redis")


def _measure(name: str, desc: str, servers: Servers, kinds: list[str], args: argparse.Namespace,
             deliveries: Deliveries, timeout: float, watch_jobs: bool = False) -> Result:
    watch = JobWatch() if watch_jobs else None
    try:
        replies = ReplyCheck(servers.database_url, deliveries) if servers.database_url is not None else None
        cpu0 = servers.cpu_seconds(), cpu_seconds(os.getpid()), postgres_cpu_seconds()
        try:
            samples, elapsed = drive(kinds, servers.url, deliveries, args.seconds, timeout, replies)
        finally:
            if replies is not None:
                replies.close()
                print(f"   reply checks: {replies.asks} queries for {replies.messages} webhook messages",
                      file=sys.stderr, flush=True)
        cpu = servers.cpu_seconds() - cpu0[0]
        generator_cpu = cpu_seconds(os.getpid()) - cpu0[1]
        postgres_cpu = postgres_cpu_seconds() - cpu0[2]
        memory = servers.memory_mib()
        stored: list[float] = []
        delivered: list[float] = []
        left = ""
        if servers.database_url is not None:
            wait_drained(servers.database_url)
            stored, delivered, left = stored_latencies(servers.database_url)
        most = watch.close() if watch is not None else None
    finally:
        servers.stop()
    uses_postgres = (servers.database_url or "").startswith("postgresql")
    return Result(name, desc, len(kinds), elapsed, samples, stored, delivered, memory, left, most, cpu,
                  generator_cpu, postgres_cpu if uses_postgres else None)
