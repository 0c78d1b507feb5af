"""GET /metrics: Prometheus text with what the message path counted and what the database holds."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bot.store.models import Conversation, Message, utcnow
from tests.support import PROJECT, wait_for


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.content_type.startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.get_data(as_text=True)) for s in family.samples}


def test_a_chat_message_is_counted_in_out_and_timed(client: Any) -> None:
    before = scrape(client)
    r = client.post("/api/v1/chat/messages", json={"sender": "metrics-citizen-0001", "text": "halo"})
    assert r.status_code == 200 and r.get_json()["replies"]
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("warga_messages_in_total", channel="web") == 1
    assert delta("warga_processing_seconds_count") == 1
    assert delta("warga_nlu_seconds_count") == 1
    assert delta("warga_nlu_parses_total", engine="sklearn") == 1
    assert after[("warga_unprocessed_messages", ())] == 0
    assert after[("warga_oldest_unprocessed_seconds", ())] == 0
    # The replies leave the outbox right after the answer: wait for that state, then count.
    wait_for(lambda: scrape(client)[("warga_outbox_pending", ())] == 0, what="the outbox to drain")
    sent = scrape(client)[("warga_messages_out_total", (("channel", "web"), ("result", "sent")))]
    assert sent - before.get(("warga_messages_out_total", (("channel", "web"), ("result", "sent"))), 0) \
        == len(r.get_json()["replies"])


def test_backlog_and_outbox_state_come_from_the_database(client: Any, app: Any) -> None:
    rt = app.extensions["warga"]
    client.post("/api/v1/chat/messages", json={"sender": "metrics-citizen-0002", "text": "halo"})
    wait_for(lambda: scrape(client)[("warga_outbox_pending", ())] == 0, what="the outbox to drain")
    rt.queue.stop()                          # nothing handles what we put in below
    with rt.sessions() as session, session.begin():
        conv = session.query(Conversation).one()
        old = utcnow() - timedelta(minutes=5)
        session.add(Message(conversation_id=conv.id, direction="in", channel="web", kind="message",
                            external_id="stuck-1", urn=conv.address.urn, text="halo?", status="received",
                            created_at=old))
        session.add(Message(conversation_id=conv.id, direction="out", channel="web", kind="message",
                            urn=conv.address.urn, text="lost", status="failed", created_at=old))
        session.add(Message(conversation_id=conv.id, direction="out", channel="web", kind="message",
                            urn=conv.address.urn, text="waiting", status="pending", created_at=old,
                            next_attempt_at=old + timedelta(days=1)))
    m = scrape(client)
    assert m[("warga_unprocessed_messages", ())] == 1
    assert m[("warga_oldest_unprocessed_seconds", ())] >= 300
    assert m[("warga_outbox_pending", ())] == 1
    assert m[("warga_outbox_oldest_seconds", ())] >= 300
    assert m[("warga_outbox_failed", (("channel", "web"),))] == 1


def test_counts_of_several_processes_add_up(tmp_path: Path) -> None:
    """gunicorn workers and `warga worker` each count their own; one scrape shows the sum."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = "from bot.pipeline import metrics; metrics.message_in('telegram', 2)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, cwd=PROJECT)
    out = subprocess.run([sys.executable, "-c", "import sys; from bot.pipeline import metrics; "
                          "sys.stdout.write(metrics.counted_text().decode())"],
                         env=env, check=True, cwd=PROJECT, capture_output=True, text=True).stdout
    samples = {(s.name, tuple(s.labels.items())): s.value
               for f in text_string_to_metric_families(out) for s in f.samples}
    assert samples[("warga_messages_in_total", (("channel", "telegram"),))] == 4


def test_use_shared_dir_removes_files_of_processes_gone(tmp_path: Path, monkeypatch: Any) -> None:
    from bot.pipeline.metrics import use_shared_dir

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    (tmp_path / "metrics").mkdir()
    gone = tmp_path / "metrics" / "counter_999999999.db"
    alive = tmp_path / "metrics" / f"counter_{os.getpid()}.db"
    gone.write_bytes(b"x")
    alive.write_bytes(b"x")
    use_shared_dir(tmp_path)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "metrics")
    assert not gone.exists() and alive.exists()
