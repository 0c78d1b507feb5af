"""A process tree's memory, read from /proc: what the NLU benchmarks report for a Rasa server.

Rasa's server runs under a wrapper script, so a process's direct children count with it; the
figure is the largest one of them (the server itself), not a sum.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def tree_memory_mb(pid: int, field_name: str = "VmRSS") -> float:
    """The largest ``field_name`` of ``pid`` and its children in MB: ``VmRSS`` now, ``VmHWM`` the peak
    (0 for a process that is gone)."""
    return max(status_mb(p, field_name) for p in [pid, *children(pid)])


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
