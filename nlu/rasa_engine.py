"""A client of a Rasa Open Source 3.6.21 server's HTTP API: the ``rasa`` engine.

The server runs in its own virtualenv and process (:mod:`nlu.rasa_server`); Warga never imports
rasa. Endpoints used (https://rasa.com/docs/rasa/3.x/pages/http-api):

- ``GET /status``: readiness; 409 while no model is loaded.
- ``POST /model/parse``: one message.
- ``PUT /model`` ``{"model_file": path}``: load a trained model (13–15 s here, and it blocks
  every other request meanwhile; a bad path → 400 and the old model stays).
- ``POST /model/test/intents``: evaluate YAML test data against the loaded model.

This module is the client: requests, errors, models, and the rules that make one
:class:`~nlu.base.Parse` of a message. What Rasa is sent and trained on (the text the sklearn
engine classifies, with the way back to the citizen's own characters) is :mod:`nlu.rasa_text`;
how its answer becomes Warga's ranking and entities is :mod:`nlu.rasa_answer`.

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
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from nlu.base import ModelVersion, NluError, Parse, TrainingError
from nlu.entities import TicketExtractor
from nlu.language import detect_language
from nlu.long_messages import Ranking, Reading, read, to_parse
from nlu.normalize import looks_like_junk
from nlu.rasa_answer import (
    KNOWN_INTENTS,
    NLU_FALLBACK,
    Sources,
    entities_on_text,
    in_warga_names,
    ranking_of,
    version_of,
)
from nlu.rasa_text import rasa_text
from nlu.training_data import TrainingData

log = logging.getLogger(__name__)

#: Messages longer than this are cut before they are sent: Rasa's time grows with length and
#: the intent is in the first sentences anyway (the sklearn engine does the same).
MAX_TEXT_CHARS = 1000


@dataclass(frozen=True, slots=True)
class RasaStatus:
    """``GET /status``: the loaded model."""

    model_file: str


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
        self._model_version = version_of(status.model_file)
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
        self._model_version = version_of(name) if name else None
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
        return tuple(i for i in intents if i not in self.intent_map and i not in KNOWN_INTENTS)

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
            return to_parse(text, None, entities=tuple(tickets), language=language, engine=self.name,
                            model_version=self._model_version or "")
        if self._model_version is None:
            self.status()  # learn the model version once (and fail fast when down)
        body = self._parse_body(seen.text)
        sources: Sources = {}
        whole = self._rank(body, sources)
        top = body.get("intent") or {}
        fallback = top.get("name") == NLU_FALLBACK
        head = clean[:MAX_TEXT_CHARS]
        reading = Reading(whole, head, None)
        if self.by_parts:
            try:
                reading = read(head, self._clause_ranker(sources), threshold=self.threshold, whole=whole)
            except _OverBudget:
                log.info("rasa: reading a long message by parts took over %.1fs; read whole", self.parts_budget)
            else:
                # Rasa's fallback verdict was about the whole text; the core is judged afresh.
                fallback = fallback and reading.ranking == whole
        best, confidence = reading.ranking[0] if reading.ranking else (None, 0.0)
        # An intent of the model that nothing maps is not one Warga can act on: not understood.
        known = best in KNOWN_INTENTS or (self.any_intents and best is not None)
        reading = replace(reading, parts=tuple(
            p if p.intent is None or p.intent in KNOWN_INTENTS or self.any_intents else replace(p, intent=None)
            for p in reading.parts))
        entities = entities_on_text(body.get("entities") or [], seen, tickets,
                                    entity_map=self.entity_map, ticket_prefix=self._prefix)
        return to_parse(
            text,
            reading,
            intent=best if known and not fallback and confidence >= self.threshold else None,
            source_intent=best if best is not None and not known else sources.get(best or ""),
            entities=entities,
            language=language,
            engine=self.name,
            model_version=self._model_version or "",
        )

    def _rank(self, body: dict[str, Any], sources: Sources) -> Ranking:
        """Rasa's ranking in Warga's intent names (:func:`nlu.rasa_answer.in_warga_names`)."""
        return in_warga_names(ranking_of(body), self.intent_map, sources)

    def _parse_body(self, sent: str) -> dict[str, Any]:
        resp = self._request("POST", "/model/parse", json={"text": sent})
        self._check(resp, "parse")
        return _json(resp, "parse")

    def _clause_ranker(self, sources: Sources) -> Callable[[str], Ranking]:
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
        return self._model_version or version_of(Path(model_file).name)

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


class _OverBudget(Exception):
    """The clause requests of one message took longer than the engine's budget."""


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
