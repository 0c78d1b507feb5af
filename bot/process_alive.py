"""Whether a process still runs, by its pid (signal 0 checks without sending anything)."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process (or a reused pid): alive
        return True
    return True
