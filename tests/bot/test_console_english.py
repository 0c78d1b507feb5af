"""Issue #12: the console's English switch covers every page, and both languages have every word."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.casework.inbox import late_by
from bot.web.console.labels import LABELS
from tests.bot.casework_data import CASES, NOW, seed
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
