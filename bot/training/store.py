"""Training data in the database: intents, examples (with a fixed train/held-out split),
synonyms, regexes and lookups, every change recorded in ``nlu_changes``.

Rasa YAML stays the format at the edges: the repository's nlu/data seeds the tables, ``warga nlu
export`` writes them back out and ``warga nlu import`` reads a file in (all or nothing).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.models import (
    NluChange,
    NluExample,
    NluIntent,
    NluLookup,
    NluRegex,
    NluReview,
    NluSynonym,
)
from nlu.intents import ENTITIES, INTENTS
from nlu.training_checks import validate
from nlu.training_data import (
    ERROR,
    EntitySpan,
    Example,
    Lookup,
    Problem,
    RegexFeature,
    Source,
    Synonym,
    TrainingData,
    TrainingDataError,
)
from nlu.training_reader import load_training_data

TRAIN, HELDOUT = "train", "heldout"
#: Share of each intent's examples set aside for scoring models, once it has enough of them.
HELDOUT_SHARE = 0.2
#: An intent needs this many examples before any is held out (fewer all go to training).
HELDOUT_MIN_EXAMPLES = 5
INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,79}$")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes something: ``staff:<username>`` with their id, ``cli`` or ``system``."""

    name: str
    staff_user_id: int | None = None


SYSTEM = Actor("system")


class TrainingInputError(ValueError):
    """A person's input cannot be stored (shown to them; nothing changed)."""


def text_key(text: str) -> str:
    """The identity of a sentence: case and spacing do not make a new one."""
    return hashlib.sha256(" ".join(text.casefold().split()).encode()).hexdigest()


def _rank(key: str) -> int:
    return int(key[:12], 16)


def spans_to_json(spans: Iterable[EntitySpan]) -> list[dict[str, Any]]:
    return [{"entity": s.entity, "start": s.start, "end": s.end, "text": s.text, "value": s.value,
             "role": s.role} for s in spans]


def spans_from_json(text: str, items: Iterable[dict[str, Any]]) -> tuple[EntitySpan, ...]:
    out = []
    for it in items:
        start, end = int(it["start"]), int(it["end"])
        surface = text[start:end]
        out.append(EntitySpan(str(it["entity"]), start, end, surface, str(it.get("value") or surface),
                              it.get("role")))
    return tuple(sorted(out, key=lambda s: s.start))


def _follow(text: str, entities: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entity marks after the sentence was edited: kept where their words still are (moved with
    them), dropped where the words are gone."""
    out = []
    for it in entities:
        surface = str(it.get("text") or "")
        try:
            start, end = int(it["start"]), int(it["end"])
        except (KeyError, TypeError, ValueError):
            out.append(dict(it))   # malformed: the check after this reports it
            continue
        if not surface or text[start:end] == surface:
            out.append(dict(it))
            continue
        found = text.find(surface)
        if found >= 0:
            out.append({**it, "start": found, "end": found + len(surface)})
    return out


class TrainingStore:
    """The training data tables inside one session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # -- history --------------------------------------------------------------------------
    def record(self, actor: Actor, kind: str, subject: str = "", **detail: Any) -> None:
        self.s.add(NluChange(actor=actor.name, staff_user_id=actor.staff_user_id, kind=kind,
                             subject=subject[:200], detail=detail))

    def history(self, limit: int = 200) -> Sequence[NluChange]:
        return self.s.scalars(select(NluChange).order_by(NluChange.id.desc()).limit(limit)).all()

    # -- reading --------------------------------------------------------------------------
    def intent_names(self) -> list[str]:
        return list(self.s.scalars(select(NluIntent.name).order_by(NluIntent.id)))

    def is_empty(self) -> bool:
        return not self.s.scalar(select(func.count()).select_from(NluExample))

    def counts(self) -> dict[str, dict[str, int]]:
        """Examples per intent and split: ``{intent: {"train": n, "heldout": m}}``."""
        out: dict[str, dict[str, int]] = {name: {TRAIN: 0, HELDOUT: 0} for name in self.intent_names()}
        for intent, split, n in self.s.execute(select(NluExample.intent, NluExample.split, func.count())
                                               .group_by(NluExample.intent, NluExample.split)):
            out.setdefault(intent, {TRAIN: 0, HELDOUT: 0})[split] = n
        return out

    def snapshot(self, split: str | None = None) -> TrainingData:
        """The data as plain nlu objects: every example, or only one split's."""
        stmt = select(NluExample).order_by(NluExample.id)
        if split is not None:
            stmt = stmt.where(NluExample.split == split)
        examples = tuple(
            Example(e.intent, e.text, spans_from_json(e.text, e.entities), Source("db:nlu_examples", e.id))
            for e in self.s.scalars(stmt))
        return TrainingData(
            examples=examples,
            synonyms=tuple(Synonym(r.value, tuple(r.examples)) for r in
                           self.s.scalars(select(NluSynonym).order_by(NluSynonym.id))),
            regexes=tuple(RegexFeature(r.name, tuple(r.patterns)) for r in
                          self.s.scalars(select(NluRegex).order_by(NluRegex.id))),
            lookups=tuple(Lookup(r.name, tuple(r.elements)) for r in
                          self.s.scalars(select(NluLookup).order_by(NluLookup.id))),
            files=("database",),
        )

    # -- seeding and import ---------------------------------------------------------------
    def seed(self, data_dir: Path) -> int:
        """Fill empty tables from the repository's Rasa YAML (idempotent: a filled database is
        left alone). Returns the number of examples added."""
        if not self.is_empty() or not Path(data_dir).exists():
            return 0   # no seed data here (an installation without the repository's nlu/data)
        data = load_training_data(data_dir)
        for name in INTENTS:
            self._ensure_intent(name)
        added = self.import_data(data, SYSTEM, origin="seed")
        return added

    def check_import(self, data: TrainingData) -> tuple[Problem, ...]:
        """Problems that stop an import: the file's own errors, and sentences the database
        already has under another intent."""
        known = set(self.intent_names()) | set(data.intents)
        problems = [p for p in validate(data, intents=sorted(known), entities=ENTITIES, min_examples=0)
                    if p.severity == ERROR]
        bad_names = [i for i in data.intents if not INTENT_NAME.match(i)]
        problems += [Problem("schema", ERROR, f"intent name {n!r}: use a-z, 0-9 and _", Source("import"))
                     for n in bad_names]
        keys = {text_key(e.text): e for e in data.examples}
        if keys:
            for key, intent in self.s.execute(select(NluExample.text_key, NluExample.intent)
                                              .where(NluExample.text_key.in_(list(keys)))):
                ex = keys[key]
                if intent != ex.intent:
                    problems.append(Problem("conflict", ERROR,
                                            f"{ex.text[:60]!r} is already under {intent!r}, here {ex.intent!r}",
                                            ex.source))
        return tuple(problems)

    def import_data(self, data: TrainingData, actor: Actor, *, origin: str = "import") -> int:
        """Add what ``data`` has that the database lacks (all or nothing).

        Examples already present are kept as they are (their split does not move); synonyms,
        regexes and lookups of the same name are replaced by the file's.

        Raises:
            TrainingDataError: Validation errors; nothing was changed.
        """
        problems = self.check_import(data)
        if problems:
            raise TrainingDataError(problems)
        for name in data.intents:
            self._ensure_intent(name)
        existing = set(self.s.scalars(select(NluExample.text_key)))
        fresh: list[Example] = []
        for ex in data.examples:
            key = text_key(ex.text)
            if key not in existing:
                existing.add(key)
                fresh.append(ex)
        self._add_examples(fresh, origin=origin)
        for syn in data.synonyms:
            row = self.s.scalar(select(NluSynonym).where(NluSynonym.value == syn.value))
            if row is None:
                self.s.add(NluSynonym(value=syn.value, examples=list(syn.examples)))
            else:
                row.examples = sorted(set(row.examples) | set(syn.examples))
        for rx in data.regexes:
            rrow = self.s.scalar(select(NluRegex).where(NluRegex.name == rx.name))
            if rrow is None:
                self.s.add(NluRegex(name=rx.name, patterns=list(rx.patterns)))
            else:
                rrow.patterns = list(dict.fromkeys([*rrow.patterns, *rx.patterns]))
        for lk in data.lookups:
            lrow = self.s.scalar(select(NluLookup).where(NluLookup.name == lk.name))
            if lrow is None:
                self.s.add(NluLookup(name=lk.name, elements=list(lk.elements)))
            else:
                lrow.elements = list(dict.fromkeys([*lrow.elements, *lk.elements]))
        self.s.flush()
        self.record(actor, "seeded" if origin == "seed" else "imported", ", ".join(data.files)[:200],
                    examples=len(fresh), intents=len(data.intents), synonyms=len(data.synonyms),
                    regexes=len(data.regexes), lookups=len(data.lookups))
        return len(fresh)

    def _ensure_intent(self, name: str, description: str = "") -> NluIntent:
        row = self.s.scalar(select(NluIntent).where(NluIntent.name == name))
        if row is None:
            row = NluIntent(name=name, description=description)
            self.s.add(row)
            self.s.flush()
        return row

    def _add_examples(self, examples: Sequence[Example], *, origin: str, split: str | None = None,
                      message_id: int | None = None) -> list[NluExample]:
        """Store new examples; each intent's held-out share is topped up to :data:`HELDOUT_SHARE`
        from the new sentences with the lowest text hash (stratified and deterministic)."""
        by_intent: dict[str, list[tuple[str, Example]]] = defaultdict(list)
        for ex in examples:
            by_intent[ex.intent].append((text_key(ex.text), ex))
        rows: list[NluExample] = []
        for intent, items in by_intent.items():
            have = self.counts().get(intent, {TRAIN: 0, HELDOUT: 0})
            total = have[TRAIN] + have[HELDOUT] + len(items)
            want = round(total * HELDOUT_SHARE) if total >= HELDOUT_MIN_EXAMPLES else 0
            need = max(0, want - have[HELDOUT]) if split is None else 0
            held = {k for k, _ in sorted(items, key=lambda kv: _rank(kv[0]))[:need]}
            for key, ex in items:
                row = NluExample(intent=ex.intent, text=ex.text, text_key=key,
                                 entities=spans_to_json(ex.entities),
                                 split=split or (HELDOUT if key in held else TRAIN), origin=origin,
                                 message_id=message_id)
                self.s.add(row)
                rows.append(row)
            self.s.flush()
        return rows

    # -- one change at a time (console) -----------------------------------------------------
    def add_intent(self, name: str, description: str, actor: Actor) -> NluIntent:
        name = name.strip()
        if not INTENT_NAME.match(name):
            raise TrainingInputError("Nama intent: huruf kecil a-z, angka dan _ (2–80 karakter).")
        if self.s.scalar(select(NluIntent.id).where(NluIntent.name == name)) is not None:
            raise TrainingInputError(f"Intent {name} sudah ada.")
        row = self._ensure_intent(name, description.strip()[:2000])
        self.record(actor, "intent_added", name, description=row.description)
        return row

    def _clean_example(self, intent: str, text: str, entities: Sequence[dict[str, Any]],
                       exclude_id: int | None = None) -> tuple[str, tuple[EntitySpan, ...]]:
        text = " ".join(text.split())
        if not text:
            raise TrainingInputError("Contoh kalimat tidak boleh kosong.")
        if len(text) > 2000:
            raise TrainingInputError("Contoh kalimat terlalu panjang (maks. 2000 karakter).")
        if intent not in self.intent_names():
            raise TrainingInputError(f"Intent {intent!r} tidak dikenal.")
        try:
            spans = spans_from_json(text, entities)
        except (KeyError, TypeError, ValueError):
            raise TrainingInputError("Penanda entitas tidak valid.") from None
        for sp in spans:
            if sp.entity not in ENTITIES or not 0 <= sp.start < sp.end <= len(text):
                raise TrainingInputError(f"Entitas {sp.entity!r} tidak valid.")
        other = self.s.scalar(select(NluExample).where(NluExample.text_key == text_key(text)))
        if other is not None and other.id != exclude_id:
            raise TrainingInputError(f"Kalimat ini sudah ada (intent {other.intent}).")
        return text, spans

    def add_example(self, intent: str, text: str, actor: Actor, *, entities: Sequence[dict[str, Any]] = (),
                    origin: str = "console", message_id: int | None = None,
                    split: str | None = None) -> NluExample:
        """Add one sentence.

        Raises:
            TrainingInputError: Empty, unknown intent, bad entity, or already there.
        """
        clean, spans = self._clean_example(intent, text, entities)
        row = self._add_examples([Example(intent, clean, spans)], origin=origin, split=split,
                                 message_id=message_id)[0]
        self.record(actor, "example_added", intent, example_id=row.id, text=clean, split=row.split,
                    origin=origin, entities=row.entities)
        return row

    def update_example(self, example_id: int, intent: str, text: str, actor: Actor,
                       entities: Sequence[dict[str, Any]] = ()) -> NluExample:
        row = self.s.get(NluExample, example_id)
        if row is None:
            raise TrainingInputError("Contoh tidak ditemukan.")
        clean = " ".join(text.split())
        clean, spans = self._clean_example(intent, text, _follow(clean, entities), exclude_id=row.id)
        before = {"intent": row.intent, "text": row.text, "entities": row.entities}
        row.intent, row.text, row.text_key, row.entities = intent, clean, text_key(clean), spans_to_json(spans)
        # The split stays: a held-out sentence edited is still one no model trained on.
        self.record(actor, "example_changed", intent, example_id=row.id, before=before,
                    after={"intent": intent, "text": clean, "entities": row.entities})
        return row

    def delete_example(self, example_id: int, actor: Actor) -> None:
        row = self.s.get(NluExample, example_id)
        if row is None:
            raise TrainingInputError("Contoh tidak ditemukan.")
        self.record(actor, "example_deleted", row.intent, example_id=row.id, text=row.text, split=row.split)
        for review in self.s.scalars(select(NluReview).where(NluReview.example_id == row.id)):
            review.example_id = None
        self.s.delete(row)


def ensure_seeded(sessions: Any, data_dir: Path) -> int:
    """Seed the training data tables on first use (``warga db upgrade``, the console, training).

    Two processes seeding at once: the loser's insert hits the unique text key and is rolled
    back, and the tables hold one copy.
    """
    from sqlalchemy.exc import IntegrityError

    try:
        with sessions() as s, s.begin():
            return TrainingStore(s).seed(data_dir)
    except IntegrityError:
        return 0
