"""bench/load.py's results and the table it prints (and writes into docs/BENCHMARKS.md)."""

from __future__ import annotations

import argparse
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from load_citizens import SCRIPT, Sample
from marked_section import write_marked_section

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"


@dataclass
class Result:
    target: str
    description: str
    clients: int
    seconds: float
    samples: list[Sample]
    stored_ms: list[float]
    delivered_ms: list[float]
    memory_mib: list[int]
    left: str = ""
    max_jobs_per_conversation: int | None = None
    cpu_seconds: float = 0.0
    #: The bench process itself (citizens, fake providers, reply checks) over the same window.
    generator_cpu_seconds: float = 0.0
    #: Every PostgreSQL process of the machine; None for a target without PostgreSQL.
    postgres_cpu_seconds: float | None = None

    def cpu_ms_per_message(self, seconds: float | None = None) -> float:
        """Server CPU (or ``seconds`` of some other process) in ms per message answered."""
        spent = self.cpu_seconds if seconds is None else seconds
        return spent * 1000 / max(len(self.answered()), 1)

    def beside_server(self) -> str:
        """CPU ms per message of the load generator and of PostgreSQL, which share the machine."""
        pg = self.postgres_cpu_seconds
        return (f"{self.cpu_ms_per_message(self.generator_cpu_seconds):.1f} / "
                + (f"{self.cpu_ms_per_message(pg):.1f}" if pg is not None else "–"))

    def answered(self) -> list[Sample]:
        return [s for s in self.samples if s.answered is not None]

    def rate(self) -> float:
        return len(self.answered()) / self.seconds

    def latencies(self, channels: tuple[str, ...]) -> list[float]:
        return sorted((s.answered - s.started) * 1000 for s in self.answered()  # type: ignore[operator]
                      if s.channel in channels)


def pct(values: list[float], q: float) -> str:
    if not values:
        return "–"
    v = sorted(values)
    return f"{v[min(len(v) - 1, int(q * len(v)))]:.0f}"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.1f} GiB RAM; {platform.platform()}; "
            f"Python {platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def table(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        "## Load (bench/load.py)", "",
        f"Machine: {machine()}.  ",
        f"{args.clients} citizens per target, each in a closed loop over a {len(SCRIPT)}-message script (greeting, "
        "question, a three-turn complaint, question, thanks) for "
        f"{args.seconds:g} s; Warga targets: half on the web chat API, a quarter each on the signed Telegram "
        "and Twilio SMS webhooks with replies delivered to local fake providers. Ceiling and Rasa: web-shaped "
        "clients only. Latencies in ms. *stored*: inbound row → first reply row; *delivered*: inbound row → "
        "first reply accepted by the fake provider (Telegram, SMS; both on the database clock); *web*: POST → "
        "response with the replies (client clock). *unanswered*: messages without a reply within "
        f"{args.reply_timeout:g} s / messages sent (after one warm-up message per citizen). *CPU ms / msg*: "
        "CPU time per message answered of the server's processes, and beside them on the same cores of the "
        "load generator (citizens, fake providers, reply checks) and of PostgreSQL.", "",
        "| target | msg/s | stored p50 / p99 | delivered p50 / p99 | web p50 / p99 | unanswered | "
        "server CPU ms / msg | generator / PostgreSQL CPU ms / msg | memory per process (MiB) | "
        "left after the load |",
        "|---|---:|---|---|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        web = r.latencies(("web", "bare", "rasa"))
        hooks = r.delivered_ms
        left = r.left or "–"
        if r.max_jobs_per_conversation is not None:
            left += f"; most RQ jobs queued for one conversation: {r.max_jobs_per_conversation}"
        lines.append(
            f"| {r.description} | {r.rate():.0f} | {pct(r.stored_ms, .5)} / {pct(r.stored_ms, .99)} | "
            f"{pct(hooks, .5)} / {pct(hooks, .99)} | {pct(web, .5)} / {pct(web, .99)} | "
            f"{len(r.samples) - len(r.answered())} / {len(r.samples)} | {r.cpu_ms_per_message():.1f} | "
            f"{r.beside_server()} | "
            f"{', '.join(map(str, r.memory_mib)) or '–'} | {left} |")
    return "\n".join(lines) + "\n"


TABLE_BEGIN, TABLE_END = "<!-- load:table:begin -->", "<!-- load:table:end -->"


def write_docs(section: str) -> None:
    """Replace the table in docs/BENCHMARKS.md (between the load:table markers, inside the load
    section, whose other text is kept); added after the load section's first marker if missing."""
    write_marked_section(ROOT / "docs" / "BENCHMARKS.md", section, TABLE_BEGIN, TABLE_END, after=BEGIN)
