"""Filing a complaint: ask only for what is missing, confirm, file, answer with the ticket.

The draft lives in ``state.filing`` (:class:`~bot.dialogue.state.Filing`); ``awaiting`` says
which question was asked last. Any step accepts a shared location or photo, and "lokasinya
salah" style corrections. Once the category and place are known, an open complaint of the same
category at the same place (``DialoguePorts.find_duplicate``) is offered to join instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.dialogue import mood
from bot.dialogue.long_message import place_of, read_letter
from bot.dialogue.policy import DialoguePolicy
from bot.dialogue.state import Draft, Filing, Question
from bot.dialogue.texts import name_of, render
from bot.dialogue.types import ComplaintDraft, DialoguePorts, Duplicate, Reply
from channels.base import Button

if TYPE_CHECKING:
    from bot.dialogue.engine import Ctx

MAX_DESCRIPTION = 4000
SUMMARY_DESCRIPTION = 300     # keeps the confirmation within a few SMS
# Typed answers to "add your report to WRG-..., or file a new one?" (the buttons' titles too).
JOIN_WORDS = re.compile(r"\b(gabung\w*|tambah\w*|ikut\w*|satukan|join\w*|add)\b", re.I)
NEW_WORDS = re.compile(r"\b(baru|new|beda|lain|different|another|separate)\b", re.I)


def duplicate_choice(payload: str, text: str) -> str | None:
    """ "join", "new", or None when the message answers neither (or both)."""
    if payload in ("dup:join", "dup:new"):
        return payload[4:]
    join, new = bool(JOIN_WORDS.search(text)), bool(NEW_WORDS.search(text))
    return "join" if join and not new else "new" if new and not join else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _append(description: str, text: str) -> str:
    return (description + "\n" + text)[:MAX_DESCRIPTION]


def _filing(ctx: Ctx) -> Filing:
    return ctx.state.filing or Filing()


def _put(ctx: Ctx, draft: Draft | None = None, **changes: Any) -> None:
    """Store the draft (and other changes to the filing) in the step's state."""
    filing = _filing(ctx)
    if draft is not None:
        changes["draft"] = draft
    ctx.state = replace(ctx.state, filing=replace(filing, **changes))


class ComplaintFlow:
    """The questions of a complaint, asked in order, each only when its answer is missing.

    Args:
        ports: Where the complaint is filed and categories come from.
        when: Formats a time in the city's zone.
        policy: How old a draft may be before it is no longer resumed silently.
    """

    def __init__(self, ports: DialoguePorts, when: Callable[[datetime | None], str],
                 policy: DialoguePolicy | None = None) -> None:
        self.ports = ports
        self.when = when
        self.policy = policy or DialoguePolicy()

    # -- stale drafts ----------------------------------------------------------------------
    def stale(self, ctx: Ctx) -> bool:
        """The draft was left across a handover, or untouched longer than the policy allows."""
        filing = ctx.state.filing
        if filing is None or filing.awaiting == Question.RESUME:
            return False
        touched = filing.touched_at
        return filing.held or (touched is not None
                               and ctx.incoming.received_at - touched >= self.policy.draft_stale_after)

    def ask_resume(self, ctx: Ctx) -> None:
        """Ask whether to continue the draft left behind."""
        draft = _filing(ctx).draft
        _put(ctx, awaiting=Question.RESUME, held=False)
        category = name_of("category_names", draft.category, ctx.lang) if draft.category else "-"
        ctx.say("resume_draft", Button(render("button_resume", ctx.lang), "resume:yes"),
                Button(render("button_discard", ctx.lang), "resume:no"),
                category=category, description=_clip(draft.description.strip() or "-", 80))

    def _answer_resume(self, ctx: Ctx) -> None:
        payload = ctx.incoming.button or ""
        if payload == "resume:yes" or ctx.intent == "affirm" \
                or mood.normal(ctx.text) in ("lanjut", "lanjutkan", "continue"):
            _put(ctx, awaiting=None, touched_at=ctx.incoming.received_at)
            self.ask_next(ctx)
        elif payload == "resume:no" or ctx.intent in ("deny", "cancel"):
            ctx.state = replace(ctx.state, filing=None)
            ctx.say("draft_discarded")
        elif (ctx.intent or "").startswith("report_"):
            ctx.state = replace(ctx.state, filing=None)
            self.start(ctx)
        else:
            self.ask_resume(ctx)

    # -- entry points ----------------------------------------------------------------------
    def start(self, ctx: Ctx) -> None:
        """Begin a complaint from a report_* intent, keeping whatever the first message says."""
        ctx.state = replace(ctx.state, filing=_filing(ctx), knowledge=None)
        _put(ctx, touched_at=ctx.incoming.received_at)
        draft = _filing(ctx).draft
        category = self.ports.category_for_intent(ctx.intent)
        # A long first message is a letter: the description is its problem part, without the
        # greeting, the thanks and the questions answered besides (bot/dialogue/long_message.py).
        described = read_letter(ctx.text, ctx.parse, ctx.intent).description or ctx.text
        if category and ctx.intent != "report_start":
            draft = replace(draft, category=category)
            # "banjir" alone names the problem; a sentence describes it.
            if len(ctx.text.split()) >= 3:
                draft = replace(draft, description=described[:MAX_DESCRIPTION])
        elif len(ctx.text.split()) >= 6 and not ctx.incoming.button:
            draft = replace(draft, description=described[:MAX_DESCRIPTION])
        _put(ctx, self._absorb(ctx, draft, _filing(ctx).awaiting))
        self.ask_next(ctx)

    def handle(self, ctx: Ctx) -> None:
        """A message while a complaint is being filed."""
        filing = _filing(ctx)
        awaiting = filing.awaiting
        if awaiting == Question.RESUME:
            self._answer_resume(ctx)
            return
        _put(ctx, touched_at=ctx.incoming.received_at)
        if awaiting == Question.DUPLICATE:
            self._answer_duplicate(ctx)
            return
        payload = ctx.incoming.button or ""
        text = ctx.text if not payload else ""
        draft = self._absorb(ctx, filing.draft, awaiting, take_location_entity=awaiting != Question.DESCRIPTION)
        _put(ctx, draft)
        captions = {m.caption.strip() for m in ctx.incoming.media if m.caption and m.caption.strip()}
        if text.strip() in captions:
            text = ""   # on Telegram the caption is also the text: _absorb already kept it
        control = bool(text) and mood.is_control(text)

        if awaiting == Question.CONFIRM:
            if payload == "yes" or ctx.intent == "affirm":
                self.file(ctx, draft)
                return
            change = payload[6:] if payload.startswith("field:") else mood.field_to_change(text)
            if change:
                self._reask(ctx, draft, change)
                return
            if payload == "change" or ctx.intent == "deny":
                _put(ctx, awaiting=Question.WHICH_FIELD)
                ctx.say("which_field", *self._field_buttons(ctx.lang))
                return
            if text and not control and not ctx.incoming.media and not ctx.incoming.location:
                # More of the story before sending: it belongs with the description.
                _put(ctx, replace(draft, description=_append(draft.description, text)))
            self.ask_next(ctx)
            return
        if awaiting == Question.WHICH_FIELD:
            change = payload[6:] if payload.startswith("field:") else None
            if change is None:
                for name, pattern in mood.FIELD_WORDS.items():
                    if pattern.search(text):
                        change = name
                        break
            if change:
                self._reask(ctx, draft, change)
            else:
                ctx.say("which_field", *self._field_buttons(ctx.lang))
            return
        change = mood.field_to_change(text) if text else None
        if change:
            self._reask(ctx, draft, change)
            return
        if awaiting == Question.CATEGORY:
            chosen = payload[4:] if payload.startswith("cat:") else self.ports.category_for_intent(ctx.intent)
            if chosen and chosen in self.ports.categories():
                draft = replace(draft, category=chosen)
                if not payload and not draft.description and len(text.split()) >= 3:
                    draft = replace(draft, description=text[:MAX_DESCRIPTION])
        elif awaiting == Question.DESCRIPTION:
            if text and not control:
                if filing.replace_description or not draft.description:
                    draft = replace(draft, description=text[:MAX_DESCRIPTION])
                else:
                    draft = replace(draft, description=_append(draft.description, text))
                _put(ctx, replace_description=False)
                entity = ctx.parse.entity("location") if ctx.parse is not None else None
                if entity and not draft.location_text:
                    draft = replace(draft, location_text=entity)
        elif awaiting == Question.LOCATION:
            # "lewati" is not an address: the question is asked again.
            if text and not ctx.incoming.location and not control:
                entity = ctx.parse.entity("location") if ctx.parse is not None else None
                if entity or mood.looks_like_place(text) or filing.location_retried:
                    draft = replace(draft, location_text=text[:500])
                else:
                    # A description at the location question: keep it as description and ask
                    # again, once, with an example (the next answer is taken as it is).
                    draft = replace(draft, description=_append(draft.description, text))
                    _put(ctx, draft, location_retried=True)
                    ctx.say("location_not_a_place")
                    return
        elif awaiting == Question.PHOTO:
            if text and not control:
                # Follow-up words are part of the story: keep them with the description.
                draft = replace(draft, description=_append(draft.description, text))
            if text or ctx.incoming.media:
                draft = replace(draft, photo_done=True)
        elif text and not control and draft.description:
            draft = replace(draft, description=_append(draft.description, text))
        _put(ctx, draft)
        self.ask_next(ctx)

    def remind(self, ctx: Ctx) -> None:
        """After an interruption, repeat the question the complaint is waiting on."""
        if ctx.state.filing is None:
            return
        if self.stale(ctx):
            self.ask_resume(ctx)
            return
        ctx.say("still_filing")
        if ctx.state.filing.awaiting == Question.DUPLICATE and ctx.state.filing.duplicate_of:
            self._reoffer(ctx)      # the join-or-new question is still open
            return
        self.ask_next(ctx)

    # -- steps -----------------------------------------------------------------------------
    def _absorb(self, ctx: Ctx, draft: Draft, awaiting: Question | None,
                take_location_entity: bool = True) -> Draft:
        """Whatever any message carries besides its answer: a shared point, photos, a place name."""
        loc = ctx.incoming.location
        if loc is not None:
            draft = replace(draft, latitude=loc.lat, longitude=loc.lon)
            if loc.address:
                draft = replace(draft, location_text=loc.address[:500])
        # Every place the message names (an address and its landmarks), not only the first.
        entity = place_of(ctx.parse)
        if take_location_entity and entity and not draft.location_text and awaiting != Question.LOCATION:
            draft = replace(draft, location_text=entity[:500])
        for m in ctx.incoming.media:
            if m not in draft.media:
                draft = replace(draft, media=draft.media + (m,))
            draft = replace(draft, photo_done=True)
            if m.caption and m.caption.strip() and m.caption.strip() not in draft.description:
                draft = replace(draft, description=(draft.description + "\n" + m.caption.strip())
                                .strip()[:MAX_DESCRIPTION])
        return draft

    def _reask(self, ctx: Ctx, draft: Draft, name: str) -> None:
        if name in ("category", "location"):
            # Another category or place may repeat another complaint: look again.
            _put(ctx, duplicate_checked=False, duplicate_retried=False)
        if name == "category":
            draft = replace(draft, category=None)
        elif name == "description":
            _put(ctx, draft, replace_description=True, awaiting=Question.DESCRIPTION)
            ctx.say("ask_new_description")
            return
        elif name == "location":
            draft = replace(draft, location_text=None, latitude=None, longitude=None)
        elif name == "photo":
            draft = replace(draft, media=(), photo_done=False)
        _put(ctx, draft)
        self.ask_next(ctx)

    def ask_next(self, ctx: Ctx) -> None:
        """Ask the first question whose answer is missing, or for confirmation."""
        draft = _filing(ctx).draft
        lang = ctx.lang
        if not draft.category:
            _put(ctx, awaiting=Question.CATEGORY)
            ctx.say("ask_category", *[Button(name_of("category_names", c, lang), f"cat:{c}")
                                      for c in self.ports.categories()])
        elif not draft.description.strip():
            _put(ctx, awaiting=Question.DESCRIPTION)
            ctx.say("ask_description")
        elif not draft.has_location:
            _put(ctx, awaiting=Question.LOCATION)
            # SMS can carry neither a shared location nor a photo: ask for what it can carry.
            ctx.say("ask_location" if ctx.incoming.abilities.share_location else "ask_location_text")
        elif self._offer_duplicate(ctx):
            return
        elif not draft.media and not draft.photo_done and ctx.incoming.abilities.send_photos:
            _put(ctx, awaiting=Question.PHOTO)
            ctx.say("ask_photo")
        else:
            _put(ctx, awaiting=Question.CONFIRM)
            ctx.say("confirm_summary",
                    Button(render("button_send", lang), "yes"),
                    Button(render("button_change", lang), "change"),
                    Button(render("button_cancel", lang), "cancel"),
                    category=name_of("category_names", draft.category, lang),
                    description=_clip(draft.description.strip(), SUMMARY_DESCRIPTION),
                    location=self._location_label(draft, lang),
                    photos=render("photos_count", lang, count=len(draft.media))
                    if draft.media else render("photos_none", lang))

    def _location_label(self, draft: Draft, lang: str) -> str:
        parts = []
        if draft.location_text:
            parts.append(_clip(draft.location_text, 200))
        if draft.latitude is not None and draft.longitude is not None:
            parts.append(render("location_point", lang, lat=f"{draft.latitude:.5f}", lon=f"{draft.longitude:.5f}"))
        return "; ".join(parts)

    def _field_buttons(self, lang: str) -> list[Button]:
        return [Button(render(f"button_field_{f}", lang), f"field:{f}")
                for f in ("category", "description", "location", "photo")]

    def _complaint_draft(self, ctx: Ctx, draft: Draft) -> ComplaintDraft:
        assert draft.category is not None     # asked first: nothing is filed or matched without it
        return ComplaintDraft(
            category=draft.category, description=draft.description.strip(), language=ctx.lang,
            location_text=draft.location_text, latitude=draft.latitude, longitude=draft.longitude,
            media=draft.media)

    # -- duplicates ------------------------------------------------------------------------
    def _offer_duplicate(self, ctx: Ctx) -> bool:
        """Once the category and place are known: offer to join an open complaint of the same
        category at the same place, if there is one (False: none, or already looked)."""
        filing = _filing(ctx)
        if filing.duplicate_checked:
            return False
        _put(ctx, duplicate_checked=True)
        found = self.ports.find_duplicate(self._complaint_draft(ctx, filing.draft))
        if found is None:
            return False
        _put(ctx, awaiting=Question.DUPLICATE, duplicate_of=found.view.ticket, duplicate_own=found.own,
             duplicate_retried=False)
        self._say_duplicate(ctx, found)
        return True

    def _say_duplicate(self, ctx: Ctx, found: Duplicate) -> None:
        lang, ticket = ctx.lang, found.view.ticket
        ctx.say("duplicate_yours" if found.own else "duplicate_found",
                Button(render("button_add_to" if found.own else "button_join", lang, ticket=ticket), "dup:join"),
                Button(render("button_file_new", lang), "dup:new"),
                ticket=ticket, status=name_of("status_names", found.view.status, lang),
                category=name_of("category_names", found.view.category, lang),
                location=_clip(found.location, 120))

    def _answer_duplicate(self, ctx: Ctx) -> None:
        filing = _filing(ctx)
        # A photo sent now still belongs to the report, whichever way it goes.
        draft = self._absorb(ctx, filing.draft, Question.DUPLICATE, take_location_entity=False)
        _put(ctx, draft)
        text = ctx.text if not ctx.incoming.button else ""
        choice = duplicate_choice(ctx.incoming.button or "", text)
        ticket = filing.duplicate_of
        if choice == "join" and ticket:
            view = self.ports.follow(ticket, self._complaint_draft(ctx, draft))
            if view is not None:
                ctx.state = replace(ctx.state, filing=None)
                ctx.say("duplicate_added" if filing.duplicate_own else "duplicate_joined", ticket=view.ticket)
                return
            choice = "new"      # closed in the meantime: this becomes a complaint of its own
        if choice is None and ticket and not filing.duplicate_retried:
            # Neither answer: asked again once, then it goes on as a new complaint (never a trap).
            _put(ctx, duplicate_retried=True)
            self._reoffer(ctx)
            return
        _put(ctx, awaiting=None, duplicate_of=None, duplicate_own=False)
        ctx.say("duplicate_new")
        self.ask_next(ctx)

    def _reoffer(self, ctx: Ctx) -> None:
        filing = _filing(ctx)
        ticket = filing.duplicate_of or "-"
        ctx.say("duplicate_reoffer",
                Button(render("button_add_to" if filing.duplicate_own else "button_join", ctx.lang,
                              ticket=ticket), "dup:join"),
                Button(render("button_file_new", ctx.lang), "dup:new"), ticket=ticket)

    def file(self, ctx: Ctx, draft: Draft) -> None:
        """File the confirmed draft and answer with the ticket."""
        view = self.ports.file_complaint(self._complaint_draft(ctx, draft))
        ctx.state = replace(ctx.state, filing=None)
        ctx.replies.append(Reply(render(
            "complaint_filed", ctx.lang, ticket=view.ticket,
            category=name_of("category_names", view.category, ctx.lang), agency=view.agency,
            due=self.when(view.due_at), resolve_due=self.when(view.resolve_due_at))))
