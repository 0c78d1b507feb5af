"""`warga serve`'s processes share new keep-alive connections evenly (bot/web/fair_accept.py).

Unit tests drive the shared table with an injected clock; the end-to-end test opens 16
connections at once on a real `warga serve` with two processes and reads from /proc which
process holds each.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from bot.web.fair_accept import STALE_SECONDS, ConnectionTable, FairAccept
from tests.bot.test_load_bench import children, pg_serve, wait_ready  # noqa: F401 - pg_serve is a fixture


class Process:
    """One serving process's view: its connection count and the shared clock. Its pid must be
    a live process (this test's or its parent's): the table leaves out pids that are gone."""

    def __init__(self, table: ConnectionTable, pid: int, clock: list[int]) -> None:
        self.open = 0
        self.fair = FairAccept(table, lambda: self.open, clock=lambda: clock[0], pid=pid)


def test_only_a_process_holding_no_more_than_the_others_takes_new_connections() -> None:
    clock = [1_000_000]
    table = ConnectionTable(rows=4)
    a, b = Process(table, os.getpid(), clock), Process(table, os.getppid(), clock)
    assert a.fair.may_accept() and b.fair.may_accept()       # 0 and 0
    a.open = 1
    assert not a.fair.may_accept()                           # 1 against 0
    assert b.fair.may_accept()
    b.open = 1
    # Each process publishes its count when it asks (every turn of its event loop).
    assert b.fair.may_accept() and a.fair.may_accept()


def test_connections_arriving_at_once_end_up_split_evenly() -> None:
    clock = [5_000]
    table = ConnectionTable(rows=4)
    first, second = Process(table, os.getpid(), clock), Process(table, os.getppid(), clock)
    for n in range(16):
        # Each turn of their event loops both ask; the one that wakes first (alternating here,
        # and the same one four times running below) accepts when it may.
        order = (first, second) if n % 2 == 0 or n < 4 else (second, first)
        asking = [p for p in order if p.fair.may_accept()]
        asking[0].open += 1
    assert (first.open, second.open) == (8, 8)


def test_a_process_that_stopped_publishing_is_left_out() -> None:
    clock = [10_000]
    table = ConnectionTable(rows=4)
    # Both pids exist (this test's own process and its parent): only the heartbeat tells.
    live, hung = Process(table, os.getpid(), clock), Process(table, os.getppid(), clock)
    live.open = 5
    hung.open = 0
    hung.fair.may_accept()                                  # publishes its count
    assert not live.fair.may_accept()                        # the other holds fewer, for now
    clock[0] += int(STALE_SECONDS * 1000) + 1                # hung: it publishes no more
    assert live.fair.may_accept()


def test_a_process_that_is_gone_is_left_out_at_once() -> None:
    clock = [10_000]
    table = ConnectionTable(rows=4)
    gone_pid = 2 ** 22 + 1                                   # past pid_max's default: no such process
    live, gone = Process(table, os.getpid(), clock), Process(table, gone_pid, clock)
    live.open = 5
    gone.fair.may_accept()                                   # its heartbeat is still fresh
    assert live.fair.may_accept()


def test_the_row_of_a_silent_but_living_process_is_not_taken() -> None:
    clock = [10_000]
    table = ConnectionTable(rows=1)
    silent = Process(table, os.getppid(), clock)
    clock[0] += int(STALE_SECONDS * 1000) + 1          # past its connection limit: it polls no more
    newcomer = Process(table, os.getpid(), clock)
    assert newcomer.fair.row is None and silent.fair.row == 0
    assert silent.fair.may_accept()                     # its row is still its own


def test_a_process_whose_row_was_taken_claims_another() -> None:
    clock = [10_000]
    table = ConnectionTable(rows=2)
    first = Process(table, os.getpid(), clock)
    table.release(first.fair.row or 0, os.getpid())
    other = Process(table, os.getppid(), clock)          # takes the released row
    assert other.fair.row == 0
    assert first.fair.may_accept()
    assert first.fair.row == 1


def test_a_process_that_closed_its_row_is_left_out_and_its_row_reused() -> None:
    clock = [10_000]
    table = ConnectionTable(rows=2)
    live, leaving = Process(table, os.getpid(), clock), Process(table, os.getppid(), clock)
    live.open = 3
    leaving.fair.close()
    assert live.fair.may_accept()
    assert Process(table, 403, clock).fair.row is not None    # the replacement takes the row


def test_a_process_finding_no_free_row_accepts_as_if_alone() -> None:
    clock = [10_000]
    table = ConnectionTable(rows=1)
    first, extra = Process(table, os.getppid(), clock), Process(table, os.getpid(), clock)
    first.open, extra.open = 0, 7
    assert extra.fair.row is None
    assert extra.fair.may_accept()


def established(port: int, pids: list[int]) -> dict[int, int]:
    """How many established connections to ``port`` each of ``pids`` holds (from /proc)."""
    inodes: dict[str, int] = {}
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":          # 01: ESTABLISHED
                inodes[fields[9]] = 0
    held = {pid: 0 for pid in pids}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = fd.readlink().name
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held[pid] += 1
    return held


def test_sixteen_keep_alive_clients_are_split_eight_and_eight(pg_serve: tuple[str, Any, Path]) -> None:  # noqa: F811
    url, proc, log = pg_serve
    wait_ready(url + "/healthz", [proc], 120, log, serving=2)
    port = int(url.rsplit(":", 1)[1])
    clients = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(16)]
    try:
        for sock in clients:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: warga\r\n\r\n")
        for sock in clients:          # every connection accepted and answered, still open
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        workers = children(proc.pid)
        assert sorted(established(port, workers).values()) == [8, 8]
    finally:
        for sock in clients:
            sock.close()
