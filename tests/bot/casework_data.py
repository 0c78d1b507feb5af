"""Complaints put straight into the database with every field chosen, for inbox/export/dashboard
tests (filing through the chat would take seconds each and could not pick times or statuses)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.store.models import (
    Complaint,
    ComplaintEvent,
    Contact,
    ContactAddress,
    Conversation,
    Message,
    StaffUser,
)

#: The console's clock in these tests: 12:00 WIB on 20 November 2026.
NOW = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
TICKET_LINK = re.compile(r'href="/console/complaints/(WRG-\d{4}-\d{6})"')


@dataclass(frozen=True)
class Filed:
    ticket: str
    category: str
    status: str
    channel: str
    created: datetime
    due: datetime | None = None
    description: str = "keterangan"
    location: str | None = None
    name: str = "Warga"
    phone: str | None = None
    urn: str | None = None
    assigned: str | None = None
    rating: int | None = None
    resolved: datetime | None = None     # when it became Selesai (an event row)


def seed(app: Any, *filed: Filed) -> None:
    rt = app.extensions["warga"]
    agencies = {c.name: c.agency for c in rt.settings.complaints.categories}
    with rt.sessions() as s, s.begin():
        for f in filed:
            contact = Contact(name=f.name, phone=f.phone, created_at=f.created)
            s.add(contact)
            s.flush()
            conversation_id = None
            if f.urn:
                address = ContactAddress(contact_id=contact.id, urn=f.urn, channel=f.channel)
                s.add(address)
                s.flush()
                conversation = Conversation(contact_id=contact.id, address_id=address.id, channel=f.channel)
                s.add(conversation)
                s.flush()
                conversation_id = conversation.id
            assigned = s.scalar(select(StaffUser.id).where(StaffUser.username == f.assigned)) if f.assigned else None
            c = Complaint(ticket=f.ticket, contact_id=contact.id, conversation_id=conversation_id,
                          channel=f.channel, category=f.category, agency=agencies[f.category],
                          description=f.description, location_text=f.location, status=f.status,
                          due_at=f.due, rating=f.rating, assigned_to_id=assigned, created_at=f.created,
                          updated_at=f.created)
            s.add(c)
            s.flush()
            s.add(ComplaintEvent(complaint_id=c.id, kind="created", to_status="menunggu", actor="citizen",
                                 created_at=f.created))
            if f.resolved:
                s.add(ComplaintEvent(complaint_id=c.id, kind="status", from_status="menunggu_validasi",
                                     to_status="selesai", actor="staff:admin", created_at=f.resolved))


def say(app: Any, ticket: str, intent: str | None, confidence: float, at: datetime = NOW) -> None:
    """A citizen message with its NLU result, in the conversation of the complaint ``ticket``."""
    rt = app.extensions["warga"]
    with rt.sessions() as s, s.begin():
        c = s.scalars(select(Complaint).where(Complaint.ticket == ticket)).one()
        s.add(Message(conversation_id=c.conversation_id, direction="in", channel=c.channel, kind="message",
                      text="...", nlu={"intent": intent, "confidence": confidence}, status="received",
                      created_at=at, received_at=at, processed_at=at))   # processed: the workers leave it


def tickets(page: str) -> list[str]:
    """The tickets listed on an inbox page, in order."""
    return TICKET_LINK.findall(page)


def chip(page: str, status: str) -> int:
    """The count on the inbox's chip for ``status`` ("overdue", "all")."""
    found = re.search(rf'data-status="{status}"[^>]*>[^<]*<b>(\d+)</b>', page)
    assert found, f"no count for {status}"
    return int(found.group(1))


CASES = (
    Filed("WRG-2026-000001", "road_damage", "proses", "telegram", NOW - timedelta(days=3),
          due=NOW - timedelta(days=2, hours=3), description="Jalan berlubang di depan sekolah",
          location="Jl. Kebon Sirih 12", name="Budi Santoso", phone="+6281234567890",
          urn="telegram:555001", assigned="dina"),
    Filed("WRG-2026-000002", "garbage", "menunggu", "whatsapp", NOW - timedelta(days=1),
          due=NOW + timedelta(hours=5), description='=HYPERLINK("http://evil.example","klik")',
          location="@pasar", name="Sari", phone="+6289900001111", urn="whatsapp:+6289900001111"),
    Filed("WRG-2026-000003", "street_light", "selesai", "sms", NOW - timedelta(days=10),
          description="Lampu jalan mati sepanjang gang", location="Jl. Raya Pasar Minggu", name="Tono",
          rating=4, resolved=NOW - timedelta(days=8)),
    # 17:30 UTC on the 18th is 00:30 WIB on the 19th: the city's day decides the date filter.
    Filed("WRG-2026-000004", "road_damage", "koordinasi", "web", datetime(2026, 11, 18, 17, 30, tzinfo=UTC),
          due=NOW + timedelta(days=1), description="Aspal retak", location="Jl. Salemba", name="Ani"),
    Filed("WRG-2026-000005", "flood", "disposisi", "sms", NOW - timedelta(days=6),
          due=NOW - timedelta(minutes=30), description="Banjir <script>alert(1)</script> sepinggang",
          location="Kampung Melayu", name="Dewi", phone="+6285700002222"),
)
