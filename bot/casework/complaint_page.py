"""What a complaint's page shows, in plain Python (the console renders it; tests read it).

History in plain words, the part of the conversation that belongs to the complaint, button
presses as the citizen saw them, and the citizen's contact masked for staff.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from bot.dialogue.texts import name_of
from bot.store.models import ComplaintEvent, Message

#: Button payloads that start a filing (the menu's "Buat laporan", a clarified report intent).
_FILING_PAYLOADS = re.compile(r"^(lapor|intent:report_[a-z_]+)$")


#: The history sentences per language; {actor}, {old}, {new}, {note} are filled in by describe.
SENTENCES: dict[str, dict[str, str]] = {
    "id": {
        "citizen": "warga",
        "system": "sistem",
        "empty": "(kosong)",
        "created_by_staff": "{actor} membuat laporan dari percakapan",
        "created": "warga mengirim laporan",
        "status": "{actor} mengubah status dari {old} menjadi {new}",
        "edit": "{actor} mengubah {field} dari {old} menjadi {new}",
        "reroute": "{actor} mendisposisikan laporan dari {old} ke {new}",
        "unassign": "{actor} melepas penugasan {old}",
        "take": "{actor} mengambil laporan ini",
        "assign": "{actor} menugaskan laporan ke {new}",
        "follower": "warga lain melaporkan masalah yang sama dan mengikuti laporan ini",
        "note": "{actor} menambah catatan internal",
        "duplicate": "{actor} menandai laporan lain sebagai duplikat dari laporan ini",
        "reply": "{actor} membalas warga",
        "rating": "warga memberi penilaian {note}/5",
    },
    "en": {
        "citizen": "citizen",
        "system": "system",
        "empty": "(empty)",
        "created_by_staff": "{actor} created the complaint from the conversation",
        "created": "the citizen filed the complaint",
        "status": "{actor} changed the status from {old} to {new}",
        "edit": "{actor} changed the {field} from {old} to {new}",
        "reroute": "{actor} rerouted the complaint from {old} to {new}",
        "unassign": "{actor} unassigned {old}",
        "take": "{actor} took this complaint",
        "assign": "{actor} assigned the complaint to {new}",
        "follower": "another citizen reported the same problem and follows this complaint",
        "note": "{actor} added an internal note",
        "duplicate": "{actor} marked another complaint as a duplicate of this one",
        "reply": "{actor} replied to the citizen",
        "rating": "the citizen rated it {note}/5",
    },
}


def who(actor: str, lang: str = "id") -> str:
    """"staff:dina" -> "dina"; the citizen and the system by their names in ``lang``."""
    if actor.startswith("staff:"):
        return actor.removeprefix("staff:")
    words = SENTENCES.get(lang, SENTENCES["id"])
    return words[actor] if actor in ("citizen", "system") else actor


def _value(field: str | None, value: str | None, lang: str) -> str:
    if not value:
        return SENTENCES.get(lang, SENTENCES["id"])["empty"]
    return name_of("category_names", value, lang) if field == "category" else value


def describe(e: ComplaintEvent, lang: str = "id") -> str:
    """One history row in the console's language (Bahasa Indonesia by default), e.g. "dina
    mengubah kategori dari Jalan rusak menjadi Saluran air". The event's note (a reason, a
    message to the citizen) is shown beside it."""
    words = SENTENCES.get(lang, SENTENCES["id"])
    actor = who(e.actor, lang)

    def say(key: str, **values: str | None) -> str:
        return words[key].format(actor=actor, **values)

    status = lambda s: name_of("status_names", s or "", lang)  # noqa: E731
    if e.kind == "created":
        return say("created_by_staff") if e.actor.startswith("staff:") else say("created")
    if e.kind == "status":
        return say("status", old=status(e.from_status), new=status(e.to_status))
    if e.kind == "edit":
        return say("edit", field=name_of("field_names", e.field or "", lang),
                   old=_value(e.field, e.old_value, lang), new=_value(e.field, e.new_value, lang))
    if e.kind == "reroute":
        return say("reroute", old=e.old_value, new=e.new_value)
    if e.kind == "assign":
        if e.new_value is None:
            return say("unassign", old=e.old_value)
        if e.new_value == actor:
            return say("take")
        return say("assign", new=e.new_value)
    if e.kind == "note" and e.actor == "citizen":
        return say("follower")
    if e.kind == "note":
        return say("note")
    if e.kind == "duplicate":
        return say("duplicate")
    if e.kind == "reply":
        return say("reply")
    if e.kind == "rating":
        return say("rating", note=e.note)
    return f"{actor}: {e.kind}"


def _starts_filing(m: Message) -> bool:
    if m.direction != "in":
        return False
    intent = (m.nlu or {}).get("intent") or ""
    return intent.startswith("report_") or bool(m.button_payload and _FILING_PAYLOADS.match(m.button_payload))


def _filing_start(messages: Sequence[Message], after: int, upto: int) -> int:
    """The id of the message that began the filing completed at ``upto``: the first citizen
    message after ``after`` that asked to report something, else the first message after it."""
    window = [m for m in messages if after < m.id <= upto]
    start = next((m.id for m in window if _starts_filing(m)), None)
    return start if start is not None else (window[0].id if window else upto)


def part_of(messages: Sequence[Message], source_id: int | None, sources: Sequence[int]) -> list[Message]:
    """The messages of one complaint: from the start of its filing (after the previous complaint
    of the conversation) through its source message and on until the next filing began.

    ``messages`` are the conversation's, oldest first; ``sources`` the source message ids of
    every complaint of that conversation. Empty when the complaint has no source message.
    """
    if source_id is None or not any(m.id == source_id for m in messages):
        return []
    earlier = [s for s in sources if s < source_id]
    later = [s for s in sources if s > source_id]
    start = _filing_start(messages, max(earlier, default=0), source_id)
    end = _filing_start(messages, source_id, min(later)) if later else None
    return [m for m in messages if m.id >= start and (end is None or m.id < end)]


def button_titles(messages: Sequence[Message]) -> dict[int, str]:
    """For each button press (an inbound message with a payload), the title the citizen saw on
    the button: taken from the latest earlier reply that offered that payload."""
    offered: dict[str, str] = {}
    titles: dict[int, str] = {}
    for m in messages:
        if m.direction == "out":
            for b in m.buttons or []:
                if isinstance(b, dict) and b.get("payload"):
                    offered[str(b["payload"])] = str(b.get("title") or b["payload"])
        elif m.button_payload:
            titles[m.id] = offered.get(m.button_payload, m.button_payload)
    return titles


def mask(address: str) -> str:
    """A contact as staff see it: "+62 812-****-123" for a phone number, "35****65" for an id.

    Supervisors and admins see it whole; staff need to recognise a returning citizen, not to
    copy their number."""
    scheme, _, rest = address.rpartition(":")
    digits = rest.removeprefix("+")
    if rest.startswith("+") and digits.isdigit() and len(digits) >= 9:
        # A phone number reads the same whichever channel it came by.
        return f"+{digits[:2]} {digits[2:5]}-****-{digits[-3:]}"
    prefix = f"{scheme}:" if scheme else ""
    if len(rest) <= 4:
        return prefix + "*" * len(rest)
    return f"{prefix}{rest[:2]}****{rest[-2:]}"


#: The first bytes of the image formats shown inline (anything else is only downloaded).
_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(path: str | Path) -> str | None:
    """The raster image type a stored file really is, from its bytes (never from what the
    provider or the citizen claimed); None for anything else (SVG, HTML, PDF, ...)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    for magic, kind in _IMAGE_MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None
