"""The web chat page in a real headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.bot.citizen import tiny_png
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


@pytest.mark.browser
def test_citizen_sends_a_photo_reloads_and_sees_the_whole_conversation(live_url: str, page: Any) -> None:
    name = "<img src=x onerror=alert(1)>.png"
    page.goto(live_url + "/")
    # The tools are labelled in words, not only icons.
    assert page.get_by_role("button", name="Lokasi").is_visible()
    assert page.locator("label[for=photo]").inner_text().strip().endswith("Foto")
    assert page.get_attribute("#photo", "accept") == "image/*"
    page.fill("#text", "menu")
    page.keyboard.press("Enter")
    bot = page.locator("[data-testid=bot-message]")
    expect(bot).to_have_count(1)
    page.fill("#text", "<b>jalan</b> rusak")          # typed first: the photo's caption
    page.set_input_files("#photo", files=[{"name": name, "mimeType": "image/png", "buffer": tiny_png()}])
    expect(bot).to_have_count(2)
    mine = page.locator("[data-testid=my-message]")
    expect(mine).to_have_count(2)

    page.reload()
    # Everything said before, the citizen's own words and photo included, in order.
    expect(mine).to_have_count(2)
    expect(bot).to_have_count(2)
    expect(mine.first).to_have_text("menu")
    photo = mine.last.locator("[data-testid=photo]")
    page.wait_for_function("img => img.complete && img.naturalWidth === 8", arg=photo.element_handle())
    assert mine.last.locator("figcaption").inner_text() == name
    assert "<b>jalan</b> rusak" in mine.last.inner_text()
    # Inert: the file name and the text are text, not markup.
    assert page.locator(".msg--me img").count() == 1 and page.locator(".msg--me b").count() == 0
    texts = page.locator(".chat__log li").all_inner_texts()
    assert texts.index("menu") < next(i for i, t in enumerate(texts) if "Pilih yang Anda perlukan" in t)


@pytest.mark.browser
def test_a_photo_too_large_is_refused_in_the_page(live_url: str, page: Any) -> None:
    page.goto(live_url + "/")
    page.locator("[data-testid=bot-message], .msg--bot").first.wait_for()
    big = tiny_png() + b"\0" * (5120 * 1024)
    page.set_input_files("#photo", files=[{"name": "besar.png", "mimeType": "image/png", "buffer": big}])
    expect(page.locator(".msg--error")).to_contain_text("Foto terlalu besar (maksimal 5120 KB)")
    assert page.locator("[data-testid=my-message]").count() == 0


@pytest.mark.browser
def test_switching_to_english_makes_the_bot_answer_in_english(live_url: str, page: Any) -> None:
    page.goto(live_url + "/")
    page.get_by_role("button", name="EN", exact=True).click()
    bot = page.locator("[data-testid=bot-message]")
    expect(bot.first).to_contain_text("Hello! I am Warga")
    expect(page.locator(".msg--bot").first).to_contain_text("Describe the problem")   # the page's greeting
    assert page.get_by_role("button", name="Location").is_visible()
    page.fill("#text", "saya mau lapor jalan rusak di depan rumah")
    page.keyboard.press("Enter")
    expect(bot).to_have_count(3)
    assert page.locator("html").get_attribute("lang") == "en"
    # The choice holds across a reload, for the page and the bot.
    page.reload()
    expect(bot).to_have_count(3)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("button", name="EN", exact=True).get_attribute("aria-pressed") == "true"
    page.fill("#text", "menu")
    page.keyboard.press("Enter")
    # The menu, then the complaint being filed is resumed: all in English.
    expect(bot.nth(3)).to_contain_text("Choose what you need")
    expect(bot.last).not_to_contain_text("Pilih")
