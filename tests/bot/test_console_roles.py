"""Console scope by role: a supervisor sees every agency, staff their own, admins the rest too."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.casework.accounts import UserDirectory
from bot.store.models import Conversation, Message, utcnow
from tests.bot.citizen import file_complaint
from tests.bot.staff_accounts import PASSWORD, add_user


def login(client: Any, username: str) -> None:
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    r = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                            "csrf": token.group(1)})
    assert r.status_code == 302, r.data


@pytest.fixture
def staffed(app: Any) -> Any:
    add_user(app, "admin", "admin", None)
    add_user(app, "sari", "supervisor", None)
    add_user(app, "lukas", "staff", "Dinas Lingkungan Hidup")
    return app


def test_a_supervisor_sees_another_agencys_complaint_and_staff_do_not(staffed, client):
    _, road = file_complaint(client, "jalan berlubang besar di depan sekolah")   # Dinas Bina Marga
    with staffed.extensions["warga"].sessions() as s:
        conv_id = s.scalars(select(Conversation.id)).one()
    login(client, "lukas")
    assert road not in client.get("/console/").get_data(as_text=True)
    assert client.get(f"/console/complaints/{road}").status_code == 404
    assert client.get(f"/console/conversations/{conv_id}").status_code == 404

    supervisor = staffed.test_client()
    login(supervisor, "sari")
    assert road in supervisor.get("/console/").get_data(as_text=True)
    assert supervisor.get(f"/console/complaints/{road}").status_code == 200
    assert road in supervisor.get(f"/console/conversations/{conv_id}").get_data(as_text=True)


def test_only_admins_see_unparseable_requests(staffed, client):
    with staffed.extensions["warga"].sessions() as s, s.begin():
        s.add(Message(direction="in", channel="telegram", kind="unparseable", raw="raw-update-77",
                      status="failed", error_reason="could not be parsed"))
    login(client, "sari")
    supervisor_page = client.get("/console/conversations").get_data(as_text=True)
    admin = staffed.test_client()
    login(admin, "admin")
    admin_page = admin.get("/console/conversations").get_data(as_text=True)
    assert "raw-update-77" not in supervisor_page
    assert "raw-update-77" in admin_page


def test_a_disabled_account_is_signed_out_at_once(staffed, client):
    login(client, "sari")
    assert client.get("/console/").status_code == 200
    agencies = frozenset(c.agency for c in staffed.extensions["warga"].settings.complaints.categories)
    with staffed.extensions["warga"].sessions() as s, s.begin():
        UserDirectory(s, agencies).disable("sari", utcnow())
    assert client.get("/console/").status_code == 302
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    r = client.post("/console/login", data={"username": "sari", "password": PASSWORD, "csrf": token.group(1)})
    assert r.status_code == 401
