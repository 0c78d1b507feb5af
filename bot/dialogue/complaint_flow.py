"""Filing a complaint: ask only for what is missing, confirm, file, answer with the ticket.

The draft lives in ``state["draft"]``; ``state["awaiting"]`` says which question was asked
last. Any step accepts a shared location or photo, and "lokasinya salah" style corrections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from bot.dialogue import mood
from bot.dialogue.texts import name_of, render
from bot.dialogue.types import ComplaintDraft, DialoguePorts, Reply
from channels.base import Button, Media

if TYPE_CHECKING:
    from bot.dialogue.engine import Ctx

MAX_DESCRIPTION = 4000
SUMMARY_DESCRIPTION = 300     # keeps the confirmation within a few SMS


def _draft(state: dict[str, Any]) -> dict[str, Any]:
    return state.setdefault("draft", {"category": None, "description": "", "location_text": None,
                                      "lat": None, "lon": None, "media": [], "photo_done": False})


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class ComplaintFlow:
    def __init__(self, ports: DialoguePorts, when: Callable[[Any], str]) -> None:
        self.ports = ports
        self.when = when

    # -- entry points ----------------------------------------------------------------------
    def start(self, ctx: "Ctx") -> None:
        """Begin a complaint from a report_* intent, keeping whatever the first message says."""
        ctx.state["flow"] = "complaint"
        ctx.state.pop("kb", None)
        draft = _draft(ctx.state)
        category = self.ports.category_for_intent(ctx.intent)
        if category and ctx.intent != "report_start":
            draft["category"] = category
            # "banjir" alone names the problem; a sentence describes it.
            if len(ctx.text.split()) >= 3:
                draft["description"] = ctx.text[:MAX_DESCRIPTION]
        elif len(ctx.text.split()) >= 6 and not ctx.incoming.button:
            draft["description"] = ctx.text[:MAX_DESCRIPTION]
        self._absorb(ctx, draft)
        self.ask_next(ctx)

    def handle(self, ctx: "Ctx") -> None:
        """A message while a complaint is being filed."""
        draft = _draft(ctx.state)
        awaiting = ctx.state.get("awaiting")
        payload = ctx.incoming.button or ""
        text = ctx.text if not payload else ""
        self._absorb(ctx, draft, take_location_entity=awaiting != "description")
        captions = {m.caption.strip() for m in ctx.incoming.media if m.caption and m.caption.strip()}
        if text.strip() in captions:
            text = ""   # on Telegram the caption is also the text: _absorb already kept it

        if awaiting == "confirm":
            if payload == "yes" or ctx.intent == "affirm":
                self.file(ctx, draft)
                return
            change = payload[6:] if payload.startswith("field:") else mood.field_to_change(text)
            if change:
                self._reask(ctx, draft, change)
                return
            if payload == "change" or ctx.intent == "deny":
                ctx.state["awaiting"] = "which_field"
                ctx.say("which_field", *self._field_buttons(ctx.lang))
                return
            if text and not ctx.incoming.media and not ctx.incoming.location:
                # More of the story before sending: it belongs with the description.
                draft["description"] = (draft["description"] + "\n" + text)[:MAX_DESCRIPTION]
            self.ask_next(ctx)
            return
        if awaiting == "which_field":
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
        if awaiting == "category":
            chosen = payload[4:] if payload.startswith("cat:") else self.ports.category_for_intent(ctx.intent)
            if chosen and chosen in self.ports.categories():
                draft["category"] = chosen
                if not payload and not draft["description"] and len(text.split()) >= 3:
                    draft["description"] = text[:MAX_DESCRIPTION]
        elif awaiting == "description":
            if text:
                if ctx.state.pop("replace_description", False) or not draft["description"]:
                    draft["description"] = text[:MAX_DESCRIPTION]
                else:
                    draft["description"] = (draft["description"] + "\n" + text)[:MAX_DESCRIPTION]
                if ctx.parse is not None and ctx.parse.entity("location") and not draft["location_text"]:
                    draft["location_text"] = ctx.parse.entity("location")
        elif awaiting == "location":
            # "lewati" is not an address: the question is asked again.
            if text and not ctx.incoming.location and not mood.is_skip(text):
                draft["location_text"] = text[:500]
        elif awaiting == "photo":
            if text and not mood.is_skip(text):
                # Follow-up words are part of the story: keep them with the description.
                draft["description"] = (draft["description"] + "\n" + text)[:MAX_DESCRIPTION]
            if text or ctx.incoming.media:
                draft["photo_done"] = True
        elif text and draft["description"]:
            draft["description"] = (draft["description"] + "\n" + text)[:MAX_DESCRIPTION]
        self.ask_next(ctx)

    def remind(self, ctx: "Ctx", force: bool = False) -> None:
        """After an interruption, repeat the question the complaint is waiting on."""
        if ctx.state.get("flow") != "complaint":
            return
        ctx.say("still_filing")
        self.ask_next(ctx)

    # -- steps -----------------------------------------------------------------------------
    def _absorb(self, ctx: "Ctx", draft: dict[str, Any], take_location_entity: bool = True) -> None:
        loc = ctx.incoming.location
        if loc is not None:
            draft["lat"], draft["lon"] = loc.lat, loc.lon
            if loc.address:
                draft["location_text"] = loc.address[:500]
        if take_location_entity and ctx.parse is not None and ctx.parse.entity("location") \
                and not draft["location_text"] and ctx.state.get("awaiting") != "location":
            draft["location_text"] = str(ctx.parse.entity("location"))[:500]
        for m in ctx.incoming.media:
            item = {"url": m.url, "content_type": m.content_type, "caption": m.caption}
            if item not in draft["media"]:
                draft["media"].append(item)
            draft["photo_done"] = True
            if m.caption and m.caption.strip() and m.caption.strip() not in draft["description"]:
                draft["description"] = (draft["description"] + "\n" + m.caption.strip()).strip()[:MAX_DESCRIPTION]

    def _reask(self, ctx: "Ctx", draft: dict[str, Any], name: str) -> None:
        if name == "category":
            draft["category"] = None
        elif name == "description":
            ctx.state["replace_description"] = True
            ctx.state["awaiting"] = "description"
            ctx.say("ask_new_description")
            return
        elif name == "location":
            draft["location_text"] = None
            draft["lat"] = draft["lon"] = None
        elif name == "photo":
            draft["media"] = []
            draft["photo_done"] = False
        self.ask_next(ctx)

    def ask_next(self, ctx: "Ctx") -> None:
        draft = _draft(ctx.state)
        lang = ctx.lang
        if not draft["category"]:
            ctx.state["awaiting"] = "category"
            ctx.say("ask_category", *[Button(name_of("category_names", c, lang), f"cat:{c}")
                                      for c in self.ports.categories()])
        elif not draft["description"].strip():
            ctx.state["awaiting"] = "description"
            ctx.say("ask_description")
        elif not draft["location_text"] and draft["lat"] is None:
            ctx.state["awaiting"] = "location"
            # SMS can carry neither a shared location nor a photo: ask for what it can carry.
            ctx.say("ask_location_text" if ctx.incoming.channel == "sms" else "ask_location")
        elif not draft["media"] and not draft["photo_done"] and ctx.incoming.channel != "sms":
            ctx.state["awaiting"] = "photo"
            ctx.say("ask_photo")
        else:
            ctx.state["awaiting"] = "confirm"
            ctx.say("confirm_summary",
                    Button(render("button_send", lang), "yes"),
                    Button(render("button_change", lang), "change"),
                    Button(render("button_cancel", lang), "cancel"),
                    category=name_of("category_names", draft["category"], lang),
                    description=_clip(draft["description"].strip(), SUMMARY_DESCRIPTION),
                    location=self._location_label(draft, lang),
                    photos=render("photos_count", lang, count=len(draft["media"]))
                    if draft["media"] else render("photos_none", lang))

    def _location_label(self, draft: dict[str, Any], lang: str) -> str:
        parts = []
        if draft["location_text"]:
            parts.append(_clip(draft["location_text"], 200))
        if draft["lat"] is not None:
            parts.append(render("location_point", lang, lat=f"{draft['lat']:.5f}", lon=f"{draft['lon']:.5f}"))
        return "; ".join(parts)

    def _field_buttons(self, lang: str) -> list[Button]:
        return [Button(render(f"button_field_{f}", lang), f"field:{f}")
                for f in ("category", "description", "location", "photo")]

    def file(self, ctx: "Ctx", draft: dict[str, Any]) -> None:
        view = self.ports.file_complaint(ComplaintDraft(
            category=draft["category"], description=draft["description"].strip(), language=ctx.lang,
            location_text=draft["location_text"], latitude=draft["lat"], longitude=draft["lon"],
            media=tuple(Media(m["url"], m.get("content_type"), m.get("caption")) for m in draft["media"])))
        for key in ("flow", "draft", "awaiting", "replace_description"):
            ctx.state.pop(key, None)
        ctx.replies.append(Reply(render(
            "complaint_filed", ctx.lang, ticket=view.ticket,
            category=name_of("category_names", view.category, ctx.lang), agency=view.agency,
            due=self.when(view.due_at), resolve_due=self.when(view.resolve_due_at))))
