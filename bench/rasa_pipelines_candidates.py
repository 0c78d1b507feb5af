"""bench/rasa_pipelines.py's candidates: the Rasa pipelines it measures, as a table, and their configs.

Every candidate is built from the pieces below (:data:`CANDIDATES`, :func:`all_candidates`);
:func:`config_yaml` makes it a Rasa config, and :func:`write_configs` keeps
``nlu/rasa/pipelines/`` equal to the table (a city may point ``nlu.rasa_config`` at any of
them; ``nlu/rasa/config.yml`` is the :data:`DEFAULT` one, a test keeps the two equal).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIPELINES_DIR = ROOT / "nlu" / "rasa" / "pipelines"
DEFAULT_CONFIG = ROOT / "nlu" / "rasa" / "config.yml"

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
        f"change the table in bench/rasa_pipelines_candidates.py and rerun it). {candidate.about} "
        "Measured in docs/BENCHMARKS.md (Rasa pipelines); the default is nlu/rasa/config.yml.",
        width=100, initial_indent="# ", subsequent_indent="# ",
    )
    return head + "\n" + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=110, default_flow_style=None)


def write_configs(candidates: Sequence[Candidate], directory: Path = PIPELINES_DIR) -> None:
    """Every candidate's config in ``directory`` (stale candidate files removed)."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {c.file_name for c in candidates}
    for old in directory.glob("*.yml"):
        if old.name not in wanted:
            old.unlink()
    for c in candidates:
        (directory / c.file_name).write_text(config_yaml(c), encoding="utf-8")
