"""bench/inbox.py works (500 rows on SQLite): every view answers and its table is written between
its markers. Nothing is timed here: speed is the benchmark's business (docs/BENCHMARKS.md)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support import PROJECT


def test_the_inbox_benchmark_runs_and_writes_its_table(tmp_path: Path) -> None:
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\n<!-- inbox:begin -->\nold\n<!-- inbox:end -->\n\n## Other\nkept\n",
                   encoding="utf-8")
    run = subprocess.run([sys.executable, str(PROJECT / "bench" / "inbox.py"), "--rows", "500", "--repeat", "1",
                          "--only", "sqlite", "--write", "--doc", str(doc)],
                         cwd=PROJECT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    text = doc.read_text(encoding="utf-8")
    assert "old" not in text and text.endswith("## Other\nkept\n")
    rows = {line.split(" (`")[0].strip("| "): line.rsplit("|", 2)[1].strip()
            for line in text.splitlines() if line.startswith("| ") and "(`/console/" in line}
    # How many complaints each view listed: every view answered 200 with its page.
    assert rows["default (newest first)"] == "50" and rows["search by ticket"] == "1"
    assert rows["page 50"] == "0"                          # 500 rows are 10 pages
    assert int(rows["agency-scoped staff user"]) > 0 and "500 complaints" in text



def test_kept_databases_are_measured_again_without_loading(tmp_path: Path) -> None:
    def run() -> str:
        done = subprocess.run([sys.executable, str(PROJECT / "bench" / "inbox.py"), "--rows", "300", "--repeat", "1",
                               "--only", "sqlite", "--keep", str(tmp_path / "kept")],
                              cwd=PROJECT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def sign_ins() -> int:
        with sqlite3.connect(tmp_path / "kept" / "rows-300" / "inbox-bench.db") as db:
            return int(db.execute("SELECT count(*) FROM staff_sessions").fetchone()[0])

    first = run()
    after_first = sign_ins()
    second = run()
    # The same database, not a new load: the first run's sign-ins are still in it.
    assert after_first == 2 and sign_ins() == 4
    for out in (first, second):
        assert [ln for ln in out.splitlines() if ln.startswith("| default")][0].endswith("| 50 |")
