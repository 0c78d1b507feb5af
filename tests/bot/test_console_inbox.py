"""Finding the work in the console: the inbox's filters, sorts, pages, counts and CSV export,
each scoped to what the signed-in person may see (both databases)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.bot.casework_data import CASES, NOW, Filed, chip, seed, tickets
from tests.bot.test_console import add_user, login
from tests.conftest import make_settings


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Any:
    # var/ (audit.jsonl) under the test's own directory, not the checkout's.
    return dataclasses.replace(make_settings(db_url, tmp_path), var_dir=tmp_path / "var")


@pytest.fixture
def inbox_app(app: Any) -> Any:
    add_user(app, "admin", "admin", None)
    add_user(app, "dina", "staff", "Dinas Bina Marga")
    add_user(app, "lukas", "staff", "Dinas Lingkungan Hidup")
    app.extensions["warga.clock"] = lambda: NOW
    seed(app, *CASES)
    return app


def listed(client: Any, query: str = "") -> list[str]:
    r = client.get("/console/" + query)
    assert r.status_code == 200, r.get_data(as_text=True)
    return tickets(r.get_data(as_text=True))


def n(*numbers: int) -> list[str]:
    return [f"WRG-2026-{i:06d}" for i in numbers]


def test_each_filter_narrows_the_list(inbox_app, client):
    login(client, "admin")
    assert listed(client) == n(5, 4, 3, 2, 1)                    # newest first
    assert listed(client, "?status=proses") == n(1)
    assert listed(client, "?category=road_damage") == n(4, 1)
    assert listed(client, "?agency=Dinas+Lingkungan+Hidup") == n(2)
    assert listed(client, "?channel=sms") == n(5, 3)
    assert listed(client, "?overdue=1") == n(5, 1)
    assert listed(client, "?assigned=me") == []
    assert listed(client, "?assigned=none") == n(5, 4, 3, 2)
    # Days are the city's (WIB): #4 was filed at 17:30 UTC on the 18th, 00:30 WIB on the 19th.
    assert listed(client, "?from=2026-11-19&to=2026-11-19") == n(4, 2)
    assert listed(client, "?to=2026-11-18") == n(5, 3, 1)
    assert listed(client, "?category=road_damage&overdue=1&channel=telegram") == n(1)


def test_assigned_to_me_is_the_signed_in_persons_work(inbox_app, client):
    login(client, "dina")
    assert listed(client, "?assigned=me") == n(1)


def test_search_covers_ticket_description_location_and_contact(inbox_app, client):
    login(client, "admin")
    assert listed(client, "?q=wrg-2026-000003") == n(3)          # a whole ticket, any case
    assert listed(client, "?q=000002") == n(2)                    # part of a ticket
    assert listed(client, "?q=berlubang") == n(1)                 # description, any case
    assert listed(client, "?q=pasar+minggu") == n(3)              # location
    assert listed(client, "?q=budi") == n(1)                      # the citizen's name
    assert listed(client, "?q=%2B6289900001111") == n(2)          # phone as stored
    assert listed(client, "?q=0857-0000+2222") == n(5)            # phone as people type it
    assert listed(client, "?q=085700002222") == n(5)
    assert listed(client, "?q=telegram:555001") == n(1)           # channel address
    assert listed(client, "?q=100%25") == []                      # LIKE wildcards are literal


def test_sorts(inbox_app, client):
    login(client, "admin")
    assert listed(client, "?sort=oldest") == n(1, 2, 3, 4, 5)
    # Due soonest: still on time first (5 h, 1 day), then the late ones, the closed last.
    assert listed(client, "?sort=due") == n(2, 4, 1, 5, 3)
    assert listed(client, "?sort=late") == n(1, 5, 2, 4, 3)


def test_counts_per_status_and_overdue_and_how_late(inbox_app, client):
    login(client, "admin")
    page = client.get("/console/").get_data(as_text=True)
    assert [chip(page, s) for s in ("all", "menunggu", "koordinasi", "disposisi", "proses", "selesai",
                                    "ditolak", "overdue")] == [5, 1, 1, 1, 1, 1, 0, 2]
    assert "terlambat 2 hari 3 jam" in page and "terlambat 30 menit" in page
    # Counts do not change with the filter: they are the person's whole workload.
    assert chip(client.get("/console/?status=proses").get_data(as_text=True), "all") == 5


def test_staff_see_only_their_agency_in_list_counts_and_search(inbox_app, client):
    login(client, "dina")
    page = client.get("/console/").get_data(as_text=True)
    assert tickets(page) == n(4, 1)
    assert chip(page, "all") == 2 and chip(page, "overdue") == 1 and chip(page, "menunggu") == 0
    assert listed(client, "?q=WRG-2026-000002") == []
    assert listed(client, "?q=sari") == []
    # Asking for another agency shows nothing of it (the agency filter is not offered to staff).
    assert listed(client, "?agency=Dinas+Lingkungan+Hidup") == []
    assert 'name="agency"' not in page


def test_pages_keep_the_filters(inbox_app, client):
    many = [Filed(f"WRG-2026-{i:06d}", "garbage", "proses", "web", NOW - timedelta(hours=i), description=f"no {i}")
            for i in range(100, 221)]
    seed(inbox_app, *many)
    login(client, "admin")
    first = client.get("/console/?status=proses&category=garbage").get_data(as_text=True)
    newest_first = n(*range(220, 99, -1))
    assert tickets(first) == newest_first[:50]
    assert "121 laporan" in first and "halaman 1 dari 3" in first
    assert 'href="/console/?status=proses&amp;category=garbage&amp;page=2"' in first
    last = client.get("/console/?status=proses&category=garbage&page=3").get_data(as_text=True)
    assert tickets(last) == newest_first[100:]
    assert 'href="/console/?status=proses&amp;category=garbage&amp;page=2"' in last
    assert listed(client, "?status=proses&category=garbage&page=4") == []


BAD = [
    ("?page=0", "page"), ("?page=abc", "page"), ("?page=%C2%B2", "page"), ("?page=99999999999", "page"),
    ("?status=nope", "status"), ("?category=%3Cscript%3E", "category"), ("?agency=Nowhere", "agency"),
    ("?channel=fax", "channel"), ("?from=2026-13-01", "from"), ("?to=yesterday", "to"),
    ("?from=2026-11-20&to=2026-11-01", "from"), ("?overdue=yes", "overdue"), ("?assigned=bob", "assigned"),
    ("?sort=random", "sort"), ("?q=" + "x" * 201, "q"), ("?from=0001-01-01", "from"),
    ("?to=9999-12-31", "to"), ("?page=-1", "page"),
]


def test_bad_parameters_are_a_400_that_says_which(inbox_app, client):
    login(client, "admin")
    for query, says in BAD:
        for path in ("/console/", "/console/complaints.csv"):
            r = client.get(path + query)
            assert r.status_code == 400, (path, query)
            assert f"{says}:" in r.get_data(as_text=True), (path, query)


def test_odd_but_valid_input_changes_nothing_and_never_fails(inbox_app, client):
    login(client, "admin")
    for q in ("' OR 1=1 --", "%", "_", "\\", "ｗｒｇ", "😀", "<b>x</b>", "0", "-", "+62", "a" * 200):
        for path in ("/console/", "/console/complaints.csv"):
            assert client.get(path, query_string={"q": q}).status_code == 200, (path, q)
    assert listed(client, "?q=%25") == [] and listed(client, "?q=_") == []
    assert listed(client, "?from=1900-01-01&to=2999-12-31") == n(5, 4, 3, 2, 1)


def export(client: Any, query: str = "") -> list[list[str]]:
    r = client.get("/console/complaints.csv" + query)
    assert r.status_code == 200
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    body = r.get_data()
    assert body.startswith("\ufeff".encode())                   # Excel reads UTF-8 with the BOM
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_export_of_the_filtered_inbox_is_safe_for_spreadsheets(inbox_app, client):
    login(client, "admin")
    rows = export(client, "?agency=Dinas+Lingkungan+Hidup")
    header, (row,) = rows[0], rows[1:]
    got = dict(zip(header, row, strict=True))
    assert got["tiket"] == "WRG-2026-000002" and got["kanal"] == "whatsapp"
    # Cells that would start a formula are inert text.
    assert got["keterangan"] == "'=HYPERLINK(\"http://evil.example\",\"klik\")"
    assert got["lokasi"] == "'@pasar" and got["telepon"] == "'+6289900001111"
    assert got["alamat_kanal"] == "whatsapp:+6289900001111" and got["nama_warga"] == "Sari"
    assert got["masuk"] == "19-11-2026 12:00 WIB"
    all_rows = export(client, "?sort=oldest")
    assert [r[0] for r in all_rows[1:]] == n(1, 2, 3, 4, 5)
    late = {r[0]: r[header.index("terlambat")] for r in all_rows[1:]}
    assert late["WRG-2026-000001"] == "terlambat 2 hari 3 jam" and late["WRG-2026-000003"] == ""
    # A search exports what the inbox lists (its contact look-up stays apart from the export's join).
    assert [r[0] for r in export(client, "?q=sari")[1:]] == n(2)
    assert [r[0] for r in export(client, "?q=BERLUBANG")[1:]] == n(1) == listed(client, "?q=BERLUBANG")


def test_csv_export_is_scoped_masked_for_staff_and_recorded(inbox_app, client):
    audit = inbox_app.extensions["warga"].settings.var_dir / "audit.jsonl"
    before = audit.read_text().splitlines() if audit.exists() else []
    login(client, "dina")
    rows = export(client, "?overdue=1")
    header = rows[0]
    assert [r[0] for r in rows[1:]] == n(1)
    got = dict(zip(header, rows[1], strict=True))
    assert got["telepon"] == "'+•••••••••7890" and got["alamat_kanal"] == "telegram:••5001"
    assert got["petugas"] == "dina"
    assert [r[0] for r in export(client, "?agency=Dinas+Lingkungan+Hidup")[1:]] == []
    entries = [json.loads(line) for line in audit.read_text().splitlines()[len(before):]]
    assert [(e["by"], e["via"], e["action"], e["filter"]) for e in entries] == [
        ("dina", "console", "export_complaints", {"overdue": "1"}),
        ("dina", "console", "export_complaints", {"agency": "Dinas Lingkungan Hidup"})]
    assert all(datetime.fromisoformat(e["ts"]).tzinfo is not None for e in entries)


def test_citizen_text_in_the_inbox_is_escaped(inbox_app, client):
    login(client, "admin")
    page = client.get("/console/?q=banjir").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_export_that_cannot_be_recorded_is_refused(inbox_app, client):
    var = inbox_app.extensions["warga"].settings.var_dir
    assert not var.exists()
    var.write_text("a file where var/ should be")     # audit.jsonl cannot be written
    login(client, "admin")
    r = client.get("/console/complaints.csv")
    assert r.status_code == 503 and b"WRG-2026" not in r.data
