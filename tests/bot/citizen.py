"""A scripted citizen for dialogue tests: talks to Warga through a channel and reads replies."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Callable, Protocol

TICKET = re.compile(r"\b[A-Z]{2,6}-\d{4}-\d{6}\b")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


class Citizen(Protocol):
    def say(self, text: str = "", *, button: str | None = None,
            location: tuple[float, float] | None = None, photo: bool = False) -> list[str]: ...

    def notifications(self) -> list[str]: ...


def check_reply(text: str) -> None:
    """What no reply may ever look like."""
    assert text.strip(), "empty reply"
    assert not PLACEHOLDER.search(text), f"unfilled placeholder in {text!r}"
    assert "Traceback" not in text and "<object" not in text and "Error(" not in text, text


class WebCitizen:
    """A citizen on the web chat, through the real JSON API of the Flask app."""

    def __init__(self, client: Any, sender: str | None = None) -> None:
        self.client = client
        self.sender = sender or uuid.uuid4().hex
        self.last_id = 0
        self.buttons: list[dict[str, str]] = []

    def say(self, text: str = "", *, button: str | None = None,
            location: tuple[float, float] | None = None, photo: bool = False) -> list[str]:
        assert not photo, "the web chat has no photo upload"
        body: dict[str, Any] = {"sender": self.sender, "id": uuid.uuid4().hex[:16]}
        if text:
            body["text"] = text
        if button:
            body["button"] = button
        if location:
            body["location"] = {"lat": location[0], "lon": location[1]}
        r = self.client.post("/api/v1/chat/messages", json=body)
        assert r.status_code == 200, r.get_json()
        replies = r.get_json()["replies"]
        for m in replies:
            check_reply(m["text"])
            self.last_id = max(self.last_id, m["id"])
        self.buttons = replies[-1]["buttons"] if replies else []
        return [m["text"] for m in replies]

    def notifications(self, wait: float = 10.0) -> list[str]:
        deadline = time.monotonic() + wait
        while True:
            got = self.client.get(f"/api/v1/chat/messages?after={self.last_id}",
                                  headers={"X-Warga-Sender": self.sender}).get_json()
            if got["messages"] or time.monotonic() > deadline:
                for m in got["messages"]:
                    check_reply(m["text"])
                    self.last_id = max(self.last_id, m["id"])
                if got["messages"]:
                    self.buttons = got["messages"][-1]["buttons"]
                return [m["text"] for m in got["messages"]]
            time.sleep(0.1)


def staff(app: Any, action: Callable[[Any], Any]) -> None:
    """Run a bot.casework.staff.StaffService action as the admin "rina" and wake the conversations."""
    from sqlalchemy import select
    from werkzeug.security import generate_password_hash

    from bot.store.models import StaffUser
    from bot.casework.staff import StaffService

    rt = app.extensions["warga"]
    with rt.sessions() as s, s.begin():
        if s.scalar(select(StaffUser).where(StaffUser.username == "rina")) is None:
            s.add(StaffUser(username="rina", name="Rina", role="admin", password_hash=generate_password_hash("x" * 10)))
            s.flush()
        woken = action(StaffService(s, rt.settings))
    for conv_id in getattr(woken, "conversation_ids", ()):
        rt.queue.enqueue(conv_id)


def complaint(app: Any, ticket: str) -> Any:
    """The complaint with this ticket, its events loaded."""
    from sqlalchemy import select

    from bot.store.models import Complaint

    with app.extensions["warga"].sessions() as s:
        c = s.scalars(select(Complaint).where(Complaint.ticket == ticket)).one()
        c.events  # load
        return c
