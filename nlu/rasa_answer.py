"""Rasa's answer in Warga's terms: the ranking and entities of a ``POST /model/parse`` body.

Rasa answers in its model's names and on the text it was sent (:mod:`nlu.rasa_text`). Here
its ranking loses Rasa's ``nlu_fallback`` and an external model's intent names become Warga's
(``nlu.intent_map``; several of its intents mapped to one of Warga's add up), and its entities
are moved back onto the citizen's own text, renamed through ``nlu.entity_map``, with ticket
numbers in canonical form and places that the extractor split joined again. The HTTP client
(:mod:`nlu.rasa_engine`) builds its :class:`~nlu.base.Parse` from these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nlu.base import Entity
from nlu.entities import normalize_ticket_id
from nlu.intents import INTENTS
from nlu.long_messages import Ranking
from nlu.rasa_text import RasaText

#: Rasa's FallbackClassifier puts this on top when confidence is below its threshold.
NLU_FALLBACK = "nlu_fallback"
KNOWN_INTENTS = frozenset(INTENTS)
#: Warga's intent name -> the model's name it was reported under, for one parse (see
#: ``Parse.source_intent``).
Sources = dict[str, str]

_GAP = re.compile(r"[\s.,/]{1,3}")


def ranking_of(body: Mapping[str, Any]) -> Ranking:
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


def in_warga_names(raw: Ranking, intent_map: Mapping[str, str], sources: Sources) -> Ranking:
    """``raw`` with the model's intent names renamed through ``intent_map``.

    Several of the model's intents mapped to one Warga intent add up (shares of one softmax);
    ``sources`` learns which of the model's names each Warga name came from.
    """
    if not intent_map and all(name in KNOWN_INTENTS for name, _ in raw):
        return raw
    merged: dict[str, float] = {}
    for name, confidence in raw:
        ours = intent_map.get(name, name)
        if ours != name:
            sources.setdefault(ours, name)
        merged[ours] = merged.get(ours, 0.0) + confidence
    return tuple(sorted(((n, round(min(c, 1.0), 4)) for n, c in merged.items()), key=lambda x: -x[1]))


def entities_on_text(
    raw: list[dict[str, Any]],
    seen: RasaText,
    tickets: list[Entity],
    *,
    entity_map: Mapping[str, str],
    ticket_prefix: str,
) -> tuple[Entity, ...]:
    """Rasa's entities on the citizen's text, with ticket numbers canonical and reported once.

    Rasa's offsets point into the normalised text it was sent; they are mapped back to the
    characters the citizen wrote (a location's value is the text as written, unless Rasa's
    synonym mapper gave it another value). Ticket numbers: our own pattern (``tickets``) also
    accepts spellings the YAML regex misses, so ours are the reference and Rasa's are dropped
    when they overlap them.
    """
    text = seen.original
    out: list[Entity] = list(tickets)
    for e in raw:
        try:
            name, r_start, r_end = str(e["entity"]), int(e["start"]), int(e["end"])
        except (KeyError, TypeError, ValueError):
            continue
        name = entity_map.get(name, name)
        where = seen.original_span(r_start, r_end)
        if where is None:
            continue  # only words Warga added for the classifier
        start, end = where
        written = text[start:end]
        if name == "ticket_id":
            value = normalize_ticket_id(written, ticket_prefix)
            if value is None or any(t.start < end and start < t.end for t in out if t.entity == "ticket_id"):
                continue  # a partial span, or one we already have
            out.append(Entity(name, value, start, end, written))
        elif not any(o.entity == name and o.start < end and start < o.end for o in out):
            sent = seen.text[r_start:r_end]
            value = str(e.get("value", sent))
            out.append(Entity(name, written if value == sent else value, start, end, written))
    return tuple(_join_split_spans(sorted(out, key=lambda x: (x.start, x.entity)), text))


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


def version_of(model_file: str) -> str:
    """The version a Rasa model file names: its name without the archive suffix and ``rasa-``."""
    name = Path(model_file).name
    for suffix in (".tar.gz", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.removeprefix("rasa-")
