"""The conversation's memory between two messages: one typed, immutable value.

Only the dialogue decides what a conversation remembers. Everything else (staff taking over or
releasing a conversation, a notification asking for a rating) calls a named operation that
returns a new :class:`DialogueState`; nobody outside bot/dialogue/ writes its stored keys.

The value is stored as JSON (``Conversation.state``). :meth:`DialogueState.from_json` reads
every shape stored so far (the untyped dict of the first release included) and never raises:
an unknown key is ignored and an invalid value falls back to its default, so a damaged or
older record costs a conversation at most a question asked again, never a crash. New fields
are added with a default, which keeps older records readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from channels.base import Media


class Question(StrEnum):
    """The question the complaint being filed waits on (the stored values of ``awaiting``)."""

    CATEGORY = "category"
    DESCRIPTION = "description"
    LOCATION = "location"
    PHOTO = "photo"
    CONFIRM = "confirm"
    WHICH_FIELD = "which_field"
    RESUME = "resume"           # continue an old draft, or start afresh?
    DUPLICATE = "duplicate"     # join the complaint already filed nearby, or file a new one?


@dataclass(frozen=True, slots=True)
class Draft:
    """The complaint as told so far.

    Attributes:
        category: The category's name (config.yml ``complaints.categories``), once known.
        description: What happened, in the citizen's words (follow-ups appended by line).
        location_text: A written address, or a shared venue's name.
        latitude: A shared point, with ``longitude``.
        longitude: See ``latitude``.
        media: Photos as the provider described them.
        photo_done: The photo question was answered (a photo, or "lewati").
    """

    category: str | None = None
    description: str = ""
    location_text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    media: tuple[Media, ...] = ()
    photo_done: bool = False

    @property
    def has_location(self) -> bool:
        return bool(self.location_text) or self.latitude is not None


@dataclass(frozen=True, slots=True)
class Filing:
    """A complaint being filed.

    Attributes:
        draft: What is known so far.
        awaiting: The question asked last; None before the first.
        replace_description: The citizen asked to rewrite the description: the next answer
            replaces it instead of being appended.
        touched_at: When the citizen last added to it (None in older records).
        held: The draft was left behind (a handover came in between): it is not resumed
            without asking.
        location_retried: The location was asked again once because the answer did not look
            like a place; the next answer is taken as it is.
        duplicate_of: The ticket of the complaint this one seems to repeat (while asking).
        duplicate_own: That complaint is the citizen's own, or one they already follow.
        duplicate_checked: Duplicates were looked for at this category and place (a changed
            category or location looks again).
        duplicate_retried: The join-or-new question was asked again once; the next answer that
            is neither files a new complaint.
    """

    draft: Draft = field(default_factory=Draft)
    awaiting: Question | None = None
    replace_description: bool = False
    touched_at: datetime | None = None
    held: bool = False
    location_retried: bool = False
    duplicate_of: str | None = None
    duplicate_own: bool = False
    duplicate_checked: bool = False
    duplicate_retried: bool = False


@dataclass(frozen=True, slots=True)
class Handover:
    """The conversation is with a person, not the bot.

    Attributes:
        reason: Why: "requested", "angry", "not_understood", or "staff" (a staff member took
            a conversation nobody handed over).
        since: When it was handed over (None in records older than this field).
        staff: The username of the staff member who took it; None while it waits.
        taken_at: When they took it.
        noticed_at: When the citizen was last told they are waiting for a person.
    """

    reason: str
    since: datetime | None = None
    staff: str | None = None
    taken_at: datetime | None = None
    noticed_at: datetime | None = None

    @property
    def waiting(self) -> bool:
        """Handed over, and nobody has taken it yet."""
        return self.staff is None


@dataclass(frozen=True, slots=True)
class KnowledgeCursor:
    """The knowledge-base article being read: ``part`` is the next "more" part to send."""

    key: str
    part: int = 0


@dataclass(frozen=True, slots=True)
class DialogueState:
    """Everything a conversation remembers between two messages.

    Attributes:
        language: "id" or "en" once known.
        language_chosen: The citizen chose ``language`` (the web chat's ID/EN switch): it is
            kept, not switched by what the next messages seem to be written in.
        filing: The complaint being filed, if any.
        handover: Set while a person handles the conversation (the one source of truth).
        rating_for: The ticket whose satisfaction rating was asked for.
        knowledge: The article whose further parts "more" sends.
        clarifying: The text of a message the bot was unsure about, kept while the citizen
            picks its meaning from buttons.
        fallbacks: Misunderstandings in a row (two hand the conversation over).
    """

    language: str | None = None
    language_chosen: bool = False
    filing: Filing | None = None
    handover: Handover | None = None
    rating_for: str | None = None
    knowledge: KnowledgeCursor | None = None
    clarifying: str | None = None
    fallbacks: int = 0

    # -- named operations ------------------------------------------------------------------
    def hand_over(self, reason: str, at: datetime) -> DialogueState:
        """A person takes over from the bot (the citizen asked, was angry, or was not understood).

        A complaint being filed is kept but held: after the handover the citizen is asked
        whether to continue it instead of being asked its next question out of the blue.
        """
        filing = replace(self.filing, held=True) if self.filing is not None else None
        return replace(self, handover=Handover(reason, since=at, noticed_at=at), fallbacks=0,
                       filing=filing)

    def unanswered(self, now: datetime, timeout: timedelta) -> bool:
        """Handed over, nobody took it, and it has waited ``timeout`` or longer.

        The one rule for returning an unanswered handover to the bot: the dialogue applies it
        when the citizen writes, the sweeper (bot/casework/handovers.py) when they do not.
        """
        h = self.handover
        return h is not None and h.waiting and h.since is not None and now - h.since >= timeout

    def noticed(self, at: datetime) -> DialogueState:
        """The citizen was told (again) that they wait for a person."""
        if self.handover is None:
            return self
        return replace(self, handover=replace(self.handover, noticed_at=at))

    def taken_by(self, staff: str, at: datetime) -> DialogueState:
        """Staff member ``staff`` handles the conversation (handed over or not)."""
        current = self.handover or Handover("staff", since=at)
        return replace(self, handover=replace(current, staff=staff, taken_at=at))

    def release(self) -> DialogueState:
        """Back to the bot, with a fresh count of misunderstandings (a draft stays held)."""
        filing = replace(self.filing, held=True) if self.filing is not None else None
        return replace(self, handover=None, fallbacks=0, filing=filing)

    def await_rating(self, ticket: str) -> DialogueState:
        """The citizen was asked to rate the resolved complaint ``ticket``."""
        return replace(self, rating_for=ticket)

    def rating_done(self) -> DialogueState:
        """The rating question was answered or left behind."""
        return replace(self, rating_for=None)

    # -- storage ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The stored form: only what is set. Keys as in the first release where they existed."""
        out: dict[str, Any] = {}
        if self.language:
            out["language"] = self.language
        if self.language_chosen:
            out["language_chosen"] = True
        if self.filing is not None:
            d = self.filing.draft
            out["flow"] = "complaint"
            out["draft"] = {"category": d.category, "description": d.description,
                            "location_text": d.location_text, "lat": d.latitude, "lon": d.longitude,
                            "media": [{"url": m.url, "content_type": m.content_type, "caption": m.caption}
                                      for m in d.media],
                            "photo_done": d.photo_done}
            if self.filing.awaiting is not None:
                out["awaiting"] = self.filing.awaiting.value
            if self.filing.replace_description:
                out["replace_description"] = True
            if self.filing.touched_at is not None:
                out["touched_at"] = _iso(self.filing.touched_at)
            if self.filing.held:
                out["held"] = True
            if self.filing.location_retried:
                out["location_retried"] = True
            if self.filing.duplicate_of:
                out["duplicate_of"] = self.filing.duplicate_of
            for key in ("duplicate_own", "duplicate_checked", "duplicate_retried"):
                if getattr(self.filing, key):
                    out[key] = True
        if self.handover is not None:
            h = self.handover
            out["handover"] = {"reason": h.reason, "since": _iso(h.since), "staff": h.staff,
                               "taken_at": _iso(h.taken_at), "noticed_at": _iso(h.noticed_at)}
        if self.rating_for:
            out["rating_for"] = self.rating_for
        if self.knowledge is not None:
            out["kb"] = {"key": self.knowledge.key, "part": self.knowledge.part}
        if self.clarifying is not None:
            out["pending_text"] = self.clarifying
        if self.fallbacks:
            out["fallbacks"] = self.fallbacks
        return out

    @classmethod
    def from_json(cls, data: object) -> DialogueState:
        """Read any stored shape; unknown keys are ignored and invalid values become defaults."""
        if not isinstance(data, dict):
            return cls()
        filing = None
        if data.get("flow") == "complaint":
            awaiting = _str(data.get("awaiting"))
            filing = Filing(_draft(data.get("draft")),
                            Question(awaiting) if awaiting is not None and awaiting in Question._value2member_map_
                            else None,
                            data.get("replace_description") is True,
                            touched_at=_when(data.get("touched_at")), held=data.get("held") is True,
                            location_retried=data.get("location_retried") is True,
                            duplicate_of=_str(data.get("duplicate_of")),
                            duplicate_own=data.get("duplicate_own") is True,
                            duplicate_checked=data.get("duplicate_checked") is True,
                            duplicate_retried=data.get("duplicate_retried") is True)
        kb = data.get("kb")
        knowledge = None
        if isinstance(kb, dict) and isinstance(kb.get("key"), str):
            knowledge = KnowledgeCursor(kb["key"], _int(kb.get("part")))
        return cls(language=_str(data.get("language")), language_chosen=data.get("language_chosen") is True,
                   filing=filing, handover=_handover(data.get("handover")),
                   rating_for=_str(data.get("rating_for")), knowledge=knowledge,
                   clarifying=_str(data.get("pending_text")), fallbacks=_int(data.get("fallbacks")))


# -- tolerant readers --------------------------------------------------------------------------

def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _draft(value: object) -> Draft:
    if not isinstance(value, dict):
        return Draft()
    media = tuple(Media(m["url"], _str(m.get("content_type")), _str(m.get("caption")))
                  for m in value.get("media") or () if isinstance(m, dict) and _str(m.get("url")))
    lat, lon = _float(value.get("lat")), _float(value.get("lon"))
    if lat is None or lon is None:
        lat = lon = None    # half a point is no point
    description = value.get("description")
    return Draft(category=_str(value.get("category")),
                 description=description if isinstance(description, str) else "",
                 location_text=_str(value.get("location_text")), latitude=lat, longitude=lon,
                 media=media, photo_done=value.get("photo_done") is True)


def _handover(value: object) -> Handover | None:
    if isinstance(value, str) and value:
        # The first release stored a bare reason, or "staff:<username>" once someone took it.
        if value.startswith("staff:"):
            return Handover("staff", staff=value[6:] or None)
        return Handover(value)
    if isinstance(value, dict) and _str(value.get("reason")):
        return Handover(value["reason"], since=_when(value.get("since")), staff=_str(value.get("staff")),
                        taken_at=_when(value.get("taken_at")), noticed_at=_when(value.get("noticed_at")))
    return None
