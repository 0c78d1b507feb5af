"""Load benchmark: simulated citizens on the chat API and the signed Telegram and Twilio webhooks.

Each citizen (a thread with its own keep-alive connection) runs a closed loop over a script of
mixed intents and a multi-turn complaint: it sends one message and waits for the answer before
the next (the web chat: the replies in the POST's response; Telegram and SMS: the reply arriving
at the local fake provider, tests/fakes). Targets, all in one sitting:

* ``run-sqlite``: `warga run` on SQLite (thread backend);
* ``serve-pg``: `warga serve` (2 gunicorn workers) on PostgreSQL (thread backend);
* ``serve-pg-web``: the same, driven by web chat citizens only (like for like with the next two);
* ``serve-pg-redis``: `warga serve` + 2 `warga worker` on PostgreSQL + Redis (db 13);
* ``bare-flask``: a bare Flask endpoint under the same gunicorn set-up (the ceiling);
* ``rasa-rest``: Rasa's own REST channel from .venv-rasa serving the same intents
  (bench/rasa_rest.py; one rule and one fixed response per intent).

Reported per target: messages answered per second; p50/p99 of request → first reply stored (from
the database: inbound ``created_at`` → first reply's ``created_at``), of request → reply in hand
(web chat: the POST's response; webhooks: the send reaching the fake provider); resident memory
of every server process at the end; CPU time per message of the server's processes, and of the
load generator (this process) and PostgreSQL, which share the cores; what was left unanswered or
unsent once the load stopped. The load starts once every worker process of a `warga serve` takes
connections (each logs "worker serving"), not at the first answer from /healthz.
The web-only targets (bare Flask, Rasa) are driven by web-chat-shaped citizens only.

Its parts, beside it in bench/: ``load_citizens.py`` (the simulated citizens and the fake
providers), ``load_targets.py`` (each set-up's server processes, and what the database says
after a run), ``load_report.py`` (the results and the table).

Usage (from the repository root; about 3 minutes)::

    .venv/bin/python bench/load.py                       # every target, print the table
    .venv/bin/python bench/load.py --write               # ... and write it into docs/BENCHMARKS.md
    .venv/bin/python bench/load.py --targets serve-pg --clients 16 --seconds 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

# The sibling modules (bench/ is on sys.path when a script in it runs).
from load_citizens import BenchTelegram, BenchTwilio, Deliveries
from load_report import table, write_docs
from load_targets import SETTINGS_OVERRIDES, WORK, run_target

TARGETS = ("run-sqlite", "serve-pg", "serve-pg-web", "serve-pg-redis", "bare-flask", "rasa-rest")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", default=",".join(TARGETS), help="comma-separated, from: " + ", ".join(TARGETS))
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--reply-timeout", type=float, default=10.0)
    p.add_argument("--write", action="store_true", help="write the table into docs/BENCHMARKS.md")
    p.add_argument("--set", action="append", default=[], metavar="WARGA_X=VALUE",
                   help="a setting for every Warga process of the run (repeatable; not with --write)")
    args = p.parse_args(argv)
    if args.set and args.write:
        p.error("--set measures a variant: the table in docs/BENCHMARKS.md is for the defaults")
    for pair in args.set:
        key, _, value = pair.partition("=")
        if not key.startswith("WARGA_") or not value:
            p.error(f"--set takes WARGA_<SETTING>=VALUE, not {pair!r}")
        SETTINGS_OVERRIDES[key] = value
    WORK.mkdir(parents=True, exist_ok=True)
    logdir = Path(tempfile.mkdtemp(prefix="load-", dir=WORK))
    deliveries = Deliveries()
    tg, tw = BenchTelegram(deliveries), BenchTwilio(deliveries)
    tg.start()
    tw.start()
    results = []
    try:
        for name in args.targets.split(","):
            print(f"== {name}", file=sys.stderr, flush=True)
            results.append(run_target(name.strip(), args, tg, tw, deliveries, logdir))
            r = results[-1]
            print(f"   {r.rate():.0f} msg/s, {len(r.answered())}/{len(r.samples)} answered, "
                  f"{r.cpu_ms_per_message():.1f} ms server CPU per message "
                  f"(generator / PostgreSQL: {r.beside_server()}), {r.left}",
                  file=sys.stderr, flush=True)
    finally:
        tg.stop()
        tw.stop()
    section = table(results, args)
    print(section)
    print(f"(server logs in {logdir})", file=sys.stderr)
    if args.write:
        write_docs(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
