"""Issue #12: the console's English switch covers every page, and both languages have every word."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.casework.complaint_page import describe
from bot.casework.inbox import late_by
from bot.store.models import ComplaintEvent
from bot.web.console.labels import LABELS
from tests.bot.casework_data import CASES, NOW, seed
from tests.bot.citizen import file_complaint
from tests.bot.staff_accounts import PASSWORD, add_user, login


@pytest.fixture
def staffed(app: Any) -> Any:
    add_user(app, "admin", "admin")
    add_user(app, "dina", "staff", "Dinas Bina Marga")
    return app


def english(client: Any) -> None:
    assert client.get("/console/language/en").status_code == 302


def test_both_languages_have_the_same_words():
    assert set(LABELS["id"]) == set(LABELS["en"])
    assert all(LABELS["en"][key].strip() for key in LABELS["en"])


def test_the_sign_in_page_and_its_refusal_read_in_english(staffed, client):
    assert "Kata sandi" in client.get("/console/login").get_data(as_text=True)
    english(client)
    page = client.get("/console/login").get_data(as_text=True)
    assert "Sign in" in page and "Password" in page and "Masuk" not in page and "Kata sandi" not in page
    page = client.get("/console/login").get_data(as_text=True)
    token = page.split('name="csrf" value="')[1].split('"')[0]
    refused = client.post("/console/login", data={"username": "admin", "password": PASSWORD + "x",
                                                  "csrf": token}).get_data(as_text=True)
    assert "Wrong username or password." in refused and "salah" not in refused


def test_the_inbox_reads_in_english_with_lateness_and_status_names(app, client):
    add_user(app, "admin", "admin")
    app.extensions["warga.clock"] = lambda: NOW
    seed(app, *CASES)
    login(client, "admin")
    english(client)
    page = client.get("/console/").get_data(as_text=True)
    for words in ("Download CSV", "Overdue only", "Most overdue", "Assigned to me", "late by 2d 3h",
                  "late by 30m", "In progress", "Description"):
        assert words in page, words
    for words in ("Unduh CSV", "Lewat tenggat", "terlambat", "Keterangan", "Proses"):
        assert words not in page, words
    assert late_by(NOW - timedelta(days=2, hours=3), NOW) == "terlambat 2 hari 3 jam"
    assert late_by(NOW - timedelta(minutes=30), NOW, "en") == "late by 30m"


def test_the_complaint_page_its_history_and_flashes_read_in_english(staffed, client):
    _, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    csrf = login(client, "dina")
    english(client)
    r = client.post(f"/console/complaints/{ticket}/status",
                    data={"status": "disposisi", "note": "Tim menuju lokasi", "csrf": csrf}, follow_redirects=True)
    page = r.get_data(as_text=True)
    for words in ("To the citizen", "Internal note", "Save status", "Duplicates and followers",
                  "Status changed to", "the citizen filed the complaint", "dina changed the status from",
                  "Tim menuju lokasi"):    # the staff member's own note stays as written
        assert words in page, words
    for words in ("Untuk warga", "Catatan internal", "Simpan status", "Duplikat dan pengikut",
                  "warga mengirim laporan", "mengubah status", "Status diubah ke"):
        assert words not in page, words
    bad = client.post(f"/console/complaints/{ticket}/edit", data={
        "category": "jalan_rusak", "description": "x", "latitude": "north", "csrf": csrf}, follow_redirects=True)
    assert "Latitude must be a number" in bad.get_data(as_text=True)


def test_the_dashboard_reads_in_english(app, client):
    add_user(app, "admin", "admin")
    app.extensions["warga.clock"] = lambda: NOW
    seed(app, *CASES)
    login(client, "admin")
    english(client)
    page = client.get("/console/dashboard?from=2026-11-01&to=2026-11-20").get_data(as_text=True)
    for words in ("Complaints per day by category", "Resolved on time per agency", "median time to resolve",
                  'id="median">2.0 days<', "In progress"):
        assert words in page, words
    for words in ("Laporan per hari", "Selesai dalam tenggat", "hari<", "Proses"):
        assert words not in page, words
    empty = client.get("/console/dashboard?from=2025-01-01&to=2025-01-02").get_data(as_text=True)
    assert "No data in this period yet." in empty and "Belum ada data" not in empty


def test_history_sentences_default_to_indonesian_and_speak_english_on_request():
    edit = ComplaintEvent(kind="edit", actor="staff:dina", field="category",
                          old_value=None, new_value="jalan_rusak")
    assert describe(edit).startswith("dina mengubah") and "(kosong)" in describe(edit)
    assert describe(edit, "en").startswith("dina changed the") and "(empty)" in describe(edit, "en")
    assert describe(ComplaintEvent(kind="rating", actor="citizen", note="4"), "en") == "the citizen rated it 4/5"


def test_a_refused_filter_reads_in_the_consoles_language_on_every_page(staffed, client):
    login(client, "admin")
    pages = ("/console/?from=31/12/2026", "/console/transcripts?from=31/12/2026",
             "/console/dashboard?from=31/12/2026")
    for path in pages:
        r = client.get(path)
        assert r.status_code == 400, path
        text = r.get_data(as_text=True)
        assert "from: tanggal ditulis TTTT-BB-HH" in text and "a date is written" not in text, path
        assert "&#39;31/12/2026&#39;" in text or "&#x27;31/12/2026&#x27;" in text, path   # shown escaped
    english(client)
    for path in pages:
        text = client.get(path).get_data(as_text=True)
        assert "from: a date is written YYYY-MM-DD" in text and "tanggal ditulis" not in text, path
    text = client.get("/console/transcripts?channel=fax").get_data(as_text=True)
    assert "channel: one of " in text
