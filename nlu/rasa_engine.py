"""A client of a Rasa Open Source 3.6.21 server's HTTP API: the ``rasa`` engine.

The server runs in its own virtualenv and process (:mod:`nlu.rasa_server`); Warga never imports
rasa. Endpoints used (https://rasa.com/docs/rasa/3.x/pages/http-api):

- ``GET /status``: readiness; 409 while no model is loaded.
- ``POST /model/parse``: one message.
- ``PUT /model`` ``{"model_file": path}``: load a trained model (13–15 s here, and it blocks
  every other request meanwhile; a bad path → 400 and the old model stays).
- ``POST /model/test/intents``: evaluate YAML test data against the loaded model.

Rasa is sent, and trained on, the text the sklearn engine classifies (:func:`rasa_text`:
Warga's normalisation plus its English → Indonesian and concept words); each normalised word
remembers where it came from, so entities are reported on the citizen's own text.

A long message is read whole and by its clauses with the same shared logic as the in-process
engine (:func:`nlu.long_messages.read`): each clause is one more ``/model/parse`` call, within a
time budget (past it the whole message's reading is kept, never an error).

The server may also be a city's own (``nlu.rasa_url``), trained on its own intent names: the
engine then renames them through ``intent_map`` (and entities through ``entity_map``) on the
whole message's ranking and on every clause's, so the long-message reading, the secondary
intent and the parts all speak Warga's names. A name that is neither mapped nor one of Warga's
intents stays in the ranking under its own name but is never an intent (not understood, like
an answer below the threshold); :attr:`nlu.base.Parse.source_intent` keeps the model's name.

Quirks measured on this machine (../shared/notes/rasa-server.md): the token is only accepted as
the ``?token=`` query parameter (a Bearer header gets 401); empty text gets a confident guess, so
we answer it ourselves; ticket numbers are found by our own pattern (Rasa's are de-duplicated).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from nlu.base import Entity, ModelVersion, NluError, Parse, Part, TrainingError
from nlu.entities import TicketExtractor, normalize_ticket_id
from nlu.intents import INTENTS
from nlu.language import detect_language
from nlu.long_messages import Ranking, read
from nlu.normalize import _REDUP, _STRETCH, _TOKEN, Normalizer, fold, looks_like_junk
from nlu.training_data import EntitySpan, Example, TrainingData

log = logging.getLogger(__name__)

#: Rasa's FallbackClassifier puts this on top when confidence is below its threshold.
NLU_FALLBACK = "nlu_fallback"
#: Messages longer than this are cut before they are sent: Rasa's time grows with length and
#: the intent is in the first sentences anyway (the sklearn engine does the same).
MAX_TEXT_CHARS = 1000


@dataclass(frozen=True, slots=True)
class RasaStatus:
    """``GET /status``: the loaded model."""

    model_file: str


_WARGA_INTENTS = frozenset(INTENTS)
#: Their intent name -> the Warga name it was reported as, for one parse (see ``source_intent``).
_Sources = dict[str, str]


class RasaEngine:
    """Parses through a running Rasa server.

    Args:
        base_url: ``http://127.0.0.1:5005``.
        token: The server's ``-t`` token.
        threshold: Below this confidence the intent is None (like ``nlu_fallback``).
        timeout: Seconds for one parse before giving up (the fallback engine then answers).
        ticket_prefix: Ticket number prefix; Rasa's ticket entities are rewritten in canonical form.
        trainer: Trains models for :meth:`train` (a :class:`nlu.rasa_server.RasaTrainer`).
        transport: An httpx transport (tests may pass one; default: real HTTP).
        by_parts: Read long messages by their clauses (:mod:`nlu.long_messages`); False reads
            every message whole (the comparison in docs/BENCHMARKS.md).
        parts_budget: Seconds all the clause requests of one message may take together
            (default: ``timeout``); past it the whole message's reading is kept.
        intent_map: The model's intent names -> Warga's (an external server's model).
        entity_map: The model's entity names -> Warga's.
        trust_env: Honour HTTP(S)_PROXY (an external server may be behind one; Warga's own
            is on loopback and must not be).
    """

    name = "rasa"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        threshold: float = 0.5,
        timeout: float = 2.0,
        ticket_prefix: str = "WRG",
        trainer: Any = None,
        transport: httpx.BaseTransport | None = None,
        by_parts: bool = True,
        parts_budget: float | None = None,
        intent_map: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        entity_map: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        trust_env: bool = False,
        any_intents: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Evaluation on foreign data (xSID, `warga nlu evaluate --train A --test B`) trains a model
        # on intents Warga has never heard of: there they are the answers, not "not understood".
        self.any_intents = any_intents
        self.threshold = threshold
        self.timeout = timeout
        self.by_parts = by_parts
        self.parts_budget = timeout if parts_budget is None else parts_budget
        self.trainer = trainer
        self._tickets = TicketExtractor(ticket_prefix)
        self._prefix = ticket_prefix
        self._token = token
        self.intent_map: dict[str, str] = dict(intent_map)
        self.entity_map: dict[str, str] = dict(entity_map)
        # Loading a model blocks Rasa for ~15 s, so control calls get their own long timeouts.
        # trust_env=False for Warga's own server: it is on loopback and an HTTP(S)_PROXY in the
        # environment must not capture these requests. The token goes only as ?token= (Rasa
        # refuses a Bearer header); a server started without one gets none.
        self._client = httpx.Client(
            base_url=self.base_url,
            params={"token": token} if token else None,
            timeout=timeout,
            transport=transport,
            trust_env=trust_env,
        )
        self._model_version: str | None = None

    def close(self) -> None:
        self._client.close()

    # -- requests ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, timeout=timeout or self.timeout, **kwargs)
        except httpx.TimeoutException as exc:
            raise NluError(f"rasa {method} {path}: timed out after {timeout or self.timeout}s", retryable=True) from exc
        except httpx.TransportError as exc:
            # The error may quote the URL, whose query holds the token: never pass it on.
            reason = str(exc).replace(self._token, "***") if self._token else str(exc)
            raise NluError(f"rasa {method} {path}: {type(exc).__name__}: {reason}", retryable=True) from exc

    @staticmethod
    def _check(resp: httpx.Response, what: str) -> None:
        if resp.status_code == 401 or resp.status_code == 403:
            raise NluError(f"rasa {what}: token rejected (HTTP {resp.status_code})", retryable=False)
        if resp.status_code == 409:
            raise NluError(f"rasa {what}: no model loaded", retryable=True)
        if resp.status_code >= 400:
            raise NluError(f"rasa {what}: HTTP {resp.status_code}: {_reason(resp)}", retryable=resp.status_code >= 500)

    def status(self) -> RasaStatus:
        """The loaded model.

        Raises:
            NluError: Server down (retryable), no model (retryable), bad token (not retryable).
        """
        resp = self._request("GET", "/status")
        self._check(resp, "status")
        body = _json(resp, "status")
        status = RasaStatus(str(body.get("model_file", "")))
        self._model_version = _version_of(status.model_file)
        return status

    def loaded_model(self) -> str | None:
        """The file name of the model the server serves now, or None when it has none (409).

        Rasa reports the base name of the file it loaded (``rasa.core.processor``), so a caller
        compares it with the base name of the file it wants served.

        Raises:
            NluError: Server down or slow (retryable), token refused (not retryable).
        """
        resp = self._request("GET", "/status")
        if resp.status_code == 409:
            return None
        self._check(resp, "status")
        name = Path(str(_json(resp, "status").get("model_file", ""))).name
        # Answers from now on come from this model: label them so (another process may have
        # loaded it since this client last asked).
        self._model_version = _version_of(name) if name else None
        return name or None

    def ready(self) -> bool:
        """Whether the server is up with a model loaded."""
        return self.problem() is None

    def problem(self) -> str | None:
        """Why the server cannot answer now (down, no model, token refused), or None."""
        try:
            self.status()
        except NluError as exc:
            return str(exc)
        return None

    def model_intents(self) -> tuple[str, ...]:
        """The intents of the loaded model, from its domain (``GET /domain``).

        A model trained with ``rasa train nlu`` alone may carry an empty domain: then this is
        empty, and unmapped intents only show in :attr:`Parse.source_intent` as they come.

        Raises:
            NluError: Server down, no model, token refused.
        """
        resp = self._request("GET", "/domain", headers={"Accept": "application/json"})
        self._check(resp, "domain")
        names: list[str] = []
        for item in _json(resp, "domain").get("intents") or []:
            # Each entry is a name, or {name: {use_entities: ...}}.
            names.extend([item] if isinstance(item, str) else [str(k) for k in item] if isinstance(item, dict) else [])
        return tuple(dict.fromkeys(n for n in names if n != NLU_FALLBACK))

    def unmapped(self, intents: Iterable[str]) -> tuple[str, ...]:
        """The model's intents this engine reports as not understood (neither mapped nor Warga's)."""
        return tuple(i for i in intents if i not in self.intent_map and i not in _WARGA_INTENTS)

    @property
    def model_version(self) -> str | None:
        return self._model_version

    def parse(self, text: str) -> Parse:
        """Understand one message through ``POST /model/parse``.

        Rasa is sent the normalised text (:func:`rasa_text`); entities come back with offsets
        and text of the message as the citizen wrote it.

        Raises:
            NluError: Server down, slow (timeout) or failing: retryable, the fallback answers.
        """
        if not isinstance(text, str):
            raise NluError("text must be a string", retryable=False)
        clean = "".join(ch if ch.isprintable() else " " for ch in text)
        language = detect_language(clean[:MAX_TEXT_CHARS])
        tickets = self._tickets.extract(clean)
        seen = rasa_text(clean[:MAX_TEXT_CHARS])
        if not any(t[2] >= 0 for t in seen.tokens) or looks_like_junk(clean[:MAX_TEXT_CHARS]):
            # Nothing to understand ("", emoji, another script, binary junk): Rasa would answer
            # with a confident guess.
            return Parse(text, None, 0.0, (), tuple(tickets), language, self.name, self._model_version or "")
        if self._model_version is None:
            self.status()  # learn the model version once (and fail fast when down)
        body = self._parse_body(seen.text)
        sources: _Sources = {}
        whole = self._rank(body, sources)
        top = body.get("intent") or {}
        fallback = top.get("name") == NLU_FALLBACK
        head = clean[:MAX_TEXT_CHARS]
        ranking = whole
        secondary: tuple[str, float] | None = None
        parts: tuple[Part, ...] = ()
        if self.by_parts:
            try:
                reading = read(head, self._clause_ranker(sources), threshold=self.threshold, whole=whole)
            except _OverBudget:
                log.info("rasa: reading a long message by parts took over %.1fs; read whole", self.parts_budget)
            else:
                ranking, secondary, parts = reading.ranking, reading.secondary, reading.parts
                # Rasa's fallback verdict was about the whole text; the core is judged afresh.
                fallback = fallback and ranking == whole
        best, confidence = ranking[0] if ranking else (None, 0.0)
        # An intent of the model that nothing maps is not one Warga can act on: not understood.
        known = best in _WARGA_INTENTS or (self.any_intents and best is not None)
        intent = best if known and not fallback and confidence >= self.threshold else None
        source = best if best is not None and not known else sources.get(best or "")
        parts = tuple(p if p.intent is None or p.intent in _WARGA_INTENTS or self.any_intents
                      else replace(p, intent=None) for p in parts)
        entities = self._entities(body.get("entities") or [], seen, tickets)
        return Parse(
            text,
            intent,
            confidence,
            ranking,
            entities,
            language,
            self.name,
            self._model_version or "",
            secondary_intent=secondary[0] if secondary else None,
            secondary_confidence=secondary[1] if secondary else 0.0,
            parts=parts,
            source_intent=source,
        )

    def _rank(self, body: dict[str, Any], sources: _Sources) -> Ranking:
        """Rasa's ranking in Warga's intent names (see the module's docstring).

        Several of the model's intents mapped to one Warga intent add up (shares of one
        softmax); ``sources`` learns which of the model's names each Warga name came from.
        """
        raw = _ranking(body)
        if not self.intent_map and all(name in _WARGA_INTENTS for name, _ in raw):
            return raw
        merged: dict[str, float] = {}
        for name, confidence in raw:
            ours = self.intent_map.get(name, name)
            if ours != name:
                sources.setdefault(ours, name)
            merged[ours] = merged.get(ours, 0.0) + confidence
        return tuple(sorted(((n, round(min(c, 1.0), 4)) for n, c in merged.items()), key=lambda x: -x[1]))

    def _parse_body(self, sent: str) -> dict[str, Any]:
        resp = self._request("POST", "/model/parse", json={"text": sent})
        self._check(resp, "parse")
        return _json(resp, "parse")

    def _clause_ranker(self, sources: _Sources) -> Callable[[str], Ranking]:
        """A ``classify`` for :func:`nlu.long_messages.read`: one ``/model/parse`` per clause,
        all of them within :attr:`parts_budget` seconds of the first."""
        deadline = time.monotonic() + self.parts_budget

        def classify(text: str) -> Ranking:
            if time.monotonic() > deadline:
                raise _OverBudget
            seen = rasa_text(text)
            if not any(t[2] >= 0 for t in seen.tokens):
                return ()
            return self._rank(self._parse_body(seen.text), sources)

        return classify

    def _entities(self, raw: list[dict[str, Any]], seen: RasaText, tickets: list[Entity]) -> tuple[Entity, ...]:
        """Rasa's entities on the citizen's text, with ticket numbers canonical and reported once.

        Rasa's offsets point into the normalised text it was sent; they are mapped back to the
        characters the citizen wrote (a location's value is the text as written, unless Rasa's
        synonym mapper gave it another value). Ticket numbers: our own pattern also accepts
        spellings the YAML regex misses, so ours are the reference and Rasa's are dropped
        when they overlap them.
        """
        text = seen.original
        out: list[Entity] = list(tickets)
        for e in raw:
            try:
                name, r_start, r_end = str(e["entity"]), int(e["start"]), int(e["end"])
            except (KeyError, TypeError, ValueError):
                continue
            name = self.entity_map.get(name, name)
            where = seen.original_span(r_start, r_end)
            if where is None:
                continue  # only words Warga added for the classifier
            start, end = where
            written = text[start:end]
            if name == "ticket_id":
                value = normalize_ticket_id(written, self._prefix)
                if value is None or any(t.start < end and start < t.end for t in out if t.entity == "ticket_id"):
                    continue  # a partial span, or one we already have
                out.append(Entity(name, value, start, end, written))
            elif not any(o.entity == name and o.start < end and start < o.end for o in out):
                sent = seen.text[r_start:r_end]
                value = str(e.get("value", sent))
                out.append(Entity(name, written if value == sent else value, start, end, written))
        return tuple(_join_split_spans(sorted(out, key=lambda x: (x.start, x.entity)), text))

    # -- models -----------------------------------------------------------------------------

    def load_model(self, model_file: Path, *, timeout: float = 120.0) -> ModelVersion:
        """Make the server serve ``model_file`` (``PUT /model``).

        Raises:
            TrainingError: The server refused it (the old model stays) or is unreachable.
        """
        try:
            resp = self._request("PUT", "/model", json={"model_file": str(Path(model_file).resolve())}, timeout=timeout)
            self._check(resp, "load model")
        except NluError as exc:
            raise TrainingError(f"rasa could not load {model_file}: {exc}", retryable=exc.retryable) from exc
        self._model_version = None
        self.status()
        return self._model_version or _version_of(Path(model_file).name)

    def train(self, data: TrainingData) -> ModelVersion:
        """Train a model in a separate ``rasa train nlu`` process and load it.

        Training inside the server grew it by >2 GB that it never returned (measured), hence
        the separate process. If training or loading fails the previous model stays active.

        Raises:
            TrainingDataError: The data has errors.
            TrainingError: Training or loading failed.
        """
        if self.trainer is None:
            raise TrainingError(
                f"the Rasa server at {self.base_url} is not trained by Warga (an external server: "
                "train its model where it is run)",
                retryable=False,
            )
        model_file = self.trainer.train(data)
        try:
            return self.load_model(model_file)
        except TrainingError:
            # Keep the model directory consistent with what is served: a restart must not pick up
            # a model the running server refused.
            self.trainer.discard(model_file)
            raise


# --------------------------------------------------------------------------------------------
# What Rasa sees


#: Rasa learns from and is sent the text the sklearn engine classifies: Warga's normalised
#: tokens (slang, abbreviations, stretched letters, nlu/normalize.py) followed by the
#: English → Indonesian words and concept tokens of nlu/lexicon.py. Measured on Warga's data
#: (docs/BENCHMARKS.md): 5-fold CV accuracy 0.880 with this text against 0.766 with the raw
#: text (same pipeline). Built from the code's own tables only, not from the training data's
#: synonyms (those changed nothing, measured), so the text of a message never depends on which
#: data a model was trained on. Changing those tables calls for retraining the Rasa model.
RASA_NORMALIZER = Normalizer.from_synonyms(())

_NO_SPAN = (-1, -1)
_Chars = list[tuple[str, int, int]]  # (character, start, end in the original text)


@dataclass(frozen=True, slots=True)
class RasaText:
    """A message as Rasa sees it, with the way back to the original.

    Attributes:
        original: The citizen's text.
        text: What is sent to Rasa: normalised tokens, then the added feature words.
        tokens: One (start, end in ``text``, start, end in ``original``) per token of ``text``;
            the added words have no origin (-1, -1).
    """

    original: str
    text: str
    tokens: tuple[tuple[int, int, int, int], ...]

    def original_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The original text covered by ``text[start:end]`` (None: only added words)."""
        hits = [t for t in self.tokens if t[0] < end and start < t[1] and t[2] >= 0]
        if not hits:
            return None
        return min(t[2] for t in hits), max(t[3] for t in hits)

    def rasa_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The part of ``text`` that ``original[start:end]`` became (None: nothing)."""
        hits = [t for t in self.tokens if t[2] >= 0 and t[2] < end and start < t[3]]
        if not hits:
            return None
        return min(t[0] for t in hits), max(t[1] for t in hits)


def rasa_text(text: str, normalizer: Normalizer = RASA_NORMALIZER) -> RasaText:
    """Normalise ``text`` the way :meth:`Normalizer.features` does, keeping offsets.

    The tokens are the same as ``normalizer.tokens(text)`` and the whole text, lower-cased, the
    same as ``normalizer.features(text)`` (tests check this on all training and held-out data);
    words that normalisation did not change keep their capitals. Each
    token remembers which characters of ``text`` it came from, so entities Rasa finds in the
    normalised text are reported as the citizen wrote them.
    """
    words = _aligned_tokens(text, normalizer)
    toks = [w for w, _, _ in words]
    extra = normalizer.extras(toks)
    parts: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    pos = 0
    for word, o_start, o_end in [*words, *((w, *_NO_SPAN) for e in extra for w in e.split())]:
        if o_start >= 0 and text[o_start:o_end].lower() == word:
            # A word normalisation left alone keeps its capitals: Rasa's entity extractor
            # reads them (place names are often capitalised); its classifier lower-cases.
            word = text[o_start:o_end]
        if parts:
            pos += 1
        parts.append(word)
        spans.append((pos, pos + len(word), o_start, o_end))
        pos += len(word)
    return RasaText(text, " ".join(parts), tuple(spans))


def _aligned_tokens(text: str, normalizer: Normalizer) -> list[tuple[str, int, int]]:
    """``normalizer.tokens(text)`` with each token's (start, end) in ``text``."""
    chars = _folded_chars(text)
    chars = _resub(chars, _STRETCH, r"\1")
    chars = _resub(chars, _REDUP, r"\1 \1")
    folded = "".join(c for c, _, _ in chars)
    toks = [(m.group(), chars[m.start()][1], chars[m.end() - 1][2]) for m in _TOKEN.finditer(folded)]
    if normalizer.phrases and len(toks) > 1:
        toks = _replace_phrases(toks, normalizer.phrases)
    out: list[tuple[str, int, int]] = []
    for tok, start, end in toks:
        out.extend((w, start, end) for w in normalizer.table.get(tok, tok).split())
    return out


def _folded_chars(text: str) -> _Chars:
    """:func:`fold` character by character, each folded character pointing at its source."""
    chars = [(c, i, i + 1) for i, ch in enumerate(text) for c in fold(ch)]
    if "".join(c for c, _, _ in chars) == fold(text):
        return chars
    # NFKC composed across characters (a letter and a combining accent): word granularity.
    chars = []
    for m in re.finditer(r"\S+|\s+", text):
        chars.extend((c, m.start(), m.end()) for c in fold(m.group()))
    if "".join(c for c, _, _ in chars) == fold(text):
        return chars
    return [(c, *_NO_SPAN) for c in fold(text)]


def _resub(chars: _Chars, pattern: re.Pattern[str], template: str) -> _Chars:
    """``pattern.sub(template, ...)`` on aligned characters; a replacement spans its match."""
    text = "".join(c for c, _, _ in chars)
    out: _Chars = []
    pos = 0
    for m in pattern.finditer(text):
        out.extend(chars[pos : m.start()])
        start, end = chars[m.start()][1], chars[m.end() - 1][2]
        out.extend((c, start, end) for c in m.expand(template))
        pos = m.end()
    out.extend(chars[pos:])
    return out


def _replace_phrases(
    toks: list[tuple[str, int, int]], phrases: tuple[tuple[str, str], ...]
) -> list[tuple[str, int, int]]:
    """The phrase step of :meth:`Normalizer.tokens` (``str.replace`` on " a b c ") on aligned tokens."""
    chars: _Chars = [(" ", *_NO_SPAN)]
    for tok, start, end in toks:
        chars.extend((c, start, end) for c in tok)
        chars.append((" ", *_NO_SPAN))
    for phrase, target in phrases:
        needle = f" {phrase} "
        joined = "".join(c for c, _, _ in chars)
        if needle not in joined:
            continue
        out: _Chars = []
        pos = 0
        while (hit := joined.find(needle, pos)) >= 0:
            out.extend(chars[pos:hit])
            inner = [(s, e) for _, s, e in chars[hit + 1 : hit + len(needle) - 1] if s >= 0]
            start = min((s for s, _ in inner), default=-1)
            end = max((e for _, e in inner), default=-1)
            out.append((" ", *_NO_SPAN))
            out.extend((c, start, end) for c in target)
            out.append((" ", *_NO_SPAN))
            pos = hit + len(needle)
        out.extend(chars[pos:])
        chars = out
    result: list[tuple[str, int, int]] = []
    word: _Chars = []
    for c in [*chars, (" ", *_NO_SPAN)]:
        if c[0] == " ":
            if word:
                starts = [s for _, s, _ in word if s >= 0]
                ends = [e for _, _, e in word if e >= 0]
                result.append(("".join(ch for ch, _, _ in word), min(starts, default=-1), max(ends, default=-1)))
            word = []
        else:
            word.append(c)
    return result


def rasa_training_data(data: TrainingData, normalizer: Normalizer = RASA_NORMALIZER) -> TrainingData:
    """``data`` with every example as Rasa sees it (:func:`rasa_text`), annotations moved along.

    An annotated entity covers the normalised tokens that came from its characters; its value
    is the normalised text unless the annotation gave another value explicitly.
    """
    examples = []
    for ex in data.examples:
        rt = rasa_text(ex.text, normalizer)
        spans = []
        for span in ex.entities:
            where = rt.rasa_span(span.start, span.end)
            if where is None:
                continue
            written = rt.text[where[0] : where[1]]
            value = written if span.value == span.text else span.value
            spans.append(EntitySpan(span.entity, where[0], where[1], written, value, span.role))
        examples.append(Example(ex.intent, rt.text, tuple(spans), ex.source))
    return data.with_examples(examples)


_GAP = re.compile(r"[\s.,/]{1,3}")


def _join_split_spans(entities: list[Entity], text: str) -> list[Entity]:
    """Join pieces of one place that Rasa's extractor reports separately.

    A place split by the extractor ("jl" and "pramuka raya": DIET did this on this machine, and
    a CRF can) becomes one span as written when only spaces, dots, commas or slashes separate
    the pieces in the citizen's text.
    """
    out: list[Entity] = []
    for e in entities:
        prev = out[-1] if out else None
        if (
            prev is not None
            and e.entity == prev.entity == "location"
            and e.start >= prev.end
            and _GAP.fullmatch(text[prev.end : e.start])
        ):
            joined = text[prev.start : e.end]
            out[-1] = Entity("location", joined, prev.start, e.end, joined)
        else:
            out.append(e)
    return out


class _OverBudget(Exception):
    """The clause requests of one message took longer than the engine's budget."""


def _ranking(body: dict[str, Any]) -> Ranking:
    """Rasa's intent ranking without ``nlu_fallback`` (best first), or its top intent alone."""
    ranking = tuple(
        (str(r["name"]), round(float(r["confidence"]), 4))
        for r in body.get("intent_ranking") or []
        if r.get("name") and r["name"] != NLU_FALLBACK
    )
    top = body.get("intent") or {}
    if not ranking and top.get("name") and top["name"] != NLU_FALLBACK:
        ranking = ((str(top["name"]), round(float(top.get("confidence", 0.0)), 4)),)
    return ranking


def _version_of(model_file: str) -> str:
    name = Path(model_file).name
    for suffix in (".tar.gz", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.removeprefix("rasa-")


def _json(resp: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError as exc:
        raise NluError(f"rasa {what}: response is not JSON", retryable=True) from exc
    if not isinstance(body, dict):
        raise NluError(f"rasa {what}: unexpected response", retryable=True)
    return body


def _reason(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("message") or body.get("reason") or body)[:200]
    except ValueError:
        return resp.text[:200]
