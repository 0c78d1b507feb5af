"""The in-process engine: TF-IDF n-grams and a linear classifier, trained in seconds.

It answers whenever the Rasa server cannot (see :mod:`nlu.fallback`), and can serve alone
(``nlu.engine: sklearn``). This module holds the engine, the trained model
(:class:`SklearnModel`: what a model file pickles, so its classes stay in this module for
saved models to keep loading) and the model files; how a model is trained (features,
classifier, calibrated confidences) is :mod:`nlu.sklearn_training`.

Models are pickles written by this module into the models directory, which only Warga writes:
never load a model file from anyone else.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from nlu.base import ModelVersion, NluError, Parse, TrainingError
from nlu.entities import EntityExtractor
from nlu.language import detect_language
from nlu.long_messages import read, to_parse
from nlu.normalize import Normalizer, looks_like_junk
from nlu.training_checks import validate
from nlu.training_data import ERROR, TrainingData, TrainingDataError

log = logging.getLogger(__name__)

#: Longer messages are classified on their beginning: people state their problem first, and
#: it keeps a 10,000-character message as fast as a short one.
MAX_CLASSIFY_CHARS = 1000
#: Entities are looked for in this much text.
MAX_ENTITY_CHARS = 5000
#: How many (intent, confidence) pairs a Parse carries (Rasa's intent_ranking has 10).
RANKING_SIZE = 10
#: Bump when SklearnModel or anything it pickles (Normalizer, EntityExtractor, ...) changes
#: shape: older files are then refused and retrained instead of failing at parse time.
MODEL_FORMAT = 3
_ACTIVE = "ACTIVE"
_SUFFIX = ".pkl"
_KEEP_MODELS = 5
#: Words whose character n-grams a model keeps looked up, and the longest word kept: about 1 KB
#: a word, so at most about 20 MB a model (a longer "word" is junk or a URL: looked up each time).
WORD_CACHE_SIZE = 20_000
WORD_CACHE_CHARS = 24


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a saved model is.

    Attributes:
        version: ``<UTC timestamp>-<data hash>``.
        data_hash: :meth:`TrainingData.fingerprint` of the data it learned from.
        trained_at: ISO-8601 UTC.
        examples: Number of training examples.
        intents: Intents it can answer.
        sklearn_version: scikit-learn version that wrote it (pickles are not portable across
            versions).
        train_seconds: Wall time of training.
        notes: What the person training should know (e.g. intents too small to calibrate).
    """

    version: str
    data_hash: str
    trained_at: str
    examples: int
    intents: tuple[str, ...]
    sklearn_version: str
    train_seconds: float
    notes: tuple[str, ...] = ()


class _FastScorer:
    """The fitted features and classifier as plain dictionaries and arrays.

    Scoring one message through scikit-learn's ``FeatureUnion.transform`` and
    ``decision_function`` costs about 2 ms of input validation and sparse-matrix building; doing
    the same arithmetic directly costs a tenth of that, which keeps parse p99 under 5 ms on a
    busy machine. Results are identical (tested).
    """

    def __init__(self, features: FeatureUnion, classifier: LinearSVC) -> None:
        self.vectorizers = [vec for _, vec in features.transformer_list]
        self.vocab = [dict(vec.vocabulary_) for vec in self.vectorizers]
        self.idf = [vec.idf_.copy() for vec in self.vectorizers]
        self.offsets = list(np.cumsum([0] + [len(v) for v in self.vocab[:-1]]))
        self.coef_t = np.ascontiguousarray(classifier.coef_.T)
        self.intercept = classifier.intercept_.copy()
        self._analyzers: list[Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_analyzers"] = None  # closures over the vectorizers: rebuilt after loading
        state.pop("_word_grams", None)
        state.pop("_classes", None)
        return state

    def classes(self, classifier: LinearSVC) -> tuple[str, ...]:
        """The classifier's intent names, as strings, built once (every parse ranks them)."""
        names: tuple[str, ...] | None = self.__dict__.get("_classes")
        if names is None:
            names = self._classes = tuple(str(c) for c in classifier.classes_)
        return names

    def _grams_of_words(self, i: int) -> dict[str, tuple[int, ...]] | None:
        """Vectorizer ``i``'s known n-grams of each word seen, when its n-grams never cross a
        word (``char_wb``: a text's n-grams are those of its words, one after the other). Words
        repeat from message to message, so each is cut into n-grams and looked up once."""
        caches: list[dict[str, tuple[int, ...]] | None] | None = self.__dict__.get("_word_grams")
        if caches is None:
            caches = [{} if vec.analyzer == "char_wb" else None for vec in self.vectorizers]
            self._word_grams = caches
        return caches[i]

    def _counts(self, i: int, analyzer: Any, vocab: dict[str, int], text: str) -> dict[int, int]:
        counts: dict[int, int] = {}
        words = self._grams_of_words(i)
        if words is None:
            for gram in analyzer(text):
                ix = vocab.get(gram)
                if ix is not None:
                    counts[ix] = counts.get(ix, 0) + 1
            return counts
        for word in text.split():
            known = words.get(word)
            if known is None:
                known = tuple(ix for gram in analyzer(word) if (ix := vocab.get(gram)) is not None)
                if len(word) <= WORD_CACHE_CHARS:
                    if len(words) >= WORD_CACHE_SIZE:  # bounded: junk must not grow it for ever
                        words.clear()
                    words[word] = known
            for ix in known:
                counts[ix] = counts.get(ix, 0) + 1
        return counts

    def scores(self, text: str) -> np.ndarray:
        if self._analyzers is None:
            self._analyzers = [vec.build_analyzer() for vec in self.vectorizers]
        rows: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for i, (analyzer, vocab, idf, offset) in enumerate(
                zip(self._analyzers, self.vocab, self.idf, self.offsets, strict=True)):
            counts = self._counts(i, analyzer, vocab, text)
            if not counts:
                continue
            ix = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            weights = (1.0 + np.log(tf)) * idf[ix]  # sublinear tf × idf, then l2 per vectorizer
            weights /= np.sqrt(np.dot(weights, weights))
            rows.append(ix + offset)
            vals.append(weights)
        if not rows:
            return self.intercept.copy()
        idx = np.concatenate(rows)
        return np.concatenate(vals) @ self.coef_t[idx] + self.intercept


@dataclass(frozen=True, slots=True)
class SklearnModel:
    """A trained model: features, classifier, calibration, normaliser, entity rules."""

    info: ModelInfo
    normalizer: Normalizer
    features: FeatureUnion
    classifier: LinearSVC
    temperature: float
    entities: EntityExtractor
    scorer: _FastScorer
    format: int = MODEL_FORMAT

    @classmethod
    def fitted(
        cls,
        info: ModelInfo,
        normalizer: Normalizer,
        features: FeatureUnion,
        classifier: LinearSVC,
        temperature: float,
        entities: EntityExtractor,
    ) -> SklearnModel:
        """The model of fitted ``features`` and ``classifier``, with its fast scorer."""
        return cls(info, normalizer, features, classifier, temperature, entities, _FastScorer(features, classifier))

    @property
    def classes(self) -> tuple[str, ...]:
        return self.scorer.classes(self.classifier)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Calibrated class probabilities, one row per text (columns: :attr:`classes`)."""
        scores = np.vstack([self.scorer.scores(self.normalizer.features(t[:MAX_CLASSIFY_CHARS])) for t in texts])
        return softmax(scores, self.temperature)

    def rank(self, text: str) -> tuple[tuple[str, float], ...]:
        """The :data:`RANKING_SIZE` most probable intents for ``text``, best first."""
        probs = self.probabilities([text])[0]
        order = np.argsort(-probs)[:RANKING_SIZE]
        classes = self.classes
        return tuple((classes[i], round(float(probs[i]), 4)) for i in order)


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------
# Files


class ModelLoadError(NluError):
    """A saved model is missing, unreadable or from another scikit-learn version. Retrain."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


def save_model(model: SklearnModel, directory: Path) -> Path:
    """Write ``model`` into ``directory`` and mark it active, atomically.

    The file is written under a temporary name and renamed, and the ``ACTIVE`` pointer is
    replaced only after that, so a crash leaves the previous model active.
    """
    directory.mkdir(parents=True, exist_ok=True)
    name = f"sklearn-{model.info.version}"
    target = directory / f"{name}{_SUFFIX}"
    n = 2
    while target.exists():
        target = directory / f"{name}-{n}{_SUFFIX}"
        n += 1
    _atomic_write(target, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    _atomic_write(directory / _ACTIVE, target.name.encode())
    _prune(directory, keep=target.name)
    return target


def _atomic_write(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prune(directory: Path, keep: str) -> None:
    models = sorted(p for p in directory.glob(f"sklearn-*{_SUFFIX}"))
    for old in models[:-_KEEP_MODELS]:
        if old.name != keep:
            old.unlink(missing_ok=True)


def active_model_path(directory: Path) -> Path | None:
    """The active model file: the ``ACTIVE`` pointer, else the newest file, else None."""
    pointer = directory / _ACTIVE
    if pointer.is_file():
        candidate = directory / pointer.read_text().strip()
        if candidate.is_file():
            return candidate
    models = sorted(directory.glob(f"sklearn-*{_SUFFIX}")) if directory.is_dir() else []
    return models[-1] if models else None


#: The models this process read last, by file identity. A saved model file is never rewritten
#: (each save takes a new name), so reading the same file again (a roll-back to a version this
#: process served before, every app a test run builds) reuses the object it gave; a model is
#: only read from, so engines can share it. Two: the one serving and the one before it.
_RECENT: OrderedDict[tuple[str, int, int, int], SklearnModel] = OrderedDict()
_RECENT_SIZE = 2
_RECENT_LOCK = threading.Lock()


def load_model(path: Path) -> SklearnModel:
    """Read a model written by :func:`save_model`.

    Raises:
        ModelLoadError: Unreadable, not a Warga model, or written by another scikit-learn.
    """
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
        with _RECENT_LOCK:
            if (known := _RECENT.get(key)) is not None:
                _RECENT.move_to_end(key)
                return known
        with path.open("rb") as fh:
            model = pickle.load(fh)  # noqa: S301 - our own file in our models directory
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise ModelLoadError(f"cannot load sklearn model {path}: {exc}") from exc
    if not isinstance(model, SklearnModel):
        raise ModelLoadError(f"{path} is not a Warga sklearn model")
    if getattr(model, "format", None) != MODEL_FORMAT:
        raise ModelLoadError(
            f"{path} was written by an older Warga (model format {getattr(model, 'format', 1)}): retrain"
        )
    if model.info.sklearn_version.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ModelLoadError(
            f"{path} was written by scikit-learn {model.info.sklearn_version}, this is {sklearn.__version__}: retrain"
        )
    with _RECENT_LOCK:
        _RECENT[key] = model
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    return model


# --------------------------------------------------------------------------------------------
# Engine


class SklearnEngine:
    """The in-process NLU engine.

    Args:
        models_dir: Where models are saved (its own directory, e.g. ``var/models/sklearn``).
        threshold: Below this confidence the intent is None (the dialogue asks to rephrase).
        ticket_prefix: Ticket number prefix.
        model: A model to serve right away (else call :meth:`load` or :meth:`train`).
    """

    name = "sklearn"

    def __init__(
        self,
        models_dir: Path,
        *,
        threshold: float = 0.5,
        ticket_prefix: str = "WRG",
        model: SklearnModel | None = None,
    ) -> None:
        self.models_dir = Path(models_dir)
        self.threshold = threshold
        self.ticket_prefix = ticket_prefix
        self._model = model
        self._train_lock = threading.Lock()

    @property
    def model(self) -> SklearnModel | None:
        return self._model

    @property
    def model_version(self) -> str | None:
        return self._model.info.version if self._model else None

    def ready(self) -> bool:
        return self._model is not None

    def load(self) -> ModelVersion:
        """Load the active model from :attr:`models_dir`.

        Raises:
            ModelLoadError: No model, or it cannot be loaded.
        """
        path = active_model_path(self.models_dir)
        if path is None:
            raise ModelLoadError(f"no sklearn model in {self.models_dir}: run `warga nlu train`")
        model = load_model(path)
        self._model = model
        return model.info.version

    def train(self, data: TrainingData) -> ModelVersion:
        """Validate, train, save and activate a model.

        Raises:
            TrainingDataError: The data has validation errors; the active model is unchanged.
            TrainingError: Writing the model failed; the active model is unchanged.
        """
        from nlu.sklearn_training import fit_model  # late: it builds this module's SklearnModel

        errors = [p for p in validate(data) if p.severity == ERROR]
        if errors:
            raise TrainingDataError(errors)
        with self._train_lock:
            model = fit_model(data, ticket_prefix=self.ticket_prefix)
            try:
                save_model(model, self.models_dir)
            except OSError as exc:
                raise TrainingError(f"cannot save sklearn model in {self.models_dir}: {exc}", retryable=True) from exc
            self._model = model
        log.info(
            "sklearn model %s trained in %.2fs on %d examples",
            model.info.version,
            model.info.train_seconds,
            model.info.examples,
        )
        return model.info.version

    def parse(self, text: str) -> Parse:
        """Understand one message.

        Empty text and text without a letter or digit (emoji, binary junk) give intent None with
        confidence 0 rather than a guess.

        Raises:
            NluError: No model loaded (not retryable until someone trains one).
        """
        model = self._model  # one read: a concurrent train() swaps the reference atomically
        if model is None:
            raise NluError("no sklearn model loaded", retryable=False)
        clean = _clean(text)
        language = detect_language(clean[:MAX_CLASSIFY_CHARS])
        entities = model.entities.extract(clean[:MAX_ENTITY_CHARS])
        tokens = model.normalizer.tokens(clean[:MAX_CLASSIFY_CHARS])
        reading = None
        if tokens and not looks_like_junk(clean[:MAX_CLASSIFY_CHARS]) and not _mostly_unknown(tokens, model):
            # Otherwise nothing to understand (emoji, control characters, decoded binary): no guess.
            reading = read(clean[:MAX_CLASSIFY_CHARS], model.rank, threshold=self.threshold)
        top, confidence = reading.ranking[0] if reading is not None else (None, 0.0)
        return to_parse(text, reading, intent=top if confidence >= self.threshold else None, entities=entities,
                        language=language, engine=self.name, model_version=model.info.version)


def _mostly_unknown(tokens: list[str], model: SklearnModel) -> bool:
    """Several words and almost none known: random letters, not a message (char n-grams would guess)."""
    words = [t for t in tokens if len(t) >= 3 and t.isalpha()]
    if len(words) < 4:
        return False
    vocab = model.scorer.vocab[0]
    known = sum(w in vocab for w in words)
    return known < 0.15 * len(words)


def _clean(text: str) -> str:
    """Blank out NULs and other control characters that binary junk brings.

    One character for one, so entity offsets still point into the original text.
    """
    if not isinstance(text, str):
        raise NluError("text must be a string", retryable=False)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else " " for ch in text)


__all__ = [
    "ModelInfo",
    "ModelLoadError",
    "SklearnEngine",
    "SklearnModel",
    "active_model_path",
    "load_model",
    "save_model",
]
