"""A message whose processing raises is retried a bounded number of times, then dead-lettered:
it never blocks its conversation, staff replies still go out, and staff see it as failed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.casework.staff import StaffService
from bot.runtime import build_runtime
from bot.runtime.nlu import build_nlu
from bot.store.models import Message, StaffUser
from bot.web.app import create_app
from nlu.base import NluEngine, Parse
from tests.bot.staff_accounts import stored_hash
from tests.conftest import migrate
from tests.support import wait_for

SENDER = "deadletter0123456789abcdef012345"
PASSWORD = "correct horse battery"


class CrashingNlu:
    """The configured engine, except that it raises on one word (a bug in a model or a parser:
    the transport seam the dialogue depends on)."""

    name = "crashing"

    def __init__(self, engine: NluEngine, trigger: str) -> None:
        self.engine = engine
        self.trigger = trigger
        self.calls: list[str] = []

    def parse(self, text: str) -> Parse:
        self.calls.append(text)
        if self.trigger in text:
            raise RuntimeError("the model crashed")
        return self.engine.parse(text)

    def ready(self) -> bool:
        return self.engine.ready()


@pytest.fixture
def crashing(settings: Any) -> Iterator[tuple[Any, CrashingNlu]]:
    migrate(settings.database_url)
    nlu = CrashingNlu(build_nlu(settings), "kaboom")
    application = create_app(settings, runtime=build_runtime(settings, nlu=nlu))
    application.testing = True
    try:
        yield application, nlu
    finally:
        application.extensions["warga"].close()


def post(client: Any, text: str) -> Any:
    r = client.post("/api/v1/chat/messages", json={"sender": SENDER, "text": text})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_message_that_makes_processing_raise_is_dead_lettered_and_blocks_nothing(crashing):
    app, nlu = crashing
    rt = app.extensions["warga"]
    client = app.test_client()

    bad = post(client, "tolong kaboom jalan rusak")
    # Tried a bounded number of times, then answered with an apology instead of silence.
    assert nlu.calls.count("tolong kaboom jalan rusak") == rt.processor.max_attempts
    assert [r["text"] for r in bad["replies"]] == [
        "Maaf, pesan Anda belum dapat kami proses. Pesan sudah tersimpan dan akan dilihat petugas. "
        "Ketik \"menu\" untuk melihat pilihan."]

    # The conversation goes on: the next message is understood and answered.
    later = post(client, "menu")
    assert "Pilih yang Anda perlukan" in later["replies"][0]["text"]

    with rt.sessions() as s:
        failed = s.get(Message, bad["message_id"])
        assert failed is not None
        assert failed.status == "failed" and failed.attempts == rt.processor.max_attempts
        assert failed.error_reason == "RuntimeError: the model crashed"
        conv_id = failed.conversation_id

    # A staff reply to that conversation is still sent.
    with rt.sessions() as s, s.begin():
        s.add(StaffUser(username="admin", name="Admin", role="admin", agency=None,
                        password_hash=stored_hash(PASSWORD)))
    with rt.sessions() as s, s.begin():
        StaffService(s, rt.settings).take_over(conv_id, "admin")
        StaffService(s, rt.settings).reply(conv_id, "Kami sedang memeriksa pesan Anda.", "admin")
    rt.queue.enqueue(conv_id)

    def staff_reply_status() -> str | None:
        with rt.sessions() as s:
            row = s.scalars(select(Message).where(
                Message.conversation_id == conv_id, Message.direction == "out",
                Message.text.contains("Kami sedang memeriksa"))).first()
            return row.status if row is not None and row.status not in ("pending", "sending") else None

    assert wait_for(staff_reply_status, what="the staff reply to leave the outbox") == "delivered"
    messages = client.get("/api/v1/chat/messages", headers={"X-Warga-Sender": SENDER}).get_json()["messages"]
    assert messages[-1]["text"] == "Petugas: Kami sedang memeriksa pesan Anda."

    # Staff see the failed message, with its error, on the conversations page and in the transcript.
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").get_data(as_text=True))
    assert token is not None
    r = client.post("/console/login", data={"username": "admin", "password": PASSWORD, "csrf": token.group(1)})
    assert r.status_code == 302
    problems = client.get("/console/conversations").get_data(as_text=True)
    assert re.search(r"dari warga.*failed.*RuntimeError: the model crashed.*tolong kaboom jalan rusak",
                     problems, re.S)
    transcript = client.get(f"/console/conversations/{conv_id}").get_data(as_text=True)
    assert "RuntimeError: the model crashed" in transcript


def test_a_passing_fault_is_retried_and_the_message_answered(settings):
    """A fault that goes away (a dropped connection, a deadlock) costs an attempt, not the message."""
    migrate(settings.database_url)

    class FlakyOnce:
        name = "flaky"

        def __init__(self, engine: NluEngine) -> None:
            self.engine, self.failed = engine, False

        def parse(self, text: str) -> Parse:
            if not self.failed:
                self.failed = True
                raise ConnectionError("connection reset by peer")
            return self.engine.parse(text)

        def ready(self) -> bool:
            return True

    app = create_app(settings, runtime=build_runtime(settings, nlu=FlakyOnce(build_nlu(settings))))
    try:
        body = post(app.test_client(), "menu")
        assert "Pilih yang Anda perlukan" in body["replies"][0]["text"]
        with app.extensions["warga"].sessions() as s:
            msg = s.scalars(select(Message).where(Message.id == body["message_id"])).one()
            assert msg.status == "processed" and msg.attempts == 1 and msg.error_reason is None
    finally:
        app.extensions["warga"].close()


def test_a_connection_pool_that_gives_none_in_time_costs_the_message_no_attempt(settings):
    """Every pooled connection busy past the pool's timeout (a burst of filings, each taking its
    ticket number on a second connection) is the database's fault, as a dropped connection is:
    the sweeper re-drives the message, and it is never dead-lettered for it."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from bot.pipeline.receive import store_and_commit
    from channels.base import InboundMessage

    migrate(settings.database_url)

    class ExhaustedPool:
        name = "exhausted"

        def parse(self, text: str) -> Parse:
            raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached")

        def ready(self) -> bool:
            return True

    rt = build_runtime(settings, nlu=ExhaustedPool())
    try:
        stored = store_and_commit(rt.sessions, [InboundMessage(
            channel="web", external_id="pool-1", sender=f"web:{SENDER}", text="halo",
            received_at=datetime.now(UTC))]).messages[0]
        assert stored.conversation_id is not None
        for _ in range(rt.processor.max_attempts):
            with pytest.raises(PoolTimeout):
                rt.processor.process(stored.conversation_id)
        with rt.sessions() as s:
            msg = s.get(Message, stored.message_id)
            assert msg is not None
            assert (msg.status, msg.attempts, msg.processed_at) == ("received", 0, None)
    finally:
        rt.close()
