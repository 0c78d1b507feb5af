"""Working a complaint: correct it, re-route it (disposisi), assign it, file one from a
conversation; and what the complaint page shows (photos, map, contact, its part of the chat).

Every change goes through :class:`bot.casework.staff.StaffService` (scoped, recorded); a bad
form says why in a flash message and changes nothing.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from flask import abort, flash, g, make_response, redirect, request, send_file, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from bot.casework import complaint_page as page
from bot.casework.accounts import sees_every_agency
from bot.casework.staff import ComplaintEdit, Filed, StaffDraft, StaffService
from bot.store.models import Complaint, ComplaintFollower, Conversation, Message, StaffUser
from bot.web.console.blueprint import bp
from bot.web.console.common import act, current_runtime, login_required, names_of_staff, scoped
from bot.web.console.labels import console_language, label

#: Larger ids in a URL name nothing (and would overflow the database's integer).
MAX_ID = 2**62

#: "Buka di peta": a plain link that works when the tiles do not load.
OPEN_MAP = "https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"


class BadForm(ValueError):
    """A form field could not be read; the message says which and why."""


def coordinate(name: str, field_key: str) -> float | None:
    """A latitude or longitude from the form: empty is none; a decimal comma is accepted."""
    raw = request.form.get(name, "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadForm(label("flash.not_a_number", field=label(field_key))) from None
    if not math.isfinite(value):
        raise BadForm(label("flash.not_a_number", field=label(field_key)))
    return value


def _back_to(ticket: str) -> Response:
    """The complaint's page, or the inbox when the change took it out of this person's sight
    (a disposisi to another agency)."""
    with current_runtime().sessions() as s:
        still = s.scalar(scoped(select(Complaint.id).where(Complaint.ticket == ticket.upper())))
    if still is None:
        flash(label("flash.moved", ticket=ticket.upper()), "ok")
        return redirect(url_for("console.index"))
    return redirect(url_for("console.complaint", ticket=ticket))


@bp.post("/complaints/<ticket>/edit")
@login_required
def edit_complaint(ticket: str) -> Any:
    try:
        wanted = ComplaintEdit(
            category=request.form.get("category", ""), description=request.form.get("description", ""),
            location_text=request.form.get("location_text", ""),
            latitude=coordinate("latitude", "c.lat"), longitude=coordinate("longitude", "c.lon"),
            follow_category=request.form.get("follow_category") == "1",
            notify=request.form.get("notify") == "1")
    except BadForm as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.complaint", ticket=ticket))
    act(lambda svc: svc.edit(ticket, g.user.username, wanted),
        label("flash.edited_notified" if wanted.notify else "flash.edited_internal"))
    return _back_to(ticket)


@bp.post("/complaints/<ticket>/reroute")
@login_required
def reroute(ticket: str) -> Any:
    agency = request.form.get("agency", "")
    reason = request.form.get("reason", "")
    act(lambda svc: svc.reroute(ticket, g.user.username, agency, reason), label("flash.rerouted", agency=agency))
    return _back_to(ticket)


@bp.post("/complaints/<ticket>/assign")
@login_required
def assign(ticket: str) -> Any:
    chosen = request.form.get("assignee", "").strip()
    assignee = g.user.username if chosen == "me" else (chosen or None)
    act(lambda svc: svc.assign(ticket, g.user.username, assignee),
        label("flash.assigned", assignee=assignee) if assignee else label("flash.unassigned"))
    return _back_to(ticket)


@bp.post("/conversations/<int:conv_id>/complaint")
@login_required
def file_from_conversation(conv_id: int) -> Any:
    if conv_id > MAX_ID:
        abort(404)
    back = redirect(url_for("console.conversation", conv_id=conv_id))
    try:
        ids = tuple(int(v) for v in request.form.getlist("message") if re.fullmatch(r"[0-9]{1,15}", v))
        if len(ids) != len(request.form.getlist("message")):
            raise BadForm("Pilihan pesan tidak dikenal.")
        draft = StaffDraft(category=request.form.get("category", ""),
                           description=request.form.get("description", ""),
                           location_text=request.form.get("location_text", ""),
                           latitude=coordinate("latitude", "c.lat"),
                           longitude=coordinate("longitude", "c.lon"), message_ids=ids)
    except BadForm as exc:
        flash(str(exc), "error")
        return back
    if not draft.description.strip() and ids:
        # Nothing typed: the selected messages are the description, in the citizen's words.
        with current_runtime().sessions() as s:
            texts = s.scalars(select(Message.text).where(Message.id.in_(ids), Message.conversation_id == conv_id,
                                                         Message.direction == "in").order_by(Message.id)).all()
        draft = StaffDraft(**{**_fields(draft), "description": "\n".join(t for t in texts if t)})
    filed: list[Filed] = []

    def run(svc: StaffService) -> Filed:
        filed.append(svc.file_from_conversation(conv_id, g.user.username, draft))
        return filed[-1]

    act(run, label("flash.filed"))
    if filed:
        return _back_to(filed[0].ticket)
    return back


def _fields(draft: StaffDraft) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in StaffDraft.__dataclass_fields__}


def file_form(transcript: list[Message]) -> dict[str, Any]:
    """The conversation page's "Buat laporan" form, prefilled from the citizen's last message
    and last shared location."""
    said = [m for m in transcript if m.direction == "in" and m.text and not m.button_payload]
    place = next((m for m in reversed(transcript) if m.direction == "in" and m.latitude is not None), None)
    return {"categories": [(cat.name, cat.agency) for cat in current_runtime().settings.complaints.categories],
            "description": said[-1].text if said else "",
            "location_text": (place.address_text or "") if place else "",
            "latitude": place.latitude if place else "", "longitude": place.longitude if place else ""}


# -- photos ---------------------------------------------------------------------------------------
def follower_photo(s: Any, conversation_id: int | None, agency: str | None) -> bool:
    """The photo came from a citizen who joined a complaint of ``agency`` as a follower."""
    return s.scalar(select(func.count()).select_from(ComplaintFollower).join(
        Complaint, Complaint.id == ComplaintFollower.complaint_id).where(
        ComplaintFollower.conversation_id == conversation_id, Complaint.agency == agency)) > 0


def stored_media(message_id: int, index: int) -> tuple[Path, dict[str, Any]]:
    """The stored file of a citizen's attachment, if this staff member may see its complaint."""
    if message_id > MAX_ID:
        abort(404)   # beyond any stored id (and beyond what the database can compare)
    with current_runtime().sessions() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.direction != "in" or index >= len(msg.media or []):
            abort(404)
        if not sees_every_agency(g.user):
            allowed = s.scalar(select(func.count()).select_from(Complaint).where(
                Complaint.conversation_id == msg.conversation_id, Complaint.agency == g.user.agency))
            if not allowed and not follower_photo(s, msg.conversation_id, g.user.agency):
                abort(404)
        item = dict(msg.media[index])
    stored = item.get("stored")
    if not stored or not Path(stored).is_file():
        abort(404, "The file has not been downloaded from the provider yet.")
    return Path(stored), item


@bp.get("/media/<int:message_id>/<int:index>/view")
@login_required
def media_view(message_id: int, index: int) -> Any:
    """A photo shown inside the console (thumbnail, viewer). Only a file whose bytes are a real
    JPEG/PNG/GIF/WebP is shown inline, with that type and nosniff; anything else (SVG, HTML, a
    PDF) is only ever downloaded (/console/media/<id>/<i>)."""
    path, _ = stored_media(message_id, index)
    kind = page.image_type(path)
    if kind is None:
        abort(404, "Only photos are shown in the console; download the file instead.")
    resp = make_response(send_file(path, mimetype=kind, as_attachment=False,
                                   download_name=f"foto-{message_id}-{index}"))
    resp.headers["X-Content-Type-Options"] = "nosniff"
    # Even opened on its own, the file can run nothing and load nothing.
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


# -- the complaint page ---------------------------------------------------------------------------
def complaint_page(s: Any, c: Complaint) -> dict[str, Any]:
    """Everything complaint.html shows besides the complaint itself."""
    rt = current_runtime()
    settings = rt.settings
    transcript = list(s.scalars(select(Message).where(Message.conversation_id == c.conversation_id)
                                .order_by(Message.id))) if c.conversation_id else []
    sources = list(s.scalars(select(Complaint.source_message_id).where(
        Complaint.conversation_id == c.conversation_id, Complaint.source_message_id.is_not(None)))) \
        if c.conversation_id else []
    part = page.part_of(transcript, c.source_message_id, sources)
    photos = []
    for m in part or transcript:
        for i, item in enumerate(m.media or []) if m.direction == "in" else ():
            stored = item.get("stored")
            photos.append({"message_id": m.id, "index": i, "caption": item.get("caption") or "",
                           "name": Path(stored).name if stored else "",
                           "shown": bool(stored) and page.image_type(stored) is not None,
                           "stored": bool(stored), "content_type": item.get("content_type") or "lampiran"})
    conv = s.get(Conversation, c.conversation_id) if c.conversation_id else None
    full = sees_every_agency(g.user)
    urn = conv.address.urn if conv is not None else None
    contact = {"name": conv.contact.name if conv is not None else None,
               "address": (urn if full else page.mask(urn)) if urn else "-",
               "phone": None, "full": full}
    if conv is not None and conv.contact.phone and conv.contact.phone not in (urn or ""):
        contact["phone"] = conv.contact.phone if full else page.mask(conv.contact.phone)
    assignee = s.get(StaffUser, c.assigned_to_id) if c.assigned_to_id else None
    svc = StaffService(s, settings)
    return {
        "events": [(e, page.describe(e, console_language())) for e in c.events],
        "transcript": transcript, "part": part, "titles": page.button_titles(transcript),
        "staff_names": names_of_staff(s, {m.staff_user_id for m in transcript if m.staff_user_id}),
        "photos": photos, "contact": contact,
        "assignee": assignee.username if assignee else None,
        "assignable": [u.username for u in svc.assignable(c)],
        "agencies": [a for a in svc.complaints.agencies() if a != c.agency],
        "categories": [(cat.name, cat.agency) for cat in settings.complaints.categories],
        "tile_url": settings.console.map_tile_url,
        "open_map": OPEN_MAP.format(lat=c.latitude, lon=c.longitude) if c.latitude is not None else None,
    }
