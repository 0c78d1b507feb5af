"""Choose Warga's Rasa pipeline by measurement: train several, score them on held-out data.

Usage (from the repository root, gateway virtualenv; Rasa from .venv-rasa):

    nice -n 10 .venv/bin/python bench/rasa_pipelines.py             # every candidate (45 min on 2 busy cores)
    nice -n 10 .venv/bin/python bench/rasa_pipelines.py --only a b  # some of them
    .venv/bin/python bench/rasa_pipelines.py --reuse                # rewrite the Markdown from the last run

Every candidate is a Rasa pipeline built from the table :data:`CANDIDATES` below (its config is
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
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import resource
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlu_bench_report import machine  # noqa: E402  (a sibling module: bench/ is on the path)

from nlu.base import NluError  # noqa: E402
from nlu.config import NluConfig  # noqa: E402
from nlu.datasets import load_conll  # noqa: E402
from nlu.evaluate import evaluate_engine  # noqa: E402
from nlu.scores import EvaluationReport  # noqa: E402
from nlu.throwaway_rasa import ThrowawayRasa  # noqa: E402
from nlu.training_data import TrainingData, load_and_validate  # noqa: E402
from nlu.training_reader import load_training_data  # noqa: E402

PIPELINES_DIR = ROOT / "nlu" / "rasa" / "pipelines"
DEFAULT_CONFIG = ROOT / "nlu" / "rasa" / "config.yml"
BEGIN = "<!-- rasa-pipelines:begin -->"
END = "<!-- rasa-pipelines:end -->"
#: The section this one follows in docs/BENCHMARKS.md.
AFTER = "<!-- nlu:end -->"

# --------------------------------------------------------------------------------------------
# The candidates: pieces, then the table

Component = dict[str, Any]

TOKENIZER: Component = {"name": "WhitespaceTokenizer"}
#: The lookup tables and the ticket regex as features (the CRF's `pattern`, DIET's sequence
#: and sentence features).
REGEX: Component = {"name": "RegexFeaturizer", "case_sensitive": False, "use_word_boundaries": True}
#: Warga's TF-IDF (nlu/rasa/warga_rasa.py): sentence features only.
TFIDF: tuple[Component, ...] = (
    {"name": "warga_rasa.TfidfFeaturizer", "alias": "tfidf-word", "analyzer": "word",
     "min_ngram": 1, "max_ngram": 2, "scale": 11},
    {"name": "warga_rasa.TfidfFeaturizer", "alias": "tfidf-char", "analyzer": "char_wb",
     "min_ngram": 2, "max_ngram": 5, "scale": 11},
)
#: Rasa's own counts, the same n-grams: sentence AND token sequence features.
COUNTS: tuple[Component, ...] = (
    {"name": "CountVectorsFeaturizer", "alias": "cv-word", "analyzer": "word", "min_ngram": 1, "max_ngram": 2},
    {"name": "CountVectorsFeaturizer", "alias": "cv-char", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
)
#: Word shape around each token (the CRF's features, for DIET): token sequence features only,
#: so a linear intent classifier beside it sees nothing new.
LEXICAL: Component = {
    "name": "LexicalSyntacticFeaturizer",
    "features": [
        ["low", "title", "upper"],
        ["BOS", "EOS", "low", "prefix5", "prefix2", "suffix5", "suffix3", "suffix2", "upper", "title", "digit"],
        ["low", "title", "upper"],
    ],
}
LINEAR: Component = {"name": "LogisticRegressionClassifier", "solver": "liblinear", "max_iter": 1000}
CRF: Component = {
    "name": "CRFEntityExtractor",
    "max_iterations": 100,
    "features": [
        ["low", "title", "upper"],
        ["low", "title", "upper"],
        ["low", "bias", "prefix5", "prefix2", "suffix5", "suffix3", "suffix2", "upper", "title", "digit", "pattern"],
        ["low", "title", "upper"],
        ["low", "title", "upper"],
    ],
}
SYNONYMS: Component = {"name": "EntitySynonymMapper"}
#: Keep at or below the gateway's nlu.threshold (0.5).
FALLBACK: Component = {"name": "FallbackClassifier", "threshold": 0.5, "ambiguity_threshold": 0.1}


def diet(
    *, epochs: int, layers: int, size: int = 128, intents: bool = True, entities: bool = True
) -> Component:
    """A small DIETClassifier (Rasa's default is 2 transformer layers of 256, 300 epochs)."""
    component: Component = {"name": "DIETClassifier", "epochs": epochs, "number_of_transformer_layers": layers}
    if layers:
        component["transformer_size"] = size
    else:
        # Without a transformer, a feed-forward layer stack carries the text instead.
        component["hidden_layers_sizes"] = {"text": [256, 128], "label": []}
    component.update(intent_classification=intents, entity_recognition=entities, constrain_similarities=True,
                     random_seed=42)
    return component


@dataclass(frozen=True, slots=True)
class Candidate:
    """One pipeline to measure.

    Attributes:
        key: Short label (``a`` …), used in file names and the table.
        name: A few words, for the file name and the table.
        about: What it tries, in one sentence.
        pipeline: Rasa's ``pipeline:`` list.
        intents_as: The linear candidate whose intent classifier this one has unchanged (its
            xSID score, intents only, is this one's too); empty for the others.
    """

    key: str
    name: str
    about: str
    pipeline: tuple[Component, ...]
    intents_as: str = ""

    @property
    def label(self) -> str:
        return f"{self.key}) {self.name}"

    @property
    def file_name(self) -> str:
        return f"{self.key}-{self.name.replace(' ', '-').replace('+', '').replace('--', '-')}.yml"


def _tail(entities: tuple[Component, ...]) -> tuple[Component, ...]:
    return (*entities, SYNONYMS, FALLBACK)


CANDIDATES: tuple[Candidate, ...] = (
    Candidate(
        "a", "tfidf linear crf",
        "The pipeline before this measurement: Warga's TF-IDF, liblinear logistic regression, CRF.",
        (TOKENIZER, REGEX, *TFIDF, LINEAR, *_tail((CRF,))),
    ),
    Candidate(
        "b", "counts linear crf",
        "Rasa's own CountVectorsFeaturizer (word 1-2, char_wb 2-5) instead of TF-IDF; the same classifier and CRF.",
        (TOKENIZER, REGEX, *COUNTS, LINEAR, *_tail((CRF,))),
    ),
    Candidate(
        "c", "counts diet",
        "CountVectors and word shapes, DIET for intents and entities: 1 transformer layer of 128, 20 epochs.",
        (TOKENIZER, REGEX, LEXICAL, *COUNTS, *_tail((diet(epochs=20, layers=1),))),
    ),
    # d and f take the intent half (features + LogisticRegression) of the better of a and b:
    # see entity_variants().
    Candidate(
        "e", "counts diet no transformer",
        "As c without the transformer (feed-forward 256-128), 40 epochs: DIET's cheapest form.",
        (TOKENIZER, REGEX, LEXICAL, *COUNTS, *_tail((diet(epochs=40, layers=0),))),
    ),
)


#: The candidate nlu/rasa/config.yml holds (a test keeps the two equal): the rule's choice unless
#: that one trains too slowly for `make test` (then it stays a documented option).
DEFAULT = "a"


def entity_variants(linear: Candidate) -> tuple[Candidate, ...]:
    """d and f: ``linear``'s intent classifier, DIET for entities only instead of the CRF.

    DIET needs token sequence features, which the TF-IDF featurizer does not make: the word
    shapes (LexicalSyntacticFeaturizer, sequence features only) are added, which leaves the
    linear classifier's input unchanged.
    """
    intent_part = tuple(c for c in linear.pipeline if c not in (CRF, SYNONYMS, FALLBACK))
    if LEXICAL not in intent_part:
        intent_part = (*intent_part[:2], LEXICAL, *intent_part[2:])
    base = linear.key
    return (
        Candidate(
            "d", f"{base} with diet entities",
            f"{base}'s features and LogisticRegression for intents; DIET for entities only "
            "(intent_classification: false, 1 transformer layer of 128, 20 epochs) instead of the CRF.",
            _tail_of(intent_part, diet(epochs=20, layers=1, intents=False)), intents_as=base,
        ),
        Candidate(
            "f", f"{base} with small diet entities",
            "As d with DIET's cheapest form for entities (no transformer, feed-forward 256-128, 40 epochs).",
            _tail_of(intent_part, diet(epochs=40, layers=0, intents=False)), intents_as=base,
        ),
    )


def _tail_of(intent_part: tuple[Component, ...], entity: Component) -> tuple[Component, ...]:
    return (*intent_part, *_tail((entity,)))


def all_candidates(best_linear: str = "a") -> tuple[Candidate, ...]:
    """Every candidate, d and f built on the linear pipeline ``best_linear`` (``a`` or ``b``)."""
    by_key = {c.key: c for c in CANDIDATES}
    return tuple(sorted((*CANDIDATES, *entity_variants(by_key[best_linear])), key=lambda c: c.key))


def config_yaml(candidate: Candidate) -> str:
    """The candidate as a Rasa config file (what ``nlu.rasa_config`` can point at)."""
    body = {
        "recipe": "default.v1",
        # A fixed id: without one `rasa train` rewrites the file with a random value.
        "assistant_id": "warga-nlu",
        "language": "id",
        "pipeline": [dict(c) for c in candidate.pipeline],
        "policies": [],
    }
    head = textwrap.fill(
        f"Rasa pipeline candidate {candidate.label}, generated by bench/rasa_pipelines.py (do not edit: "
        f"change the table there and rerun it). {candidate.about} Measured in docs/BENCHMARKS.md "
        "(Rasa pipelines); the default is nlu/rasa/config.yml.",
        width=100, initial_indent="# ", subsequent_indent="# ",
    )
    return head + "\n" + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=110, default_flow_style=None)


# --------------------------------------------------------------------------------------------
# Results and the rule that chooses


@dataclass(frozen=True, slots=True)
class Result:
    """What one candidate measured."""

    key: str
    label: str
    heldout: EvaluationReport
    heldout_long: EvaluationReport
    xsid: EvaluationReport | None
    train_seconds: float
    p50_ms: float
    p99_ms: float
    serving_mb: float
    serving_peak_mb: float
    load_average: float
    #: xSID scored by another candidate with the same intent classifier (its key).
    xsid_from: str = ""
    #: CPU seconds (user + system) of the training process: what a training costs, much less
    #: sensitive than the wall time to the other work on a shared machine.
    train_cpu_seconds: float = 0.0
    xsid_train_cpu_seconds: float = 0.0

    @property
    def examples(self) -> int:
        return self.heldout.examples + self.heldout_long.examples

    @property
    def accuracy(self) -> float:
        """Accuracy over both held-out sets together (each sentence counts once)."""
        right = round(self.heldout.accuracy * self.heldout.examples) + round(
            self.heldout_long.accuracy * self.heldout_long.examples
        )
        return right / self.examples if self.examples else 0.0

    @property
    def below(self) -> float:
        """Share of both held-out sets' answers below the threshold."""
        n = round(self.heldout.fallback_rate * self.heldout.examples) + round(
            self.heldout_long.fallback_rate * self.heldout_long.examples
        )
        return n / self.examples if self.examples else 0.0


#: Held-out accuracies closer than this are a tie (half a point: under 2 of the 360 sentences).
ACCURACY_TIE = 0.005
#: Shares below the threshold closer than this are a tie (one point: under 4 sentences).
BELOW_TIE = 0.01


def choose(results: Sequence[Result], *, accuracy_tie: float = ACCURACY_TIE, below_tie: float = BELOW_TIE) -> Result:
    """The best pipeline on held-out data: short and long sets together.

    Accuracy first: every candidate within ``accuracy_tie`` of the best accuracy stays in. Of
    those, the ones within ``below_tie`` of the fewest answers below the threshold (each one is
    a citizen asked again). Of those, the cheapest: training CPU time (the wall time depends on
    who else uses the machine), then serving memory.
    """
    if not results:
        raise ValueError("no results to choose from")
    top = max(r.accuracy for r in results)
    accurate = [r for r in results if r.accuracy >= top - accuracy_tie - 1e-9]
    fewest = min(r.below for r in accurate)
    sure = [r for r in accurate if r.below <= fewest + below_tie + 1e-9]
    return min(sure, key=lambda r: (r.train_cpu_seconds, r.serving_mb))


def best_linear(results: Sequence[Result]) -> str:
    """The better of the linear pipelines a and b by the same rule (``a`` if neither ran)."""
    linear = [r for r in results if r.key in ("a", "b")]
    return choose(linear).key if linear else "a"


# --------------------------------------------------------------------------------------------
# Measuring


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    """Resident memory of a process and its children, by /proc (``VmRSS`` now, ``VmHWM`` peak)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    best = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field_name + ":"):
                    best = max(best, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return best


@dataclass(frozen=True)
class Sets:
    data: TrainingData
    heldout: TrainingData
    heldout_long: TrainingData
    xsid_train: TrainingData | None
    xsid_test: TrainingData | None


def measure(candidate: Candidate, sets: Sets, config_dir: Path, say: Callable[[str], None], *,
            xsid: bool = True, threshold: float = 0.5) -> Result:
    """Train ``candidate`` on the project data (and on xSID), serve it, score it."""
    path = config_dir / candidate.file_name
    path.write_text(config_yaml(candidate), encoding="utf-8")
    config = NluConfig(rasa_venv=ROOT / ".venv-rasa", rasa_config=path, threshold=threshold)
    load = os.getloadavg()[0]
    with ThrowawayRasa(config) as rasa:
        # The server starts while the model trains (a minute on a busy machine): the training's
        # wall time shares the cores with it, its CPU time (the rule's cost) does not.
        rasa.start()
        say(f"{candidate.label}: training (load average {load:.1f})...")
        model, seconds, cpu = _train(rasa, sets.data)
        say(f"{candidate.label}: trained in {seconds:.0f}s ({cpu:.0f} CPU s); serving...")
        engine = rasa.serve(model)
        engine.parse(sets.heldout.examples[0].text)  # the first parse after loading is slow
        held = evaluate_engine(engine, sets.heldout, method="held-out", train_seconds=seconds)
        long = evaluate_engine(engine, sets.heldout_long, method="held-out, long messages", train_seconds=seconds)
        p50, p99 = held.parse_ms_p50, held.parse_ms_p99
        assert rasa.server is not None and rasa.server.pid is not None
        serving = rss_mb(rasa.server.pid)
        peak = rss_mb(rasa.server.pid, "VmHWM")
        say(f"{candidate.label}: held-out {held.accuracy:.3f}, long {long.accuracy:.3f}, serving {serving:.0f} MB")
        xs, xcpu = None, 0.0
        if xsid and sets.xsid_train is not None and sets.xsid_test is not None:
            say(f"{candidate.label}: xSID...")
            xmodel, xseconds, xcpu = _train(rasa, sets.xsid_train)
            xs = evaluate_engine(rasa.serve(xmodel), sets.xsid_test, method="xSID id.valid → id.test",
                                 train_seconds=xseconds, known_intents=sets.xsid_train.intents)
    return Result(candidate.key, candidate.label, held, long, xs, seconds, p50, p99, serving, peak, load,
                  train_cpu_seconds=cpu, xsid_train_cpu_seconds=xcpu if xs is not None else 0.0)


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _train(rasa: ThrowawayRasa, data: TrainingData) -> tuple[Path, float, float]:
    """Train; the model, wall seconds and CPU seconds (the training process is waited for, so
    its CPU time is added to this process's children's: the difference is this training's)."""
    before = _cpu_of_children()
    model, seconds = rasa.train(data)
    return model, seconds, _cpu_of_children() - before


# --------------------------------------------------------------------------------------------
# Markdown


def _f(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def _loc(report: EvaluationReport | None) -> str:
    for e in report.entities if report else ():
        if e.entity == "location":
            return f"{e.f1:.2f} / {e.overlap_f1:.2f}"
    return "—"


def _xsid(r: Result, f: Callable[[EvaluationReport], str]) -> str:
    if r.xsid is None:
        return "—"
    return f(r.xsid) + (f" (= {r.xsid_from})" if r.xsid_from else "")


def table(results: Sequence[Result], chosen: str) -> str:
    rows: list[tuple[str, Callable[[Result], str]]] = [
        ("held-out + long: accuracy (the rule's first key)", lambda r: f"{r.accuracy:.3f}"),
        ("held-out + long: below threshold (second key)", lambda r: f"{r.below:.1%}"),
        ("held-out accuracy / macro-F1", lambda r: f"{r.heldout.accuracy:.3f} / {r.heldout.macro_f1:.3f}"),
        ("held-out below threshold", lambda r: f"{r.heldout.fallback_rate:.1%}"),
        ("held-out location F1 exact / overlap", lambda r: _loc(r.heldout)),
        ("long held-out accuracy / macro-F1",
         lambda r: f"{r.heldout_long.accuracy:.3f} / {r.heldout_long.macro_f1:.3f}"),
        ("long held-out below threshold", lambda r: f"{r.heldout_long.fallback_rate:.1%}"),
        ("long held-out location F1 exact / overlap", lambda r: _loc(r.heldout_long)),
        ("xSID accuracy / macro-F1", lambda r: _xsid(r, lambda x: f"{x.accuracy:.3f} / {x.macro_f1:.3f}")),
        ("train CPU time, nlu/data (s; the rule's cost)", lambda r: f"{r.train_cpu_seconds:.0f}"),
        ("train wall time, nlu/data (s)", lambda r: f"{r.train_seconds:.0f}"),
        ("train CPU / wall time, xSID (s)",
         lambda r: _xsid(r, lambda x: f"{r.xsid_train_cpu_seconds:.0f} / {x.train_seconds:.0f}")),
        ("parse p50 / p99, held-out (ms)", lambda r: f"{r.p50_ms:.1f} / {r.p99_ms:.1f}"),
        ("serving memory, RSS after the held-out sets (MB)", lambda r: f"{r.serving_mb:.0f}"),
        ("serving memory, peak RSS (MB)", lambda r: f"{r.serving_peak_mb:.0f}"),
        ("load average (1 min) when its training started", lambda r: f"{r.load_average:.1f}"),
    ]
    head = "| | " + " | ".join(f"**{r.label}**" if r.key == chosen else r.label for r in results) + " |"
    sep = "|---|" + "---:|" * len(results)
    return "\n".join([head, sep, *(f"| {name} | " + " | ".join(f(r) for r in results) + " |" for name, f in rows)])


#: What the 29 Nov 2026 run showed (written by hand after it; not regenerated).
FINDINGS = """What the run of 29 Nov 2026 showed:

- The pipeline before the measurement (a) stays: 0.947 on both held-out sets against 0.906 for
  Rasa's own CountVectors (b, same classifier) and 0.889 / 0.906 for DIET (c, e), with the fewest
  answers below the threshold (4.7% against 11.9% / 18.1% for DIET), 40 CPU s to train against
  about 250 for any DIET, and 600 MB of serving memory against 1.2–1.3 GB (TensorFlow).
- DIET for entities beside the linear classifier (d, f) keeps a's intents exactly (the same
  classifier on the same features) but finds locations worse than the CRF with the lookup
  `pattern` feature: exact / overlap F1 0.28 / 0.58 and 0.25 / 0.67 against 0.58 / 0.81 on the
  short held-out set. No candidate won anything that would pay for DIET's cost.
- DIET without a transformer (e) is not cheaper to train than with one (c): 40 feed-forward
  epochs cost what 20 transformer epochs cost, and its answers are the least sure.
- DIET was given 20 epochs (the issue's "fewer epochs"): on this shared machine an epoch took
  25–75 s of wall time, and 50 did not fit the run. Its training accuracy had reached 1.0 by
  epoch 15; more epochs would mostly sharpen its confidences.
"""


def markdown(results: Sequence[Result], candidates: Sequence[Candidate], info: dict[str, str],
             loads: Sequence[float], sets: Sets, minutes: float, skipped: Sequence[str] = ()) -> str:
    chosen = choose(results)
    about = "\n".join(f"- **{c.label}**: {c.about} Config: `nlu/rasa/pipelines/{c.file_name}`." for c in candidates)
    xsid = (f"xSID Indonesian (train id.valid, {len(sets.xsid_train.examples)} sentences; test id.test, "
            f"{len(sets.xsid_test.examples)}; intents only, no locations)"
            if sets.xsid_train is not None and sets.xsid_test is not None else "xSID: not found, not run")
    return f"""## Rasa pipelines (issue 14): Warga's own, chosen on held-out data

Produced by `bench/rasa_pipelines.py` (`nice -n 10 .venv/bin/python bench/rasa_pipelines.py`,
{minutes:.0f} minutes this time). Each candidate is trained on `nlu/data` ({len(sets.data.examples)}
examples) in its own Rasa process, one training at a time, served by a fresh throw-away server and
parsed through Warga's client (`RasaEngine`, the text normalised as in production; long messages
read by their clauses). Tested on `heldout.yml` ({len(sets.heldout.examples)} short turns),
`heldout_long.yml` ({len(sets.heldout_long.examples)} long messages) and {xsid}. No
cross-validation: the held-out sets decide. xSID's intents are not Warga's, and Warga's client
reports an intent it does not know as not understood: its share below the threshold means
nothing there and is not shown (its accuracy scores the top-ranked intent, as everywhere).

- Machine: {info["cpu"]} ({info["nproc"]} cores, shared with other people's tests), {info["ram"]};
  {info["date"]}.
- Load average (1 min) during the run: {min(loads):.1f} to {max(loads):.1f} (mean {sum(loads) / len(loads):.1f})
  on 2 cores: training and parse times are those of a busy machine; compare them across columns only.
- Rule (`choose`): accuracy on both held-out sets together; candidates within {ACCURACY_TIE:.1%} of the best
  (2 of {results[0].examples} sentences) tie; among them the fewest answers below the 0.5 threshold
  (within {BELOW_TIE:.0%}); then the cheapest (training CPU time, then serving memory).
  d and f are built on the better of a and b by the same rule.
- Train time: one separate `RasaTrainer.train` process, Rasa's start-up included (about 10 s of
  an idle machine); CPU time is that process's user + system time, wall time depends on the load.
  Parse: each short held-out sentence once, through `RasaEngine.parse`. Serving memory: RSS of the Rasa server
  process (`rasa run`) with the model loaded, after the held-out parses.

{about}{"" if not skipped else chr(10) + "- Not run this time (time budget spent): " + ", ".join(skipped) + "."}

{table(results, chosen.key)}

**Chosen by the rule: {chosen.label}** (in bold above). Default pipeline (`nlu/rasa/config.yml`):
{next((c.label for c in candidates if c.key == DEFAULT), DEFAULT)}.

{FINDINGS}"""


def replace_section(path: Path, part: str) -> None:
    """Write ``part`` between this script's markers, added after the NLU section when missing."""
    block = f"{BEGIN}\n{part.strip()}\n{END}\n"
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
    elif AFTER in old:
        head, tail = old.split(AFTER, 1)
        head += AFTER + "\n\n"
    else:
        head, tail = old.rstrip("\n") + ("\n\n" if old.strip() else ""), ""
    tail = tail.lstrip("\n")
    path.write_text(head + block + ("\n" + tail if tail else ""), encoding="utf-8")


# --------------------------------------------------------------------------------------------


def write_configs(candidates: Sequence[Candidate], directory: Path = PIPELINES_DIR) -> None:
    """Every candidate's config in ``directory`` (stale candidate files removed)."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {c.file_name for c in candidates}
    for old in directory.glob("*.yml"):
        if old.name not in wanted:
            old.unlink()
    for c in candidates:
        (directory / c.file_name).write_text(config_yaml(c), encoding="utf-8")


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

    data, _ = load_and_validate(args.data)
    valid, test = args.xsid / "id.valid.conll", args.xsid / "id.test.conll"
    have_xsid = valid.is_file() and test.is_file()
    sets = Sets(data, load_training_data(args.heldout), load_training_data(args.heldout_long),
                load_conll(valid) if have_xsid else None, load_conll(test) if have_xsid else None)
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
