"""A taken conversation updates without reload (issue 12, Must hold): staff open a waiting
conversation in headless Chromium, take it, and a citizen message sent through the chat API
meanwhile appears on the page (the page polls; the test waits for the element, never sleeps)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot.store.models import Conversation
from tests.bot.citizen import WebCitizen
from tests.bot.staff_accounts import PASSWORD, add_user
from tests.browser import WAIT_MS, serving, sign_in
from tests.conftest import make_settings, migrate


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    from bot.web.app import create_app

    settings = make_settings(sqlite_url, tmp_path)
    migrate(settings.database_url)
    app = create_app(settings)
    try:
        with serving(app) as url:
            yield app, url
    finally:
        app.extensions["warga"].close()


@pytest.mark.browser
def test_staff_take_a_live_conversation_and_a_new_citizen_message_appears(live: tuple[Any, str], page: Any):
    app, url = live
    add_user(app, "lukas", "staff", "Dinas Lingkungan Hidup", intake=True)
    citizen = WebCitizen(app.test_client())
    citizen.say("saya mau bicara dengan petugas")
    with app.extensions["warga"].sessions() as s:
        conv_id = s.scalars(select(Conversation.id).where(Conversation.handover.is_(True))).one()

    sign_in(page, url, "lukas", PASSWORD)
    page.goto(f"{url}/console/conversations")
    page.click(f"#queue-{conv_id} a")
    page.click("button[name=take]")
    expect(page.locator(".badge--late").first).to_contain_text("lukas", timeout=WAIT_MS)
    page.evaluate("window.sameDocument = true")                 # gone if the page reloads

    text = f"<img src=x onerror=alert(1)> lubang makin besar {uuid.uuid4().hex[:6]}"
    sent = citizen.client.post("/api/v1/chat/messages", json={"sender": citizen.sender, "id": uuid.uuid4().hex,
                                                              "text": text})
    assert sent.status_code == 200
    arrived = page.locator("#live-transcript li.t--in .t__text", has_text="lubang makin besar").last
    expect(arrived).to_have_text(text, timeout=WAIT_MS)          # shown as text, not markup
    assert page.evaluate("window.sameDocument === true")         # no reload, no navigation
    assert page.locator("#live-transcript img").count() == 0

    # A canned reply goes into the reply box with a click.
    page.locator(".canned__item").first.click()
    assert page.input_value("#reply-text").startswith("Selamat siang")
