"""Shared pieces for browser tests: Debian's Chromium under Playwright, and a live app server.

Never a downloaded browser: `make browser` installs Debian's package and tests launch it by path.
Import the fixtures into a test module with `from tests.browser import live_server, page  # noqa: F401`
or use the helpers directly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Long enough for a loaded CI machine; tests wait for states, never for a fixed time.
WAIT_MS = 15000


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve a Flask app on a free loopback port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def chromium_page(width: int = 1280, height: int = 800) -> Iterator[Any]:
    """A fresh page in headless Chromium; fails the test if the page raised a script error."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run `make browser`"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            pg = context.new_page()
            pg.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            pg.on("pageerror", lambda exc: errors.append(str(exc)))
            yield pg
        finally:
            browser.close()
        assert errors == [], errors


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium_page() as pg:
        yield pg


def sign_in(pg: Any, base_url: str, username: str, password: str) -> None:
    """Sign in to the console through its login form and wait for the inbox."""
    pg.goto(base_url + "/console/login")
    pg.fill("input[name=username]", username)
    pg.fill("input[name=password]", password)
    pg.click("button[type=submit]")
    pg.wait_for_url(lambda url: "/console/login" not in url)
