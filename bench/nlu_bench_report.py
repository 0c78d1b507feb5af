"""bench/nlu_bench.py's report: the table of both engines and its part of docs/BENCHMARKS.md.

:func:`write_markdown` rewrites only the part between ``<!-- nlu:begin -->`` and
``<!-- nlu:end -->`` (:mod:`marked_section`); the hand-written measurements it ends with are
:mod:`nlu_bench_notes`. :func:`machine`, :func:`fmt` and :func:`location_f1` serve the
other NLU benchmark's report too (bench/rasa_pipelines_report.py).
"""

from __future__ import annotations

import argparse
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from marked_section import write_marked_section
from nlu_bench_notes import CHOICES, ISSUE_14
from nlu_bench_runs import EngineResult
from nlu_bench_sets import BenchSets

from nlu.scores import EvaluationReport

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- nlu:begin -->"
END = "<!-- nlu:end -->"


def machine() -> dict[str, str]:
    """The machine a benchmark ran on, for its report."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown"
    return {
        "cpu": cpu,
        "nproc": str(os.cpu_count()),
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def fmt(v: float | None, spec: str) -> str:
    """``v`` formatted, or "—" when it was not measured."""
    return "—" if v is None else format(v, spec)


def table(results: list[EngineResult]) -> str:
    rows = [
        ("train time, all data (s)", lambda r: fmt(r.train_seconds, ".2f")),
        ("parse p50 (ms)", lambda r: fmt(r.p50_ms, ".2f")),
        ("parse p99 (ms)", lambda r: fmt(r.p99_ms, ".2f")),
        ("throughput, 1 client (parses/s)", lambda r: fmt(r.throughput, ".0f")),
        ("throughput, 4 threads (parses/s)", lambda r: fmt(r.throughput_4, ".0f")),
        ("CV accuracy", lambda r: fmt(r.cv.accuracy if r.cv else None, ".3f")),
        ("CV macro-F1", lambda r: fmt(r.cv.macro_f1 if r.cv else None, ".3f")),
        ("CV answers below threshold", lambda r: fmt(r.cv.fallback_rate if r.cv else None, ".1%")),
        ("held-out accuracy", lambda r: fmt(r.heldout.accuracy if r.heldout else None, ".3f")),
        ("held-out macro-F1", lambda r: fmt(r.heldout.macro_f1 if r.heldout else None, ".3f")),
        ("held-out answers below threshold", lambda r: fmt(r.heldout.fallback_rate if r.heldout else None, ".1%")),
        ("held-out location F1 exact / overlap", lambda r: location_f1(r.heldout)),
        ("long held-out accuracy", lambda r: fmt(r.heldout_long.accuracy if r.heldout_long else None, ".3f")),
        ("long held-out macro-F1", lambda r: fmt(r.heldout_long.macro_f1 if r.heldout_long else None, ".3f")),
        (
            "long held-out answers below threshold",
            lambda r: fmt(r.heldout_long.fallback_rate if r.heldout_long else None, ".1%"),
        ),
        ("long held-out location F1 exact / overlap", lambda r: location_f1(r.heldout_long)),
        (
            "long held-out read whole: accuracy / below threshold",
            lambda r: f"{r.heldout_long_whole.accuracy:.3f} / {r.heldout_long_whole.fallback_rate:.1%}"
            if r.heldout_long_whole
            else "—",
        ),
        ("xSID accuracy", lambda r: fmt(r.xsid.accuracy if r.xsid else None, ".3f")),
        ("xSID macro-F1", lambda r: fmt(r.xsid.macro_f1 if r.xsid else None, ".3f")),
        ("xSID answers below threshold", lambda r: fmt(r.xsid.fallback_rate if r.xsid else None, ".1%")),
        ("xSID train time (s)", lambda r: fmt(r.xsid.train_seconds if r.xsid else None, ".2f")),
        ("xSID parse p50 / p99 (ms)", lambda r: _lat(r.xsid)),
        ("peak memory (MB)", lambda r: fmt(r.peak_mb, ".0f")),
    ]
    head = "| | " + " | ".join(r.engine for r in results) + " |"
    sep = "|---|" + "---:|" * len(results)
    body = [f"| {name} | " + " | ".join(f(r) for r in results) + " |" for name, f in rows]
    return "\n".join([head, sep, *body])


def location_f1(report: EvaluationReport | None) -> str:
    """The ``location`` entity's exact / overlap F1, or "—"."""
    if report is None:
        return "—"
    for e in report.entities:
        if e.entity == "location":
            return f"{e.f1:.2f} / {e.overlap_f1:.2f}"
    return "—"


def _lat(report: EvaluationReport | None) -> str:
    if report is None:
        return "—"
    return f"{report.parse_ms_p50:.2f} / {report.parse_ms_p99:.2f}"


def per_intent_table(results: list[EngineResult], attr: str) -> str:
    reports = [(r.engine, getattr(r, attr)) for r in results if getattr(r, attr) is not None]
    if not reports:
        return ""
    intents = sorted({s.intent for _, rep in reports for s in rep.per_intent})
    head = "| intent | " + " | ".join(f"{name} F1" for name, _ in reports) + " |"
    sep = "|---|" + "---:|" * len(reports)
    lines = [head, sep]
    scores = {name: {s.intent: s.f1 for s in rep.per_intent} for name, rep in reports}
    for intent in sorted(intents, key=lambda i: min(scores[n].get(i, 1.0) for n, _ in reports)):
        lines.append(
            f"| {intent} | "
            + " | ".join(f"{scores[name].get(intent, 0.0):.3f}" for name, _ in reports)
            + " |"
        )
    return "\n".join(lines)


def confusions(results: list[EngineResult], attr: str) -> str:
    out = []
    for r in results:
        rep = getattr(r, attr)
        if rep is None:
            continue
        pairs = ", ".join(f"{a} → {b} ({n})" for a, b, n in rep.worst_confusions[:10])
        out.append(f"- **{r.engine}** ({rep.method}): {pairs}")
    return "\n".join(out)


def write_markdown(
    path: Path,
    results: list[EngineResult],
    info: dict[str, str],
    sets: BenchSets,
    args: argparse.Namespace,
    pngs: list[Path],
) -> None:
    rasa = next((r for r in results if r.engine == "rasa"), None)
    cv_note = "5-fold stratified CV, same folds for both engines"
    if rasa is not None and rasa.cv is None:
        cv_note += "; Rasa CV not run this time (--rasa-folds 0): see the held-out rows"
    elif rasa is not None and rasa.cv is not None:
        cv_note = (f"sklearn {args.folds}-fold, Rasa {rasa.cv.method}, stratified, same seed"
                   " (the same folds when the counts match)")
    notes = "\n".join(f"- {r.engine}: {n}" for r in results for n in r.notes)
    data, heldout = sets.data, sets.heldout
    xsid_line = (
        f"- Public comparison: xSID Indonesian (`../shared/data/xsid-id`, CC BY-SA 4.0, van der Goot et al. 2021): "
        f"trained on id.valid ({len(sets.xsid_train.examples)} sentences, {len(sets.xsid_train.intents)} intents), "
        f"tested on id.test ({len(sets.xsid_test.examples)}); intent names `a/b` become `a__b` (Rasa reads `/` "
        "as a retrieval intent). One test intent (`alarm__time_left_on_alarm`) has no training example."
        if sets.xsid_train is not None and sets.xsid_test is not None
        else "- xSID: not found, not run."
    )
    text = f"""# NLU benchmarks

Produced by `bench/nlu_bench.py` (`.venv/bin/python bench/nlu_bench.py`); rerun it after changing
the training data or an engine, and commit this file with the change.

## Machine

- CPU: {info["cpu"]} ({info["nproc"]} cores visible)
- RAM: {info["ram"]}
- OS: {info["os"]}; Python {info["python"]} (gateway), Rasa Open Source 3.6.21 on Python 3.10 (.venv-rasa)
- Date: {info["date"]}

## Data

- Training: `nlu/data/*.yml`, {len(data.examples)} examples, {len(data.intents)} intents (fingerprint `{data.fingerprint()}`).
- Held-out: `nlu/data/test/heldout.yml`, {len(heldout.examples)} examples (mostly short chat turns), and
  `nlu/data/test/heldout_long.yml`, {len(sets.heldout_long.examples)} long real-style messages (greeting,
  problem, address, duration, request, thanks), both frozen and never trained on. Features were
  chosen on cross-validation and `heldout.yml`, preferring `heldout.yml` where they disagreed
  (issue 14); the long set was not used to choose anything.
{xsid_line}
- Accuracy: {cv_note}. "Accuracy" scores the top-ranked intent; "below threshold" is the share of
  answers under `nlu.threshold` ({args.threshold}), which the dialogue treats as "not understood".

## Results

{table(results)}

Latency: each sentence parsed alone (median of 3 passes over all held-out and training
sentences); sklearn in-process (`SklearnEngine.parse`, including entity extraction and language
detection), Rasa through Warga's HTTP client (`RasaEngine.parse`: normalising the text,
`POST /model/parse` on 127.0.0.1, mapping entities back to the citizen's text). Training: sklearn
median of 3 in-process fits; Rasa one separate training process (`RasaTrainer.train`, config
`nlu/rasa/config.yml`), cache cold, about half of it starting Rasa. Rasa cross-validation trains
the five fold models in one process (`RasaTrainer.train_each`) and tests each through a real
server while the next one trains.

Both engines read a long message whole and by its clauses with the same code
(`nlu/long_messages.py`): greetings and thanks are set aside, a question inside a complaint is
kept as the secondary intent. For Rasa every clause of a long message is one more
`POST /model/parse` (the latency rows include them). "Long held-out read whole" is the same Rasa
model with reading by parts switched off (`RasaEngine(by_parts=False)`): the before/after of
that change.

{notes}

## Per intent (cross-validation)

{per_intent_table(results, "cv")}

## Per intent (held-out)

{per_intent_table(results, "heldout")}

## Per intent (long held-out)

{per_intent_table(results, "heldout_long")}

## Worst confusions

Cross-validation:

{confusions(results, "cv")}

Held-out:

{confusions(results, "heldout")}

Long held-out:

{confusions(results, "heldout_long")}

xSID:

{confusions(results, "xsid")}

Confusion matrices: {", ".join(f"`{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}`" for p in pngs)}

{ISSUE_14}
{CHOICES}
"""
    write_marked_section(path, text, BEGIN, END)
