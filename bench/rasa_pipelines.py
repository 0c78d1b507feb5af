"""Choose Warga's Rasa pipeline by measurement: train several, score them on held-out data.

Usage (from the repository root, gateway virtualenv; Rasa from .venv-rasa):

    nice -n 10 .venv/bin/python bench/rasa_pipelines.py             # every candidate (45 min on 2 busy cores)
    nice -n 10 .venv/bin/python bench/rasa_pipelines.py --only a b  # some of them
    .venv/bin/python bench/rasa_pipelines.py --reuse                # rewrite the Markdown from the last run

Every candidate is a Rasa pipeline built from the table ``CANDIDATES`` of
bench/rasa_pipelines_candidates.py (its config is
also written to ``nlu/rasa/pipelines/<key>-<name>.yml``, so that a city can point
``nlu.rasa_config`` at any of them). Each is trained on nlu/data in a separate Rasa process
(:class:`nlu.throwaway_rasa.ThrowawayRasa`, one training at a time, never in parallel), served by a
fresh throw-away server, and scored through Warga's HTTP client (:class:`nlu.rasa_engine.RasaEngine`)
on the two frozen held-out sets (short chat turns, long real-style messages) and on xSID
(trained on id.valid, tested on id.test). No cross-validation (too costly for DIET): the
held-out sets decide, with the rule of :func:`choose`.

docs/BENCHMARKS.md is shared with other benchmarks: this script rewrites only the part between
``<!-- rasa-pipelines:begin -->`` and ``<!-- rasa-pipelines:end -->`` (added after the NLU section
when missing).

The candidates are bench/rasa_pipelines_candidates.py, one candidate's run
bench/rasa_pipelines_runs.py, the rule and the Markdown bench/rasa_pipelines_report.py; this
script runs the candidates in turn within a time budget and keeps what they measured.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The siblings (bench/ is on the path); Candidate and Result also because runs saved before
# the split name them as __main__.Candidate and __main__.Result.
from nlu_bench_report import machine  # noqa: E402
from nlu_bench_sets import load_sets  # noqa: E402
from rasa_pipelines_candidates import Candidate, all_candidates, write_configs  # noqa: E402
from rasa_pipelines_report import best_linear, choose, markdown, replace_section  # noqa: E402
from rasa_pipelines_runs import Result, measure  # noqa: E402

from nlu.base import NluError  # noqa: E402


@dataclass
class Run:
    """What --reuse needs to rewrite the Markdown."""

    results: list[Result] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)
    minutes: float = 0.0
    #: Candidates not run because the time budget was spent.
    skipped: list[str] = field(default_factory=list)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "nlu" / "data")
    parser.add_argument("--heldout", type=Path, default=ROOT / "nlu" / "data" / "test" / "heldout.yml")
    parser.add_argument("--heldout-long", type=Path, default=ROOT / "nlu" / "data" / "test" / "heldout_long.yml")
    parser.add_argument("--xsid", type=Path, default=ROOT.parent / "shared" / "data" / "xsid-id")
    parser.add_argument("--only", nargs="*", help="candidate keys (default: all); others kept from the last run")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--budget", type=float, default=40.0,
                        help="minutes: candidates not started by then are skipped (and reported)")
    parser.add_argument("--reuse", action="store_true", help="rewrite the Markdown from the last run's results")
    args = parser.parse_args(argv)

    def say(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    sets = load_sets(args.data, args.heldout, args.heldout_long, args.xsid)
    saved = ROOT / "var" / "bench" / "rasa-pipelines.pkl"
    if args.reuse:
        run: Run = pickle.loads(saved.read_bytes())
    else:
        previous: Run | None = pickle.loads(saved.read_bytes()) if args.only and saved.is_file() else None
        # A partial rerun adds to the last run: its machine and date stay (the load averages add up).
        run = Run(info=previous.info if previous else machine(), loads=list(previous.loads) if previous else [])
        started = time.monotonic()
        wanted = set(args.only or "abcdef")
        done: dict[str, Result] = {r.key: r for r in previous.results} if previous else {}
        with tempfile.TemporaryDirectory(prefix="warga-pipelines-") as tmp:
            for key in "abcdef":
                if key not in wanted:
                    continue
                if time.monotonic() - started > args.budget * 60:
                    say(f"{key}: not run, the {args.budget:.0f}-minute budget is spent")
                    run.skipped.append(key)
                    continue
                candidate = next(c for c in all_candidates(best_linear(list(done.values()))) if c.key == key)
                run.loads.append(os.getloadavg()[0])
                # d and f classify intents exactly as the linear pipeline they are built on:
                # its xSID score is theirs (xSID has no locations to tell them apart).
                base = done.get(candidate.intents_as)
                try:
                    result = measure(candidate, sets, Path(tmp), say, xsid=base is None)
                except NluError as exc:
                    say(f"{candidate.label}: FAILED, left out: {exc}")
                    done.pop(key, None)
                    continue
                if base is not None and base.xsid is not None:
                    result = replace(result, xsid=base.xsid, xsid_from=base.key,
                                     xsid_train_cpu_seconds=base.xsid_train_cpu_seconds)
                done[key] = result
                # Saved after every candidate: an interrupted run keeps what it measured (--only
                # the rest, then, adds to it).
                run.results = [done[k] for k in sorted(done)]
                run.candidates = [c for c in all_candidates(best_linear(run.results)) if c.key in done]
                run.minutes = (time.monotonic() - started) / 60 + (previous.minutes if previous else 0.0)
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_bytes(pickle.dumps(run))
        run.loads.append(os.getloadavg()[0])
        saved.write_bytes(pickle.dumps(run))
    write_configs(all_candidates(best_linear(run.results)))
    text = markdown(run.results, run.candidates, run.info, run.loads, sets, run.minutes, run.skipped)
    print(text)
    replace_section(args.output, text)
    say(f"wrote {args.output}; chosen {choose(run.results).label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
