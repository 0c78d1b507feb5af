"""Types every NLU engine shares. Engines never import ``bot``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from nlu.training_data import TrainingData

#: A model version: "<UTC timestamp>-<data hash>", e.g. "20261128-071500-3f2a9c1d0b7e".
ModelVersion = str


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity found in a message.

    Attributes:
        entity: ``ticket_id`` | ``location``.
        value: Normalised value (``WRG-2026-000123``); for locations the text as written.
        start: Start offset in the message.
        end: End offset (exclusive).
        text: The text as written.
    """

    entity: str          # "ticket_id" | "location" | ...
    value: str           # normalised value (e.g. "WRG-2026-000123")
    start: int
    end: int
    text: str            # as written


@dataclass(frozen=True, slots=True)
class Part:
    """One clause of a long message and what it says on its own (see :mod:`nlu.long_messages`).

    Attributes:
        start: Start offset in the message.
        end: End offset (exclusive).
        text: The clause as written.
        mark: The punctuation that ended it ("?", ".", "," or "" at the end of the message):
            the dialogue tells a question from a statement by it.
        intent: The clause's top intent, or None below the engine's threshold.
        confidence: Confidence of the clause's top intent.
        role: ``courtesy`` (a greeting, thanks or goodbye set aside), ``secondary`` (the clause
            that gave :attr:`Parse.secondary_intent`) or ``core`` (the rest: the message proper).
    """

    start: int
    end: int
    text: str
    mark: str
    intent: str | None
    confidence: float
    role: str


@dataclass(frozen=True, slots=True)
class Parse:
    """What an engine understood from one message.

    Attributes:
        text: The text parsed.
        intent: The intent, or None below the fallback threshold (or for empty text).
        confidence: Confidence of the top intent (even when ``intent`` is None).
        ranking: (intent, confidence) pairs, best first.
        entities: Entities found.
        language: "id" or "en".
        engine: "rasa" | "sklearn" | "rules".
        model_version: The version of the model that answered.
        secondary_intent: In a long message, a second topic of the other kind than ``intent``:
            a public-service question asked inside a complaint, or a complaint reported inside
            a question (see :mod:`nlu.long_messages`); None otherwise.
        secondary_confidence: Confidence of ``secondary_intent`` (0 when there is none).
        parts: A long message's clauses with their own reading (empty for a short message):
            what the dialogue files as a complaint's description and which questions it
            answers besides.
        source_intent: The name the model itself gave the top intent when that is not a
            Warga name (an external Rasa model's ``lapor_jalan`` mapped to
            ``report_road_damage``, or an intent it has that nothing maps); None otherwise.
    """

    text: str
    intent: str | None
    confidence: float
    ranking: tuple[tuple[str, float], ...]
    entities: tuple[Entity, ...]
    language: str
    engine: str
    model_version: str
    secondary_intent: str | None = None
    secondary_confidence: float = 0.0
    parts: tuple[Part, ...] = ()
    source_intent: str | None = None

    def spans(self, name: str) -> tuple[Entity, ...]:
        """Every entity called ``name``, in message order (e.g. all ``location`` pieces)."""
        return tuple(sorted((e for e in self.entities if e.entity == name), key=lambda e: e.start))

    def entity(self, name: str) -> str | None:
        """The value of the first entity called ``name``, or None."""
        for e in self.entities:
            if e.entity == name:
                return e.value
        return None


class NluError(Exception):
    """The engine could not answer (server down, timeout, no model).

    Attributes:
        retryable: Whether another engine or a later attempt may succeed.
    """

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.retryable = retryable


class TrainingError(NluError):
    """Training failed (engine crashed, timed out, or its model could not be loaded).

    The previously active model stays active. ``retryable`` says whether trying again later
    may help (a timeout) or not (a broken configuration).
    """


@runtime_checkable
class NluEngine(Protocol):
    """Understands one message. Implementations: ``SklearnEngine``, ``RasaEngine``, ``FallbackEngine``."""

    name: str

    def parse(self, text: str) -> Parse:
        """Understand ``text``. Raises NluError when the engine cannot answer."""
        ...

    def ready(self) -> bool:
        """Whether ``parse`` can answer now."""
        ...


@runtime_checkable
class Trainer(Protocol):
    """An engine that can be (re)trained from Warga's training data."""

    def train(self, data: TrainingData) -> ModelVersion:
        """Train on ``data``, make the new model active and return its version.

        Raises:
            TrainingDataError: The data has errors (nothing changes).
            TrainingError: Training failed (the previous model stays active).
        """
        ...
