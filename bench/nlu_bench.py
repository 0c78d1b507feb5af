"""Train and evaluate both NLU engines on the same data; print one table; write docs/BENCHMARKS.md.

Usage (from the repository root, with the gateway's virtualenv; Rasa from .venv-rasa):

    .venv/bin/python bench/nlu_bench.py                  # everything (about 3 minutes on 2 cores)
    .venv/bin/python bench/nlu_bench.py --rasa-folds 0   # Rasa without cross-validation (~1.5 min)
    .venv/bin/python bench/nlu_bench.py --skip-rasa      # sklearn only (seconds)

Accuracy: 5-fold stratified cross-validation on nlu/data (the same folds for both engines),
train-on-all / test on the frozen held-out sets nlu/data/test/heldout.yml (short chat turns)
and nlu/data/test/heldout_long.yml (long, real-style messages), and the public Indonesian
intent set xSID (../shared/data/xsid-id: train on id.valid, test on id.test). Latency: every
held-out and training sentence parsed one at a time, in-process for sklearn, through Warga's
HTTP client for Rasa.

docs/BENCHMARKS.md is shared with other benchmarks: this script rewrites only the part between
``<!-- nlu:begin -->`` and ``<!-- nlu:end -->``.

The runs are bench/nlu_bench_runs.py, the report bench/nlu_bench_report.py (with the
hand-written notes of bench/nlu_bench_notes.py); this script reads the data and ties them.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlu_bench_report import machine, table, write_markdown  # noqa: E402

# EngineResult too: results saved by the script before its split name it as __main__.EngineResult.
from nlu_bench_runs import EngineResult, run_rasa, run_sklearn  # noqa: E402,F401
from nlu_bench_sets import load_sets  # noqa: E402

from nlu.config import NluConfig  # noqa: E402
from nlu.scores import save_confusion_png  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "nlu" / "data")
    parser.add_argument("--heldout", type=Path, default=ROOT / "nlu" / "data" / "test" / "heldout.yml")
    parser.add_argument("--heldout-long", type=Path, default=ROOT / "nlu" / "data" / "test" / "heldout_long.yml")
    parser.add_argument(
        "--xsid", type=Path, default=ROOT.parent / "shared" / "data" / "xsid-id", help="xSID directory (id.valid/test)"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--rasa-folds", type=int, default=5, help="0 skips Rasa cross-validation")
    parser.add_argument("--skip-rasa", action="store_true")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--png-dir", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument(
        "--reuse-rasa", action="store_true", help="Use the Rasa results saved by the last full run (same data only)"
    )
    args = parser.parse_args()

    def say(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    sets = load_sets(args.data, args.heldout, args.heldout_long, args.xsid)
    data, heldout = sets.data, sets.heldout
    if sets.xsid_test is None:
        say(f"xSID not found in {args.xsid}: skipped")
    texts = [ex.text for ex in heldout.examples] + [ex.text for ex in data.examples]
    info = machine()
    say("sklearn...")
    results = [run_sklearn(sets, texts, args.folds, args.threshold)]
    key = data.fingerprint() + heldout.fingerprint() + sets.heldout_long.fingerprint()
    saved = ROOT / "var" / "bench" / "rasa-result.pkl"
    if args.reuse_rasa:
        fingerprint, rasa_result = pickle.loads(saved.read_bytes())
        if fingerprint != key:
            say("error: the saved Rasa results are for other data; rerun without --reuse-rasa")
            return 1
        results.append(rasa_result)
    elif not args.skip_rasa:
        config = NluConfig(
            rasa_venv=ROOT / ".venv-rasa", rasa_config=ROOT / "nlu" / "rasa" / "config.yml", threshold=args.threshold
        )
        rasa_result = run_rasa(sets, texts, args.rasa_folds, config, say)
        if rasa_result.cv is None and saved.is_file():
            # A quick rerun (--rasa-folds 0) keeps the last cross-validation of the same data.
            fingerprint, previous = pickle.loads(saved.read_bytes())
            if fingerprint == key and previous.cv is not None:
                rasa_result.cv = previous.cv
                rasa_result.notes.append("cross-validation from the previous full run on the same data")
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_bytes(pickle.dumps((key, rasa_result)))
        results.append(rasa_result)
    pngs = []
    for r in results:
        for attr in ("cv", "heldout", "heldout_long", "xsid"):
            rep = getattr(r, attr)
            if rep is not None:
                pngs.append(save_confusion_png(rep, args.png_dir / f"confusion-{r.engine}-{attr}.png"))
    print(table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_markdown(args.output, results, info, sets, args, pngs)
    say(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
