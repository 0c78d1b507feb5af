"""The one Bot on its event-loop thread (pattern D)."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

from channels.telegram import TelegramChannel
from tests.channels.telegram.support import config, loop_threads, out
from tests.fakes.fake_telegram import FakeTelegram

# -- the sync bridge (pattern D) -------------------------------------------------------------

def test_the_loop_starts_lazily_and_restarts_after_close(fake_telegram: FakeTelegram) -> None:
    before = len(loop_threads())
    channel = TelegramChannel(config(fake_telegram))
    assert len(loop_threads()) == before
    channel.send(out("satu"))
    assert len(loop_threads()) == before + 1
    channel.close()
    assert len(loop_threads()) == before
    channel.send(out("dua"))
    channel.close()
    assert [c.params["text"] for c in fake_telegram.calls()] == ["satu", "dua"]


def test_one_bot_reuses_keep_alive_connections(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    # The fake keeps connections open, which is what exposes a Bot used across event loops
    # ("Event loop is closed" on every second call, notes §2 pattern C).
    for i in range(30):
        channel.send(out(f"pesan {i}"))
    requests = fake_telegram.requests
    assert len(requests) == 30
    assert len({r.peer for r in requests}) < 5


def test_many_threads_share_one_bot(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    def send(i: int) -> tuple[str, ...]:
        return channel.send(out(f"pesan {i}")).provider_message_ids

    with ThreadPoolExecutor(8) as pool:
        ids = [i for r in pool.map(send, range(64)) for i in r]
    assert len(set(ids)) == 64
    assert sorted(c.params["text"] for c in fake_telegram.calls()) == sorted(f"pesan {i}" for i in range(64))
    assert len(loop_threads()) == 1


def test_a_forked_child_builds_its_own_loop(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    channel.send(out("dari induk"))                 # the parent's loop thread now exists
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # the child: gunicorn --preload after fork
        status = 1
        try:
            result = channel.send(out("dari anak"))
            os.write(write_fd, json.dumps(result.provider_message_ids).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    data = os.read(read_fd, 1000)
    os.close(read_fd)
    assert os.WEXITSTATUS(status) == 0 and len(json.loads(data)) == 1
    assert [c.params["text"] for c in fake_telegram.calls()] == ["dari induk", "dari anak"]
