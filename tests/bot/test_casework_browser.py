"""Working a complaint in headless Chromium (issue 12, Must hold): re-route it and see it leave the
agency's list, edit its location, change its status and see the citizen's notification queued on
their channel, 404s across agencies, the map drawn from /static with no request leaving
127.0.0.1, citizen text inert everywhere, and the README's screenshot of the page."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.casework.complaints import ComplaintService, NewComplaint
from bot.store.models import Complaint, Contact, ContactAddress, Conversation, Message, StaffUser
from tests.bot.staff_accounts import stored_hash
from tests.browser import serving, sign_in
from tests.conftest import make_settings, migrate

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-9"
ROAD = "Dinas Bina Marga"
WATER = "Dinas Sumber Daya Air"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "complaint.png"
#: Fixed times, so the screenshot is the same on every run (times shown in WIB).
FILED = datetime(2026, 11, 28, 2, 15, tzinfo=UTC)


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small solid-colour PNG (a citizen's photo, made here so the test needs no file)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@dataclass
class Seeded:
    ticket: str
    conv_id: int


def seed(app: Any, media_dir: Path, *, name: str, text: str, location: str, caption: str,
         file_name: str, phone: str = "+6281234567123", channel: str = "telegram") -> Seeded:
    """A citizen on ``channel`` who filed a road complaint with a photo: the conversation as the
    bot saw it (their words, the "Kirim" button they pressed), at fixed times."""
    rt = app.extensions["warga"]
    media_dir.mkdir(parents=True, exist_ok=True)
    photo = media_dir / file_name
    photo.write_bytes(png(64, 48, (120, 110, 95)))
    with rt.sessions() as s, s.begin():
        contact = Contact(name=name, phone=phone, created_at=FILED)
        address = ContactAddress(contact=contact, urn=f"tel:{phone}" if channel != "telegram" else "telegram:3527065",
                                 channel=channel, created_at=FILED)
        conv = Conversation(contact=contact, address=address, channel=channel, language="id",
                            created_at=FILED, updated_at=FILED)
        s.add(conv)
        s.flush()
        at = iter(FILED + timedelta(seconds=20 * i) for i in range(20))

        def said(direction: str, body: str, **extra: Any) -> Message:
            when = next(at)
            # Already processed: the app's workers must not answer the seeded conversation again.
            m = Message(conversation_id=conv.id, direction=direction, channel=channel, text=body,
                        urn=address.urn, status="delivered" if direction == "out" else "received",
                        created_at=when, processed_at=when if direction == "in" else None, **extra)
            s.add(m)
            s.flush()
            return m

        said("in", text, nlu={"intent": "report_road_damage", "confidence": 0.93})
        said("out", "Di mana lokasinya?")
        said("in", location, address_text=location, latitude=-6.1951, longitude=106.8505)
        said("in", "", media=[{"url": "tg-file:1", "content_type": "image/png", "caption": caption,
                               "stored": str(photo)}])
        said("out", "Kirim laporan ini?", buttons=[{"title": "Kirim", "payload": "yes"},
                                                   {"title": "Ubah", "payload": "change"}])
        source = said("in", "yes", button_payload="yes")
        c = ComplaintService(s, rt.settings.complaints, rt.settings.ticket_prefix, rt.settings.timezone).file(
            NewComplaint(contact_id=contact.id, conversation_id=conv.id, source_message_id=source.id,
                         channel=channel, category="road_damage", description=text, location_text=location,
                         latitude=-6.1951, longitude=106.8505,
                         media=({"url": "tg-file:1", "content_type": "image/png", "caption": caption},)))
        c.created_at = c.updated_at = FILED
        c.due_at = FILED + timedelta(hours=6)
        for e in c.events:
            e.created_at = FILED
        said("out", f"Terima kasih, laporan Anda sudah kami terima dengan nomor tiket {c.ticket}.")
        return Seeded(c.ticket, conv.id)


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    from bot.web.app import create_app

    settings = make_settings(sqlite_url, tmp_path)
    migrate(settings.database_url)
    app = create_app(settings)
    with app.extensions["warga"].sessions() as s, s.begin():
        for username, role, agency in (("sari", "supervisor", None), ("dina", "staff", ROAD),
                                       ("wati", "staff", WATER)):
            s.add(StaffUser(username=username, name=username.title(), role=role, agency=agency,
                            password_hash=stored_hash(PASSWORD)))
    try:
        with serving(app) as url:
            yield app, url
    finally:
        app.extensions["warga"].close()


def plain(app: Any, tmp_path: Path) -> Seeded:
    return seed(app, tmp_path / "media", name="Ani", text="Jalan berlubang besar di depan SD Negeri 3",
                location="Jl. Salemba Raya 5, Jakarta Pusat", caption="lubang di lajur kiri", file_name="foto-1.png")


def watch_requests(page: Any, base: str) -> list[str]:
    """Every URL the page asks for that is not the app itself (must stay empty)."""
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((base, "data:", "about:")) else outside.append(r.url))
    return outside


def test_reroute_leaves_the_agencys_list_and_the_old_staff_get_404(live: Any, page: Any, tmp_path: Path) -> None:
    app, base = live
    case = plain(app, tmp_path)
    other = seed(app, tmp_path / "media2", name="Budi", text="Banjir setinggi lutut", location="Jl. Kemang",
                 caption="", file_name="f.png", phone="+6281299990001", channel="sms")
    with app.extensions["warga"].sessions() as s, s.begin():
        s.scalars(select(Complaint).where(Complaint.ticket == other.ticket)).one().agency = WATER
    sign_in(page, base, "dina", PASSWORD)
    page.goto(f"{base}/console/")
    assert page.get_by_role("link", name=case.ticket).count() == 1
    page.goto(f"{base}/console/complaints/{case.ticket}")
    page.click("#reroute summary")
    page.select_option("#reroute select[name=agency]", WATER)
    page.fill("#reroute textarea[name=reason]", "Saluran tersumbat, bukan jalan")
    page.click("#reroute button[type=submit]")
    page.wait_for_url(f"{base}/console/")
    said = page.locator(".flash").all_inner_texts()
    assert said == [f"Laporan didisposisikan ke {WATER}.",
                    f"{case.ticket} kini di instansi lain dan tidak lagi tampil di daftar Anda."]
    assert page.get_by_role("link", name=case.ticket).count() == 0
    # Another agency's complaint and its conversation: 404, as if they did not exist.
    assert page.goto(f"{base}/console/complaints/{case.ticket}").status == 404
    assert page.goto(f"{base}/console/complaints/{other.ticket}").status == 404
    assert page.goto(f"{base}/console/conversations/{other.conv_id}").status == 404


def test_edit_the_location_and_the_map_is_drawn_from_static_only(live: Any, page: Any, tmp_path: Path) -> None:
    app, base = live
    case = plain(app, tmp_path)
    outside = watch_requests(page, base)
    refused: list[str] = []   # what the CSP blocked (Leaflet must need nothing it forbids)
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, base, "dina", PASSWORD)
    page.goto(f"{base}/console/complaints/{case.ticket}")
    page.wait_for_selector("#map.leaflet-container .leaflet-marker-icon")
    page.click("#edit summary")
    page.fill("#edit input[name=location_text]", "Jl. Salemba Raya 9 (depan apotek)")
    page.fill("#edit input[name=latitude]", "-6.1960")
    page.fill("#edit input[name=longitude]", "106.8512")
    page.click("#edit button[type=submit]")
    page.wait_for_selector(".flash--ok")
    assert page.inner_text("[data-testid=location]") == "Jl. Salemba Raya 9 (depan apotek)"
    assert page.inner_text("[data-testid=coordinates]") == "-6.196000, 106.851200"
    assert "dina mengubah lokasi dari Jl. Salemba Raya 5, Jakarta Pusat (-6.1951, 106.85)" in page.inner_text(
        "[data-testid=history]")
    page.wait_for_selector("#map[data-ready='1'] .leaflet-marker-icon")
    assert page.get_attribute("#map", "data-lat") == "-6.196"
    assert page.get_by_role("link", name="buka di peta").count() == 1
    assert outside == [] and refused == []
    # The correction was internal: nothing was queued for the citizen.
    with app.extensions["warga"].sessions() as s:
        assert s.scalar(select(Message.id).where(Message.direction == "out", Message.status == "pending")) is None


def test_a_status_change_queues_the_citizens_notification_on_their_channel(
        live: Any, page: Any, tmp_path: Path) -> None:
    app, base = live
    case = plain(app, tmp_path)   # the citizen wrote on Telegram
    sign_in(page, base, "dina", PASSWORD)
    page.goto(f"{base}/console/complaints/{case.ticket}")
    page.select_option(".to-citizen select[name=status]", "disposisi")
    page.fill(".to-citizen input[name=note]", "Tim menuju lokasi")
    page.click(".to-citizen form:first-of-type button[type=submit]")
    page.wait_for_selector(".flash--ok")
    assert page.inner_text("[data-testid=status]") == "Disposisi"
    with app.extensions["warga"].sessions() as s:
        queued = s.scalars(select(Message).where(Message.direction == "out", Message.kind == "notification")).all()
    assert [(m.channel, m.urn, m.conversation_id) for m in queued] == [("telegram", "telegram:3527065", case.conv_id)]
    assert queued[0].text == f"Laporan {case.ticket} (Jalan rusak) kini berstatus: Disposisi. " \
                             "Catatan petugas: Tim menuju lokasi"


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)><a href="javascript:alert(2)">klik</a>'


def test_citizen_text_is_inert_everywhere(live: Any, page: Any, tmp_path: Path) -> None:
    app, base = live
    case = seed(app, tmp_path / "media", name=f"Ani {HOSTILE}", text=f"Jalan rusak {HOSTILE} javascript:alert(3)",
                location=f"Jl. {HOSTILE}", caption=f"foto {HOSTILE}", file_name="<img src=x onerror=alert(4)>.png")
    dialogs: list[str] = []

    def dialog(d: Any) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    sign_in(page, base, "sari", PASSWORD)
    for path in (f"/console/complaints/{case.ticket}", f"/console/conversations/{case.conv_id}",
                 f"/console/?q={case.ticket}", "/console/conversations", "/console/transcripts?q=Jalan",
                 "/console/dashboard"):
        page.goto(base + path)
        page.wait_for_load_state("load")
        for bad in ("script:not([src])", "img[onerror]", "img[src=x]", "a[href^='javascript:']"):
            assert page.locator(bad).count() == 0, (path, bad)
    page.goto(f"{base}/console/transcripts?q=Jalan")
    assert HOSTILE in page.inner_text("main")          # found, and shown as text
    page.goto(f"{base}/console/complaints/{case.ticket}")
    assert HOSTILE in page.inner_text("[data-testid=description]")
    page.click("a[data-viewer]")   # the viewer shows the caption as text too
    page.wait_for_selector("#viewer[open]")
    assert HOSTILE in page.inner_text(".viewer__caption")
    assert page.locator("#viewer img[onerror]").count() == 0
    assert dialogs == []


def test_screenshot_of_the_complaint_page(live: Any, page: Any, tmp_path: Path) -> None:
    app, base = live
    case = plain(app, tmp_path)
    sign_in(page, base, "dina", PASSWORD)
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.goto(f"{base}/console/complaints/{case.ticket}")
    page.wait_for_selector("#map[data-ready='1'] .leaflet-marker-icon")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert SCREENSHOT.stat().st_size > 10_000


def test_staff_file_a_complaint_from_a_conversation_by_ticking_messages(
        live: Any, page: Any, tmp_path: Path) -> None:
    app, base = live
    case = plain(app, tmp_path)
    with app.extensions["warga"].sessions() as s, s.begin():
        later = [Message(conversation_id=case.conv_id, direction="in", channel="telegram", text=t,
                         urn="telegram:3527065", status="received", processed_at=FILED)
                 for t in ("satu lagi:", "lampu jalan mati")]
        s.add_all(later)
    sign_in(page, base, "dina", PASSWORD)
    page.goto(f"{base}/console/conversations/{case.conv_id}")
    assert page.input_value("#file-complaint textarea[name=description]") == "lampu jalan mati"
    page.locator("label.t__pick", has_text="pilih untuk laporan").nth(-2).locator("input").check()
    page.locator("label.t__pick").last.locator("input").check()
    assert page.input_value("#file-complaint textarea[name=description]") == "satu lagi:\nlampu jalan mati"
    page.select_option("#file-complaint select[name=category]", "street_light")
    page.click("#file-complaint button[type=submit]")
    page.wait_for_selector(".flash--ok")
    with app.extensions["warga"].sessions() as s:
        filed = s.scalars(select(Complaint).where(Complaint.category == "street_light")).one()
        told = s.scalars(select(Message.text).where(Message.direction == "out")
                         .order_by(Message.id.desc()).limit(1)).one()
    assert filed.description == "satu lagi:\nlampu jalan mati" and filed.agency == "Dinas Bina Marga (PJU)"
    assert f"nomor tiket {filed.ticket}" in told


def test_the_complaint_page_fits_a_phone(live: Any, tmp_path: Path) -> None:
    from tests.browser import chromium_page

    app, base = live
    case = plain(app, tmp_path)
    with chromium_page(width=400, height=800) as phone:
        sign_in(phone, base, "dina", PASSWORD)
        phone.goto(f"{base}/console/complaints/{case.ticket}")
        phone.wait_for_selector("#map[data-ready='1']")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 400
