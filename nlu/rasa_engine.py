"""A client of a Rasa Open Source 3.6.21 server's HTTP API: the ``rasa`` engine.

The server runs in its own virtualenv and process (:mod:`nlu.rasa_server`); Warga never imports
rasa. Endpoints used (https://rasa.com/docs/rasa/3.x/pages/http-api):

- ``GET /status``: readiness; 409 while no model is loaded.
- ``POST /model/parse``: one message.
- ``PUT /model`` ``{"model_file": path}``: load a trained model (13–15 s here, and it blocks
  every other request meanwhile; a bad path → 400 and the old model stays).
- ``POST /model/test/intents``: evaluate YAML test data against the loaded model.

Quirks measured on this machine (../shared/notes/rasa-server.md): the token is only accepted as
the ``?token=`` query parameter (a Bearer header gets 401); empty text gets a confident guess, so
we answer it ourselves; the regex extractor and DIET both report the same ticket number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from nlu.base import Entity, ModelVersion, NluError, Parse, TrainingError
from nlu.entities import TicketExtractor, normalize_ticket_id
from nlu.language import detect_language
from nlu.normalize import looks_like_junk
from nlu.training_data import TrainingData

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
    model_id: str


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.threshold = threshold
        self.timeout = timeout
        self.trainer = trainer
        self._tickets = TicketExtractor(ticket_prefix)
        self._prefix = ticket_prefix
        # Loading a model blocks Rasa for ~15 s, so control calls get their own long timeouts.
        # trust_env=False: Rasa is on loopback; an HTTP(S)_PROXY in the environment must not
        # capture these requests.
        self._client = httpx.Client(
            base_url=self.base_url, params={"token": token}, timeout=timeout, transport=transport, trust_env=False
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
            raise NluError(f"rasa {method} {path}: {type(exc).__name__}: {exc}", retryable=True) from exc

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
        status = RasaStatus(str(body.get("model_file", "")), str(body.get("model_id", "")))
        self._model_version = _version_of(status.model_file)
        return status

    def ready(self) -> bool:
        """Whether the server is up with a model loaded."""
        try:
            self.status()
        except NluError:
            return False
        return True

    @property
    def model_version(self) -> str | None:
        return self._model_version

    def parse(self, text: str) -> Parse:
        """Understand one message through ``POST /model/parse``.

        Raises:
            NluError: Server down, slow (timeout) or failing: retryable, the fallback answers.
        """
        if not isinstance(text, str):
            raise NluError("text must be a string", retryable=False)
        clean = "".join(ch if ch.isprintable() else " " for ch in text)
        language = detect_language(clean[:MAX_TEXT_CHARS])
        tickets = self._tickets.extract(clean)
        if not any(ch.isalnum() for ch in clean) or looks_like_junk(clean[:MAX_TEXT_CHARS]):
            # Rasa answers "" and emoji-only text with a confident guess; nothing to understand.
            return Parse(text, None, 0.0, (), tuple(tickets), language, self.name, self._model_version or "")
        if self._model_version is None:
            self.status()  # learn the model version once (and fail fast when down)
        resp = self._request("POST", "/model/parse", json={"text": clean[:MAX_TEXT_CHARS]})
        self._check(resp, "parse")
        body = _json(resp, "parse")
        ranking = tuple(
            (str(r["name"]), round(float(r["confidence"]), 4))
            for r in body.get("intent_ranking") or []
            if r.get("name") and r["name"] != NLU_FALLBACK
        )
        top = body.get("intent") or {}
        if not ranking and top.get("name") and top["name"] != NLU_FALLBACK:
            ranking = ((str(top["name"]), round(float(top.get("confidence", 0.0)), 4)),)
        best, confidence = ranking[0] if ranking else (None, 0.0)
        intent = best if best is not None and top.get("name") != NLU_FALLBACK and confidence >= self.threshold else None
        entities = self._entities(body.get("entities") or [], clean, tickets)
        return Parse(text, intent, confidence, ranking, entities, language, self.name, self._model_version or "")

    def _entities(self, raw: list[dict[str, Any]], text: str, tickets: list[Entity]) -> tuple[Entity, ...]:
        """Rasa's entities, with ticket numbers canonical and reported once.

        DIET and the RegexEntityExtractor both report a ticket (often with different values:
        DIET's passes the synonym mapper, the regex one is as written), and our own pattern also
        accepts spellings the YAML regex misses; ours are the reference for tickets.
        """
        out: list[Entity] = list(tickets)
        for e in raw:
            try:
                name, start, end = str(e["entity"]), int(e["start"]), int(e["end"])
            except (KeyError, TypeError, ValueError):
                continue
            written = text[start:end]
            if name == "ticket_id":
                value = normalize_ticket_id(written, self._prefix)
                if value is None or any(t.start < end and start < t.end for t in out if t.entity == "ticket_id"):
                    continue  # a partial DIET span, or one we already have
                out.append(Entity(name, value, start, end, written))
            elif not any(o.entity == name and o.start == start and o.end == end for o in out):
                out.append(Entity(name, str(e.get("value", written)), start, end, written))
        return tuple(sorted(out, key=lambda x: (x.start, x.entity)))

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

    def test_intents(self, test_yaml: str, *, timeout: float = 300.0) -> dict[str, Any]:
        """Evaluate YAML test data against the loaded model (``POST /model/test/intents``).

        Returns:
            Rasa's ``intent_evaluation`` object (``report``, ``accuracy``, ``errors``, ...).
        """
        resp = self._request(
            "POST", "/model/test/intents", content=test_yaml.encode(), headers={"Content-Type": "application/x-yaml"}, timeout=timeout
        )
        self._check(resp, "test intents")
        body = _json(resp, "test intents")
        return dict(body.get("intent_evaluation") or {})

    def train(self, data: TrainingData) -> ModelVersion:
        """Train a model in a separate ``rasa train nlu`` process and load it.

        Training inside the server grew it by >2 GB that it never returned (measured), hence
        the separate process. If training or loading fails the previous model stays active.

        Raises:
            TrainingDataError: The data has errors.
            TrainingError: Training or loading failed.
        """
        if self.trainer is None:
            raise TrainingError("this RasaEngine has no trainer configured", retryable=False)
        model_file = self.trainer.train(data)
        try:
            return self.load_model(model_file)
        except TrainingError:
            # Keep the model directory consistent with what is served: a restart must not pick up
            # a model the running server refused.
            self.trainer.discard(model_file)
            raise


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
