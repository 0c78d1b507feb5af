"""Finding the work in a real headless Chromium: filter and page the inbox, export CSV, the
dashboard drawn from the demo data, and both usable on a 400 px phone. The inbox and dashboard
screenshots in docs/screenshots/ (shown in the README) are taken here, from fixed demo data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.casework.demo import load_demo
from tests.bot.casework_data import NOW, Filed, seed
from tests.browser import chromium_page, serving, sign_in
from tests.conftest import make_settings, migrate
from tests.support import PROJECT

PASSWORD = "demo-password-1"
SHOTS = PROJECT / "docs" / "screenshots"


@pytest.fixture
def demo_app(sqlite_url: str, tmp_path: Path) -> Iterator[Any]:
    from bot.web.app import create_app

    settings = make_settings(sqlite_url, tmp_path)
    migrate(settings.database_url)
    app = create_app(settings)
    app.extensions["warga.clock"] = lambda: NOW
    rt = app.extensions["warga"]
    with rt.sessions() as s, s.begin():
        load_demo(s, settings, PASSWORD, now=NOW)
    try:
        yield app
    finally:
        rt.close()


def ticket_links(pg: Any) -> list[str]:
    return [t.strip() for t in pg.locator("table.list tbody td[data-label=Tiket] a").all_inner_texts()]


def fits(pg: Any, width: int) -> bool:
    return bool(pg.evaluate(f"document.scrollingElement.scrollWidth <= {width}"))


@pytest.mark.browser
def test_filter_export_and_page_the_inbox(demo_app: Any, page: Any, tmp_path: Path) -> None:
    with serving(demo_app) as url:
        sign_in(page, url, "admin", PASSWORD)
        page.goto(url + "/console/")
        assert len(ticket_links(page)) == 14
        assert page.locator("tr.late").count() >= 4 and "terlambat" in page.locator("tr.late").first.inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "inbox.png"), full_page=True)

        # The filter form is a plain GET form: choose, apply, the URL carries the filter.
        page.select_option("select[name=status]", "proses")
        page.select_option("select[name=channel]", "web")
        page.get_by_role("button", name="Terapkan").click()
        page.wait_for_url(lambda u: "status=proses" in u and "channel=web" in u)
        rows = page.locator("table.list tbody tr")
        assert rows.count() == 1 and "Proses" in rows.first.inner_text() and "web" in rows.first.inner_text()

        with page.expect_download() as download:
            page.get_by_role("link", name="Unduh CSV").click()
        saved = tmp_path / "export.csv"
        download.value.save_as(saved)
        body = saved.read_bytes()
        assert body.startswith("\ufeff".encode())
        lines = body.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("tiket,status,kategori") and len(lines) == 2 and ",proses," in lines[1]

        seed(demo_app, *[Filed(f"WRG-2026-9{i:05d}", "garbage", "menunggu", "sms", NOW - timedelta(hours=i),
                               due=NOW + timedelta(days=1)) for i in range(60)])
        page.goto(url + "/console/?category=garbage")
        assert len(ticket_links(page)) == 50 and "halaman 1 dari 2" in page.inner_text(".found")
        page.get_by_role("link", name="berikutnya ›").click()
        page.wait_for_url(lambda u: "page=2" in u and "category=garbage" in u)
        assert len(ticket_links(page)) == 12           # 60 new + 2 demo garbage complaints = 62


@pytest.mark.browser
def test_dashboard_draws_the_demo_data(demo_app: Any, page: Any) -> None:
    with serving(demo_app) as url:
        sign_in(page, url, "admin", PASSWORD)
        page.goto(url + "/console/dashboard")
        charts = page.locator("svg.chart")
        assert charts.count() == 5
        for i in range(5):
            assert charts.nth(i).locator("rect").count() > 0, f"chart {i} has no bars"
        assert page.inner_text("#filed") == "14"
        assert page.inner_text("#not-understood").endswith("%")
        page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)


@pytest.mark.browser
def test_inbox_complaint_and_dashboard_fit_a_phone(demo_app: Any) -> None:
    with serving(demo_app) as url, chromium_page(width=400, height=860) as pg:
        sign_in(pg, url, "admin", PASSWORD)
        pg.goto(url + "/console/")
        assert len(ticket_links(pg)) == 14
        assert fits(pg, 400), pg.evaluate("document.scrollingElement.scrollWidth")
        pg.locator("table.list tbody td[data-label=Tiket] a").first.click()
        pg.wait_for_url(lambda u: "/console/complaints/" in u)
        assert pg.locator("h1").count() == 1
        assert fits(pg, 400), pg.evaluate("document.scrollingElement.scrollWidth")
        pg.goto(url + "/console/dashboard")
        assert fits(pg, 400), pg.evaluate("document.scrollingElement.scrollWidth")
