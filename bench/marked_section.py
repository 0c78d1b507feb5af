"""One benchmark's section of a shared Markdown file (docs/BENCHMARKS.md), between its markers.

Each benchmark owns the text between its own ``<!-- name:begin -->`` and ``<!-- name:end -->``
lines and rewrites only that: the other benchmarks' sections, and what was written by hand
around them, stay as they are.
"""

from __future__ import annotations

from pathlib import Path


def write_marked_section(path: Path, part: str, begin: str, end: str, *, after: str | None = None) -> None:
    """Write ``part`` between ``begin`` and ``end`` in ``path``, one blank line before what follows.

    Where the markers are missing the section is added: after the marker ``after`` when the file
    has it (the sections keep their order), else at the end of the file (a new file is created).
    """
    block = f"{begin}\n{part.strip()}\n{end}\n"
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        tail = rest.split(end, 1)[1]
    elif after is not None and after in old:
        head, tail = old.split(after, 1)
        head += after + "\n\n"
    else:
        head, tail = old.rstrip("\n") + ("\n\n" if old.strip() else ""), ""
    tail = tail.lstrip("\n")
    path.write_text(head + block + ("\n" + tail if tail else ""), encoding="utf-8")
