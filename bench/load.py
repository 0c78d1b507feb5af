"""Load benchmark: simulated citizens on the chat API and the signed Telegram and Twilio webhooks.

Each citizen (a thread with its own keep-alive connection) runs a closed loop over a script of
mixed intents and a multi-turn complaint: it sends one message and waits for the answer before
the next (the web chat: the replies in the POST's response; Telegram and SMS: the reply arriving
at the local fake provider, tests/fakes). Targets, all in one sitting:

* ``run-sqlite``: `warga run` on SQLite (thread backend);
* ``serve-pg``: `warga serve` (2 gunicorn workers) on PostgreSQL (thread backend);
* ``serve-pg-redis``: `warga serve` + 2 `warga worker` on PostgreSQL + Redis (db 13);
* ``bare-flask``: a bare Flask endpoint under the same gunicorn set-up (the ceiling);
* ``rasa-rest``: Rasa's own REST channel from .venv-rasa serving the same intents
  (bench/rasa_rest.py; one rule and one fixed response per intent).

Reported per target: messages answered per second; p50/p99 of request → first reply stored (from
the database: inbound ``created_at`` → first reply's ``created_at``), of request → reply in hand
(web chat: the POST's response; webhooks: the send reaching the fake provider); resident memory
of every server process at the end; what was left unanswered or unsent once the load stopped.
The web-only targets (bare Flask, Rasa) are driven by web-chat-shaped citizens only.

Usage (from the repository root; about 3 minutes)::

    .venv/bin/python bench/load.py                       # every target, print the table
    .venv/bin/python bench/load.py --write               # ... and write it into docs/BENCHMARKS.md
    .venv/bin/python bench/load.py --targets serve-pg --clients 16 --seconds 20
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes._http import Recorded, Reply  # noqa: E402
from tests.fakes.fake_telegram import FakeTelegram  # noqa: E402
from tests.fakes.fake_twilio import FakeTwilio, sign  # noqa: E402
from tests.support import free_port  # noqa: E402

WARGA = str(ROOT / ".venv" / "bin" / "warga")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
WORK = ROOT / "var" / "bench"
REDIS_URL = "redis://127.0.0.1:6379/13"      # db 13 belongs to benchmarks
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "123456:BENCH-token"
SECRET = "bench-webhook-secret"
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "bench-twilio-auth-token-0123456789"
SMS_FROM = "+15005550006"
PUBLIC_URL = "https://warga.example.go.id"
BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"

# One citizen's script, repeated: a greeting, a question, a complaint over several turns, thanks.
SCRIPT = (
    "halo min",
    "jam buka kantor kelurahan kapan ya?",
    "jalan rusak parah di depan rumah saya, lubangnya dalam banget",
    "di Jl. Pramuka Raya no 10 dekat masjid",
    "ya",
    "bikin ktp baru syaratnya apa?",
    "terima kasih",
)


# -- the fake providers, noting when each reply arrives ----------------------------------


class Deliveries:
    """When each citizen's replies reached the fake provider."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._times: dict[str, list[float]] = {}

    def record(self, who: str, at: float) -> None:
        with self._cond:
            self._times.setdefault(who, []).append(at)
            self._cond.notify_all()

    def count(self, who: str) -> int:
        with self._cond:
            return len(self._times.get(who, ()))

    def wait_beyond(self, who: str, n: int, timeout: float) -> float | None:
        """The arrival time of reply number ``n + 1`` for ``who``, or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._times.get(who, ())) <= n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._times[who][n]


class BenchTelegram(FakeTelegram):
    def __init__(self, deliveries: Deliveries) -> None:
        super().__init__(token=TOKEN)
        self.deliveries = deliveries

    def handle(self, request: Recorded) -> Reply:
        reply = super().handle(request)
        if request.path.endswith("/sendMessage") and reply.status == 200:
            self.deliveries.record("tg:" + request.form_dict().get("chat_id", ""), time.time())
        return reply


class BenchTwilio(FakeTwilio):
    def __init__(self, deliveries: Deliveries) -> None:
        super().__init__(ACCOUNT_SID, AUTH_TOKEN)
        self.deliveries = deliveries

    def handle(self, request: Recorded) -> Reply:
        reply = super().handle(request)
        if request.method == "POST" and reply.status == 201:
            self.deliveries.record("sms:" + request.form_dict().get("To", ""), time.time())
        return reply


# -- citizens ----------------------------------------------------------------------------


@dataclass
class Sample:
    channel: str
    started: float                # time.time() when the request left
    answered: float | None        # reply in hand (response or delivery), None if it never came
    status: int = 0


@dataclass
class Citizen:
    kind: str                      # web | telegram | sms | rasa
    n: int
    base_url: str
    deliveries: Deliveries
    samples: list[Sample] = field(default_factory=list)
    http: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self._s = f"bench-citizen-{self.n:04d}-{uuid.uuid4().hex[:6]}"
        self._chat = 7_000_000 + self.n
        self._phone = f"+62811{self.n:07d}"
        self._seq = itertools.count(1)

    def send(self, text: str, timeout: float) -> Sample:
        started = time.time()
        if self.kind in ("web", "bare"):
            r = self.http.post(self.base_url + "/api/v1/chat/messages",
                               json={"sender": self._s, "text": text}, timeout=timeout + 5)
            ok = r.status_code == 200 and bool(r.json().get("replies"))
            return Sample("web", started, time.time() if ok else None, r.status_code)
        if self.kind == "rasa":
            r = self.http.post(self.base_url + "/webhooks/rest/webhook",
                               json={"sender": self._s, "message": text}, timeout=timeout + 5)
            ok = r.status_code == 200 and bool(r.json())
            return Sample("rasa", started, time.time() if ok else None, r.status_code)
        who = f"tg:{self._chat}" if self.kind == "telegram" else f"sms:{self._phone}"
        before = self.deliveries.count(who)
        seq = next(self._seq)
        if self.kind == "telegram":
            update_id = self._chat * 1000 + seq
            body = {"update_id": update_id, "message": {
                "message_id": seq, "date": int(started), "text": text,
                "from": {"id": self._chat, "is_bot": False, "first_name": "Warga"},
                "chat": {"id": self._chat, "type": "private", "first_name": "Warga"}}}
            r = self.http.post(self.base_url + "/webhooks/telegram", data=json.dumps(body), headers={
                "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}, timeout=10)
        else:
            sid = "SM" + uuid.uuid4().hex
            pairs = [("MessageSid", sid), ("SmsMessageSid", sid), ("SmsSid", sid), ("AccountSid", ACCOUNT_SID),
                     ("From", self._phone), ("To", SMS_FROM), ("Body", text), ("NumMedia", "0"),
                     ("NumSegments", "1"), ("SmsStatus", "received"), ("ApiVersion", "2010-04-01")]
            r = self.http.post(self.base_url + "/webhooks/twilio", data=urlencode(pairs), headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": sign(AUTH_TOKEN, PUBLIC_URL + "/webhooks/twilio", pairs)}, timeout=10)
        if r.status_code != 200:
            return Sample(self.kind, started, None, r.status_code)
        return Sample(self.kind, started, self.deliveries.wait_beyond(who, before, timeout), r.status_code)

    def run(self, stop: threading.Event, timeout: float) -> None:
        for i, text in enumerate(itertools.cycle(SCRIPT)):
            if stop.is_set():
                return
            try:
                sample = self.send(text, timeout)
            except requests.RequestException:
                sample = Sample(self.kind, time.time(), None, 599)
            if i > 0:             # the first message of each citizen is the warm-up
                self.samples.append(sample)
            if sample.answered is not None and self.kind in ("telegram", "sms"):
                # Let a second reply to the same message arrive before the next message.
                time.sleep(0.01)


# -- processes ---------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


@dataclass
class Servers:
    procs: list[subprocess.Popen[bytes]]
    url: str
    database_url: str | None = None

    def cpu_seconds(self) -> float:
        """User + system CPU time of every server process so far."""
        total = 0
        for proc in self.procs:
            for pid in process_tree(proc.pid):
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    total += int(fields[11]) + int(fields[12])
                except (OSError, IndexError, ValueError):
                    continue
        return total / os.sysconf("SC_CLK_TCK")

    def memory_mib(self) -> list[int]:
        pids = [p for proc in self.procs for p in process_tree(proc.pid)]
        return sorted((rss_kib(p) // 1024 for p in pids if rss_kib(p) > 0), reverse=True)

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


def spawn(cmd: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        # Its own process group: stopping it stops gunicorn's workers and Rasa's children too.
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(url: str, procs: list[subprocess.Popen[bytes]], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a server exited at start-up; see {log}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout:g} s; see {log}")


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


# -- one run -----------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    description: str
    clients: int
    seconds: float
    samples: list[Sample]
    stored_ms: list[float]
    delivered_ms: list[float]
    memory_mib: list[int]
    left: str = ""
    max_jobs_per_conversation: int | None = None
    cpu_seconds: float = 0.0

    def cpu_ms_per_message(self) -> float:
        return self.cpu_seconds * 1000 / max(len(self.answered()), 1)

    def answered(self) -> list[Sample]:
        return [s for s in self.samples if s.answered is not None]

    def rate(self) -> float:
        return len(self.answered()) / self.seconds

    def latencies(self, channels: tuple[str, ...]) -> list[float]:
        return sorted((s.answered - s.started) * 1000 for s in self.answered()  # type: ignore[operator]
                      if s.channel in channels)


def pct(values: list[float], q: float) -> str:
    if not values:
        return "–"
    v = sorted(values)
    return f"{v[min(len(v) - 1, int(q * len(v)))]:.0f}"


def drive(kinds: list[str], url: str, deliveries: Deliveries, seconds: float,
          timeout: float) -> tuple[list[Sample], float]:
    citizens = [Citizen(kind, n, url, deliveries) for n, kind in enumerate(kinds)]
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop, timeout), daemon=True) for c in citizens]
    t0 = time.time()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(timeout + 15)
    elapsed = time.time() - t0
    samples = [s for c in citizens for s in c.samples]
    return samples, elapsed


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


def mixed(clients: int) -> list[str]:
    """Half the citizens on the web chat, a quarter each on Telegram and SMS."""
    return [("web", "web", "telegram", "sms")[i % 4] for i in range(clients)]


def run_target(name: str, args: argparse.Namespace, tg: BenchTelegram, tw: BenchTwilio,
               deliveries: Deliveries, logdir: Path) -> Result:
    log = logdir / f"{name}.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    timeout = args.reply_timeout
    if name == "bare-flask":
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs = [spawn([GUNICORN, "-w", "2", "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{port}",
                        "--access-logfile", "-", "bench.bare_app:app"], env, log)]
        servers = Servers(procs, url)
        wait_ready(url + "/healthz", procs, 30, log)
        return _measure(name, "bare Flask endpoint, gunicorn 2 × gthread 8", servers, ["bare"] * args.clients,
                        args, deliveries, timeout)
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
        if name == "serve-pg":
            env = warga_env(tg, tw, database_url)
            migrate(env, log)
            procs = [spawn([WARGA, "serve", "--port", str(port), "--workers", "2"], env, log)]
            desc = "`warga serve` (2 × gthread 8, 4 worker threads each), PostgreSQL"
        elif name == "serve-pg-redis":
            from redis import Redis

            Redis.from_url(REDIS_URL).flushdb()
            env = warga_env(tg, tw, database_url, WARGA_QUEUE_BACKEND="redis", WARGA_QUEUE_REDIS_URL=REDIS_URL)
            migrate(env, log)
            procs = [spawn([WARGA, "serve", "--port", str(port), "--workers", "2"], env, log),
                     spawn([WARGA, "worker"], env, log), spawn([WARGA, "worker"], env, log)]
            desc = "`warga serve` (2 × gthread 8) + 2 `warga worker`, PostgreSQL + Redis"
        else:
            raise SystemExit(f"unknown target {name}")
        servers = Servers(procs, url, database_url)
        wait_ready(url + "/healthz", procs, 60, log)
        return _measure(name, desc, servers, mixed(args.clients), args, deliveries, timeout,
                        watch_jobs=name == "serve-pg-redis")


def _measure(name: str, desc: str, servers: Servers, kinds: list[str], args: argparse.Namespace,
             deliveries: Deliveries, timeout: float, watch_jobs: bool = False) -> Result:
    watch = JobWatch() if watch_jobs else None
    try:
        cpu0 = servers.cpu_seconds()
        samples, elapsed = drive(kinds, servers.url, deliveries, args.seconds, timeout)
        cpu = servers.cpu_seconds() - cpu0
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
    return Result(name, desc, len(kinds), elapsed, samples, stored, delivered, memory, left, most, cpu)


# -- report ------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.1f} GiB RAM; {platform.platform()}; "
            f"Python {platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def table(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        "## Load (bench/load.py)", "",
        f"Machine: {machine()}.  ",
        f"{args.clients} citizens per target, each in a closed loop over a {len(SCRIPT)}-message script (greeting, "
        "question, a three-turn complaint, question, thanks) for "
        f"{args.seconds:g} s; Warga targets: half on the web chat API, a quarter each on the signed Telegram "
        "and Twilio SMS webhooks with replies delivered to local fake providers. Ceiling and Rasa: web-shaped "
        "clients only. Latencies in ms. *stored*: inbound row → first reply row; *delivered*: inbound row → "
        "first reply accepted by the fake provider (Telegram, SMS; both on the database clock); *web*: POST → "
        "response with the replies (client clock). *unanswered*: messages without a reply within "
        f"{args.reply_timeout:g} s / messages sent (after one warm-up message per citizen).", "",
        "| target | msg/s | stored p50 / p99 | delivered p50 / p99 | web p50 / p99 | unanswered | "
        "server CPU ms / msg | memory per process (MiB) | left after the load |",
        "|---|---:|---|---|---|---:|---:|---|---|",
    ]
    for r in results:
        web = r.latencies(("web", "bare", "rasa"))
        hooks = r.delivered_ms
        left = r.left or "–"
        if r.max_jobs_per_conversation is not None:
            left += f"; most RQ jobs queued for one conversation: {r.max_jobs_per_conversation}"
        lines.append(
            f"| {r.description} | {r.rate():.0f} | {pct(r.stored_ms, .5)} / {pct(r.stored_ms, .99)} | "
            f"{pct(hooks, .5)} / {pct(hooks, .99)} | {pct(web, .5)} / {pct(web, .99)} | "
            f"{len(r.samples) - len(r.answered())} / {len(r.samples)} | {r.cpu_ms_per_message():.0f} | "
            f"{', '.join(map(str, r.memory_mib)) or '–'} | {left} |")
    return "\n".join(lines) + "\n"


TABLE_BEGIN, TABLE_END = "<!-- load:table:begin -->", "<!-- load:table:end -->"


def write_docs(section: str) -> None:
    """Replace the table in docs/BENCHMARKS.md (between the load:table markers, inside the
    load section, whose other text is kept); create the section near the top if missing."""
    doc = ROOT / "docs" / "BENCHMARKS.md"
    text = doc.read_text()
    table = f"{TABLE_BEGIN}\n{section}{TABLE_END}"
    if TABLE_BEGIN in text and TABLE_END in text:
        text = re.sub(re.escape(TABLE_BEGIN) + ".*?" + re.escape(TABLE_END), lambda m: table, text, flags=re.S)
    else:
        block = f"{BEGIN}\n{table}\n{END}\n\n"
        head, sep, rest = text.partition("\n## ")
        text = f"{head}\n{block}## {rest}" if sep else f"{text}\n{block}"
    doc.write_text(text)


TARGETS = ("run-sqlite", "serve-pg", "serve-pg-redis", "bare-flask", "rasa-rest")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", default=",".join(TARGETS), help="comma-separated, from: " + ", ".join(TARGETS))
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--reply-timeout", type=float, default=10.0)
    p.add_argument("--write", action="store_true", help="write the table into docs/BENCHMARKS.md")
    p.add_argument("--set", action="append", default=[], metavar="WARGA_X=VALUE",
                   help="a setting for every Warga process of the run (repeatable; not with --write)")
    args = p.parse_args(argv)
    if args.set and args.write:
        p.error("--set measures a variant: the table in docs/BENCHMARKS.md is for the defaults")
    for pair in args.set:
        key, _, value = pair.partition("=")
        if not key.startswith("WARGA_") or not value:
            p.error(f"--set takes WARGA_NAME=VALUE, not {pair!r}")
        SETTINGS_OVERRIDES[key] = value
    WORK.mkdir(parents=True, exist_ok=True)
    logdir = Path(tempfile.mkdtemp(prefix="load-", dir=WORK))
    deliveries = Deliveries()
    tg, tw = BenchTelegram(deliveries), BenchTwilio(deliveries)
    tg.start()
    tw.start()
    results = []
    try:
        for name in args.targets.split(","):
            print(f"== {name}", file=sys.stderr, flush=True)
            results.append(run_target(name.strip(), args, tg, tw, deliveries, logdir))
            r = results[-1]
            print(f"   {r.rate():.0f} msg/s, {len(r.answered())}/{len(r.samples)} answered, "
                  f"{r.cpu_ms_per_message():.0f} ms CPU per message, {r.left}",
                  file=sys.stderr, flush=True)
    finally:
        tg.stop()
        tw.stop()
    section = table(results, args)
    print(section)
    print(f"(server logs in {logdir})", file=sys.stderr)
    if args.write:
        write_docs(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
