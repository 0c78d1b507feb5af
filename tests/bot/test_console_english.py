"""Issue #12: the console's English switch covers every page, and both languages have every word."""

from __future__ import annotations

from typing import Any

import pytest

from bot.web.console.labels import LABELS
from tests.bot.staff_accounts import PASSWORD, add_user


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
