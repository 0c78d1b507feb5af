"""The NLU inbox: citizen messages worth an admin's look, and what the admin decides.

A message is worth a look when the bot was unsure (below the threshold, or a close second
intent), when the fallback engine answered it, when staff filed its complaint under another
category than the intent, or when the citizen asked for a person right after it. Texts are shown
and learned with phone numbers, NIK/KK numbers and e-mail addresses masked.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.store.models import Complaint, Message, NluReview, utcnow
from bot.training.store import TRAIN, Actor, TrainingInputError, TrainingStore

#: How far back the inbox looks (newest first).
SCAN_LIMIT = 2000
#: A second intent this close to the first means the bot nearly chose differently.
CLOSE_MARGIN = 0.1

REASONS = {
    "below_threshold": "di bawah ambang",
    "fallback_engine": "dijawab mesin cadangan",
    "close_second": "intent kedua berdekatan",
    "recategorised": "kategori diubah petugas",
    "then_human": "lalu minta petugas",
}

_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w])\+?\d[\d .-]{7,}\d(?!\d)")


def mask(text: str) -> str:
    """Personal numbers and addresses out: NIK/KK (16 digits), e-mails, phone numbers."""
    text = _NIK.sub("[NIK]", text)
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub("[telepon]", text)


@dataclass(frozen=True, slots=True)
class InboxItem:
    message_id: int
    conversation_id: int | None
    text: str                      # masked
    intent: str | None             # the top intent (even below the threshold)
    confidence: float
    second: tuple[str, float] | None
    engine: str
    reasons: tuple[str, ...]
    received_at: datetime


def _reasons(msg: Message, settings: Settings, recategorised: dict[int, str],
             then_human: set[int]) -> tuple[str, ...]:
    nlu = msg.nlu or {}
    ranking = [r for r in nlu.get("ranking") or [] if isinstance(r, list | tuple) and len(r) == 2]
    out = []
    if nlu.get("intent") is None:
        out.append("below_threshold")
    if settings.nlu.engine == "rasa" and nlu.get("engine") == "sklearn":
        out.append("fallback_engine")
    if len(ranking) >= 2 and float(ranking[0][1]) - float(ranking[1][1]) < CLOSE_MARGIN:
        out.append("close_second")
    top = nlu.get("intent") or (ranking[0][0] if ranking else None)
    if msg.id in recategorised and recategorised[msg.id] != top:
        out.append("recategorised")
    if msg.id in then_human:
        out.append("then_human")
    return tuple(out)


def items(session: Session, settings: Settings, *, reason: str | None = None,
          intent: str | None = None) -> tuple[list[InboxItem], Counter[str], Counter[str]]:
    """Unreviewed messages worth a look (newest first), and counts per reason and per intent."""
    reviewed = set(session.scalars(select(NluReview.message_id)))
    msgs = session.scalars(select(Message).where(
        Message.direction == "in", Message.kind == "message", Message.nlu.is_not(None))
        .order_by(Message.id.desc()).limit(SCAN_LIMIT)).all()
    ids = [m.id for m in msgs]
    intent_of = {c.name: c.intent for c in settings.complaints.categories}
    recategorised = {
        mid: intent_of.get(cat, "")
        for mid, cat in session.execute(select(Complaint.source_message_id, Complaint.category)
                                        .where(Complaint.source_message_id.in_(ids))) if mid is not None
    } if ids else {}
    then_human: set[int] = set()
    previous: dict[int, int] = {}
    for m in reversed(msgs):   # oldest first: remember each conversation's previous message
        if m.conversation_id is None:
            continue
        before = previous.get(m.conversation_id)
        if before is not None and (m.nlu or {}).get("intent") == "request_human":
            then_human.add(before)
        previous[m.conversation_id] = m.id
    out: list[InboxItem] = []
    per_reason: Counter[str] = Counter()
    per_intent: Counter[str] = Counter()
    for m in msgs:
        if m.id in reviewed or not (m.text or "").strip():
            continue
        why = _reasons(m, settings, recategorised, then_human)
        if not why:
            continue
        nlu = m.nlu or {}
        ranking = [r for r in nlu.get("ranking") or [] if isinstance(r, list | tuple) and len(r) == 2]
        top = nlu.get("intent") or (str(ranking[0][0]) if ranking else None)
        per_reason.update(why)
        per_intent[top or "(tidak ada)"] += 1
        if reason and reason not in why:
            continue
        if intent and top != intent:
            continue
        out.append(InboxItem(m.id, m.conversation_id, mask(m.text), top, float(nlu.get("confidence") or 0.0),
                             (str(ranking[1][0]), float(ranking[1][1])) if len(ranking) > 1 else None,
                             str(nlu.get("engine") or ""), why, m.received_at or m.created_at))
    return out, per_reason, per_intent


def context(session: Session, message_id: int, around: int = 3) -> Sequence[Message]:
    """The conversation around a message: a few before, the message, the bot's replies after."""
    msg = session.get(Message, message_id)
    if msg is None or msg.conversation_id is None:
        return [msg] if msg is not None else []
    before = session.scalars(select(Message).where(Message.conversation_id == msg.conversation_id,
                                                   Message.id < msg.id).order_by(Message.id.desc())
                             .limit(around)).all()
    after = session.scalars(select(Message).where(Message.conversation_id == msg.conversation_id,
                                                  Message.id > msg.id).order_by(Message.id)
                            .limit(around)).all()
    return [*reversed(before), msg, *after]


def decide(session: Session, message_id: int, decision: str, actor: Actor, *, intent: str | None = None,
           entities: Sequence[dict[str, Any]] = ()) -> NluReview:
    """Confirm (the predicted intent), correct (another intent) or dismiss a message.

    Confirmed and corrected messages become training examples (masked text, the train split:
    the admin wants this very sentence learned).

    Raises:
        TrainingInputError: Unknown message, already decided, or a bad intent/entity.
    """
    msg = session.get(Message, message_id)
    if msg is None or msg.direction != "in":
        raise TrainingInputError("Pesan tidak ditemukan.")
    if session.scalar(select(NluReview.id).where(NluReview.message_id == message_id)) is not None:
        raise TrainingInputError("Pesan ini sudah diputuskan.")
    if decision not in ("confirmed", "corrected", "dismissed"):
        raise TrainingInputError("Keputusan tidak dikenal.")
    store = TrainingStore(session)
    predicted = (msg.nlu or {}).get("intent") or next(iter((msg.nlu or {}).get("ranking") or []), [None])[0]
    example_id = None
    if decision == "confirmed":
        intent = predicted
    if decision != "dismissed":
        if not intent:
            raise TrainingInputError("Pilih intent yang benar.")
        row = store.add_example(intent, mask(msg.text), actor, entities=entities, origin="inbox",
                                message_id=msg.id, split=TRAIN)
        example_id = row.id
    review = NluReview(message_id=msg.id, decision=decision, intent=intent if decision != "dismissed" else None,
                       example_id=example_id, staff_user_id=actor.staff_user_id)
    session.add(review)
    store.record(actor, f"inbox_{decision}", intent or "", message_id=msg.id, predicted=predicted)
    return review


def traffic(session: Session, since: timedelta = timedelta(days=7), now: datetime | None = None
            ) -> tuple[Counter[str], Counter[str]]:
    """Last week's messages per intent (top intent) and how many of them were misunderstood
    (below the threshold)."""
    start = (now or utcnow()) - since
    seen: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for (nlu,) in session.execute(select(Message.nlu).where(
            Message.direction == "in", Message.nlu.is_not(None), Message.created_at >= start)):
        ranking = (nlu or {}).get("ranking") or []
        top = (nlu or {}).get("intent") or (ranking[0][0] if ranking else None)
        if top is None:
            continue
        seen[top] += 1
        if (nlu or {}).get("intent") is None:
            missed[top] += 1
    return seen, missed
