"""Anger detection measured on a labelled set of real-style messages (issue 11).

A false alarm hands a citizen describing damage to a queue instead of filing their complaint,
so precision is held higher than recall. The numbers are printed (``pytest -s``) for the report.
"""

from __future__ import annotations

from pathlib import Path

from bot.dialogue.mood import is_angry

DATA = Path(__file__).parent / "data" / "anger.tsv"


def labelled() -> list[tuple[bool, str]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, text = line.split("\t", 1)
        rows.append((label == "1", text))
    return rows


def test_the_set_has_both_classes_in_both_languages():
    rows = labelled()
    assert sum(a for a, _ in rows) >= 25 and sum(not a for a, _ in rows) >= 50


def test_precision_and_recall_on_the_labelled_set():
    rows = labelled()
    tp = sum(1 for angry, t in rows if angry and is_angry(t))
    fp = [t for angry, t in rows if not angry and is_angry(t)]
    fn = [t for angry, t in rows if angry and not is_angry(t)]
    precision = tp / (tp + len(fp))
    recall = tp / (tp + len(fn))
    print(f"anger: precision {precision:.2f} recall {recall:.2f} on {len(rows)} messages; "
          f"false alarms {fp}; misses {fn}")
    assert precision >= 0.95, fp      # false alarms matter more
    assert recall >= 0.8, fn
