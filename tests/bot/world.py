"""The app with every channel on, as the channel tests of tests/bot/ drive it, and what they send.

:class:`World` is the running app (workers included) on a shared, emptied database with the
fake providers; :class:`WorldFactory` builds one per call (the ``make_world`` fixture of
tests/bot/conftest.py). The request builders (:func:`update`, :func:`press`, :func:`sms`,
:func:`whatsapp`) write what Telegram and Twilio post for the citizens below.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload
from urllib.parse import parse_qsl

import pytest
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.store.models import Base, ContactAddress, Conversation, DeliveryReceipt, Message
from tests.fakes.fake_twilio import SignedRequest
from tests.providers import ACCOUNT_SID, PUBLIC_URL, SECRET, SMS_FROM, WHATSAPP_FROM, Fakes, provider_settings
from tests.support import wait_for

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
TELEGRAM = PAYLOADS / "telegram"
SITI_CHAT = 3527065
SITI = f"telegram:{SITI_CHAT}"
CALLBACK = PUBLIC_URL + "/webhooks/twilio/status"
SMS_CITIZEN, WA_CITIZEN = "+6281234567890", "+6281298765432"
SMS_URN, WA_URN = "tel:" + SMS_CITIZEN, "whatsapp:" + WA_CITIZEN


def empty_database(url: str) -> None:
    """Delete every row (children first), leaving the migrated schema in place."""
    from bot.store.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(delete(table))
    finally:
        engine.dispose()


@dataclass
class World:
    """The running app (workers included), its database and the fake providers."""

    app: Flask
    fakes: Fakes
    settings: Any

    @property
    def rt(self) -> Any:
        return self.app.extensions["warga"]

    @property
    def client(self) -> Any:
        return self.app.test_client()

    def session(self) -> Session:
        return self.rt.sessions()

    # -- talking to the app as the providers do --------------------------------------------
    def telegram(self, body: bytes | dict[str, Any], secret: str | None = SECRET) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return self.client.post("/webhooks/telegram", data=data, headers=headers)

    def twilio(self, pairs: list[tuple[str, str]], *, path: str = "/webhooks/twilio",
               body: bytes | None = None, signed_for: str | None = None,
               base_url: str = "http://localhost", headers: dict[str, str] | None = None) -> Any:
        """POST a form as Twilio does, signed for ``PUBLIC_URL + path`` (or ``signed_for``).

        ``body`` posts those exact bytes (a payload file) instead of re-encoding ``pairs``.
        The app is reached at ``base_url``, as behind a proxy: never the public URL itself.
        """
        signed: SignedRequest = self.fakes.twilio.inbound(signed_for or PUBLIC_URL + path, pairs)
        return self.client.post(path, data=signed.body if body is None else body,
                                headers={**signed.headers, **(headers or {})}, base_url=base_url)

    def status(self, sid: str, status: str, *, error_code: str | None = None,
               error_message: str | None = None) -> Any:
        """POST Twilio's status callback for message ``sid`` (signed by the fake)."""
        signed = self.fakes.twilio.status_callback(sid, status, error_code=error_code,
                                                   error_message=error_message)
        assert signed.url == PUBLIC_URL + "/webhooks/twilio/status"
        return self.client.post("/webhooks/twilio/status", data=signed.body, headers=signed.headers)

    # -- reading the database ----------------------------------------------------------
    def messages(self, *where: Any) -> list[Message]:
        with self.session() as s:
            return list(s.scalars(select(Message).where(*where).order_by(Message.id)))

    def message(self, *where: Any) -> Message:
        rows = self.messages(*where)
        assert len(rows) == 1, rows
        return rows[0]

    def address(self, urn: str) -> ContactAddress | None:
        with self.session() as s:
            return s.scalars(select(ContactAddress).where(ContactAddress.urn == urn)).first()

    def receipts(self) -> list[DeliveryReceipt]:
        with self.session() as s:
            return list(s.scalars(select(DeliveryReceipt).order_by(DeliveryReceipt.id)))

    def conversation_of(self, urn: str) -> int:
        with self.session() as s:
            conv = s.scalars(select(Conversation).join(ContactAddress, Conversation.address_id == ContactAddress.id)
                             .where(ContactAddress.urn == urn)).one()
            return conv.id

    def replies_to(self, msg_id: int) -> list[Message]:
        return self.messages(Message.direction == "out", Message.reply_to_id == msg_id)

    def settle(self, *urns: str) -> None:
        """Run the conversations' job (dialogue, outbox, media) once in this thread.

        A barrier: afterwards, anything the workers would still do for these conversations
        has been done, so "nothing was answered" is a fact and not a race.
        """
        for urn in urns:
            self.rt.job(self.conversation_of(urn))

    def notify(self, urn: str, text: str) -> Message:
        """Staff notify the citizen at ``urn`` (a status change); return the message once the
        outbox is done with it (sent, queued, held or failed)."""
        from bot.pipeline.replies import queue_reply

        conv_id = self.conversation_of(urn)
        with self.session() as s, s.begin():
            conv = s.get(Conversation, conv_id)
            assert conv is not None
            msg = queue_reply(s, self.settings.outbox, conv, text, template="status_changed",
                              kind="notification", template_vars={"1": "WRG-2026-000001", "2": "Proses"})
            s.flush()
            msg_id = msg.id
        self.rt.queue.enqueue(conv_id)
        return wait_for(lambda: (m := self.message(Message.id == msg_id)).status not in ("pending", "sending") and m,
                        what="the notification to leave the outbox")

    def wait_sent(self, msg_id: int, count: int = 1, statuses: tuple[str, ...] = ("sent", "queued")) -> list[Message]:
        """Wait until ``count`` replies to inbound ``msg_id`` left the outbox."""
        def done() -> list[Message] | None:
            rows = self.replies_to(msg_id)
            return rows if len(rows) >= count and all(r.status in statuses for r in rows) else None
        return wait_for(done, what=f"{count} replies to message {msg_id} with status in {statuses}")


@dataclass
class WorldFactory:
    db_url: str
    tmp_path: Path
    fakes: Fakes
    built: list[World] = field(default_factory=list)

    # Either the environment or settings: a settings key is dotted ("channels.enabled"), so it
    # arrives as **{...}, which must never be taken for ``env``.
    @overload
    def __call__(self, *, env: Mapping[str, str | None]) -> World: ...

    @overload
    def __call__(self, **overrides: Any) -> World: ...

    def __call__(self, env: Mapping[str, str | None] | None = None, **overrides: Any) -> World:
        """An app on the shared database. ``env`` adds to (None: removes from) the provider
        environment; ``overrides`` are dotted settings keys."""
        from bot.web.app import create_app

        settings = provider_settings(self.db_url, self.tmp_path, self.fakes, env=env, overrides=overrides)
        app = create_app(settings)
        app.testing = True
        world = World(app, self.fakes, settings)
        self.built.append(world)
        return world


# For tests whose outcome cannot depend on the database (signatures, limits, routing):
# SQLite only, to keep the suite fast. Everything that stores or sends runs on both.
SQLITE_ONLY = pytest.mark.parametrize("shared_db", ["sqlite"], indirect=True)


def pairs_of(path: Path) -> list[tuple[str, str]]:
    """A Twilio payload file as form pairs (repeats and blank values kept: they are signed)."""
    return parse_qsl(path.read_text(), keep_blank_values=True)


def media_keys(media: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the connector stored for each attachment (the worker adds download results)."""
    return [{k: m.get(k) for k in ("url", "content_type", "caption")} for m in media]


def update(update_id: int, **message: Any) -> dict[str, Any]:
    """A private message from Siti, as Telegram sends it."""
    user = {"id": SITI_CHAT, "is_bot": False, "first_name": "Siti", "last_name": "Rahayu", "language_code": "id"}
    chat = {"id": SITI_CHAT, "first_name": "Siti", "last_name": "Rahayu", "type": "private"}
    return {"update_id": update_id, "message": {"message_id": update_id % 100000, "from": user, "chat": chat,
                                                "date": int(time.time()), **message}}


def press(update_id: int, data: str, prompt: dict[str, Any]) -> dict[str, Any]:
    """A callback_query for the button ``data`` under the bot's message ``prompt``."""
    user = {"id": SITI_CHAT, "is_bot": False, "first_name": "Siti", "last_name": "Rahayu", "language_code": "id"}
    return {"update_id": update_id, "callback_query": {
        "id": f"cbq{update_id}", "from": user, "chat_instance": "-7482618329874629874", "data": data,
        "message": {"message_id": prompt["message_id"], "date": prompt["date"], "text": prompt["text"],
                    "from": {"id": 123456, "is_bot": True, "first_name": "Warga"},
                    "chat": {"id": SITI_CHAT, "type": "private", "first_name": "Siti"},
                    "reply_markup": prompt["reply_markup"]}}}


def sms(sid: str, body: str, **extra: str) -> list[tuple[str, str]]:
    """An inbound SMS webhook as Twilio posts it (blank fields included: they are signed)."""
    return [("ToCountry", "US"), ("SmsMessageSid", sid), ("NumMedia", "0"), ("ToCity", ""),
            ("SmsSid", sid), ("SmsStatus", "received"), ("Body", body), ("FromCountry", "ID"),
            ("To", SMS_FROM), *extra.items(), ("NumSegments", "1"), ("MessageSid", sid),
            ("AccountSid", ACCOUNT_SID), ("From", SMS_CITIZEN), ("ApiVersion", "2010-04-01")]


def whatsapp(sid: str, body: str, **extra: str) -> list[tuple[str, str]]:
    """An inbound WhatsApp webhook as Twilio posts it."""
    return [("SmsMessageSid", sid), ("NumMedia", "0"), ("ProfileName", "Budi Santoso"),
            ("MessageType", "text"), ("SmsSid", sid), ("WaId", WA_CITIZEN[1:]), ("SmsStatus", "received"),
            ("Body", body), ("To", WHATSAPP_FROM), *extra.items(), ("NumSegments", "1"),
            ("MessageSid", sid), ("AccountSid", ACCOUNT_SID), ("From", WA_URN),
            ("ApiVersion", "2010-04-01")]
