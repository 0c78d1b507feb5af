"""On PostgreSQL a known citizen's web chat message is stored and answered in one transaction:
stored into its conversation under the conversation's lock, answered, committed with its replies
(ConversationProcessor.process_arrival). What must still hold: every message stored once,
answered once, in the order the conversation received them; an older message waiting is
answered first; a turn that fails leaves the message to the usual way, which stores it and
counts the failure."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from bot.dialogue.engine import Dialogue
from bot.dialogue.types import ComplaintDraft
from bot.pipeline.process import ConversationProcessor
from bot.pipeline.receive import store_and_commit
from bot.store.conversation_rows import lock_conversation
from bot.store.models import Contact, ContactAddress, Message
from channels.base import InboundMessage
from tests.conftest import make_settings, migrate
from tests.pg_databases import create_pg_database, release_pg_database, wait_until_blocked_on_a_lock

SENDER = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
URN = f"web:{SENDER}"


@pytest.fixture
def app(pg_reason: str | None, tmp_path: Path) -> Iterator[Any]:
    if pg_reason:
        pytest.fail(pg_reason)   # the arrival is PostgreSQL's: never pass without it
    from bot.web.app import create_app

    name, url = create_pg_database()
    migrate(url)
    # No sweeper: only the requests under test touch the conversation.
    settings = make_settings(url, tmp_path, overrides={
        "queue.sweep_seconds": 3600, "queue.stall_seconds": 3600, "server.chat_reply_wait_seconds": 10})
    app = create_app(settings)
    try:
        yield app
    finally:
        app.extensions["warga"].close()
        release_pg_database(name)


def post(app: Any, text_: str, message_id: str, **more: Any) -> Any:
    return app.test_client().post("/api/v1/chat/messages",
                                  json={"sender": SENDER, "id": message_id, "text": text_, **more})


def stored_elsewhere(app: Any, text_: str, external_id: str) -> int:
    """A message of the same conversation stored without being processed (another request that
    took the usual way); its id."""
    sent = store_and_commit(app.extensions["warga"].sessions, [InboundMessage(
        channel="web", external_id=f"{SENDER}:{external_id}", sender=URN, text=text_, received_at=datetime.now(UTC))])
    return sent.messages[0].message_id


def inbound(app: Any) -> list[Message]:
    with app.extensions["warga"].sessions() as s:
        return list(s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)))


def first_reply_of(app: Any) -> dict[int, int]:
    """Each inbound message's first reply id."""
    with app.extensions["warga"].sessions() as s:
        rows = s.execute(select(Message.reply_to_id, Message.id).where(Message.direction == "out")
                         .order_by(Message.id)).all()
    firsts: dict[int, int] = {}
    for reply_to, reply_id in rows:
        firsts.setdefault(reply_to, reply_id)
    return firsts


def conversation_id(app: Any) -> int:
    first = post(app, "halo", "msg-first")            # a new citizen: the usual way creates the conversation
    assert first.status_code == 200 and first.get_json()["replies"]
    conv_id = inbound(app)[0].conversation_id
    assert conv_id is not None
    return conv_id


def test_a_known_citizens_message_is_answered_in_the_response_and_stored_once(app):
    conversation_id(app)
    body = post(app, "jam buka kantor kelurahan kapan ya?", "msg-second").get_json()
    assert body["replies"] and not body["pending"] and not body["duplicate"]
    again = post(app, "jam buka kantor kelurahan kapan ya?", "msg-second").get_json()   # the client's retry
    assert again["duplicate"] and again["message_id"] == body["message_id"]
    messages = inbound(app)
    assert [(m.external_id or "").split(":")[-1] for m in messages] == ["msg-first", "msg-second"]
    assert all(m.status == "processed" for m in messages)
    with app.extensions["warga"].sessions() as s:
        replies = s.scalars(select(Message).where(Message.reply_to_id == body["message_id"])
                            .order_by(Message.id)).all()
        address = s.scalar(select(ContactAddress).where(ContactAddress.urn == URN))
    assert [r.id for r in replies] == [r["id"] for r in body["replies"]]
    assert address is not None and address.last_inbound_at == messages[1].received_at


def test_a_name_given_with_the_message_is_used_in_its_answer(app):
    conversation_id(app)
    body = post(app, "halo", "msg-named", name="Budi").get_json()
    assert "Budi" in body["replies"][0]["text"]


def test_an_older_message_still_waiting_is_answered_first(app):
    conversation_id(app)
    older = stored_elsewhere(app, "jalan rusak parah di depan rumah saya", "msg-older")
    body = post(app, "terima kasih", "msg-newer").get_json()
    assert body["replies"] and not body["pending"]
    newer = body["message_id"]
    assert older < newer
    firsts = first_reply_of(app)
    assert firsts[older] < firsts[newer]          # answered in the order they arrived
    assert all(m.status == "processed" for m in inbound(app))


def test_an_older_message_committed_while_the_arrival_waited_for_the_lock_is_answered_first(app):
    """The arrival's statement reads the conversation's messages in a snapshot taken before it
    waited for the lock: a message committed meanwhile is older than the one it then stores.
    The turn's end sees it under the lock; the turn is rolled back and the usual way answers
    both, the older first."""
    rt = app.extensions["warga"]
    conv_id = conversation_id(app)
    responses: list[Any] = []
    with rt.sessions() as holder, holder.begin():
        assert lock_conversation(holder.connection(), conv_id) is not None
        pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
        request = threading.Thread(target=lambda: responses.append(post(app, "terima kasih", "msg-newer")))
        request.start()
        wait_until_blocked_on_a_lock(rt.engine, pid)
        older = stored_elsewhere(app, "jalan rusak parah di depan rumah saya", "msg-older")
    request.join(timeout=60)
    assert not request.is_alive()
    body = responses[0].get_json()
    assert body["replies"] and not body["pending"]
    messages = inbound(app)
    # Each stored once.
    assert [(m.external_id or "").split(":")[-1] for m in messages] == ["msg-first", "msg-older", "msg-newer"]
    assert all(m.status == "processed" for m in messages)
    firsts = first_reply_of(app)
    assert firsts[older] < firsts[body["message_id"]]


def arrivals(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What each of the queue's calls of process_arrival returned (None: not answered by it)."""
    returned: list[Any] = []
    arrive = ConversationProcessor.process_arrival

    def recording(self: Any, values: Any, take: Any) -> Any:
        returned.append(arrive(self, values, take))
        return returned[-1]

    monkeypatch.setattr(ConversationProcessor, "process_arrival", recording)
    app.extensions["warga"].queue.arrivals = app.extensions["warga"].processor.process_arrival
    return returned


def test_what_a_turn_changes_through_the_orm_is_committed_with_its_replies(app, monkeypatch):
    """The arrival's transaction is a Core connection's, with the dialogue's ORM session joined
    to it: a row the dialogue changed through that session (a complaint reopened or rated)
    commits with the turn."""
    conversation_id(app)
    step = Dialogue.step

    def changing(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.ports.s.get(Contact, self.ports.conversation.contact_id).language = "en"
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Dialogue, "step", changing)
    answered = arrivals(app, monkeypatch)
    body = post(app, "terima kasih", "msg-orm-changes").get_json()
    assert body["replies"] and not body["pending"]
    assert len(answered) == 1 and answered[0] is not None      # answered by the arrival itself
    with app.extensions["warga"].sessions() as s:
        assert s.scalar(select(Contact.language).join(ContactAddress).where(ContactAddress.urn == URN)) == "en"


def test_a_complaint_filed_by_an_arrival_does_not_hold_the_ticket_counter(app, monkeypatch):
    """The ticket number is taken in a transaction of its own (complaints.next_ticket), also when
    the filing's session is joined to the arrival's connection: otherwise every filing in the
    city would wait for this turn's commit."""
    conversation_id(app)
    other = create_engine(app.extensions["warga"].engine.url)
    counter_free: list[bool] = []
    step = Dialogue.step

    def filing(self: Any, *args: Any, **kwargs: Any) -> Any:
        filed = self.ports.file_complaint(ComplaintDraft(category="road_damage", description="Jalan berlubang",
                                                         language="id"))
        prefix, year, _number = filed.ticket.split("-")
        with other.connect() as conn:          # another filing's number, meanwhile
            conn.execute(text("SET lock_timeout = '2s'"))
            try:
                conn.execute(text("INSERT INTO ticket_counters (prefix, year, last_value) VALUES (:p, :y, 1) "
                                  "ON CONFLICT (prefix, year) DO UPDATE "
                                  "SET last_value = ticket_counters.last_value + 1"),
                             {"p": prefix, "y": int(year)})
                counter_free.append(True)
            except OperationalError:
                counter_free.append(False)
            conn.rollback()
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Dialogue, "step", filing)
    answered = arrivals(app, monkeypatch)
    try:
        assert post(app, "terima kasih", "msg-filing").get_json()["replies"]
    finally:
        other.dispose()
    assert len(answered) == 1 and answered[0] is not None
    assert counter_free == [True]


def test_a_turn_that_fails_leaves_the_message_stored_once_with_the_failure_counted(app, monkeypatch):
    conversation_id(app)

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the dialogue")

    monkeypatch.setattr(Dialogue, "step", broken)
    response = post(app, "terima kasih", "msg-broken")
    assert response.status_code in (200, 202)
    broken_rows = [m for m in inbound(app) if (m.external_id or "").endswith(":msg-broken")]
    assert len(broken_rows) == 1                  # rolled back by the arrival, stored by the usual way
    assert broken_rows[0].attempts >= 1 and "a bug in the dialogue" in (broken_rows[0].error_reason or "")


def test_a_photo_stored_by_a_commit_whose_answer_was_lost_keeps_its_file(app, monkeypatch):
    """The one-transaction path committed, but its caller never heard so (the connection broke
    as COMMIT was answered): the usual way then finds the message stored, by this very request,
    and the upload it points to must stay."""
    import io

    from bot.pipeline.process import ConversationProcessor
    from tests.bot.citizen import tiny_png

    conversation_id(app)
    arrive = ConversationProcessor.process_arrival

    def committed_but_unheard(self: Any, values: Any, take: Any) -> None:
        assert arrive(self, values, take) is not None
        return None

    monkeypatch.setattr(ConversationProcessor, "process_arrival", committed_but_unheard)
    app.extensions["warga"].queue.arrivals = app.extensions["warga"].processor.process_arrival
    response = app.test_client().post("/api/v1/chat/messages", content_type="multipart/form-data", data={
        "sender": SENDER, "id": "msg-photo", "photo": (io.BytesIO(tiny_png()), "foto-jalan.png", "image/png")})
    assert response.status_code == 200 and response.get_json()["duplicate"]
    photo = [m for m in inbound(app) if (m.external_id or "").endswith(":msg-photo")]
    assert len(photo) == 1
    assert Path(photo[0].media[0]["stored"]).read_bytes() == tiny_png()


def test_a_message_for_a_conversation_a_worker_holds_waits_for_that_worker(app):
    """A worker of this process runs the conversation's job (a staff reply's, say): the
    arrival does not answer beside it. The message is stored alone and answered by the job's
    run after it, and the request gets its replies all the same."""
    rt = app.extensions["warga"]
    conv_id = conversation_id(app)
    entered, release = threading.Event(), threading.Event()
    job = rt.queue.job

    def held(conversation: int) -> None:
        entered.set()
        release.wait(30)
        job(conversation)

    rt.queue.job = held
    rt.queue.enqueue(conv_id)
    assert entered.wait(30)
    responses: list[Any] = []
    request = threading.Thread(target=lambda: responses.append(post(app, "terima kasih", "msg-held")))
    request.start()
    for _ in range(3000):                    # until the usual way has stored it
        stored = [m for m in inbound(app) if (m.external_id or "").endswith(":msg-held")]
        if stored:
            break
        threading.Event().wait(0.01)
    assert len(stored) == 1 and stored[0].processed_at is None      # stored, not answered beside the job
    rt.queue.job = job
    release.set()
    request.join(timeout=60)
    assert not request.is_alive()
    body = responses[0].get_json()
    assert body["replies"] and not body["pending"] and body["message_id"] == stored[0].id
