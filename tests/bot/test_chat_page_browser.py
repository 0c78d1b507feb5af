"""The web chat page in a real headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import serving
from tests.conftest import make_settings, migrate


@pytest.fixture
def live_url(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    from bot.web.app import create_app

    settings = make_settings(sqlite_url, tmp_path)
    migrate(settings.database_url)
    app = create_app(settings)
    try:
        with serving(app) as url:
            yield url
    finally:
        app.extensions["warga"].close()


@pytest.mark.browser
def test_citizen_types_and_sees_the_bot_reply(live_url: str, page: Any) -> None:
    page.goto(live_url + "/")
    page.wait_for_selector(".msg--bot")          # the welcome note
    page.fill("#text", "menu")
    page.keyboard.press("Enter")
    reply = page.locator("[data-testid=bot-message]").last
    reply.wait_for(timeout=15000)
    assert "Pilih yang Anda perlukan" in reply.inner_text()
    # The choices are real buttons; pressing one sends its payload.
    page.get_by_role("button", name="Buat laporan").click()
    expect(page.locator("[data-testid=bot-message]")).to_have_count(2, timeout=15000)
    assert "Laporan Anda tentang apa" in page.locator("[data-testid=bot-message]").last.inner_text()


@pytest.mark.browser
def test_citizen_markup_is_shown_as_text_and_language_switches(live_url: str, page: Any) -> None:
    page.goto(live_url + "/")
    page.get_by_role("button", name="EN").click()
    assert page.get_attribute("#text", "placeholder") == "Type a message…"
    assert page.locator("html").get_attribute("lang") == "en"
    page.fill("#text", "<img src=x onerror=alert(1)> lapor")
    page.keyboard.press("Enter")
    page.locator("[data-testid=bot-message]").last.wait_for(timeout=15000)
    mine = page.locator(".msg--me").last
    assert mine.inner_text() == "<img src=x onerror=alert(1)> lapor"
    assert page.locator(".msg--me img").count() == 0
    # A reload keeps the conversation (same sender id in the browser) and shows earlier replies.
    page.reload()
    page.locator("[data-testid=bot-message]").first.wait_for(timeout=15000)


@pytest.mark.browser
def test_a_503_is_retried_with_the_same_message_id_and_polls_send_the_sender_in_a_header(
        live_url: str, page: Any) -> None:
    import json

    posts: list[dict[str, Any]] = []
    polls: list[tuple[str, str | None]] = []

    def api(route: Any) -> None:
        request = route.request
        if request.method == "POST":
            posts.append(json.loads(request.post_data or "{}"))
            if len(posts) == 1:   # the database was away: nothing stored
                route.fulfill(status=503, headers={"Retry-After": "1", "Content-Type": "application/json"},
                              body='{"error": "unavailable", "message": "retry"}')
                return
        else:
            polls.append((request.url, request.headers.get("x-warga-sender")))
        route.continue_()

    page.route("**/api/v1/chat/messages*", api)
    page.goto(live_url + "/")
    page.fill("#text", "menu")
    page.keyboard.press("Enter")
    reply = page.locator("[data-testid=bot-message]").last
    reply.wait_for(timeout=15000)
    assert "Pilih yang Anda perlukan" in reply.inner_text()
    assert len(posts) == 2 and posts[0]["id"] == posts[1]["id"]
    assert page.locator(".msg--error").count() == 0
    assert polls, "the page polls for later messages"
    sender = posts[0]["sender"]
    for url, header in polls:
        assert sender not in url and header == sender
