"""The outbox's retry schedule and deadline, driven by an injected clock (no waiting, no timing):
a provider's Retry-After is honoured, retries back off exponentially, and a reply that cannot be
sent before its deadline is marked failed with the provider's words and never tried again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.pipeline.outbox import Outbox, deliver_on_store
from bot.pipeline.replies import queue_reply
from bot.settings import OutboxSettings
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Contact, ContactAddress, Conversation, Message
from channels.base import DeliveryStatus, OutboundMessage, SendError, SendFailure, SendResult
from tests.conftest import migrate

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)


class ScriptedChannel:
    """A connector whose provider answers from a script: each entry is raised or returns."""

    name = "web"

    def __init__(self, script: list[SendError | None]) -> None:
        self.script = script
        self.sent: list[OutboundMessage] = []

    def verify(self, request: Any) -> None:
        return None

    def parse_inbound(self, request: Any) -> list[Any]:
        return []

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        return SendResult((f"p-{len(self.sent)}",), DeliveryStatus.sent)


@pytest.fixture
def sessions(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    migrate(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def setup(sessions: Any, settings: OutboxSettings, clock: Clock) -> int:
    with sessions() as s, s.begin():
        contact = Contact(name="Siti")
        s.add(contact)
        s.flush()
        address = ContactAddress(urn="web:siti0000000000000001", channel="web", contact_id=contact.id)
        s.add(address)
        s.flush()
        conv = Conversation(contact_id=contact.id, address_id=address.id, channel="web", state={})
        s.add(conv)
        s.flush()
        queue_reply(s, settings, conv, "Di mana lokasinya?", now=clock())
        return conv.id


def reply(sessions: Any) -> Message:
    with sessions() as s:
        return s.query(Message).filter(Message.direction == "out").one()


SETTINGS = OutboxSettings(give_up_after_minutes=60, first_retry_seconds=2, max_retry_seconds=300,
                          lease_seconds=60)


def test_retry_after_is_honoured_then_retries_back_off_exponentially(sessions):
    clock = Clock()
    channel = ScriptedChannel([
        SendError("Too Many Requests: retry after 5", kind=SendFailure.throttled, retry_after=5, code="429"),
        SendError("Bad Gateway", kind=SendFailure.retry_later, code="502"),
        SendError("Bad Gateway", kind=SendFailure.retry_later, code="502"),
    ])
    outbox = Outbox(SETTINGS, sessions, {"web": channel}, clock=clock)
    conv = setup(sessions, SETTINGS, clock)

    schedule = []
    for _ in range(4):
        outbox.drain(conv)
        r = reply(sessions)
        if r.status != "pending":
            break
        assert r.next_attempt_at is not None
        wait = (r.next_attempt_at - clock()).total_seconds()
        schedule.append(wait)
        clock.now = r.next_attempt_at - timedelta(milliseconds=1)
        outbox.drain(conv)                      # not yet due: nothing is sent early
        assert len(channel.sent) == len(schedule)
        clock.now = r.next_attempt_at

    # 5 s asked by the provider (more than the first backoff), then 2 s * 2, then 2 s * 4.
    assert schedule == [5.0, 4.0, 8.0]
    r = reply(sessions)
    assert (r.status, r.attempts, r.error_code, r.error_reason) == ("sent", 4, None, None)
    assert len(channel.sent) == 4


def test_a_reply_not_sent_before_its_deadline_fails_with_the_error_and_stops(sessions):
    clock = Clock()
    settings = OutboxSettings(give_up_after_minutes=0.5, first_retry_seconds=2, max_retry_seconds=300,
                              lease_seconds=60)
    channel = ScriptedChannel([SendError("Service Unavailable: restarting", kind=SendFailure.retry_later,
                                         code="20503")] * 100)
    outbox = Outbox(settings, sessions, {"web": channel}, clock=clock)
    conv = setup(sessions, settings, clock)

    while reply(sessions).status == "pending":
        outbox.drain(conv)
        r = reply(sessions)
        if r.status == "pending":
            assert r.next_attempt_at is not None
            clock.now = r.next_attempt_at

    r = reply(sessions)
    # 0 s, 2 s, 6 s, 14 s: the next retry (30 s) would be past the 30 s deadline.
    assert len(channel.sent) == 4
    assert (r.status, r.error_code, r.sent_at) == ("failed", "20503", None)
    assert "Service Unavailable: restarting" in (r.error_reason or "")
    clock.at(3600)
    outbox.drain(conv)
    assert len(channel.sent) == 4               # failed is final


def test_a_reply_still_pending_at_its_deadline_is_refused_with_the_last_error(sessions):
    clock = Clock()
    channel = ScriptedChannel([SendError("Bad Gateway", kind=SendFailure.retry_later, code="502")])
    settings = OutboxSettings(give_up_after_minutes=1, first_retry_seconds=2, max_retry_seconds=300,
                              lease_seconds=60)
    outbox = Outbox(settings, sessions, {"web": channel}, clock=clock)
    conv = setup(sessions, settings, clock)
    outbox.drain(conv)
    clock.at(61)                                 # the worker was away past the deadline
    outbox.drain(conv)
    r = reply(sessions)
    assert len(channel.sent) == 1
    assert r.status == "failed" and "gave up" in (r.error_reason or "") and "Bad Gateway" in (r.error_reason or "")


def test_a_slow_send_that_fails_after_another_worker_sent_the_reply_changes_nothing(sessions):
    """A send whose lease expired is taken over (another worker sends the reply, and the next
    one); when the slow send finally times out, its outcome is stale: the reply stays sent and is
    never sent again after the replies that followed it."""
    settings = OutboxSettings(give_up_after_minutes=60, first_retry_seconds=2, max_retry_seconds=300,
                              lease_seconds=1)
    clock = Clock()
    conv_id = setup(sessions, settings, clock)
    with sessions() as s, s.begin():
        conv = s.get(Conversation, conv_id)
        queue_reply(s, settings, conv, "Kirim foto?", now=clock())

    class SlowFirstSend(ScriptedChannel):
        def send(self, message: OutboundMessage) -> SendResult:
            self.sent.append(message)
            if len(self.sent) == 1:
                # Still waiting on the provider when the lease runs out: another worker (a
                # second drain) takes the reply over and sends both replies.
                clock.at(5)
                outbox.drain(conv_id)
                raise SendError("timed out", kind=SendFailure.retry_later)
            return SendResult((f"p-{len(self.sent)}",), DeliveryStatus.sent)

    channel = SlowFirstSend([])
    outbox = Outbox(settings, sessions, {"web": channel}, clock=clock)
    outbox.drain(conv_id)
    clock.at(60)
    outbox.drain(conv_id)
    assert [m.text for m in channel.sent] == ["Di mana lokasinya?", "Di mana lokasinya?", "Kirim foto?"]
    with sessions() as s:
        rows = s.query(Message).filter(Message.direction == "out").order_by(Message.id).all()
        assert [(m.text, m.status, m.attempts) for m in rows] == [
            ("Di mana lokasinya?", "sent", 2), ("Kirim foto?", "sent", 1)]


def test_replies_on_a_channel_that_delivers_on_store_are_recorded_delivered_in_order(sessions):
    """The web chat's replies are read from the store: the outbox records them delivered (with
    the connector's ids) in order, still refusing one whose deadline passed."""
    from channels.web import WebChannel

    clock = Clock()
    settings = OutboxSettings(give_up_after_minutes=1, first_retry_seconds=2, max_retry_seconds=300,
                              lease_seconds=60)
    conv_id = setup(sessions, settings, clock)
    clock.at(120)                                 # the first reply's deadline has passed
    with sessions() as s, s.begin():
        conv = s.get(Conversation, conv_id)
        queue_reply(s, settings, conv, "Kirim foto?", now=clock())
        queue_reply(s, settings, conv, "Terima kasih.", now=clock())
    outbox = Outbox(settings, sessions, {"web": WebChannel()}, clock=clock)

    assert outbox.drain(conv_id) == 3
    with sessions() as s:
        rows = s.query(Message).filter(Message.direction == "out").order_by(Message.id).all()
        assert [(m.text, m.status, m.attempts) for m in rows] == [
            ("Di mana lokasinya?", "failed", 1), ("Kirim foto?", "delivered", 1), ("Terima kasih.", "delivered", 1)]
        assert "gave up" in (rows[0].error_reason or "")
        assert [m.provider_message_id for m in rows[1:]] == [None, None]     # no provider between
        assert all(m.sent_at == clock() and m.lease_until is None for m in rows[1:])
    assert outbox.drain(conv_id) == 0            # nothing is recorded twice


def test_replies_delivered_on_store_are_recorded_in_the_transaction_that_queued_them(sessions):
    """The processing of a web chat message commits its replies already delivered: same rules
    as the outbox (a reply past its deadline is refused; one another worker holds is left to it),
    and the outbox finds nothing left to do."""
    from channels.web import WebChannel

    clock = Clock()
    settings = OutboxSettings(give_up_after_minutes=1, first_retry_seconds=2, max_retry_seconds=300,
                              lease_seconds=60)
    conv_id = setup(sessions, settings, clock)
    with sessions() as s, s.begin():
        conv = s.get(Conversation, conv_id)
        held = queue_reply(s, settings, conv, "Sedang dikirim", now=clock())
        s.flush()
        held.status, held.lease_until = "sending", clock.now + timedelta(seconds=600)   # a sender holds it
    clock.at(120)                                 # the first reply's deadline has passed
    with sessions() as s, s.begin():
        conv = s.get(Conversation, conv_id)
        queue_reply(s, settings, conv, "Kirim foto?", now=clock())
        queue_reply(s, settings, conv, "Terima kasih.", now=clock())
        assert deliver_on_store(s, settings, WebChannel(), conv_id, clock()) == 3
        s.rollback()                              # nothing is kept unless the caller commits
    with sessions() as s:
        assert s.query(Message).filter(Message.text == "Kirim foto?").count() == 0
    with sessions() as s, s.begin():
        conv = s.get(Conversation, conv_id)
        queue_reply(s, settings, conv, "Kirim foto?", now=clock())
        queue_reply(s, settings, conv, "Terima kasih.", now=clock())
        deliver_on_store(s, settings, WebChannel(), conv_id, clock())
    with sessions() as s:
        rows = s.query(Message).filter(Message.direction == "out").order_by(Message.id).all()
        assert [(m.text, m.status, m.attempts) for m in rows] == [
            ("Di mana lokasinya?", "failed", 0), ("Sedang dikirim", "sending", 0),
            ("Kirim foto?", "delivered", 1), ("Terima kasih.", "delivered", 1)]
        assert "gave up" in (rows[0].error_reason or "")
        assert all(m.sent_at == clock() and m.lease_until is None for m in rows[2:])
    outbox = Outbox(settings, sessions, {"web": WebChannel()}, clock=clock)
    assert outbox.drain(conv_id) == 0             # the held one is still leased; nothing else is open


def test_a_reply_queued_for_a_channel_that_delivers_on_store_is_stored_delivered(sessions):
    """The dialogue's replies to a web chat citizen are stored delivered as they are queued (no
    read and update afterwards), by the outbox's own rules: to a citizen who opted out the
    reply stays open, and :func:`deliver_on_store` then refuses it with the reason."""
    from channels.web import WebChannel

    clock = Clock()
    conv_id = setup(sessions, SETTINGS, clock)
    with sessions() as s, s.begin():
        conv = s.get(Conversation, conv_id)
        born = queue_reply(s, SETTINGS, conv, "Terima kasih.", now=clock(), delivered_by=WebChannel())
        s.flush()
        assert (born.status, born.attempts, born.sent_at, born.status_at, born.lease_until) == (
            "delivered", 1, clock(), clock(), None)
        conv.address.opted_out_at = clock()
        refused = queue_reply(s, SETTINGS, conv, "Ada lagi?", now=clock(), delivered_by=WebChannel())
        s.flush()
        assert refused.status == "pending"
        assert deliver_on_store(s, SETTINGS, WebChannel(), conv_id, clock()) == 2
    with sessions() as s:
        rows = s.query(Message).filter(Message.direction == "out").order_by(Message.id).all()
        assert [(m.text, m.status) for m in rows] == [
            ("Di mana lokasinya?", "failed"), ("Terima kasih.", "delivered"), ("Ada lagi?", "failed")]
        assert rows[2].error_reason == "not sent: the citizen opted out"


def test_a_reply_claimed_with_the_processing_is_sent_first_and_only_once(sessions):
    """The transaction that queued the replies claims the first (:meth:`Outbox.claim`):
    the drain after its commit sends it without claiming it again, then the rest in order.
    A claim that was rolled back with its transaction claims nothing; one whose sender died
    is sent again only once its lease has expired."""
    from sqlalchemy import event

    clock = Clock()
    channel = ScriptedChannel([])
    outbox = Outbox(SETTINGS, sessions, {"web": channel}, clock=clock)
    conv_id = setup(sessions, SETTINGS, clock)
    with sessions() as s, s.begin():
        queue_reply(s, SETTINGS, s.get(Conversation, conv_id), "Terima kasih.", now=clock())
        s.flush()
        claimed = outbox.claim(s, conv_id, clock())
    assert claimed is not None and claimed.text == "Di mana lokasinya?" and claimed.attempts == 1
    commits: list[int] = []

    def committed(conn: Any) -> None:
        commits.append(1)

    engine = sessions.kw["bind"]
    event.listen(engine, "commit", committed)
    try:
        assert outbox.drain(conv_id, claimed) == 2
    finally:
        event.remove(engine, "commit", committed)
    assert [m.text for m in channel.sent] == ["Di mana lokasinya?", "Terima kasih."]
    # Two transactions for two replies: each records a send and claims the next.
    assert len(commits) == 2
    with sessions() as s:
        rows = s.query(Message).filter(Message.direction == "out").order_by(Message.id).all()
        assert [(m.status, m.attempts, m.lease_until) for m in rows] == [("sent", 1, None), ("sent", 1, None)]

    # A claim rolled back with its transaction holds nothing: the drain claims the reply itself.
    with sessions() as s, s.begin():
        queue_reply(s, SETTINGS, s.get(Conversation, conv_id), "Ada lagi?", now=clock())
    with sessions() as s, s.begin():
        assert outbox.claim(s, conv_id, clock()) is not None
        s.rollback()
    assert outbox.drain(conv_id) == 1 and channel.sent[-1].text == "Ada lagi?"

    # Claimed and committed, then the process died before sending: nobody sends it while the
    # lease holds; after it, the drain sends it once.
    with sessions() as s, s.begin():
        queue_reply(s, SETTINGS, s.get(Conversation, conv_id), "Sampai jumpa.", now=clock())
        s.flush()
        assert outbox.claim(s, conv_id, clock()) is not None
    assert outbox.drain(conv_id) == 0
    clock.at(SETTINGS.lease_seconds + 1)
    assert outbox.drain(conv_id) == 1
    assert [m.text for m in channel.sent].count("Sampai jumpa.") == 1


class SilentProviderChannel(ScriptedChannel):
    """A provider that never reports on what it was sent (as Telegram's Bot API)."""

    reports_delivery = False


class SayingItReportsChannel(ScriptedChannel):
    reports_delivery = True


@pytest.mark.parametrize(("channel", "looks"), [(ScriptedChannel([]), True), (SilentProviderChannel([]), False),
                                                (SayingItReportsChannel([]), True)])
def test_reports_that_came_early_are_looked_for_only_where_a_provider_reports(sessions, channel, looks):
    from sqlalchemy import event

    clock = Clock()
    outbox = Outbox(SETTINGS, sessions, {"web": channel}, clock=clock)
    conv_id = setup(sessions, SETTINGS, clock)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert outbox.drain(conv_id) == 1
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert any("FROM delivery_receipts" in s for s in statements) is looks
    # Either way the provider's id is kept with the message.
    assert any("INSERT INTO provider_message_ids" in s for s in statements)
    assert reply(sessions).status == "sent"
