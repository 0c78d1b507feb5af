"""Transcripts: browse and search every conversation the signed-in person may see."""

from __future__ import annotations

from typing import Any

from flask import abort, g, render_template, request
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from bot.casework.filter_refusal import FilterRefused
from bot.casework.staff_conversations import visible_conversations
from bot.casework.transcripts import conversations_matching, message_clause, parse_filter
from bot.settings.schema import KNOWN_CHANNELS
from bot.store.models import Conversation, Message
from bot.web.console.blueprint import bp
from bot.web.console.common import PAGE, current_runtime, login_required
from bot.web.console.labels import refusal
from nlu.intents import INTENTS


@bp.get("/transcripts")
@login_required
def transcripts() -> Any:
    rt = current_runtime()
    settings = rt.settings
    try:
        f = parse_filter(request.args, KNOWN_CHANNELS)
    except FilterRefused as exc:
        abort(400, refusal(exc))
    threshold, zone = settings.nlu.threshold, settings.timezone
    ids = conversations_matching(f, visible_conversations(g.user), threshold, zone)
    with rt.sessions() as s:
        total = s.scalar(select(func.count()).select_from(ids.subquery())) or 0
        page_ids = ids.order_by(Conversation.updated_at.desc(), Conversation.id.desc()) \
            .offset((f.page - 1) * PAGE).limit(PAGE)
        rows = s.scalars(select(Conversation).where(Conversation.id.in_(page_ids))
                         .options(joinedload(Conversation.address))
                         .order_by(Conversation.updated_at.desc(), Conversation.id.desc())).all()
        # Beside each conversation: its latest citizen message that matches (or simply its
        # latest one), found with one grouped query over the page's conversations.
        shown = [c.id for c in rows]
        latest = (select(func.max(Message.id)).where(Message.conversation_id.in_(shown),
                                                     message_clause(f, threshold, zone))
                  .group_by(Message.conversation_id))
        matches = {m.conversation_id: m for m in s.scalars(select(Message).where(Message.id.in_(latest)))} \
            if shown else {}
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("console/transcripts.html", f=f, rows=rows, matches=matches, total=total,
                           pages=(total + PAGE - 1) // PAGE, args=args, threshold=threshold,
                           channels=KNOWN_CHANNELS, intents=INTENTS)
