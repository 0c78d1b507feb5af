"""Demo data so a newcomer's console, inbox filters and dashboard have something to show.

Citizens on every channel, complaints across categories and agencies in every status, some past
their due time (the inbox's "Lewat tenggat"), some resolved with a rating, and citizen messages
with their NLU results (the dashboard's "not understood" share).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from bot.casework.complaints import ComplaintService, NewComplaint
from bot.casework.contacts import ContactRepository
from bot.settings import Settings
from bot.store.models import ComplaintEvent, Message, StaffUser, utcnow


@dataclass(frozen=True, slots=True)
class DemoCitizen:
    urn: str
    channel: str
    name: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class DemoComplaint:
    citizen: int                   # index into CITIZENS
    category: str
    description: str
    place: str
    statuses: tuple[str, ...]      # moves after filing, in order
    days_ago: float                # filed this long before the load
    late_hours: float = 0          # > 0: due this many hours ago (the inbox shows it overdue)
    resolved_after_days: float = 0  # when it reached Selesai, counted from filing
    rating: int | None = None


CITIZENS = (
    DemoCitizen("web:demo-citizen-000000", "web", "Warga Demo", None),
    DemoCitizen("telegram:700000001", "telegram", "Budi Santoso", None),
    DemoCitizen("whatsapp:+6281100000001", "whatsapp", "Siti Aminah", "+6281100000001"),
    DemoCitizen("tel:+6281200000002", "sms", "Agus Salim", "+6281200000002"),
)

DONE = ("koordinasi", "disposisi", "proses", "menunggu_validasi", "selesai")

DEMO_COMPLAINTS = (
    DemoComplaint(0, "road_damage", "Jalan berlubang besar di depan sekolah, sudah dua motor jatuh.",
                  "Jl. Kebon Sirih No. 12, Menteng", ("koordinasi", "disposisi", "proses"), 9, late_hours=51),
    DemoComplaint(1, "flood", "Banjir setinggi lutut di gang kami sejak subuh.",
                  "RT 05/RW 03 Kel. Kampung Melayu, Jatinegara", ("koordinasi",), 5, late_hours=27),
    DemoComplaint(2, "garbage", "Sampah tidak diangkut sudah seminggu, bau sekali.",
                  "TPS Jl. Tebet Barat Dalam", DONE, 12, resolved_after_days=2, rating=5),
    DemoComplaint(3, "street_light", "Lampu jalan mati sepanjang 200 meter, rawan begal.",
                  "Jl. Raya Pasar Minggu dekat halte", (), 0.2),
    DemoComplaint(0, "illegal_parking", "Parkir liar di trotoar depan minimarket, pejalan kaki turun ke jalan.",
                  "Jl. Salemba Raya", ("ditolak",), 8),
    DemoComplaint(1, "tree", "Dahan pohon besar menimpa kabel listrik.",
                  "Jl. Cikini Raya depan TIM", ("koordinasi", "disposisi"), 3, late_hours=5),
    DemoComplaint(2, "drainage", "Saluran air tersumbat, air meluap ke jalan setiap hujan.",
                  "Jl. Pramuka Raya No. 40", ("koordinasi", "disposisi", "proses"), 14, late_hours=100),
    DemoComplaint(3, "road_damage", "Aspal retak dan amblas di tikungan.",
                  "Jl. Matraman Raya dekat pasar", DONE, 20, resolved_after_days=9, rating=2),
    DemoComplaint(0, "street_vendor", "Pedagang kaki lima menutup trotoar di depan stasiun.",
                  "Stasiun Tebet", ("koordinasi", "disposisi", "proses", "menunggu_validasi"), 6),
    DemoComplaint(1, "garbage", "Tumpukan sampah liar di pinggir kali.",
                  "Kali Ciliwung, Bukit Duri", DONE, 17, resolved_after_days=4, rating=4),
    DemoComplaint(2, "public_facility", "Toilet umum taman rusak dan terkunci.",
                  "Taman Menteng", ("koordinasi",), 1.5),
    DemoComplaint(3, "flood", "Genangan tidak surut dua hari di depan puskesmas.",
                  "Jl. Otista Raya", DONE, 25, resolved_after_days=2.5, rating=5),
    DemoComplaint(0, "traffic", "Lampu lalu lintas mati di perempatan, macet parah.",
                  "Perempatan Jl. Pramuka - Jl. Salemba", (), 0.5, late_hours=3),
    DemoComplaint(1, "pollution", "Asap pembakaran sampah setiap malam.",
                  "Jl. Kemuning, Pejaten", DONE, 28, resolved_after_days=10, rating=3),
)

#: Citizen messages with what the NLU made of them: the dashboard shows the share not understood.
DEMO_MESSAGES = (
    ("halo", "greet", 0.97), ("jalan rusak di depan sekolah", "report_road_damage", 0.91),
    ("cek status laporan saya", "check_status", 0.88), ("asdfgh", None, 0.12),
    ("terima kasih banyak", "thank", 0.95), ("kapan pemilu berikutnya", "out_of_scope", 0.74),
    ("sampah belum diangkut", "report_garbage", 0.86), ("hmm gimana ya", "greet", 0.31),
)


def load_demo(session: Session, settings: Settings, admin_password: str, now: datetime | None = None) -> int:
    """Create an admin account (unless one exists: its password is kept) and the demo citizens,
    complaints and messages, dated relative to ``now``; return how many complaints."""
    now = now or utcnow()
    if session.scalar(select(StaffUser).where(StaffUser.username == "admin")) is None:
        session.add(StaffUser(username="admin", name="Admin Demo", role="admin", agency=None,
                              password_hash=generate_password_hash(admin_password)))
    contacts = ContactRepository(session)
    addresses, conversations = [], []
    for citizen in CITIZENS:
        address = contacts.get_or_create_address(citizen.urn, citizen.channel, citizen.name)
        if citizen.phone and not address.contact.phone:
            address.contact.phone = citizen.phone
        addresses.append(address)
        conversations.append(contacts.conversation_for(address))
    service = ComplaintService(session, settings.complaints, settings.ticket_prefix, settings.timezone)
    created = 0
    for demo in DEMO_COMPLAINTS:
        if settings.complaints.category(demo.category) is None:
            continue
        citizen, address, conversation = CITIZENS[demo.citizen], addresses[demo.citizen], conversations[demo.citizen]
        filed_at = now - timedelta(days=demo.days_ago)
        complaint = service.file(NewComplaint(
            contact_id=address.contact_id, conversation_id=conversation.id, source_message_id=None,
            channel=citizen.channel, category=demo.category, description=demo.description,
            location_text=demo.place), actor="system")
        complaint.created_at = complaint.updated_at = filed_at
        category = service.category(demo.category)
        complaint.due_at = filed_at + timedelta(hours=category.coordination_hours)
        for created_event in session.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id)):
            created_event.created_at = filed_at
        steps = list(demo.statuses)
        for step, status in enumerate(steps):
            if status not in settings.complaints.transitions.get(complaint.status, ()):
                continue
            event = service.change_status(complaint, status, actor="staff:admin",
                                          note="Demo: ditindaklanjuti petugas.")
            # Spread the history between filing and now (or the resolution day).
            end = filed_at + timedelta(days=demo.resolved_after_days) if demo.resolved_after_days else now
            event.created_at = filed_at + (end - filed_at) * (step + 1) / len(steps)
            complaint.updated_at = event.created_at
        if complaint.status not in ("selesai", "ditolak"):
            complaint.due_at = (now - timedelta(hours=demo.late_hours) if demo.late_hours
                                else max(complaint.due_at or now, now + timedelta(hours=6)))
        if demo.rating:
            service.rate(complaint, demo.rating).created_at = complaint.updated_at
        created += 1
    for i, (text, intent, confidence) in enumerate(DEMO_MESSAGES):
        conversation = conversations[i % len(conversations)]
        at = now - timedelta(days=i * 2 + 1)
        session.add(Message(conversation_id=conversation.id, direction="in", channel=conversation.channel,
                            kind="message", external_id=f"demo-{i}-{int(now.timestamp())}",
                            urn=CITIZENS[i % len(CITIZENS)].urn, text=text, status="received",
                            nlu={"intent": intent, "confidence": confidence, "engine": "demo"},
                            created_at=at, received_at=at, processed_at=at))
    return created
