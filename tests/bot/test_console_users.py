"""User management in the console (issue 12, item 1): admins only, the same rules as
`warga users`, every change in var/audit.jsonl with the admin who made it."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from bot.store.models import StaffUser
from tests.bot.staff_accounts import PASSWORD, add_user, login
from tests.conftest import make_settings

ROADS = "Dinas Bina Marga"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Any:
    # This test's own var/ directory: the audit file is read back, and never the checkout's.
    return dataclasses.replace(make_settings(db_url, tmp_path), var_dir=tmp_path / "var")


@pytest.fixture
def staffed(app: Any) -> Any:
    add_user(app, "admin", "admin")
    add_user(app, "sari", "supervisor")
    add_user(app, "dina", "staff", ROADS)
    return app


def audit(app: Any) -> list[dict[str, Any]]:
    path = app.extensions["warga"].settings.var_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def user(app: Any, username: str) -> StaffUser:
    with app.extensions["warga"].sessions() as s:
        found = s.scalars(select(StaffUser).where(StaffUser.username == username)).one()
        s.expunge(found)
        return found


def test_only_admins_reach_the_user_pages(staffed, client):
    for name in ("sari", "dina"):
        other = staffed.test_client()
        csrf = login(other, name)
        assert other.get("/console/users").status_code == 404
        assert "/console/users" not in other.get("/console/").get_data(as_text=True)
        assert other.post("/console/users", data={"csrf": csrf, "username": "x1", "role": "admin",
                                                  "password": "long-enough-1"}).status_code == 404
        assert other.post("/console/users/dina/disable", data={"csrf": csrf}).status_code == 404
    assert user(staffed, "dina").active
    login(client, "admin")
    assert "dina" in client.get("/console/users").get_data(as_text=True)


def test_an_admin_creates_a_user_with_the_cli_rules_and_it_is_audited(staffed, client):
    csrf = login(client, "admin")
    weak = client.post("/console/users", data={"csrf": csrf, "username": "budi", "role": "staff",
                                               "agency": ROADS, "password": "short"}, follow_redirects=True)
    assert "at least 8 characters" in weak.get_data(as_text=True)
    no_agency = client.post("/console/users", data={"csrf": csrf, "username": "budi", "role": "staff",
                                                    "password": "long-enough-1"}, follow_redirects=True)
    assert "--agency is required" in no_agency.get_data(as_text=True)
    assert audit(staffed) == []

    made = client.post("/console/users", data={"csrf": csrf, "username": "budi", "name": "<b>Budi</b>",
                                               "role": "staff", "agency": ROADS, "serves_intake": "1",
                                               "password": "long-enough-1"}, follow_redirects=True)
    page = made.get_data(as_text=True)
    assert "Pengguna budi dibuat." in page and "&lt;b&gt;Budi&lt;/b&gt;" in page
    budi = user(staffed, "budi")
    assert (budi.role, budi.agency, budi.serves_intake) == ("staff", ROADS, True)
    [entry] = audit(staffed)
    assert {k: entry[k] for k in ("by", "via", "action", "user", "role", "agency")} == {
        "by": "admin", "via": "console", "action": "create", "user": "budi", "role": "staff", "agency": ROADS}
    assert "long-enough-1" not in json.dumps(entry)


def test_disable_enable_role_and_passwords(staffed, client):
    csrf = login(client, "admin")
    dina = staffed.test_client()
    login(dina, "dina")
    client.post("/console/users/dina/disable", data={"csrf": csrf})
    assert not user(staffed, "dina").active
    assert dina.get("/console/").status_code == 302                   # signed out at once
    client.post("/console/users/dina/enable", data={"csrf": csrf})
    assert user(staffed, "dina").active

    client.post("/console/users/dina/role", data={"csrf": csrf, "role": "supervisor", "agency": ""})
    assert user(staffed, "dina").role == "supervisor"

    generated = client.post("/console/users/dina/password", data={"csrf": csrf, "password": ""})
    assert generated.status_code == 200
    shown = re.search(r'<code class="secret">([^<]+)</code>', generated.get_data(as_text=True))
    assert shown is not None and len(shown.group(1)) >= 16
    assert check_password_hash(user(staffed, "dina").password_hash, shown.group(1))
    assert shown.group(1) not in client.get("/console/users").get_data(as_text=True)   # once only

    client.post("/console/users/dina/password", data={"csrf": csrf, "password": "chosen-pass-7"})
    assert check_password_hash(user(staffed, "dina").password_hash, "chosen-pass-7")
    assert [(e["action"], e["user"], e["by"]) for e in audit(staffed)] == [
        ("disable", "dina", "admin"), ("enable", "dina", "admin"), ("set-role", "dina", "admin"),
        ("set-password", "dina", "admin"), ("set-password", "dina", "admin")]
    assert all(p not in (staffed.extensions["warga"].settings.var_dir / "audit.jsonl").read_text()
               for p in (shown.group(1), "chosen-pass-7"))


def test_the_last_admin_cannot_disable_or_demote_themselves(staffed, client):
    csrf = login(client, "admin")
    refused = client.post("/console/users/admin/disable", data={"csrf": csrf}, follow_redirects=True)
    assert "last active admin" in refused.get_data(as_text=True)
    demoted = client.post("/console/users/admin/role", data={"csrf": csrf, "role": "supervisor"},
                          follow_redirects=True)
    assert "last active admin" in demoted.get_data(as_text=True)
    assert (user(staffed, "admin").active, user(staffed, "admin").role) == (True, "admin")
    assert audit(staffed) == []

    client.post("/console/users/sari/role", data={"csrf": csrf, "role": "admin"})
    client.post("/console/users/admin/role", data={"csrf": csrf, "role": "supervisor"})  # another admin now
    assert user(staffed, "admin").role == "supervisor"
    sari = staffed.test_client()
    sari_csrf = login(sari, "sari")
    refused = sari.post("/console/users/sari/disable", data={"csrf": sari_csrf}, follow_redirects=True)
    assert "last active admin" in refused.get_data(as_text=True) and user(staffed, "sari").active


def test_bad_input_is_a_clear_refusal_never_a_500(staffed, client):
    csrf = login(client, "admin")
    for data in ({"username": "bad name!", "role": "staff", "agency": ROADS, "password": PASSWORD},
                 {"username": "ok.name", "role": "root", "password": PASSWORD},
                 {"username": "ok.name", "role": "staff", "agency": "Nowhere", "password": PASSWORD},
                 {"username": "admin", "role": "admin", "password": PASSWORD},
                 {"username": "longname", "name": "n" * 201, "role": "admin", "password": PASSWORD}):
        r = client.post("/console/users", data={"csrf": csrf, **data}, follow_redirects=True)
        assert r.status_code == 200 and "flash--error" in r.get_data(as_text=True), data
    assert client.post("/console/users/nobody/disable", data={"csrf": csrf}, follow_redirects=True).status_code == 200
    assert client.post("/console/users/dina/explode", data={"csrf": csrf}).status_code == 404
    assert client.post("/console/users/dina/disable", data={"csrf": "wrong"}).status_code == 400


def test_the_user_pages_messages_follow_the_english_switch(staffed, client):
    csrf = login(client, "admin")
    client.get("/console/language/en")
    made = client.post("/console/users", data={"csrf": csrf, "username": "budi", "role": "staff", "agency": ROADS,
                                               "password": "long-enough-1"}, follow_redirects=True)
    page = made.get_data(as_text=True)
    assert "User budi created." in page and "Pengguna budi dibuat." not in page
