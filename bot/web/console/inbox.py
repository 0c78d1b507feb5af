"""The inbox (GET /console/): filters, sort, pages, counts per status; and its CSV export.

The meaning of every filter lives in bot.casework.inbox; this module reads the request, renders,
and streams the export. Bad parameters are a 400 with the reason, never a 500.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

from flask import Response, abort, current_app, g, render_template, request, stream_with_context
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bot.casework import inbox, local_time
from bot.casework.accounts import sees_every_agency
from bot.casework.complaints import CLOSED
from bot.casework.filter_refusal import FilterRefused
from bot.casework.queues import served_queues
from bot.settings.schema import KNOWN_CHANNELS
from bot.store.models import Complaint, Contact, ContactAddress, Conversation, StaffUser
from bot.web.console.blueprint import bp
from bot.web.console.common import console_now, current_runtime, login_required
from bot.web.console.labels import console_language, refusal

audit_log = logging.getLogger("warga.audit")

#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def choices() -> inbox.Choices:
    settings = current_runtime().settings
    cats = settings.complaints.categories
    return inbox.Choices(
        statuses=tuple(settings.complaints.transitions),
        categories=tuple(c.name for c in cats),
        agencies=tuple(sorted({c.agency for c in cats})),
        channels=KNOWN_CHANNELS)


def viewer() -> inbox.Viewer:
    return inbox.Viewer(user_id=g.user.id, agency=None if sees_every_agency(g.user) else g.user.agency)


def counts_cache() -> inbox.CountsCache:
    """One cache per app (per process): see bot.casework.inbox.CountsCache."""
    cache: inbox.CountsCache = current_app.extensions.setdefault("warga.inbox_counts", inbox.CountsCache())
    return cache


def requested_filter(known: inbox.Choices) -> inbox.InboxFilter:
    try:
        return inbox.parse_filter(request.args, known)
    except FilterRefused as exc:
        abort(400, refusal(exc))


@bp.get("/")
@login_required
def index() -> Any:
    rt = current_runtime()
    known = choices()
    f = requested_filter(known)
    who = viewer()
    now = console_now()
    with rt.sessions() as s:
        counts = counts_cache().get(s, who, known, now)
        page = inbox.page_of(s, f, who, known, now, rt.settings.timezone, counts)
        # Only the queues this person serves (bot/casework/queues.py).
        waiting = s.scalar(select(func.count()).select_from(Conversation).where(served_queues(g.user))) or 0
        assignees = dict(s.execute(select(StaffUser.id, StaffUser.username).where(
            StaffUser.id.in_({c.assigned_to_id for c in page.rows if c.assigned_to_id}))).all())
    return render_template("console/index.html", f=f, page=page, counts=counts, choices=known,
                           every_agency=who.agency is None, waiting=waiting, now=now,
                           late_by=partial(inbox.late_by, lang=console_language()), closed=CLOSED, assignees=assignees)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def mask(address: str | None) -> str:
    """A phone number or channel address with all but its last four digits hidden (staff of one
    agency work a complaint without needing the citizen's full number; supervisors see it)."""
    if not address:
        return ""
    digits = [i for i, ch in enumerate(address) if ch.isdigit()]
    hidden = set(digits[:-4])
    return "".join("•" if i in hidden else ch for i, ch in enumerate(address))


HEADER = ("tiket", "status", "kategori", "instansi", "kanal", "masuk", "tenggat", "terlambat",
          "petugas", "keterangan", "lokasi", "lintang", "bujur", "nama_warga", "telepon", "alamat_kanal",
          "penilaian")


def _record_export(f: inbox.InboxFilter) -> None:
    """Who exported which filter, and when, as one JSON line in var/audit.jsonl (like account
    changes): an export takes citizens' data out of the system."""
    settings = current_runtime().settings
    entry = {"ts": datetime.now(UTC).isoformat(timespec="seconds"), "by": g.user.username,
             "via": "console", "action": "export_complaints", "agency": viewer().agency,
             "filter": f.described()}
    try:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        with open(settings.var_dir / "audit.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    except OSError:
        # No record, no export: citizens' data leaves only when we can say who took it.
        audit_log.exception("could not record an export in %s", settings.var_dir / "audit.jsonl")
        abort(503, "The export could not be recorded (var/audit.jsonl); nothing was exported.")
    audit_log.info("complaints exported by %s", g.user.username, extra={"audit": entry})


@bp.get("/complaints.csv")
@login_required
def export() -> Any:
    rt = current_runtime()
    known = choices()
    f = requested_filter(known)
    who = viewer()
    full_contact = who.agency is None
    now = console_now()
    zone = rt.settings.timezone
    _record_export(f)
    assignee = aliased(StaffUser)
    chosen = inbox.filtered(f, who, known, now, zone, rt.engine.dialect.name)
    wanted = inbox.ordered(chosen, f.sort, now, all_due=f.overdue)
    stmt = (wanted.outerjoin(Contact, Contact.id == Complaint.contact_id)
            .outerjoin(Conversation, Conversation.id == Complaint.conversation_id)
            .outerjoin(ContactAddress, ContactAddress.id == Conversation.address_id)
            .outerjoin(assignee, assignee.id == Complaint.assigned_to_id)
            .with_only_columns(Complaint, Contact.name, Contact.phone, ContactAddress.urn, assignee.username))

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")        # the BOM: Excel then reads the file as UTF-8
        writer.writerow(HEADER)
        with rt.sessions() as s:
            for c, name, phone, urn, assigned in s.execute(stmt.execution_options(yield_per=500)):
                writer.writerow([_cell(v) for v in (
                    c.ticket, c.status, c.category, c.agency, c.channel,
                    local_time.local(c.created_at, zone), local_time.local(c.due_at, zone),
                    inbox.late_by(c.due_at, now) if c.status not in CLOSED else "", assigned or "",
                    c.description, c.location_text, c.latitude, c.longitude, name,
                    phone if full_contact else mask(phone), urn if full_contact else mask(urn), c.rating)])
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    stamp = re.sub(r"[^0-9-]", "", local_time.local(now, zone, "%Y%m%d-%H%M", with_zone=False))
    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="laporan-{stamp}.csv"'})
