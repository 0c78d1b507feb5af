"""The web chat page (``/``) and its JSON API (``/api/v1/chat/messages``), which a city's own
app can use as a channel too. See README "Web chat API"."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import SQLAlchemyError

from bot.store.models import ContactAddress, Conversation, Message
from channels.base import WebhookRequest
from channels.web import SENDER_RE, WebChatError

bp = Blueprint("webchat", __name__)
log = logging.getLogger(__name__)
SAFETY_RECHECK = 1.0
#: The header that carries the sender id on GET (never the URL: see get_messages).
SENDER_HEADER = "X-Warga-Sender"
MESSAGE_ID_RE = re.compile(r"[0-9]{1,18}")


def _json_error(status: int, error: str, message: str) -> Any:
    return jsonify(error=error, message=message), status


def _out(m: Message) -> dict[str, Any]:
    return {"id": m.id, "text": m.text, "buttons": m.buttons or [],
            "created_at": m.created_at.isoformat()}


def _replies_if_processed(rt: Any, message_id: int) -> tuple[bool, list[Message]]:
    # One round trip: the message and its replies together (the replies are committed with
    # the processing, so they are complete once the message reads as processed).
    with rt.sessions() as session:
        rows = session.scalars(select(Message).where(or_(
            Message.id == message_id,
            and_(Message.reply_to_id == message_id, Message.direction == "out"))).order_by(Message.id)).all()
    msg = next((m for m in rows if m.id == message_id), None)
    if msg is None or msg.processed_at is None:
        return False, []
    return True, [m for m in rows if m.id != message_id]


@bp.get("/")
def page() -> Any:
    return render_template("chat.html")


@bp.post("/api/v1/chat/messages")
def post_message() -> Any:
    rt = current_app.extensions["warga"]
    channel = rt.channels.get("web")
    if channel is None:
        abort(404)
    if not request.is_json:
        return _json_error(400, "bad_request", "send Content-Type: application/json")
    req = WebhookRequest(url=request.url, headers={k.lower(): v for k, v in request.headers.items()},
                         body=request.get_data())
    try:
        received = rt.receiver.receive(channel, req)
    except WebChatError as exc:
        return _json_error(400, "bad_request", str(exc))
    if not received.messages:
        # The database refused what was sent (stored raw for staff): the client must change it.
        return _json_error(400, "bad_request", "the message could not be stored as sent")
    stored = received.messages[0]
    deadline = time.monotonic() + rt.settings.server.chat_reply_wait_seconds
    # Woken when a worker commits the message's processing; the re-read every SAFETY_RECHECK
    # seconds only covers a wake-up that never comes (another process's sweeper handled it).
    done = False
    replies: list[Message] = []
    try:
        with rt.wakeups.watch(stored.message_id) as watch:
            while True:
                done, replies = _replies_if_processed(rt, stored.message_id)
                remaining = deadline - time.monotonic()
                if done or remaining <= 0:
                    break
                watch.wait(min(remaining, SAFETY_RECHECK))
    except SQLAlchemyError as exc:
        # The message is stored (committed above): answer 202 and let the client poll, never a
        # 5xx that makes it send again.
        log.warning("replies not read after storing", extra={"reason": type(exc).__name__})
    body = {"message_id": stored.message_id, "duplicate": stored.duplicate,
            "replies": [_out(m) for m in replies], "pending": not done}
    return jsonify(body), 200 if done else 202


@bp.get("/api/v1/chat/messages")
def get_messages() -> Any:
    rt = current_app.extensions["warga"]
    if "web" not in rt.channels:
        abort(404)
    if "sender" in request.args:
        # The sender id is the reader's credential: a URL lands in access logs, proxies and
        # browser history. Refused, so no client keeps sending it that way.
        return _json_error(400, "bad_request", f"send the sender id in the {SENDER_HEADER} header, not in the URL")
    sender = request.headers.get(SENDER_HEADER, "")
    if not SENDER_RE.match(sender):
        return _json_error(400, "bad_request", f"{SENDER_HEADER} must be the opaque id used to post")
    after_raw = request.args.get("after", "0")
    # ASCII digits only ("²".isdigit() is True and int() refuses it) and within a 64-bit id.
    if not MESSAGE_ID_RE.fullmatch(after_raw):
        return _json_error(400, "bad_request", "after must be a message id (a whole number)")
    with rt.sessions() as session:
        conv_id = session.scalar(select(Conversation.id).join(
            ContactAddress, Conversation.address_id == ContactAddress.id)
            .where(ContactAddress.urn == f"web:{sender}"))
        rows = [] if conv_id is None else session.scalars(select(Message).where(
            Message.conversation_id == conv_id, Message.direction == "out",
            Message.id > int(after_raw)).order_by(Message.id).limit(200)).all()
    return jsonify(messages=[_out(m) for m in rows])
