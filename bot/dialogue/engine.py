"""The dialogue: turns one citizen message (and what the NLU understood of it) into replies.

It is a pure state machine over ``Conversation.state``; everything that touches the database
goes through :class:`~bot.dialogue.types.DialoguePorts`, so the same dialogue runs on every
channel and in ``warga chat``.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.dialogue.texts import name_of, render
from bot.dialogue.types import ComplaintDraft, ComplaintView, DialoguePorts, Incoming, Reply, Turn
from channels.base import Button
from nlu.base import Parse

# Commands and button payloads that mean the same in every language; checked before the NLU
# so a pressed button never depends on a model.
KEYWORDS: dict[str, str] = {
    "/start": "greet", "start": "greet", "mulai": "greet", "halo": "greet", "hai": "greet",
    "hi": "greet", "hello": "greet",
    "menu": "help", "/menu": "help", "/help": "help", "help": "help", "bantuan": "help",
    "lapor": "report_start", "/lapor": "report_start", "report": "report_start",
    "status": "check_status", "/status": "check_status", "cek status": "check_status",
    "batal": "cancel", "/batal": "cancel", "cancel": "cancel", "/cancel": "cancel",
    "info": "info", "informasi": "info",
}
TICKET_RE = re.compile(r"\b([A-Za-z]{2,6})[\s.\-_]?(\d{4})[\s.\-_]?(\d{6})\b")
SMALL_TALK = {"thank": "thanks_reply", "goodbye": "goodbye", "bot_challenge": "bot_challenge"}


def find_ticket(text: str, parse: Parse | None) -> str | None:
    if parse is not None and parse.entity("ticket_id"):
        return str(parse.entity("ticket_id")).upper()
    m = TICKET_RE.search(text)
    return f"{m.group(1).upper()}-{m.group(2)}-{m.group(3)}" if m else None


class Dialogue:
    """The conversation rules.

    Args:
        ports: Database-backed operations for this conversation's citizen.
        timezone: Where due times are shown (the city's zone).
        ticket_example: A ticket number shown as an example.
    """

    def __init__(self, ports: DialoguePorts, timezone: tzinfo | str = "Asia/Jakarta",
                 ticket_example: str = "WRG-2026-000123") -> None:
        self.ports = ports
        self.tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self.ticket_example = ticket_example

    # -- helpers -------------------------------------------------------------------------
    def _when(self, at: datetime | None) -> str:
        if at is None:
            return "-"
        local = at.astimezone(self.tz)
        return local.strftime("%d-%m-%Y %H:%M ") + (local.tzname() or "")

    def _menu(self, lang: str) -> Reply:
        return Reply(render("menu", lang), (
            Button(render("button_report", lang), "lapor"),
            Button(render("button_status", lang), "status"),
            Button(render("button_info", lang), "info"),
        ))

    def _status_line(self, view: ComplaintView, lang: str) -> str:
        return render("status_one", lang, ticket=view.ticket,
                      category=name_of("category_names", view.category, lang),
                      status=name_of("status_names", view.status, lang),
                      updated=self._when(view.updated_at))

    def _file(self, category: str, incoming: Incoming, description: str, lang: str) -> Reply:
        loc = incoming.location
        view = self.ports.file_complaint(ComplaintDraft(
            category=category, description=description, language=lang,
            location_text=loc.address if loc else None,
            latitude=loc.lat if loc else None, longitude=loc.lon if loc else None,
            media=incoming.media))
        return Reply(render("complaint_filed", lang, ticket=view.ticket,
                            category=name_of("category_names", view.category, lang),
                            agency=view.agency, due=self._when(view.due_at)))

    # -- the step ------------------------------------------------------------------------
    def step(self, state: dict[str, Any], incoming: Incoming, parse: Parse | None) -> Turn:
        """Handle one message.

        Args:
            state: The conversation's memory from the previous turn (not modified).
            incoming: The message.
            parse: What the NLU understood (None when the text was empty).
        """
        state = dict(state)
        lang = state.get("language") or (parse.language if parse else "id")
        # Switch language only on a clear signal: a message of several words in the other one.
        if parse is not None and parse.language != lang and len(incoming.text.split()) >= 3:
            lang = parse.language
        state["language"] = lang
        text = (incoming.button or incoming.text).strip()
        intent = KEYWORDS.get(text.lower()) or (parse.intent if parse else None)
        if intent is None and find_ticket(text, parse):
            intent = "check_status"   # a bare ticket number is a status question
        flow = state.get("flow")

        def turn(*replies: Reply) -> Turn:
            return Turn(tuple(replies), state, lang)

        if not text and not incoming.location and not incoming.media:
            return turn(Reply(render("empty_message", lang)))
        # Safety first: an emergency is answered at once, even in the middle of a complaint.
        if intent == "ask_emergency":
            return turn(Reply(render("emergency", lang)))
        if intent == "cancel":
            if flow:
                state.pop("flow", None)
                return turn(Reply(render("cancelled", lang)))
            return turn(Reply(render("nothing_to_cancel", lang)))
        if flow == "await_description" and intent not in ("greet", "help", "check_status", "info"):
            state.pop("flow", None)
            category = self.ports.category_for_intent(intent) or "other"
            return turn(self._file(category, incoming, text, lang))
        if intent and intent.startswith("report_") and intent != "report_start":
            category = self.ports.category_for_intent(intent)
            if category is not None and len(text.split()) >= 2:
                return turn(self._file(category, incoming, text, lang))
        if intent and intent.startswith("report_"):
            state["flow"] = "await_description"
            return turn(Reply(render("ask_description", lang)))
        if intent == "greet":
            name = incoming.sender_name
            return turn(Reply(render("greeting", lang, name_part=f" {name}" if name else "")),
                        self._menu(lang))
        if intent == "help":
            return turn(self._menu(lang))
        if intent == "check_status":
            ticket = find_ticket(text, parse)
            if ticket:
                view = self.ports.own_complaint(ticket)
                return turn(Reply(self._status_line(view, lang) if view else render("status_none", lang)))
            recent = self.ports.recent_complaints(3)
            if not recent:
                return turn(Reply(render("status_recent_none", lang)))
            lines = [render("status_recent_header", lang)] + [self._status_line(v, lang) for v in recent]
            return turn(Reply("\n".join(lines)))
        if intent in SMALL_TALK:
            return turn(Reply(render(SMALL_TALK[intent], lang)))
        if intent == "info" or (intent or "").startswith("ask_"):
            return turn(Reply(render("info_intro", lang)))
        return turn(Reply(render("not_understood", lang)), self._menu(lang))
