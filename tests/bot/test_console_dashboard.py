"""The dashboard: its figures over a period, drawn as SVG, scoped like the inbox (both databases)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.casework.dashboard import understood
from tests.bot.casework_data import CASES, NOW, say, seed
from tests.bot.test_console import add_user, login

PERIOD = "?from=2026-11-01&to=2026-11-20"


@pytest.fixture
def dash_app(app: Any) -> Any:
    add_user(app, "admin", "admin", None)
    add_user(app, "dina", "staff", "Dinas Bina Marga")
    app.extensions["warga.clock"] = lambda: NOW
    seed(app, *CASES)
    say(app, "WRG-2026-000001", "report_road_damage", 0.9)
    say(app, "WRG-2026-000001", None, 0.1)
    say(app, "WRG-2026-000002", "greet", 0.3)                 # below nlu.threshold (0.5)
    say(app, "WRG-2026-000002", "out_of_scope", 0.9)          # a fallback intent
    return app


def tile(page: str, name: str) -> str:
    found = re.search(rf'id="{name}">([^<]*)<', page)
    assert found, name
    return found.group(1)


def titles(page: str) -> list[str]:
    """What each drawn bar says (its SVG <title>)."""
    return re.findall(r"<rect [^>]*><title>([^<]*)</title>", page)


def test_figures_for_a_supervisor(dash_app, client):
    login(client, "admin")
    r = client.get("/console/dashboard" + PERIOD)
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert tile(page, "filed") == "5"
    assert tile(page, "median") == "2.0 hari"                  # #3: filed the 10th, Selesai the 12th
    assert tile(page, "rating") == "4.0"
    assert tile(page, "not-understood") == "75%"
    bars = titles(page)
    assert "17-11: Jalan rusak 1" in bars and "19-11: Sampah 1" in bars   # per day, by category (WIB)
    assert "Dinas Bina Marga: Proses 1" in bars and "Dinas Lingkungan Hidup: Menunggu 1" in bars
    assert "Dinas Bina Marga (PJU): 100% dari 1" in bars       # resolved within its 7-day SLA
    assert {"sms: 2", "telegram: 1", "whatsapp: 1", "web: 1"} <= set(bars)
    assert "★★★★: 1" in bars


def test_staff_see_their_agency_only(dash_app, client):
    login(client, "dina")
    page = client.get("/console/dashboard" + PERIOD).get_data(as_text=True)
    assert tile(page, "filed") == "2"
    assert tile(page, "not-understood") == "50%"               # the messages of #1's conversation
    assert "Lingkungan Hidup" not in page and "Sampah" not in page and "PJU" not in page
    assert set(titles(page)) >= {"Dinas Bina Marga: Proses 1", "Dinas Bina Marga: Koordinasi 1"}


def test_the_period_is_checked(dash_app, client):
    login(client, "admin")
    for query in ("?from=2026-02-30", "?to=soon", "?from=2026-11-20&to=2026-11-01", "?from=2024-01-01&to=2026-11-20",
                  "?to=9999-12-31", "?from=0001-01-01&to=0001-01-02"):
        r = client.get("/console/dashboard" + query)
        assert r.status_code == 400, query
    # The default is the last 30 days up to today (the console's clock).
    page = client.get("/console/dashboard").get_data(as_text=True)
    assert 'value="2026-10-22"' in page and 'value="2026-11-20"' in page and tile(page, "filed") == "5"


@pytest.mark.parametrize(("nlu", "ok"), [
    ({"intent": "greet", "confidence": 0.9}, True), ({"intent": "greet", "confidence": 0.49}, False),
    ({"intent": None, "confidence": 0.9}, False), ({"intent": "nlu_fallback", "confidence": 0.9}, False),
    ({"intent": "out_of_scope", "confidence": 0.99}, False), (None, False), ({"intent": "greet"}, False),
])
def test_what_counts_as_understood(nlu, ok):
    assert understood(nlu, 0.5) is ok
