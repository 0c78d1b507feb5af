"""Messages of one citizen are handled one at a time, in the order they were stored."""

from __future__ import annotations

import threading

from sqlalchemy import select

from bot.store.models import Message


def test_simultaneous_messages_are_answered_in_arrival_order(app):
    sender = "0rder0test0sender000000000000001"
    texts = ["menu", "lapor", "batal", "status", "halo", "menu"]
    barrier = threading.Barrier(len(texts))

    def send(text: str) -> None:
        client = app.test_client()
        barrier.wait()
        r = client.post("/api/v1/chat/messages", json={"sender": sender, "text": text})
        assert r.status_code == 200

    threads = [threading.Thread(target=send, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.extensions["warga"].sessions() as s:
        inbound = s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)).all()
        outbound = s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)).all()
    assert len(inbound) == len(texts)
    # Every message got its replies, and replies follow the order the messages were stored.
    assert {m.reply_to_id for m in outbound} == {m.id for m in inbound}
    reply_order = [m.reply_to_id for m in outbound]
    assert reply_order == sorted(reply_order)
    # Processing order follows storage order too.
    processed = sorted(inbound, key=lambda m: m.processed_at)
    assert [m.id for m in processed] == [m.id for m in inbound]
