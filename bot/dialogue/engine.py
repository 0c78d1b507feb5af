"""The dialogue: turns one citizen message (and what the NLU understood of it) into replies.

It is a pure state machine over :class:`~bot.dialogue.state.DialogueState`; everything that
touches the database goes through :class:`~bot.dialogue.types.DialoguePorts`, so the same
dialogue runs on every channel and in ``warga chat``. Replies are plain text plus buttons; channels render buttons
their own way (inline keyboards, or numbered lines on SMS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.dialogue import mood
from bot.dialogue.complaint_flow import ComplaintFlow
from bot.dialogue.knowledge import Article, KnowledgeBase, Office
from bot.dialogue.long_message import read_letter
from bot.dialogue.new_intents import unanswered
from bot.dialogue.policy import DialoguePolicy
from bot.dialogue.state import DialogueState, KnowledgeCursor, Question
from bot.dialogue.texts import name_of, render
from bot.dialogue.types import ComplaintView, DialoguePorts, Incoming, Reply, Turn
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
    "yes": "affirm", "no": "deny", "ya": "affirm", "iya": "affirm", "y": "affirm", "ok": "affirm",
    "oke": "affirm", "kirim": "affirm", "send": "affirm", "tidak": "deny", "gak": "deny",
    "bukan": "deny", "change": "deny", "ubah": "deny",
    # The way out of a handover, and the button that asks for a person.
    "handover:leave": "leave_handover", "kembali ke bot": "leave_handover", "back to the bot": "leave_handover",
    "handover:ask": "request_human",
}
TICKET_RE = re.compile(r"\b([A-Za-z]{2,6})[\s.\-_]?(\d{4})[\s.\-_]?(\d{6})\b")
SMALL_TALK = {"thank": "thanks_reply", "goodbye": "goodbye", "bot_challenge": "bot_challenge",
              "out_of_scope": "out_of_scope"}
#: Intents that interrupt a complaint being filed; it resumes afterwards.
INTERRUPTING = {"ask_emergency", "check_status", "request_human", "cancel", "greet", "help",
                "thank", "bot_challenge"}
#: How many misunderstandings in a row before a person takes over.
FALLBACKS_BEFORE_HANDOVER = 2
#: Below the threshold, candidates at least this likely are offered as buttons.
CLARIFY_FLOOR = 0.15
#: While waiting for a person, the citizen is reminded at most this often (unless they ask
#: whether anyone is there, which is always answered).
WAITING_NOTICE_EVERY = timedelta(minutes=10)
#: Words that leave a handover: typed, or the button's payload.
LEAVE_HANDOVER = {"cancel", "help", "leave_handover"}


def _mostly_location(text: str, parse: Parse) -> bool:
    spans = sum(e.end - e.start for e in parse.entities if e.entity == "location")
    return spans >= 0.5 * len(text.strip())


def intent_is_answer(intent: str | None) -> bool:
    """Intents that answer a filing question rather than ask one ("ya", "tidak", a category)."""
    return intent in ("affirm", "deny") or (intent or "").startswith("report_")


def find_ticket(text: str, parse: Parse | None) -> str | None:
    """The ticket number in a message (the NLU's entity first), normalised as WRG-2026-000123."""
    if parse is not None and parse.entity("ticket_id"):
        return str(parse.entity("ticket_id")).upper()
    m = TICKET_RE.search(text)
    return f"{m.group(1).upper()}-{m.group(2)}-{m.group(3)}" if m else None


@dataclass
class Ctx:
    """One step's working data; ``state`` is replaced (never mutated) as the step goes."""

    state: DialogueState
    incoming: Incoming
    parse: Parse | None
    lang: str
    text: str
    intent: str | None
    replies: list[Reply] = field(default_factory=list)
    handover: str | None = None

    def say(self, key: str, *buttons: Button, **values: Any) -> None:
        self.replies.append(Reply(render(key, self.lang, **values), tuple(buttons)))


class Dialogue:
    """The conversation rules.

    Args:
        ports: Database-backed operations for this conversation's citizen.
        knowledge: The public-service knowledge base.
        timezone: Where times are shown (the city's zone).
        ticket_example: A ticket number shown as an example.
        policy: The city's choices (handover wait, office hours, stale drafts, duplicates).
    """

    def __init__(self, ports: DialoguePorts, knowledge: KnowledgeBase | None = None,
                 timezone: tzinfo | str = "Asia/Jakarta", ticket_example: str = "WRG-2026-000123",
                 policy: DialoguePolicy | None = None) -> None:
        self.ports = ports
        self.kb = knowledge or KnowledgeBase()
        self.tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self.ticket_example = ticket_example
        self.policy = policy or DialoguePolicy()
        self.flow = ComplaintFlow(ports, self.when, self.policy)

    # -- helpers -------------------------------------------------------------------------
    def when(self, at: datetime | None) -> str:
        if at is None:
            return "-"
        local = at.astimezone(self.tz)
        return local.strftime("%d-%m-%Y %H:%M ") + (local.tzname() or "")

    def menu(self, lang: str) -> Reply:
        return Reply(render("menu", lang), (
            Button(render("button_report", lang), "lapor"),
            Button(render("button_status", lang), "status"),
            Button(render("button_info", lang), "info"),
        ))

    def status_line(self, view: ComplaintView, lang: str) -> str:
        return render("status_one", lang, ticket=view.ticket,
                      category=name_of("category_names", view.category, lang),
                      status=name_of("status_names", view.status, lang),
                      updated=self.when(view.updated_at))

    def _intent(self, ctx: Ctx) -> str | None:
        payload = ctx.incoming.button
        if payload and payload.startswith("intent:"):
            # A clarifying choice: answer the earlier message as if the NLU had been sure.
            pending, ctx.state = ctx.state.clarifying, replace(ctx.state, clarifying=None)
            ctx.text = pending or ctx.text
            return payload.split(":", 1)[1]
        if payload == "none":
            return "not_understood"
        keyword = KEYWORDS.get(mood.normal(ctx.text)) or KEYWORDS.get(ctx.text.strip().lower())
        if keyword:
            return keyword
        intent = ctx.parse.intent if ctx.parse else None
        if intent is None and find_ticket(ctx.text, ctx.parse):
            return "check_status"   # a bare ticket number is a status question
        return intent

    # -- the step ------------------------------------------------------------------------
    def step(self, state: DialogueState, incoming: Incoming, parse: Parse | None) -> Turn:
        """Handle one message.

        Args:
            state: The conversation's memory from the previous turn.
            incoming: The message.
            parse: What the NLU understood (None when the text was empty or the NLU is down).

        Returns:
            The replies, and the new state (``state`` itself is immutable).
        """
        supported = self.policy.languages
        chosen = chosen_language(incoming.button, supported)
        if chosen is not None:
            return self._choose_language(state, incoming, parse, chosen)
        detected = parse.language if parse is not None and parse.language in supported else None
        lang = state.language or detected or self.policy.default_language
        awaiting = state.filing.awaiting if state.filing else None
        # Switch language only on a clear signal: a message of several words in the other one.
        # An address ("Jl. Sudirman km 3") is in no language, so it never switches; nor does a
        # language the citizen chose.
        if parse is not None and detected is not None and detected != lang and not state.language_chosen \
                and len(incoming.text.split()) >= 3 \
                and awaiting != Question.LOCATION and not _mostly_location(incoming.text, parse):
            lang = detected
        text = (incoming.button or incoming.text).strip()
        ctx = Ctx(replace(state, language=lang), incoming, parse, lang, text, None)
        ctx.intent = self._intent(ctx)
        self._route(ctx)
        return Turn(tuple(ctx.replies), ctx.state, ctx.lang, ctx.handover)

    def _choose_language(self, state: DialogueState, incoming: Incoming, parse: Parse | None,
                         lang: str) -> Turn:
        """The citizen picked a language (the web chat's ID/EN switch): it is kept from now on,
        and the greeting says so in it. A complaint being filed goes on; a person who has the
        conversation is not interrupted by a menu."""
        ctx = Ctx(replace(state, language=lang, language_chosen=True), incoming, parse, lang, "", None)
        if ctx.state.handover is not None:
            ctx.say("language_set")
        else:
            name = incoming.sender_name
            ctx.say("greeting", name_part=f" {name}" if name else "")
            if ctx.state.filing is not None:
                self.flow.remind(ctx)
            else:
                ctx.replies.append(self.menu(lang))
        return Turn(tuple(ctx.replies), ctx.state, ctx.lang, ctx.handover)

    def _route(self, ctx: Ctx) -> None:
        if ctx.state.handover is not None and self._handed_over(ctx):
            return
        intent = ctx.intent
        has_content = bool(ctx.text or ctx.incoming.location or ctx.incoming.media)
        if not has_content:
            ctx.say("empty_message")
            return
        # Safety first: an emergency is answered at once, even in the middle of a complaint.
        if intent == "ask_emergency" and mood.sounds_like_emergency(ctx.text):
            ctx.say("emergency")
            self.flow.remind(ctx)
            return
        if intent == "ask_emergency" or intent == "request_human":
            # "tolong dong, ada orang?" asks for a person, not for 112.
            self._handover(ctx, "requested")
            return
        if mood.is_angry(ctx.text):
            if self._is_complaint(ctx):
                # Strong words about a problem never cancel the complaint: it is filed as
                # usual, and a person is one button away. An outburst in the middle of filing
                # is no answer to the pending question: the question is asked again.
                offer = Reply(render("strong_words_offer", ctx.lang), (
                    Button(render("button_talk_to_staff", ctx.lang), "handover:ask"),))
                if (ctx.intent or "").startswith("report_") or ctx.state.filing is None:
                    self._route_calm(ctx)
                    ctx.replies.insert(0, offer)
                else:
                    ctx.replies.append(offer)
                    self.flow.remind(ctx)
                return
            self._handover(ctx, "angry")
            return
        self._route_calm(ctx)

    def _is_complaint(self, ctx: Ctx) -> bool:
        return ctx.state.filing is not None or (ctx.intent or "").startswith("report_")

    def _route_calm(self, ctx: Ctx) -> None:
        intent = ctx.intent
        if intent == "cancel":
            if ctx.state.filing is not None:
                ctx.state = replace(ctx.state, filing=None)
                ctx.say("cancelled")
            else:
                ctx.say("nothing_to_cancel")
            return
        if ctx.state.rating_for and self._rating(ctx):
            return
        if ctx.state.rating_for is None and self._late_rating(ctx):
            return
        filing = ctx.state.filing
        if filing is not None and self.flow.stale(ctx):
            # A draft left behind (old, or from before a handover) is not resumed silently: a new
            # complaint replaces it, anything else asks first (remind() asks too).
            if (intent or "").startswith("report_") and not ctx.incoming.button:
                ctx.state = replace(ctx.state, filing=None)
                filing = None
            elif intent not in INTERRUPTING and not (intent or "").startswith("ask_"):
                self.flow.ask_resume(ctx)
                return
        # An address with "kelurahan"/"kecamatan" in it looks like an office-hours question;
        # while the location is being asked, it is the answer.
        answering_location = filing is not None and filing.awaiting == Question.LOCATION \
            and ctx.parse is not None and bool(ctx.parse.entity("location"))
        if filing is not None and filing.awaiting in (Question.RESUME, Question.DUPLICATE):
            self.flow.handle(ctx)
            return
        if filing is not None and intent not in INTERRUPTING and not ctx.incoming.button \
                and filing.awaiting not in (Question.DESCRIPTION, Question.CATEGORY, None) \
                and not answering_location and mood.is_question(ctx.text) \
                and not intent_is_answer(intent):
            # A question in the middle of filing is answered; the filing then resumes.
            self._question_while_filing(ctx)
            return
        if filing is not None and intent not in INTERRUPTING \
                and (not (intent or "").startswith("ask_") or answering_location):
            self.flow.handle(ctx)
            ctx.state = replace(ctx.state, fallbacks=0)
            return
        if ctx.state.knowledge is not None and mood.is_more(ctx.text):
            self._kb_more(ctx)
            return
        if filing is None and not ctx.incoming.button and mood.is_ack(ctx.text) \
                and intent not in ("greet", "help", "check_status") and not (intent or "").startswith("report_"):
            # "👍", "ok", "sip": a light answer; never a misunderstanding on the way to a handover.
            ctx.state = replace(ctx.state, fallbacks=0)
            ctx.say("thanks_reply" if intent == "thank" else "ack_reply")
            return
        self._answer(ctx)

    def _question_while_filing(self, ctx: Ctx) -> None:
        intent = ctx.intent or ""
        filing = ctx.state.filing
        assert filing is not None
        if mood.asks_how_long(ctx.text) and filing.draft.category:
            hours, days = self.ports.sla_of(filing.draft.category)
            ctx.say("sla_info", category=name_of("category_names", filing.draft.category, ctx.lang).lower(),
                    hours=f"{hours:g}", days=f"{days:g}")
        elif intent.startswith("ask_") and intent != "ask_emergency":
            found = self.kb.choose(intent, ctx.text, ctx.lang)
            if isinstance(found, Article):
                ctx.replies.append(Reply(found.summary))
            else:
                self._kb_not_covered(ctx, found)
        else:
            ctx.say("question_unanswered")
        self.flow.remind(ctx)

    # -- long messages: a complaint and a question in one ----------------------------------
    def _asides(self, ctx: Ctx, main: str, answered: set[str] | None = None) -> None:
        """Answer the questions a complaint's first message asks besides ("..., berapa lama
        biasanya ditangani?", "sekalian tanya cara bayar PBB?") before filing goes on."""
        if ctx.incoming.button:
            return
        done = set(answered or ())
        parts = ctx.parse.parts if ctx.parse is not None else ()
        if any(p.intent == "ask_emergency" and mood.sounds_like_emergency(p.text) for p in parts):
            # "pohon tumbang menimpa motor, ada korban luka": safety first, then the complaint.
            ctx.say("emergency")
        category = self.ports.category_for_intent(main) if main != "report_start" else None
        for asked in read_letter(ctx.text, ctx.parse, main).questions:
            if asked.how_long:
                if "sla" in done or not category:
                    continue
                done.add("sla")
                hours, days = self.ports.sla_of(category)
                ctx.say("sla_info", category=name_of("category_names", category, ctx.lang).lower(),
                        hours=f"{hours:g}", days=f"{days:g}")
            elif asked.intent == "check_status":
                if "check_status" not in done:
                    done.add("check_status")
                    self._status(ctx)
            elif asked.intent is not None and asked.intent not in done:
                done.add(asked.intent)
                found = self.kb.choose(asked.intent, asked.text, ctx.lang)
                if isinstance(found, Article):
                    ctx.replies.append(Reply(found.summary))
                else:
                    self._kb_not_covered(ctx, found)

    def _complaint_besides(self, ctx: Ctx, question: str) -> bool:
        """A question that also reports a problem ("cara bayar PBB gimana? oh iya lampu jalan di
        Gg. Mawar mati seminggu"): the question was answered, now the complaint is filed."""
        secondary = ctx.parse.secondary_intent if ctx.parse is not None else None
        if secondary is None or not secondary.startswith("report_") or secondary == "report_start" \
                or ctx.incoming.button or ctx.state.filing is not None:
            return False
        ctx.intent = secondary
        self._asides(ctx, secondary, answered={question})
        self.flow.start(ctx)
        return True

    # -- handover --------------------------------------------------------------------------
    def _handed_over(self, ctx: Ctx) -> bool:
        """A message while a person has (or is about to have) the conversation; False when the
        bot should handle it as usual (the citizen left the handover, or it expired)."""
        handover = ctx.state.handover
        assert handover is not None
        now = ctx.incoming.received_at
        if ctx.intent == "ask_emergency" and mood.sounds_like_emergency(ctx.text):
            ctx.say("emergency")
            return True
        if ctx.state.unanswered(now, self.policy.handover_timeout):
            ctx.state = ctx.state.release()
            ctx.say("handover_timed_out")
            return False
        if ctx.intent in LEAVE_HANDOVER:
            ctx.state = ctx.state.release()
            ctx.say("handover_left")
            ctx.replies.append(self.menu(ctx.lang))
            return True
        if not handover.waiting:
            return True     # a person is on it: the bot stays quiet
        if ctx.intent == "check_status":
            self._status(ctx)
            return True
        if (ctx.intent or "").startswith("ask_") and ctx.intent != "ask_emergency":
            self._kb(ctx, ctx.intent or "")
            return True
        noticed = handover.noticed_at or handover.since
        if mood.is_presence_probe(ctx.text) or ctx.intent in ("greet", "request_human") \
                or noticed is None or now - noticed >= WAITING_NOTICE_EVERY:
            ctx.state = ctx.state.noticed(now)
            ctx.say("handover_waiting", self._leave_button(ctx.lang), **self._wait_values())
        return True

    def _wait_values(self) -> dict[str, str]:
        return {"office_hours": self.policy.office_hours, "wait": str(self.policy.expected_wait_minutes)}

    def _leave_button(self, lang: str) -> Button:
        return Button(render("button_back_to_bot", lang), "handover:leave")

    def _answer(self, ctx: Ctx) -> None:
        intent, lang = ctx.intent, ctx.lang
        if intent in (None, "not_understood", "out_of_scope") and ctx.state.filing is None \
                and not ctx.incoming.button and self._kb_office(ctx):
            return
        if intent is None or intent == "not_understood":
            self._not_understood(ctx)
            return
        # Out of scope twice in a row also means the bot is not helping: count it.
        fallbacks = ctx.state.fallbacks + 1 if intent == "out_of_scope" else 0
        if fallbacks >= FALLBACKS_BEFORE_HANDOVER:
            self._handover(ctx, "not_understood")
            return
        ctx.state = replace(ctx.state, fallbacks=fallbacks, clarifying=None)
        if unanswered(intent, has_category=self.ports.category_for_intent(intent) is not None):
            self._handover(ctx, "new_intent")   # an intent admins added; nothing answers it yet
            return
        if intent.startswith("report_"):
            self._asides(ctx, intent)
            self.flow.start(ctx)
        elif intent == "greet":
            name = ctx.incoming.sender_name
            ctx.say("greeting", name_part=f" {name}" if name else "")
            ctx.replies.append(self.menu(lang))
        elif intent == "help":
            ctx.replies.append(self.menu(lang))
        elif intent == "check_status":
            self._status(ctx)
        elif intent in SMALL_TALK:
            ctx.say(SMALL_TALK[intent])
        elif intent == "info":
            ctx.say("info_intro")
        elif intent.startswith("ask_"):
            self._kb(ctx, intent)
            if self._complaint_besides(ctx, intent):
                return
        else:   # affirm/deny with nothing to confirm
            ctx.replies.append(self.menu(lang))
        if intent not in ("check_status",) and not intent.startswith("report_"):
            self.flow.remind(ctx)

    # -- pieces --------------------------------------------------------------------------
    def _handover(self, ctx: Ctx, reason: str) -> None:
        ctx.state = ctx.state.hand_over(reason, ctx.incoming.received_at)
        ctx.handover = reason
        ctx.say({"requested": "handover_started", "angry": "handover_angry",
                 "new_intent": "handover_started"}.get(reason, "handover_fallbacks"),
                self._leave_button(ctx.lang), **self._wait_values())

    def _not_understood(self, ctx: Ctx) -> None:
        fallbacks = ctx.state.fallbacks + 1
        if fallbacks >= FALLBACKS_BEFORE_HANDOVER:
            self._handover(ctx, "not_understood")
            return
        ctx.state = replace(ctx.state, fallbacks=fallbacks)
        if ctx.state.filing is not None:
            self.flow.remind(ctx)
            return
        choices = self._clarify_choices(ctx)
        if choices:
            ctx.state = replace(ctx.state, clarifying=ctx.text)
            ctx.say("clarify", *choices, Button(render("button_none_of_these", ctx.lang), "none"))
            return
        ctx.say("not_understood")
        ctx.replies.append(self.menu(ctx.lang))

    def _clarify_choices(self, ctx: Ctx) -> list[Button]:
        if ctx.parse is None or ctx.incoming.button:
            return []
        out = []
        for intent, conf in ctx.parse.ranking[:3]:
            if conf < CLARIFY_FLOOR:
                continue
            category = self.ports.category_for_intent(intent)
            if category and intent != "report_start":
                title = f"{render('button_report', ctx.lang)}: {name_of('category_names', category, ctx.lang)}"
            elif intent.startswith("ask_") and self.kb.article(intent, ctx.lang):
                title = self.kb.article(intent, ctx.lang).title  # type: ignore[union-attr]
            else:
                continue
            out.append(Button(title[:60], f"intent:{intent}"))
        return out[:3]

    def _status(self, ctx: Ctx) -> None:
        lang = ctx.lang
        ticket = find_ticket(ctx.text, ctx.parse)
        if ticket:
            view = self.ports.own_complaint(ticket)
            ctx.replies.append(Reply(self.status_line(view, lang) if view else render("status_none", lang)))
        else:
            recent = self.ports.recent_complaints(3)
            if not recent:
                ctx.say("status_recent_none")
            else:
                lines = [render("status_recent_header", lang)] + [self.status_line(v, lang) for v in recent]
                ctx.replies.append(Reply("\n".join(lines)))
        self.flow.remind(ctx)

    def _kb(self, ctx: Ctx, intent: str) -> None:
        # The words choose the answer (a sub-answer, or "not in my knowledge"); a pressed choice
        # is answered whatever the words.
        pressed = (ctx.incoming.button or "").startswith("intent:")
        found = self.kb.choose(intent, ctx.text, ctx.lang, trusted=pressed)
        if not isinstance(found, Article):
            self._kb_not_covered(ctx, found)
            return
        ctx.replies.append(Reply(found.summary))
        ctx.state = replace(ctx.state, knowledge=KnowledgeCursor(found.key))

    def _kb_office(self, ctx: Ctx) -> bool:
        """A message the NLU did not take for a question that names a subject of ``offices``
        ("syarat bikin SIM" as out of scope): the office to ask. False when it names none."""
        found = self.kb.choose(None, ctx.text, ctx.lang)
        if not isinstance(found, Office) or not found.keywords:
            return False
        ctx.state = replace(ctx.state, fallbacks=0)
        self._kb_not_covered(ctx, found)
        return True

    def _kb_not_covered(self, ctx: Ctx, office: Office | None) -> None:
        ctx.state = replace(ctx.state, knowledge=None)
        if office is None:
            ctx.say("info_intro")
        elif office.keywords:
            ctx.say("kb_not_covered", subject=office.subject, office=office.office)
        else:
            ctx.say("kb_not_known", office=office.office)

    def _kb_more(self, ctx: Ctx) -> None:
        cursor = ctx.state.knowledge
        assert cursor is not None
        article = self.kb.article(cursor.key, ctx.lang)
        part = cursor.part
        if article is None or part >= len(article.more):
            ctx.state = replace(ctx.state, knowledge=None)
            if article is not None and article.links:
                ctx.say("kb_links", links=" ".join(article.links))
            ctx.say("kb_more_end")
            return
        ctx.replies.append(Reply(article.more[part]))
        ctx.state = replace(ctx.state, knowledge=KnowledgeCursor(cursor.key, part + 1))
        if part + 1 >= len(article.more):
            ctx.state = replace(ctx.state, knowledge=None)
            if article.links:
                ctx.say("kb_links", links=" ".join(article.links))

    def _rating(self, ctx: Ctx) -> bool:
        """Handle the answer to "how satisfied are you?"; False when the message is about something else."""
        ticket = ctx.state.rating_for
        assert ticket is not None
        payload = ctx.incoming.button or ""
        pressed = rating_button(payload)
        # Words rate only in a short answer: "jalan rusak parah di Jl. Mawar" is a new complaint.
        short = len(ctx.text.split()) <= 8 and not (ctx.intent or "").startswith("report_")
        rating = pressed[1] if pressed else (mood.rating_of(ctx.text) if short else None)
        if pressed and pressed[0]:
            ticket = pressed[0]
        if payload == "reopen" or (not pressed and mood.NOT_FIXED_WORDS.search(ctx.text)):
            ctx.state = ctx.state.rating_done()
            view = self.ports.reopen(ticket)
            if view is None:
                ctx.say("reopen_expired", ticket=ticket, days=f"{self.ports.reopen_days():g}")
            else:
                ctx.say("reopened", ticket=ticket)
            return True
        if rating is not None:
            ctx.state = ctx.state.rating_done()
            self.ports.rate(ticket, rating)
            ctx.say("rating_thanks", rating=rating, ticket=ticket)
            return True
        if ctx.intent is None or ctx.intent in ("affirm", "deny"):
            ctx.say("rating_invalid")
            return True
        ctx.state = ctx.state.rating_done()   # they moved on to something else
        return False

    def _late_rating(self, ctx: Ctx) -> bool:
        """A rating button pressed after the question was left behind still counts (once)."""
        pressed = rating_button(ctx.incoming.button or "")
        if pressed is None:
            return False
        ticket, rating = pressed
        if ticket is None:
            recent = [v for v in self.ports.recent_complaints(5) if v.status == "selesai"]
            ticket = recent[0].ticket if recent else None
        if ticket is None:
            ctx.say("rating_invalid")
            return True
        if self.ports.rate(ticket, rating):
            ctx.say("rating_thanks", rating=rating, ticket=ticket)
        else:
            ctx.say("rating_already", ticket=ticket)
        return True


#: The payload of a language choice: "lang:en" (the web chat's ID/EN switch sends it).
LANGUAGE_CHOICE = re.compile(r"lang:([a-z]{2,3})")


def chosen_language(payload: str | None, supported: tuple[str, ...] | list[str]) -> str | None:
    """The language a "lang:xx" button press chooses, if the city offers it."""
    m = LANGUAGE_CHOICE.fullmatch(payload or "")
    return m.group(1) if m and m.group(1) in supported else None


def rating_button(payload: str) -> tuple[str | None, int] | None:
    """ "rate:WRG-2026-000001:4" (or the older "rate:4") → (ticket or None, 4)."""
    m = re.fullmatch(r"rate:(?:([A-Za-z]{2,6}-\d{4}-\d{6}):)?([1-5])", payload)
    return (m.group(1), int(m.group(2))) if m else None
