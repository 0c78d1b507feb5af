"""Console accounts and sign-in for Flask-client tests (plain helpers, no fixtures)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from werkzeug.security import generate_password_hash

from bot.store.models import StaffUser

PASSWORD = "correct-horse-9"


@cache
def stored_hash(password: str = PASSWORD) -> str:
    """A stored password hash for accounts the tests insert directly: scrypt at a small cost.
    Accounts made through Warga (`warga users create`, the console) get its own cost, which
    takes about a tenth of a second per hash by design; signing in to each test's accounts at
    that cost was a large share of the test run's CPU."""
    return generate_password_hash(password, method="scrypt:1024:8:1")


def add_user(app: Any, username: str, role: str, agency: str | None = None, *, intake: bool = False) -> None:
    with app.extensions["warga"].sessions() as s, s.begin():
        s.add(StaffUser(username=username, name=username.title(), role=role, agency=agency,
                        serves_intake=intake, password_hash=stored_hash()))


def login(client: Any, username: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in; returns the session's CSRF token for POST forms."""
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    r = client.post("/console/login", data={"username": username, "password": password, "csrf": token.group(1)})
    assert r.status_code == 302, r.data
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/").get_data(as_text=True))
    assert csrf is not None
    return csrf.group(1)
