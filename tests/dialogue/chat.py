"""Drive the dialogue's step function directly: a scripted citizen, parses built by hand.

No Flask, no database, no threads, no model: ``Chat.say`` builds the :class:`nlu.base.Parse` the
NLU would have returned (intent, confidence, entities, language, ranking) and runs one step.
Replies are read back as the keys of the texts they were rendered from (``"ask_location"``,
``"kb:ask_id_card:more:0"``), so scripts say *which* answer came, in either language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TypedDict

from bot.dialogue.engine import Dialogue
from bot.dialogue.knowledge import KnowledgeBase
from bot.dialogue.policy import DialoguePolicy
from bot.dialogue.state import DialogueState
from bot.dialogue.texts import LANGUAGES, catalogue
from bot.dialogue.types import Incoming, Reply, Turn
from channels.base import CitizenAbilities, Location, Media
from channels.twilio.channel import SMS_ABILITIES
from nlu import long_messages
from nlu.base import Entity, Parse, Part
from tests.dialogue.memory_ports import NOW, MemoryPorts

KB = KnowledgeBase()
PHOTO = Media("tg-file:AgAD1", "image/jpeg")


def parse(text: str, intent: str | None = None, confidence: float | None = None, *, lang: str = "id",
          loc: str | Sequence[str] | None = None, ticket: str | None = None,
          ranking: tuple[tuple[str, float], ...] = (), clauses: Mapping[str, str] | None = None) -> Parse:
    """What an NLU engine would return for ``text``.

    Args:
        loc: A location entity (or several): substrings of ``text``.
        ticket: A ticket_id entity value (normalised, e.g. "WRG-2026-000001").
        clauses: Read ``text`` by its parts as the engines do (nlu/long_messages.py), the NLU
            reading a clause that contains one of these substrings as that intent (sure), and
            any other clause as unsure; the whole message and its core read as ``intent``.
    """
    entities = []
    for one in ([loc] if isinstance(loc, str) else loc or ()):
        start = text.index(one)
        entities.append(Entity("location", one, start, start + len(one), one))
    if ticket is not None:
        entities.append(Entity("ticket_id", ticket, 0, len(text), text))
    conf = confidence if confidence is not None else (0.9 if intent else 0.3)
    whole = ranking or (((intent, conf),) if intent else ())
    secondary: tuple[str, float] | None = None
    parts: tuple[Part, ...] = ()
    if clauses is not None:
        pieces = {c.text for c in long_messages.clauses(text)}

        def classify(piece: str) -> tuple[tuple[str, float], ...]:
            if piece not in pieces:
                return whole     # the whole message, or its core once courtesies are set aside
            for words, label in clauses.items():
                if words in piece:
                    return ((label, 0.95),)
            return (("out_of_scope", 0.3),)

        reading = long_messages.read(text, classify, threshold=0.5, whole=whole)
        whole, secondary, parts = reading.ranking, reading.secondary, reading.parts
    return Parse(text=text, intent=intent, confidence=conf, ranking=whole, entities=tuple(entities),
                 language=lang, engine="rules", model_version="test",
                 secondary_intent=secondary[0] if secondary else None,
                 secondary_confidence=secondary[1] if secondary else 0.0, parts=parts)


@cache
def _patterns(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for key, template in catalogue(lang).items():
        if not isinstance(template, str):
            continue
        parts = re.split(r"\{\w+\}", template)
        out.append((key, re.compile("(?s)" + "(.*?)".join(re.escape(p) for p in parts))))
    # Most literal text first: "status_changed_note" before "status_changed".
    out.sort(key=lambda kp: -len(re.sub(r"\(\.\*\?\)", "", kp[1].pattern)))
    return out


def key_of(text: str) -> str:
    """The key of the reply text (either language) or knowledge part that ``text`` was made from."""
    for lang in LANGUAGES:
        # A list (the status of recent complaints) is known by its header line.
        first = text.split("\n", 1)[0]
        for key, pattern in _patterns(lang):
            if "\n" in text and pattern.fullmatch(first):
                return key
        for key, pattern in _patterns(lang):
            if pattern.fullmatch(text):
                return key
        for key in KB.all_keys(lang):
            article = KB.article(key, lang)
            assert article is not None
            if text == article.summary:
                return f"kb:{key}"
            if text in article.more:
                return f"kb:{key}:more:{article.more.index(text)}"
    return f"?{text}"     # not one of ours (a test's own knowledge base)


def lang_of(text: str) -> str:
    """Which language's reply texts ``text`` was rendered from."""
    for lang in LANGUAGES:
        if any(p.fullmatch(text) or p.fullmatch(text.split("\n", 1)[0]) for _, p in _patterns(lang)):
            return lang
    for lang in LANGUAGES:
        articles = [a for a in (KB.article(k, lang) for k in KB.all_keys(lang)) if a is not None]
        if any(text == a.summary or text in a.more for a in articles):
            return lang
    raise AssertionError(text)


class Said(TypedDict, total=False):
    """One message of a table of cases, as keyword arguments of :meth:`Chat.say`."""

    text: str
    intent: str | None
    confidence: float | None
    lang: str | None
    loc: str | Sequence[str] | None
    ticket: str | None
    ranking: tuple[tuple[str, float], ...]
    clauses: Mapping[str, str] | None
    button: str | None
    location: Location | tuple[float, float] | None
    photo: Media | bool | None
    nlu: bool


@dataclass
class Chat:
    """One citizen's conversation, held in memory between steps."""

    channel: str = "web"
    lang: str = "id"                 # the language the NLU reports for this citizen's words
    name: str | None = None
    ports: MemoryPorts = field(default_factory=MemoryPorts)
    now: datetime = NOW
    policy: DialoguePolicy | None = None

    def __post_init__(self) -> None:
        self.dialogue = Dialogue(self.ports, KB, timezone="Asia/Jakarta", policy=self.policy)
        self.state = DialogueState()
        self.turns: list[Turn] = []
        self.replies: list[Reply] = []

    def say(self, text: str = "", intent: str | None = None, confidence: float | None = None, *,
            lang: str | None = None, loc: str | Sequence[str] | None = None, ticket: str | None = None,
            ranking: tuple[tuple[str, float], ...] = (), clauses: Mapping[str, str] | None = None,
            button: str | None = None,
            location: Location | tuple[float, float] | None = None, photo: Media | bool | None = None,
            nlu: bool = True) -> list[str]:
        """One message; returns the keys of the replies (see :func:`key_of`)."""
        if isinstance(location, tuple):
            location = Location(*location)
        media: tuple[Media, ...] = ()
        if photo is True:
            media = (Media(PHOTO.url, PHOTO.content_type, text or None),)
        elif isinstance(photo, Media):
            media = (photo,)
        # As the pipeline does: the button's payload is what the NLU reads; no text, no parse.
        read = button or text
        p = parse(read, intent, confidence, lang=lang or self.lang, loc=loc, ticket=ticket,
                  ranking=ranking, clauses=clauses) if nlu and read.strip() else None
        incoming = Incoming(text=text, channel=self.channel, received_at=self.now, button=button,
                            location=location, media=media, sender_name=self.name,
                            abilities=SMS_ABILITIES if self.channel == "sms" else CitizenAbilities())
        before = self.state
        turn = self.dialogue.step(self.state, incoming, p)
        assert self.state == before, "step must not change the state it was given"
        # What is stored is what the next step reads.
        assert DialogueState.from_json(turn.state.to_json()) == turn.state
        self.state = turn.state
        self.turns.append(turn)
        self.replies = list(turn.replies)
        for r in turn.replies:
            assert r.text.strip() and not re.search(r"\{\w+\}", r.text), r.text
        return [key_of(r.text) for r in turn.replies]

    # -- what the citizen sees -----------------------------------------------------------------
    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.replies]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def buttons(self) -> list[str]:
        """Payloads of the last reply's buttons."""
        return [b.payload for b in self.replies[-1].buttons] if self.replies else []

    @property
    def titles(self) -> list[str]:
        return [b.title for b in self.replies[-1].buttons] if self.replies else []

    @property
    def handover(self) -> str | None:
        """The reason this last turn handed the conversation over, if it did."""
        return self.turns[-1].handover if self.turns else None

    # -- what happens outside the dialogue ----------------------------------------------------
    def take_over(self, staff: str = "rina") -> None:
        self.state = self.state.taken_by(staff, self.now)

    def release(self) -> None:
        self.state = self.state.release()

    def await_rating(self, ticket: str) -> None:
        self.state = self.state.await_rating(ticket)

    # -- shortcuts -----------------------------------------------------------------------------
    def file(self, text: str = "pohon tumbang menimpa kabel di Jl. Cikini Raya",
             intent: str = "report_tree", loc: str | None = "Jl. Cikini Raya") -> str:
        """File a complaint the short way; return its ticket."""
        self.say(text, intent, loc=loc)
        self.say("lewati") if self.channel != "sms" else None
        assert self.say(button="yes") == ["complaint_filed"], self.texts
        return list(self.ports.complaints)[-1]

