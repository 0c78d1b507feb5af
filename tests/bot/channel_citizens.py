"""Scripted citizens on Telegram, SMS and WhatsApp: real provider webhooks in, fake providers out.

Each driver has :class:`tests.bot.citizen.WebCitizen`'s interface (``say``, ``notifications``,
``buttons``), so the same scripts run on every channel:

* ``say`` POSTs a real-shaped update to the app's webhook (``/webhooks/telegram`` with the
  secret header, or a signed ``/webhooks/twilio`` form), waits until the dialogue has handled
  it and every reply has left the outbox, then reads what the *fake provider* received
  (``sendMessage`` calls, Twilio ``Messages.json`` creations) and returns those texts: what
  the citizen's phone shows, one string per reply.
* Every reply is cross-checked against the database: the fake saw exactly the parts the outbox
  recorded for it, in order, with the stored text; and it passes
  :func:`tests.bot.citizen.check_reply`.
* Buttons: on Telegram an inline keyboard whose ``callback_data`` is pressed with a
  ``callback_query``; on SMS and WhatsApp numbered lines ("Balas 1 untuk Kirim") that are
  answered with the number. ``say(button=...)`` takes a payload or a title and checks the
  button is really on the citizen's screen before pressing it.
* ``redeliver()`` sends the last update again, as a provider retrying it does;
  ``say_concurrently()`` delivers one update twice at the same moment (a retry racing the
  first delivery).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.store.models import Conversation, Message, ProviderMessageId
from channels.sms_segments import count_segments, gsm_normalize
from channels.telegram import callback_data_for
from tests.bot.citizen import check_reply
from tests.providers import ACCOUNT_SID, PUBLIC_URL, SECRET, SMS_FROM, WHATSAPP_FROM
from tests.support import wait_for

OPEN = ("pending", "sending")
DELIVERED = ("sent", "queued", "delivered", "read")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
NUMBERED = {"id": "Balas {n} untuk {title}", "en": "Reply {n} for {title}"}


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Seen:
    """One reply as the citizen received it."""

    message_id: int                  # our outbound Message id
    text: str                        # what the provider delivered (parts joined)
    parts: list[str]
    buttons: list[dict[str, str]]    # what the outbox stored
    reply_to_id: int | None
    raw: list[Any] = field(default_factory=list)   # provider requests (Telegram calls / Twilio messages)


class OutboxRow(NamedTuple):
    """One outbound message as :meth:`ProviderCitizen._read` takes it."""

    msg_id: int
    status: str
    error: str | None
    stored: str
    buttons: list[dict[str, str]]
    reply_to_id: int | None
    parts: int


@dataclass
class OutboxScan:
    """This citizen's outbound messages past the last one read: those still in the outbox, and
    those out (in order, up to the first still open). True once nothing is open, so
    :func:`tests.support.wait_for` can wait for it and show what was still open on a timeout."""

    still_open: list[tuple[int, str, str | None]]
    ready: list[OutboxRow]

    def __bool__(self) -> bool:
        return not self.still_open


class ProviderCitizen:
    """What the three drivers share: waiting for the outbox and reading the fake provider."""

    channel = ""
    wait = 15.0

    def __init__(self, app: Any, client: Any, fakes: Any) -> None:
        self.app = app
        self.client = client
        self.fakes = fakes
        self.sessions = app.extensions["warga"].sessions
        self.cursor = 0                    # provider sends to this citizen already read
        self.last_out = 0                  # our outbound Message ids already read
        self.buttons: list[dict[str, str]] = []
        self.last: Seen | None = None      # the last reply seen (any kind)
        self.history: list[Seen] = []
        self._notes: list[Seen] = []
        self._last_request: Any = None
        self.last_in_id: int | None = None

    # -- subclass hooks --------------------------------------------------------------------
    @property
    def urn(self) -> str:
        raise NotImplementedError

    def _post(self, request: Any, client: Any = None) -> str:
        """POST one update (with ``client``, default the citizen's); return its external id."""
        raise NotImplementedError

    def _sends(self) -> list[tuple[str, Any]]:
        """Every provider send to this citizen so far, in order: (text, raw request)."""
        raise NotImplementedError

    # -- the interface -----------------------------------------------------------------------
    def say(self, text: str = "", *, button: str | None = None,
            location: tuple[float, float] | None = None, photo: bool = False) -> list[str]:
        request = self._build(text, button=button, location=location, photo=photo)
        self._last_request = request
        external_id = self._post(request)
        return [s.text for s in self._replies_to(external_id)]

    def redeliver(self) -> list[str]:
        """The provider delivers the last update again (a retry after a lost 200)."""
        assert self._last_request is not None
        external_id = self._post(self._last_request)
        with self.sessions() as s:
            count = s.scalar(select(func.count()).select_from(Message).where(
                Message.channel == self.channel, Message.external_id == external_id))
        assert count == 1, f"{external_id} stored {count} times"
        return [s.text for s in self._replies_to(external_id)]

    def say_concurrently(self, text: str = "", *, button: str | None = None, copies: int = 2) -> list[str]:
        """The provider delivers one update ``copies`` times at the same moment; return the replies."""
        request = self._build(text, button=button, location=None, photo=False)
        self._last_request = request
        barrier = threading.Barrier(copies)
        ids: list[str] = []
        errors: list[BaseException] = []

        def deliver() -> None:
            client = self.app.test_client()     # one client per thread, as two requests would be
            try:
                barrier.wait(5)
                ids.append(self._post(request, client))
            except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=deliver) for _ in range(copies)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert not errors, errors
        assert len(ids) == copies and len(set(ids)) == 1, ids
        with self.sessions() as s:
            count = s.scalar(select(func.count()).select_from(Message).where(
                Message.channel == self.channel, Message.external_id == ids[0]))
        assert count == 1, f"{ids[0]} stored {count} times"
        return [s.text for s in self._replies_to(ids[0])]

    def notifications(self, wait: float = 10.0) -> list[str]:
        """Messages the bot sent on its own (status changes, staff replies) since the last read;
        waits for the first one."""
        def collected() -> list[Seen]:
            self._notes += self._collect(until_in_id=None, block=False)
            return self._notes
        wait_for(collected, wait, f"a message the bot sends {self.urn} on its own")
        notes, self._notes = self._notes, []
        return [n.text for n in notes]

    def provider_sends(self) -> int:
        """How many sends to this citizen the fake provider has received so far."""
        return len(self._sends())

    # -- waiting and reading -----------------------------------------------------------------
    def _replies_to(self, external_id: str) -> list[Seen]:
        with self.sessions() as s:
            in_id = s.scalar(select(Message.id).where(Message.channel == self.channel,
                                                      Message.external_id == external_id))
        assert in_id is not None, f"webhook stored nothing for {external_id}"
        self.last_in_id = in_id

        def processed() -> bool:
            with self.sessions() as s:
                return s.scalar(select(Message.processed_at).where(Message.id == in_id)) is not None
        wait_for(processed, self.wait, f"message {in_id} ({external_id}) to be processed")
        seen = self._collect(until_in_id=in_id, block=True)
        replies = [x for x in seen if x.reply_to_id == in_id]
        self._notes += [x for x in seen if x.reply_to_id is None]
        return replies

    def _collect(self, *, until_in_id: int | None, block: bool) -> list[Seen]:
        """Read every outbound message past ``last_out`` once it left the outbox.

        With ``block``, wait until every reply to ``until_in_id`` (and everything queued before
        it) is out; without, read only what is out already, stopping at the first still open.
        """
        # Polled outside any session: an open SQLite read would hold off the workers.
        scan = (wait_for(lambda: self._scan(until_in_id), self.wait, "the replies to leave the outbox")
                if block else self._scan(until_in_id))
        return [self._read(*r) for r in scan.ready]

    def _scan(self, until_in_id: int | None) -> OutboxScan:
        with self.sessions() as s:
            conv_ids = select(Conversation.id).where(Conversation.address.has(urn=self.urn))
            rows = s.scalars(select(Message).where(
                Message.conversation_id.in_(conv_ids), Message.direction == "out",
                Message.id > self.last_out).order_by(Message.id)).all()
            wanted = rows
            if until_in_id is not None:
                last_reply = max((m.id for m in rows if m.reply_to_id == until_in_id), default=0)
                wanted = [m for m in rows if m.id <= last_reply]
            still_open = [(m.id, m.status, m.error_reason) for m in wanted if m.status in OPEN]
            ready = []
            for m in wanted:
                if m.status in OPEN:
                    break
                parts = s.scalar(select(func.count()).select_from(ProviderMessageId)
                                 .where(ProviderMessageId.message_id == m.id)) or 0
                ready.append(OutboxRow(m.id, m.status, m.error_reason, m.text, list(m.buttons or []),
                                       m.reply_to_id, parts))
        return OutboxScan(still_open, ready)

    def _read(self, msg_id: int, status: str, error: str | None, stored: str, buttons: list[dict[str, str]],
              reply_to_id: int | None, parts: int) -> Seen:
        assert status in DELIVERED, f"reply {msg_id} was not sent: {status} ({error}): {stored!r}"
        assert parts >= 1, f"reply {msg_id} is {status} but has no provider id"

        def all_parts() -> list[tuple[str, Any]] | None:
            sends = self._sends()
            return sends if len(sends) >= self.cursor + parts else None
        sends = wait_for(all_parts, self.wait, f"the fake provider to see reply {msg_id}")
        got = sends[self.cursor:self.cursor + parts]
        self.cursor += parts
        self.last_out = msg_id
        texts = [t for t, _ in got]
        seen = Seen(msg_id, "\n".join(texts), texts, buttons, reply_to_id, [raw for _, raw in got])
        for t in texts:
            check_reply(t)
        self._check_text(seen, stored)
        self._check_buttons(seen)
        self.last = seen
        self.buttons = buttons
        self.history.append(seen)
        return seen

    def _check_text(self, seen: Seen, stored: str) -> None:
        delivered = squash(seen.text)
        assert squash(stored) in delivered or squash(gsm_normalize(stored)) in delivered, (
            f"the provider got {seen.text!r}, the outbox stored {stored!r}")

    def _check_buttons(self, seen: Seen) -> None:
        raise NotImplementedError

    def _build(self, text: str, *, button: str | None, location: tuple[float, float] | None,
               photo: bool) -> Any:
        raise NotImplementedError

    def find_button(self, wanted: str) -> tuple[int, dict[str, str]]:
        """The 1-based position and the button of the last reply with this payload or title."""
        for n, b in enumerate(self.buttons, start=1):
            if wanted in (b["payload"], b["title"]):
                return n, b
        raise AssertionError(f"no button {wanted!r} in the last reply: {self.buttons}")

    # -- looking at the database -------------------------------------------------------------
    def conversation(self) -> Conversation:
        with self.sessions() as s:
            # Loaded with it: the test reads them after the session is closed.
            return s.scalars(select(Conversation).where(Conversation.address.has(urn=self.urn))
                             .options(selectinload(Conversation.address), selectinload(Conversation.contact))).one()

    def inbound(self) -> list[Message]:
        with self.sessions() as s:
            return list(s.scalars(select(Message).where(Message.urn == self.urn, Message.direction == "in")
                                  .order_by(Message.id)))


# -- Telegram ----------------------------------------------------------------------------------

class TelegramCitizen(ProviderCitizen):
    """A citizen in a private Telegram chat; updates go to ``POST /webhooks/telegram``."""

    channel = "telegram"

    def __init__(self, app: Any, client: Any, fakes: Any, *, first_name: str = "Siti",
                 last_name: str = "Rahayu", user_id: int | None = None) -> None:
        super().__init__(app, client, fakes)
        self.user_id = user_id or 5_000_000 + secrets.randbelow(4_000_000_000)
        self.user = {"id": self.user_id, "is_bot": False, "first_name": first_name, "last_name": last_name,
                     "language_code": "id"}
        self.chat = {"id": self.user_id, "first_name": first_name, "last_name": last_name, "type": "private"}
        self.update_id = 700_000_000 + secrets.randbelow(100_000_000)
        self.message_id = 10
        self.files = 0

    @property
    def urn(self) -> str:
        return f"telegram:{self.user_id}"

    def _next(self) -> tuple[int, int]:
        self.update_id += 1
        self.message_id += 1
        return self.update_id, self.message_id

    def _message(self, **content: Any) -> dict[str, Any]:
        update_id, message_id = self._next()
        return {"update_id": update_id, "message": {
            "message_id": message_id, "from": self.user, "chat": self.chat, "date": int(time.time()),
            **content}}

    def _build(self, text: str, *, button: str | None, location: tuple[float, float] | None,
               photo: bool) -> dict[str, Any]:
        if button:
            assert not (text or location or photo), "a button press carries nothing else"
            return self._press(button)
        if location:
            assert not (text or photo), "a Telegram location message has no text"
            return self._message(location={"latitude": location[0], "longitude": location[1],
                                           "horizontal_accuracy": 15.0})
        if photo:
            self.files += 1
            file_id = f"AgACAgUAAxkBAAI{secrets.token_hex(6)}"
            self.fakes.telegram.add_file(file_id + "-large", JPEG, f"photos/file_{self.user_id}_{self.files}.jpg")
            sizes = [{"file_id": file_id + "-small", "file_unique_id": "AQADs" + file_id[-4:], "file_size": 1342,
                      "width": 90, "height": 67},
                     {"file_id": file_id + "-large", "file_unique_id": "AQADl" + file_id[-4:],
                      "file_size": len(JPEG), "width": 1280, "height": 960}]
            return self._message(photo=sizes, **({"caption": text} if text else {}))
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
        return self._message(**content)

    def share_contact(self, phone: str) -> list[str]:
        """Share one's own phone number (the request_contact keyboard button)."""
        request = self._message(contact={"phone_number": phone, "first_name": self.user["first_name"],
                                         "last_name": self.user["last_name"], "user_id": self.user_id})
        self._last_request = request
        return [s.text for s in self._replies_to(self._post(request))]

    def _press(self, wanted: str) -> dict[str, Any]:
        _n, b = self.find_button(wanted)
        assert self.last is not None
        # The keyboard is on the last part of the last reply; press it there.
        call = self.last.raw[-1]
        markup = call.json_param("reply_markup")
        keys = [k for row in markup["inline_keyboard"] for k in row]
        data = callback_data_for(b["payload"])
        assert any(k["callback_data"] == data and k["text"] == b["title"] for k in keys), (b, keys)
        self.update_id += 1
        bot_message = {"message_id": self.last.message_id, "date": int(time.time()),
                       "from": {"id": 123456, "is_bot": True, "first_name": "Warga", "username": "warga_test_bot"},
                       "chat": self.chat, "text": call.params.get("text", ""), "reply_markup": markup}
        return {"update_id": self.update_id, "callback_query": {
            "id": str(secrets.randbelow(10**18)), "from": self.user, "message": bot_message,
            "chat_instance": "-7482618329874629874", "data": data}}

    def _post(self, update: dict[str, Any], client: Any = None) -> str:
        r = (client or self.client).post("/webhooks/telegram", data=json.dumps(update), content_type="application/json",
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert r.status_code == 200, (r.status_code, r.data[:300])
        if "callback_query" in update:
            return f"{update['update_id']}:cb:{update['callback_query']['id']}"
        m = update["message"]
        return f"{update['update_id']}:{m['chat']['id']}:{m['message_id']}"

    def _sends(self) -> list[tuple[str, Any]]:
        out = []
        for call in self.fakes.telegram.calls():
            if call.method in ("sendMessage", "sendPhoto", "sendLocation") \
                    and call.params.get("chat_id") == str(self.user_id):
                out.append((call.params.get("text") or call.params.get("caption") or "", call))
        return out

    def _check_text(self, seen: Seen, stored: str) -> None:
        # Telegram shows the stored text as it is (split only past 4,096 characters).
        assert squash(seen.text) == squash(stored), (seen.text, stored)
        assert not any("parse_mode" in c.params for c in seen.raw), "citizen text must never be parsed as markup"

    def _check_buttons(self, seen: Seen) -> None:
        markups = [c.params.get("reply_markup") for c in seen.raw]
        if not seen.buttons:
            assert not any(markups), f"a keyboard on a reply without buttons: {markups}"
            return
        assert markups[-1], f"reply {seen.message_id} has buttons but no keyboard"
        keys = [k for row in json.loads(markups[-1])["inline_keyboard"] for k in row]
        assert [(k["text"], k["callback_data"]) for k in keys] == \
            [(b["title"], callback_data_for(b["payload"])) for b in seen.buttons]

    def callback_answers(self) -> list[str]:
        return [c.params.get("callback_query_id", "") for c in self.fakes.telegram.calls("answerCallbackQuery")]


# -- Twilio: SMS and WhatsApp ------------------------------------------------------------------

class TwilioCitizen(ProviderCitizen):
    """A citizen texting the city's Twilio number; buttons arrive as numbered lines."""

    channel = "sms"
    to = SMS_FROM

    def __init__(self, app: Any, client: Any, fakes: Any, *, phone: str | None = None,
                 profile_name: str = "Budi Santoso") -> None:
        super().__init__(app, client, fakes)
        self.phone = phone or "+62812" + "".join(str(secrets.randbelow(10)) for _ in range(7))
        self.profile_name = profile_name

    @property
    def address(self) -> str:
        return self.phone

    @property
    def urn(self) -> str:
        return f"tel:{self.phone}"

    def _pairs(self, body: str) -> list[tuple[str, str]]:
        sid = "SM" + secrets.token_hex(16)
        return [("ToCountry", "US"), ("SmsMessageSid", sid), ("NumMedia", "0"), ("SmsSid", sid),
                ("SmsStatus", "received"), ("Body", body), ("To", self.to), ("NumSegments", "1"),
                ("MessageSid", sid), ("AccountSid", ACCOUNT_SID), ("From", self.address),
                ("ApiVersion", "2010-04-01")]

    def _build(self, text: str, *, button: str | None, location: tuple[float, float] | None,
               photo: bool) -> list[tuple[str, str]]:
        if button:
            assert not (text or location or photo), "a button press carries nothing else"
            n, b = self.find_button(button)
            assert self.last is not None
            lang = self.language()
            line = NUMBERED[lang].format(n=n, title=b["title"])
            assert line in self.last.text, f"{line!r} is not on the citizen's screen: {self.last.text!r}"
            text = str(n)
        assert not location, "an SMS cannot carry a shared location"
        assert not photo, "SMS in Indonesia carries no MMS"
        return self._pairs(text)

    def language(self) -> str:
        with self.sessions() as s:
            lang = s.scalar(select(Conversation.language).where(Conversation.address.has(urn=self.urn)))
        return lang or "id"

    def _post(self, pairs: list[tuple[str, str]], client: Any = None) -> str:
        signed = self.fakes.twilio.inbound(PUBLIC_URL + "/webhooks/twilio", pairs)
        r = (client or self.client).post("/webhooks/twilio", data=signed.body, headers=signed.headers,
                             content_type="application/x-www-form-urlencoded")
        assert r.status_code == 200, (r.status_code, r.data[:300])
        assert b"<Response" in r.data, r.data      # empty TwiML: the replies go through the REST API
        return dict(pairs)["MessageSid"]

    def _sends(self) -> list[tuple[str, Any]]:
        return [(m.fields.get("Body", ""), m) for m in list(self.fakes.twilio.messages)
                if m.fields.get("To") == self.address]

    def _check_buttons(self, seen: Seen) -> None:
        for m in seen.raw:
            assert m.fields.get("From") == self.to, m.fields
            assert m.fields.get("StatusCallback") == PUBLIC_URL + "/webhooks/twilio/status"
        lang = self.language()
        for n, b in enumerate(seen.buttons, start=1):
            line = NUMBERED[lang].format(n=n, title=b["title"])
            assert line in seen.text, f"button {n} ({b}) is not a numbered line in {seen.text!r}"

    def segments(self) -> list[tuple[int, int, str]]:
        """(provider messages, most segments of one, text) for every reply seen."""
        return [(len(s.parts), max(count_segments(p).segments for p in s.parts), s.text) for s in self.history]


class SmsCitizen(TwilioCitizen):
    channel = "sms"
    to = SMS_FROM


class WhatsAppCitizen(TwilioCitizen):
    channel = "whatsapp"
    to = WHATSAPP_FROM

    @property
    def address(self) -> str:
        return f"whatsapp:{self.phone}"

    @property
    def urn(self) -> str:
        return f"whatsapp:{self.phone}"

    def _pairs(self, body: str) -> list[tuple[str, str]]:
        pairs = super()._pairs(body)
        return pairs + [("ProfileName", self.profile_name), ("WaId", self.phone.lstrip("+")),
                        ("MessageType", "text")]

    def _build(self, text: str, *, button: str | None, location: tuple[float, float] | None,
               photo: bool) -> list[tuple[str, str]]:
        if button:
            return super()._build(text, button=button, location=None, photo=False)
        pairs = self._pairs(text)
        if location:
            assert not photo
            pairs = [(k, v) for k, v in pairs if k != "MessageType"] + [
                ("Latitude", str(location[0])), ("Longitude", str(location[1])), ("MessageType", "location")]
        if photo:
            url = self.fakes.twilio.add_media(JPEG, "image/jpeg")
            pairs = [(k, v) for k, v in pairs if k not in ("NumMedia", "MessageType")] + [
                ("NumMedia", "1"), ("MediaUrl0", url), ("MediaContentType0", "image/jpeg"), ("MessageType", "image")]
        return pairs

    def press_quick_reply(self, payload: str, title: str) -> list[str]:
        """A WhatsApp quick-reply button (from a Content template) reports ``ButtonPayload``."""
        pairs = self._pairs(title) + [("ButtonText", title), ("ButtonPayload", payload)]
        self._last_request = pairs
        return [s.text for s in self._replies_to(self._post(pairs))]


CITIZENS = {"telegram": TelegramCitizen, "sms": SmsCitizen, "whatsapp": WhatsAppCitizen}


def make_citizen(channel: str, app: Any, client: Any, fakes: Any, **kw: Any) -> ProviderCitizen:
    return CITIZENS[channel](app, client, fakes, **kw)


__all__ = ["TelegramCitizen", "SmsCitizen", "WhatsAppCitizen", "make_citizen", "CITIZENS", "JPEG"]
