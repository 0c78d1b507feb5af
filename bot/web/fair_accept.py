"""Keep-alive connections spread evenly over `warga serve`'s processes.

gunicorn's processes share one listening socket, and whichever wakes first accepts a new
connection. A client that keeps its connection (a reverse proxy's upstream pool, the load
benchmark's citizens, a city's own app) stays with that process for good: 16 connections
opened at once were seen split 14 to 2, so the 14 clients shared one process while the 2 had
the other; their replies took seven times longer.

Each process publishes how many connections it holds, with a heartbeat, in a small table of
shared memory created before gunicorn forks; a process takes new connections only while it
holds no more than the least loaded of the others. The one with fewest always may, so
connections never wait for long (at most one turn of the event loop). A process that is gone is
left out at once, one that stopped publishing (hung) after :data:`STALE_SECONDS`, and a process
that found no free row in the table accepts as before.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Any

from bot.process_alive import process_alive

#: A process whose heartbeat is older than this is left out of the comparison.
STALE_SECONDS = 2.0
#: Rows of the table: the processes of one `warga serve` and their replacements.
ROWS = 64
_PID, _CONNECTIONS, _BEAT_MS = 0, 1, 2
_WIDTH = 3


class ConnectionTable:
    """Each serving process's open connections, shared by the processes forked after it was made.

    Made once in the arbiter (at import of bot/web/server.py, before the fork); a row per
    process: its pid, its connections and when it last wrote them (ms of the system-wide
    monotonic clock).
    """

    def __init__(self, rows: int = ROWS) -> None:
        self.rows = rows
        self._cells: Any = multiprocessing.RawArray(ctypes.c_longlong, rows * _WIDTH)
        self._claiming = multiprocessing.Lock()

    def claim(self, pid: int, now_ms: int) -> int | None:
        """A free row for ``pid`` (never used, released, or left by a process that is gone), or
        None when there is none. A silent row whose process is alive (hung, or past its
        connection limit) is not taken: it would speak again in a row now shared."""
        if not self._claiming.acquire(True, 1.0):
            return None
        try:
            for row in range(self.rows):
                at = row * _WIDTH
                owner = int(self._cells[at + _PID])
                if owner == 0 or not process_alive(owner):
                    self._cells[at + _PID] = pid
                    self._cells[at + _CONNECTIONS] = 0
                    self._cells[at + _BEAT_MS] = now_ms
                    return row
            return None
        finally:
            self._claiming.release()

    def publish(self, row: int, pid: int, connections: int, now_ms: int) -> bool:
        """Write ``pid``'s count in its row; False when the row is no longer ``pid``'s."""
        at = row * _WIDTH
        if self._cells[at + _PID] != pid:
            return False
        self._cells[at + _CONNECTIONS] = connections
        self._cells[at + _BEAT_MS] = now_ms
        return True

    def release(self, row: int, pid: int) -> None:
        at = row * _WIDTH
        if self._cells[at + _PID] == pid:
            self._cells[at + _PID] = 0

    def fewer_elsewhere(self, row: int, mine: int, now_ms: int) -> bool:
        """Whether a live process other than ``row``'s holds fewer than ``mine`` connections.

        Asked on every turn of the event loop: the table is copied in one read, and only a
        process holding fewer is checked for being alive (a system call each).
        """
        cells = self._cells[:]
        stale_before = now_ms - STALE_SECONDS * 1000
        for other in range(self.rows):
            at = other * _WIDTH
            pid = cells[at + _PID]
            if other == row or pid == 0 or cells[at + _CONNECTIONS] >= mine or cells[at + _BEAT_MS] < stale_before:
                continue
            # A process killed a moment ago still has a fresh heartbeat: without the pid's check
            # the others would hold back for STALE_SECONDS after a crash, against its count.
            if process_alive(int(pid)):
                return True
        return False


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000)


class FairAccept:
    """Whether this process may accept a connection now (see the module's docstring).

    Args:
        table: The table shared with the other processes.
        connections: This process's open connections now.
        clock: Milliseconds of a clock every process shares (the system's monotonic clock).
    """

    def __init__(self, table: ConnectionTable, connections: Callable[[], int],
                 clock: Callable[[], int] = monotonic_ms, pid: int | None = None) -> None:
        self.table = table
        self.connections = connections
        self.clock = clock
        self.pid = pid or os.getpid()
        self.row = table.claim(self.pid, clock())
        #: The last answer was no: the caller polls more often, so the moment the others catch
        #: up this process takes connections again instead of after a whole poll timeout.
        self.holding_back = False

    def may_accept(self) -> bool:
        now = self.clock()
        mine = self.connections()
        if self.row is not None and not self.table.publish(self.row, self.pid, mine, now):
            self.row = self.table.claim(self.pid, now)      # lost (taken as a dead one's): again
            if self.row is not None:
                self.table.publish(self.row, self.pid, mine, now)
        if self.row is None:
            self.holding_back = False
            return True
        self.holding_back = self.table.fewer_elsewhere(self.row, mine, now)
        return not self.holding_back

    def close(self) -> None:
        if self.row is not None:
            self.table.release(self.row, self.pid)
            self.row = None
