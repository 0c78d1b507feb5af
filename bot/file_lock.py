"""An exclusive lock on a file, shared by separate processes (and separate opens in one process).

``flock`` conflicts between separate opens of the file, so it also keeps two threads of one
process apart, and the kernel drops it when a process dies while holding it.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created with its folder if missing); blocks meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
