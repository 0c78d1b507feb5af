"""bench/load.py's simulated citizens and the fake providers they get their replies from.

A citizen is a thread with its own keep-alive connection, in a closed loop over :data:`SCRIPT`:
it sends one message and waits for the answer before the next (the web chat: the replies in the
POST's response; Telegram and SMS: the reply arriving at the local fake provider).
"""

from __future__ import annotations

import http.client
import itertools
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes._http import Recorded, Reply  # noqa: E402
from tests.fakes.fake_telegram import FakeTelegram  # noqa: E402
from tests.fakes.fake_twilio import FakeTwilio, sign  # noqa: E402

TOKEN = "123456:BENCH-token"
SECRET = "bench-webhook-secret"
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "bench-twilio-auth-token-0123456789"
SMS_FROM = "+15005550006"
PUBLIC_URL = "https://warga.example.go.id"

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


class Post:
    """One keep-alive HTTP connection that POSTs bodies: http.client, not requests, because the
    load generator shares the server's two cores. requests cost the generator about 1.5 ms of
    CPU per message (its adapters, hooks and header merging), CPU the server did not get; a real
    city's citizens do not run on the server's machine."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def __call__(self, path: str, body: bytes, content_type: str,
                 headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """The status and body of the answer; a connection the server closed is opened again
        once (an idle keep-alive connection may be closed between two messages)."""
        all_headers = {"Content-Type": content_type, **(headers or {})}
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            try:
                self._conn.request("POST", path, body, all_headers)
                response = self._conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


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
    # Telegram and SMS: whether every reply to a stored message (channel, external id) was
    # recorded sent, and how many there are; None when the target has no database to ask.
    replies: ReplyCheck | None = None
    samples: list[Sample] = field(default_factory=list)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        self.post = Post(self.base_url, self.timeout + 5)
        self._s = f"bench-citizen-{self.n:04d}-{uuid.uuid4().hex[:6]}"
        self._chat = 7_000_000 + self.n
        self._phone = f"+62811{self.n:07d}"
        self._seq = itertools.count(1)

    def send(self, text: str) -> Sample:
        timeout = self.timeout
        started = time.time()
        if self.kind in ("web", "bare"):
            status, data = self.post("/api/v1/chat/messages", json.dumps({"sender": self._s, "text": text}).encode(),
                                     "application/json")
            ok = status == 200 and bool(json.loads(data).get("replies"))
            return Sample("web", started, time.time() if ok else None, status)
        if self.kind == "rasa":
            status, data = self.post("/webhooks/rest/webhook",
                                     json.dumps({"sender": self._s, "message": text}).encode(), "application/json")
            ok = status == 200 and bool(json.loads(data))
            return Sample("rasa", started, time.time() if ok else None, status)
        who = f"tg:{self._chat}" if self.kind == "telegram" else f"sms:{self._phone}"
        before = self.deliveries.count(who)
        seq = next(self._seq)
        if self.kind == "telegram":
            update_id = self._chat * 1000 + seq
            body = {"update_id": update_id, "message": {
                "message_id": seq, "date": int(started), "text": text,
                "from": {"id": self._chat, "is_bot": False, "first_name": "Warga"},
                "chat": {"id": self._chat, "type": "private", "first_name": "Warga"}}}
            status, _ = self.post("/webhooks/telegram", json.dumps(body).encode(), "application/json",
                                  {"X-Telegram-Bot-Api-Secret-Token": SECRET})
        else:
            sid = "SM" + uuid.uuid4().hex
            pairs = [("MessageSid", sid), ("SmsMessageSid", sid), ("SmsSid", sid), ("AccountSid", ACCOUNT_SID),
                     ("From", self._phone), ("To", SMS_FROM), ("Body", text), ("NumMedia", "0"),
                     ("NumSegments", "1"), ("SmsStatus", "received"), ("ApiVersion", "2010-04-01")]
            status, _ = self.post("/webhooks/twilio", urlencode(pairs).encode(), "application/x-www-form-urlencoded",
                                  {"X-Twilio-Signature": sign(AUTH_TOKEN, PUBLIC_URL + "/webhooks/twilio", pairs)})
        if status != 200:
            return Sample(self.kind, started, None, status)
        answered = self.deliveries.wait_beyond(who, before, timeout)
        if answered is not None and self.replies is not None:
            # Read every reply before writing again, as a person does: the provider cannot tell
            # which message a reply answers, so a later reply to this message would otherwise be
            # taken for the answer to the next one, and the citizen would write faster than the
            # bot answers (a backlog, not a latency). Only the first reply counts for latency.
            external_id = f"{update_id}:{self._chat}:{seq}" if self.kind == "telegram" else sid
            self.replies.wait_all_sent(self.kind, external_id, who, before, timeout)
        return Sample(self.kind, started, answered, status)

    def run(self, stop: threading.Event) -> None:
        for i, text in enumerate(itertools.cycle(SCRIPT)):
            if stop.is_set():
                self.post.close()
                return
            try:
                sample = self.send(text)
            except (OSError, http.client.HTTPException, ValueError):
                # Refused, reset, timed out or not JSON: counted unanswered, never fatal.
                sample = Sample(self.kind, time.time(), None, 599)
            if i > 0:             # the first message of each citizen is the warm-up
                self.samples.append(sample)
            if sample.answered is not None and self.kind in ("telegram", "sms") and self.replies is None:
                # Let a second reply to the same message arrive before the next message.
                time.sleep(0.01)


class ReplyCheck:
    """Asks the target's database whether every reply to a message was recorded sent or failed:
    the one thing a webhook citizen cannot see at the fake provider.

    The load generator shares the server's cores, and so does the database, so it asks seldom:
    each citizen thread over its own plain connection with the query prepared, and only when the
    answer can have changed. The database tells how many replies a message has; until as many
    have reached the fake provider there is no need to ask (a failed send reaches none: after
    :data:`DELIVERY_WAIT_SECONDS` it asks anyway). A send is recorded a few ms after the provider
    sees it: it asks once no delivery came for :data:`SETTLE_SECONDS`, then after pauses that
    double up to :data:`MAX_WAIT_SECONDS`.
    """

    SETTLE_SECONDS = 0.01
    MAX_WAIT_SECONDS = 0.2
    DELIVERY_WAIT_SECONDS = 1.0
    QUERY = ("SELECT COUNT(o.id), COUNT(*) FILTER (WHERE o.status IN ('pending', 'sending')), "
             "i.processed_at IS NOT NULL "
             "FROM messages i LEFT JOIN messages o ON o.reply_to_id = i.id AND o.direction = 'out' "
             "WHERE i.channel = {p} AND i.external_id = {p} GROUP BY i.id, i.processed_at")

    def __init__(self, database_url: str, deliveries: Deliveries) -> None:
        self.url = database_url
        self.deliveries = deliveries
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        self.asks = 0                    # queries sent, and messages checked: the cost per message
        self.messages = 0

    def wait_all_sent(self, channel: str, external_id: str, who: str, before: int, timeout: float) -> None:
        """Once a reply to the message reached the provider for ``who`` (``before`` deliveries to
        ``who`` came earlier): until every reply to it is recorded sent or failed, or ``timeout``."""
        with self._lock:
            self.messages += 1
        deadline = time.monotonic() + timeout
        replies, pause = 1, self.SETTLE_SECONDS
        while time.monotonic() < deadline:
            while self.deliveries.count(who) - before < replies and time.monotonic() < deadline:
                pause = self.SETTLE_SECONDS
                if self.deliveries.wait_beyond(who, self.deliveries.count(who), self.DELIVERY_WAIT_SECONDS) is None:
                    break
            self._quiet(who, pause)
            replies, pending, processed = self._ask(channel, external_id)
            if processed and pending == 0:
                return
            pause = min(pause * 2, self.MAX_WAIT_SECONDS)

    def _quiet(self, who: str, pause: float) -> None:
        """Until no delivery to ``who`` came for ``pause`` (after one: :data:`SETTLE_SECONDS`)."""
        while self.deliveries.wait_beyond(who, self.deliveries.count(who), pause) is not None:
            pause = self.SETTLE_SECONDS

    def _ask(self, channel: str, external_id: str) -> tuple[int, int, bool]:
        """The message's replies, how many of them are still going out, whether it was processed."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            with self._lock:
                self._connections.append(conn)
        if self.url.startswith("sqlite"):
            row = conn.execute(self.QUERY.format(p="?"), (channel, external_id)).fetchone()
        else:
            row = conn.execute(self.QUERY.format(p="%s"), (channel, external_id), prepare=True).fetchone()
        with self._lock:
            self.asks += 1
        return (int(row[0]), int(row[1]), bool(row[2])) if row is not None else (0, 0, False)

    def _connect(self) -> Any:
        if self.url.startswith("sqlite"):
            import sqlite3

            # Closed by close(), from the thread that ran the load.
            return sqlite3.connect(self.url.split(":///", 1)[1], isolation_level=None, check_same_thread=False)
        import psycopg

        return psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def drive(kinds: list[str], url: str, deliveries: Deliveries, seconds: float,
          timeout: float, replies: ReplyCheck | None = None) -> tuple[list[Sample], float]:
    citizens = [Citizen(kind, n, url, deliveries, replies, timeout=timeout) for n, kind in enumerate(kinds)]
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in citizens]
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


def mixed(clients: int) -> list[str]:
    """Half the citizens on the web chat, a quarter each on Telegram and SMS."""
    return [("web", "web", "telegram", "sms")[i % 4] for i in range(clients)]
