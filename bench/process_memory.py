"""A process tree's memory, read from /proc: what the benchmarks report for the servers they run.

Rasa's server runs under a wrapper script, so for it a process's direct children count with it
and the figure is the largest one of them (the server itself), not a sum; the load benchmark
lists every process of a set-up (:func:`process_tree`) with its own figure.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def tree_memory_mb(pid: int, field_name: str = "VmRSS") -> float:
    """The largest ``field_name`` of ``pid`` and its children in MB: ``VmRSS`` now, ``VmHWM`` the peak
    (0 for a process that is gone)."""
    return max(status_mb(p, field_name) for p in [pid, *children(pid)])


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (a gunicorn arbiter, its workers and theirs)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children(p))
    return found


def children(pid: int) -> list[int]:
    """The direct children of ``pid``, started by any of its threads."""
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in listing.read_text().split()]
    return found


def status_mb(pid: int, field_name: str) -> float:
    """One memory figure of ``/proc/<pid>/status`` (reported in kB) in MB, 0 when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
