"""A scripted citizen for dialogue tests: talks to Warga through a channel and reads replies."""

from __future__ import annotations

import io
import re
import struct
import uuid
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.casework.staff import StaffService
from bot.store.models import Complaint, StaffUser
from tests.bot.staff_accounts import stored_hash
from tests.support import wait_for

TICKET = re.compile(r"\b[A-Z]{2,6}-\d{4}-\d{6}\b")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


class Citizen(Protocol):
    def say(self, text: str = "", *, button: str | None = None,
            location: tuple[float, float] | None = None, photo: bool = False) -> list[str]: ...

    def notifications(self) -> list[str]: ...


def tiny_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG picture (browsers show it), made here so no test needs an image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def ticket_in(text: str) -> str:
    """The ticket number in a reply; fails the test when there is none."""
    found = TICKET.search(text)
    assert found, f"no ticket number in {text!r}"
    return found.group(0)


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
        body: dict[str, Any] = {"sender": self.sender, "id": uuid.uuid4().hex[:16]}
        if text:
            body["text"] = text
        if button:
            body["button"] = button
        if photo:
            # As the page sends it: a form with the photo, what is typed going as its caption.
            assert not (button or location), "a photo goes with text only"
            body["photo"] = (io.BytesIO(tiny_png()), "foto-jalan.png", "image/png")
            r = self.client.post("/api/v1/chat/messages", data=body, content_type="multipart/form-data")
        else:
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
        """Messages the bot sent on its own (status changes, staff replies) since the last read;
        waits for the first one."""
        def fetched() -> list[dict[str, Any]]:
            got = self.client.get(f"/api/v1/chat/messages?after={self.last_id}",
                                  headers={"X-Warga-Sender": self.sender}).get_json()
            messages: list[dict[str, Any]] = got["messages"]
            return messages
        messages = wait_for(fetched, wait, f"a message the bot sends {self.sender} on its own", interval=0.1)
        for m in messages:
            check_reply(m["text"])
            self.last_id = max(self.last_id, m["id"])
        self.buttons = messages[-1]["buttons"]
        return [m["text"] for m in messages]


def staff(app: Any, action: Callable[[StaffService], Any]) -> None:
    """Run a bot.casework.staff.StaffService action as the admin "rina" and wake the conversations."""
    rt = app.extensions["warga"]
    with rt.sessions() as s, s.begin():
        if s.scalar(select(StaffUser).where(StaffUser.username == "rina")) is None:
            s.add(StaffUser(username="rina", name="Rina", role="admin", password_hash=stored_hash("x" * 10)))
            s.flush()
        woken = action(StaffService(s, rt.settings))
    for conv_id in getattr(woken, "conversation_ids", ()):
        rt.queue.enqueue(conv_id)


def move_through(app: Any, ticket: str, *statuses: str) -> None:
    """Staff move the complaint ``ticket`` through ``statuses``, one change at a time."""
    for status in statuses:
        def change(svc: StaffService, status: str = status) -> Any:
            return svc.set_status(ticket, status, "rina")
        staff(app, change)


def complaint(app: Any, ticket: str) -> Complaint:
    """The complaint with this ticket, its events loaded (the test reads them after the session)."""
    with app.extensions["warga"].sessions() as s:
        return s.scalars(select(Complaint).where(Complaint.ticket == ticket)
                         .options(selectinload(Complaint.events))).one()


def file_complaint(client: Any, text: str) -> tuple[WebCitizen, str]:
    """A web citizen files ``text`` as a complaint, answering what is still asked; returns the
    citizen and the ticket number."""
    citizen = WebCitizen(client)
    replies = citizen.say(text)
    for _ in range(5):
        if "Kirim laporan ini?" in replies[-1]:
            return citizen, ticket_in(citizen.say(button="yes")[0])
        if "atau buat laporan baru?" in replies[-1]:
            # The same problem at the same place filed before (complaints.duplicate_days): these
            # helpers want a ticket of their own (tests/bot/test_duplicates.py joins instead).
            replies = citizen.say(button="dup:new")[1:]
        elif "kirim foto" in replies[-1]:
            replies = citizen.say("lewati")
        elif "Di mana lokasinya" in replies[-1]:
            replies = citizen.say("Jl. Kramat Raya 5")
        else:
            raise AssertionError(replies)
    raise AssertionError(replies)
