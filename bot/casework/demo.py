"""Demo data so a newcomer's console and status checks have something to show."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from bot.casework.complaints import ComplaintService, NewComplaint
from bot.casework.contacts import ContactRepository
from bot.settings import Settings
from bot.store.models import StaffUser, utcnow

DEMO_COMPLAINTS = [
    (
        "road_damage",
        "Jalan berlubang besar di depan sekolah, sudah dua motor jatuh.",
        "Jl. Kebon Sirih No. 12, Menteng",
        ["koordinasi", "disposisi", "proses"],
    ),
    (
        "flood",
        "Banjir setinggi lutut di gang kami sejak subuh.",
        "RT 05/RW 03 Kel. Kampung Melayu, Jatinegara",
        ["koordinasi"],
    ),
    (
        "garbage",
        "Sampah tidak diangkut sudah seminggu, bau sekali.",
        "TPS Jl. Tebet Barat Dalam",
        ["disposisi", "proses", "menunggu_validasi", "selesai"],
    ),
    (
        "street_light",
        "Lampu jalan mati sepanjang 200 meter, rawan begal.",
        "Jl. Raya Pasar Minggu dekat halte",
        [],
    ),
    (
        "illegal_parking",
        "Parkir liar di trotoar depan minimarket, pejalan kaki turun ke jalan.",
        "Jl. Salemba Raya",
        ["ditolak"],
    ),
    (
        "tree",
        "Dahan pohon besar menimpa kabel listrik.",
        "Jl. Cikini Raya depan TIM",
        ["koordinasi", "disposisi"],
    ),
]


def load_demo(session: Session, settings: Settings, admin_password: str) -> int:
    """Create an admin account (unless one exists: its password is kept) and demo complaints
    from one demo citizen; return how many complaints."""
    if session.scalar(select(StaffUser).where(StaffUser.username == "admin")) is None:
        session.add(StaffUser(username="admin", name="Admin Demo", role="admin", agency=None,
                              password_hash=generate_password_hash(admin_password)))
    contacts = ContactRepository(session)
    address = contacts.get_or_create_address("web:demo-citizen-000000", "web", "Warga Demo")
    conversation = contacts.conversation_for(address)
    service = ComplaintService(session, settings.complaints, settings.ticket_prefix, settings.timezone)
    created = 0
    for i, (category, description, place, statuses) in enumerate(DEMO_COMPLAINTS):
        if settings.complaints.category(category) is None:
            continue
        complaint = service.file(NewComplaint(
            contact_id=address.contact_id, conversation_id=conversation.id, source_message_id=None,
            channel="web", category=category, description=description, location_text=place),
            actor="system")
        complaint.created_at = utcnow() - timedelta(days=len(DEMO_COMPLAINTS) - i)
        for status in statuses:
            if status in settings.complaints.transitions.get(complaint.status, ()):
                service.change_status(complaint, status, actor="staff:admin",
                                      note="Demo: ditindaklanjuti petugas.")
        created += 1
    return created
