"""bench/load.py's simulated citizens and the fake providers they get their replies from.

A citizen is a thread with its own keep-alive connection, in a closed loop over :data:`SCRIPT`:
it sends one message and waits for the answer before the next (the web chat: the replies in the
POST's response; Telegram and SMS: the reply arriving at the local fake provider).
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import requests

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
        answered = self.deliveries.wait_beyond(who, before, timeout)
        if answered is not None and self.replies is not None:
            # Read every reply before writing again, as a person does: the provider cannot tell
            # which message a reply answers, so a later reply to this message would otherwise be
            # taken for the answer to the next one, and the citizen would write faster than the
            # bot answers (a backlog, not a latency). Only the first reply counts for latency.
            external_id = f"{update_id}:{self._chat}:{seq}" if self.kind == "telegram" else sid
            self.replies.wait_all_sent(self.kind, external_id, timeout)
        return Sample(self.kind, started, answered, r.status_code)

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
            if sample.answered is not None and self.kind in ("telegram", "sms") and self.replies is None:
                # Let a second reply to the same message arrive before the next message.
                time.sleep(0.01)


class ReplyCheck:
    """Asks the target's database whether every reply to a message was recorded sent: the one
    thing a webhook citizen cannot see at the fake provider (one small indexed query per
    message once its first reply has arrived; polled only while a reply is still going out)."""

    POLL_SECONDS = 0.005

    def __init__(self, database_url: str) -> None:
        from sqlalchemy import create_engine, text

        self.engine = create_engine(database_url, pool_size=16)
        self.query = text(
            "SELECT COUNT(*) FILTER (WHERE o.status IN ('pending', 'sending')), i.processed_at IS NOT NULL "
            "FROM messages i LEFT JOIN messages o ON o.reply_to_id = i.id AND o.direction = 'out' "
            "WHERE i.channel = :channel AND i.external_id = :external_id GROUP BY i.id, i.processed_at")

    def wait_all_sent(self, channel: str, external_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                row = conn.execute(self.query, {"channel": channel, "external_id": external_id}).first()
            if row is not None and row[1] and row[0] == 0:
                return
            time.sleep(self.POLL_SECONDS)

    def close(self) -> None:
        self.engine.dispose()


def drive(kinds: list[str], url: str, deliveries: Deliveries, seconds: float,
          timeout: float, replies: ReplyCheck | None = None) -> tuple[list[Sample], float]:
    citizens = [Citizen(kind, n, url, deliveries, replies) for n, kind in enumerate(kinds)]
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


def mixed(clients: int) -> list[str]:
    """Half the citizens on the web chat, a quarter each on Telegram and SMS."""
    return [("web", "web", "telegram", "sms")[i % 4] for i in range(clients)]
