"""The web chat page (``/``) and its JSON API (``/api/v1/chat/messages``), which a city's own
app can use as a channel too. See README "Web chat API"."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_file
from sqlalchemy import Row, Table, and_, bindparam, or_, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from bot.casework.conversation_state import load_state
from bot.dialogue.engine import rating_button
from bot.pipeline.wakeup import StoredReply
from bot.store.models import ContactAddress, Conversation, Message
from bot.web.uploads import IMAGE_TYPES, UploadRefused, save_photo
from channels.base import UploadedFile, WebhookRequest
from channels.web import LANGUAGE_PAYLOAD, PHOTO_FIELD, SENDER_RE, WebChatError

bp = Blueprint("webchat", __name__)
log = logging.getLogger(__name__)
SAFETY_RECHECK = 1.0
#: The header that carries the sender id on GET (never the URL: see get_messages).
SENDER_HEADER = "X-Warga-Sender"
MESSAGE_ID_RE = re.compile(r"[0-9]{1,18}")
#: The largest id a 64-bit column holds.
MAX_ID = 2**63 - 1
#: How many messages a reload shows at most (the latest ones).
HISTORY_LIMIT = 100
#: What a language choice is shown as in the citizen's own history.
LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}
MULTIPART = "multipart/form-data"


def _json_error(status: int, error: str, message: str) -> Any:
    return jsonify(error=error, message=message), status


def _out(m: Message | Row[Any, Any] | StoredReply) -> dict[str, Any]:
    return {"id": m.id, "text": m.text, "buttons": m.buttons or [],
            "created_at": m.created_at.isoformat()}


_m = cast(Table, Message.__table__)
# One round trip and only the columns the answer shows: the message and its replies together
# (the replies are committed with the processing, so they are complete once the message reads
# as processed). Built once: a waiting POST runs it at least twice.
_MESSAGE_AND_REPLIES = (
    select(_m.c.id, _m.c.processed_at, _m.c.text, _m.c.buttons, _m.c.created_at)
    .where(or_(_m.c.id == bindparam("b_id"), and_(_m.c.reply_to_id == bindparam("b_id"), _m.c.direction == "out")))
    .order_by(_m.c.id))


def _replies_if_processed(rt: Any, message_id: int) -> tuple[bool, Sequence[Row[Any, Any] | StoredReply]]:
    # Processed in this process (usually by this very request): the replies are in hand.
    answered = rt.wakeups.answered(message_id)
    if answered is not None:
        return True, answered
    with rt.engine.connect() as conn:
        rows = conn.execute(_MESSAGE_AND_REPLIES, {"b_id": message_id}).all()
    msg = next((m for m in rows if m.id == message_id), None)
    if msg is None or msg.processed_at is None:
        return False, []
    return True, [m for m in rows if m.id != message_id]


@bp.get("/")
def page() -> Any:
    settings = current_app.extensions["warga"].settings
    # The page's switch offers the city's languages that it has labels for.
    languages = [lang for lang in settings.languages if lang in LANGUAGE_NAMES]
    languages.sort(key=lambda lang: lang != settings.default_language)
    return render_template("chat.html", max_photo_kb=settings.server.max_photo_kb, languages=languages)


@bp.before_app_request
def _photo_upload_limit() -> None:
    # Only a photo upload may be larger than server.max_request_kb (every other route keeps the
    # app's MAX_CONTENT_LENGTH). Set before anything reads the form (the NUL guard does).
    if request.endpoint == "webchat.post_message" and request.mimetype == MULTIPART:
        server = current_app.extensions["warga"].settings.server
        request.max_content_length = (server.max_photo_kb + server.max_request_kb) * 1024


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    server = current_app.extensions["warga"].settings.server
    message = (f"the photo is larger than {server.max_photo_kb} KB" if request.mimetype == MULTIPART
               else f"the request is larger than {server.max_request_kb} KB")
    return _json_error(413, "request_entity_too_large", message)


def _saved_upload(rt: Any) -> UploadedFile | None:
    """The photo of a form POST, checked and saved (raises :class:`UploadRefused`)."""
    files = request.files.getlist(PHOTO_FIELD)
    if not files:
        return None
    if len(files) > 1 or len(request.files) > 1:
        raise UploadRefused(400, "send one photo per message, in the field \"photo\"")
    upload = files[0]
    saved = save_photo(upload.stream, rt.settings.media_dir / "web", rt.settings.server.max_photo_kb * 1024)
    return UploadedFile(PHOTO_FIELD, upload.filename or "", saved.content_type, str(saved.path), saved.size)


@bp.post("/api/v1/chat/messages")
def post_message() -> Any:
    rt = current_app.extensions["warga"]
    channel = rt.channels.get("web")
    if channel is None:
        abort(404)
    upload: UploadedFile | None = None
    if request.mimetype == MULTIPART:
        try:
            upload = _saved_upload(rt)
        except UploadRefused as exc:
            return _json_error(exc.status, "bad_request" if exc.status == 400 else "request_entity_too_large",
                               exc.message)
        req = WebhookRequest(url=request.url, headers={k.lower(): v for k, v in request.headers.items()},
                             body=b"", form=tuple(request.form.items(multi=True)),
                             files=(upload,) if upload else ())
    elif request.is_json:
        req = WebhookRequest(url=request.url, headers={k.lower(): v for k, v in request.headers.items()},
                             body=request.get_data())
    else:
        return _json_error(400, "bad_request", "send Content-Type: application/json (or multipart/form-data "
                                               "with a photo)")
    language = _requested_language(rt, req)
    keep_upload = False
    try:
        if language is not None:
            return _json_error(400, "bad_request", language)
        try:
            # Processed in this thread when no worker has the conversation: the request waits
            # for the replies anyway, so a hand-over to a worker only adds a wake-up.
            received = rt.receiver.receive(channel, req, process_here=True)
        except WebChatError as exc:
            return _json_error(400, "bad_request", str(exc))
        if not received.messages:
            # The database refused what was sent (stored raw for staff): the client must change it.
            return _json_error(400, "bad_request", "the message could not be stored as sent")
        stored = received.messages[0]
        # A retry of a message already stored keeps the first upload's file, not this copy;
        # unless the stored message is this very request's (stored and committed by the
        # one-transaction path, whose commit's answer was lost, then found again).
        keep_upload = not stored.duplicate or (upload is not None and _stored_with(rt, stored.message_id, upload.path))
    finally:
        if upload is not None and not keep_upload:
            Path(upload.path).unlink(missing_ok=True)
    deadline = time.monotonic() + rt.settings.server.chat_reply_wait_seconds
    # Usually processed above; otherwise (a worker had the conversation) woken when the worker
    # commits the message's processing. The re-read every SAFETY_RECHECK seconds only covers a
    # wake-up that never comes (another process's sweeper handled it).
    done = False
    replies: Sequence[Row[Any, Any] | StoredReply] = []
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


def _stored_with(rt: Any, message_id: int, path: str) -> bool:
    """Whether the stored message's attachments include the file at ``path``."""
    with rt.sessions() as s:
        media = s.scalar(select(Message.media).where(Message.id == message_id)) or []
    return any(isinstance(item, dict) and item.get("stored") == path for item in media)


def _requested_language(rt: Any, req: WebhookRequest) -> str | None:
    """Why the ``language`` asked for is refused (None when there is none, or it is offered):
    the connector checks its shape; which languages the city offers is a setting."""
    if req.form:
        wanted: object = next((v for k, v in req.form if k == "language"), None)
    else:
        try:
            data = request.get_json(silent=True)
        except RecursionError:
            return None      # the connector answers it
        wanted = data.get("language") if isinstance(data, dict) else None
    if isinstance(wanted, str) and re.fullmatch(r"[a-z]{2,3}", wanted) and wanted not in rt.settings.languages:
        return f"language must be one of: {', '.join(rt.settings.languages)}"
    return None


def _sender_or_error() -> tuple[str | None, Any]:
    """The sender id of a GET (the reader's credential), or the error to answer."""
    if "sender" in request.args:
        # The sender id is the reader's credential: a URL lands in access logs, proxies and
        # browser history. Refused, so no client keeps sending it that way.
        return None, _json_error(400, "bad_request",
                                 f"send the sender id in the {SENDER_HEADER} header, not in the URL")
    sender = request.headers.get(SENDER_HEADER, "")
    if not SENDER_RE.match(sender):
        return None, _json_error(400, "bad_request", f"{SENDER_HEADER} must be the opaque id used to post")
    return sender, None


def _conversation_of(session: Any, sender: str) -> Conversation | None:
    return session.scalars(select(Conversation).join(
        ContactAddress, Conversation.address_id == ContactAddress.id)
        .where(ContactAddress.urn == f"web:{sender}")).first()


@bp.get("/api/v1/chat/messages")
def get_messages() -> Any:
    rt = current_app.extensions["warga"]
    if "web" not in rt.channels:
        abort(404)
    sender, error = _sender_or_error()
    if sender is None:
        return error
    after_raw = request.args.get("after", "0")
    # ASCII digits only ("²".isdigit() is True and int() refuses it) and within a 64-bit id.
    if not MESSAGE_ID_RE.fullmatch(after_raw):
        return _json_error(400, "bad_request", "after must be a message id (a whole number)")
    with rt.sessions() as session:
        conv = _conversation_of(session, sender)
        rows = [] if conv is None else session.scalars(select(Message).where(
            Message.conversation_id == conv.id, Message.direction == "out",
            Message.id > int(after_raw)).order_by(Message.id).limit(200)).all()
    return jsonify(messages=[_out(m) for m in rows])


@bp.get("/api/v1/chat/history")
def get_history() -> Any:
    """The conversation as the citizen saw it: their own messages (photos as links that only
    this sender can open) and every message to them, oldest first, the latest
    :data:`HISTORY_LIMIT` (``before=<id>`` pages back)."""
    rt = current_app.extensions["warga"]
    if "web" not in rt.channels:
        abort(404)
    sender, error = _sender_or_error()
    if sender is None:
        return error
    before_raw = request.args.get("before")
    if before_raw is not None and not MESSAGE_ID_RE.fullmatch(before_raw):
        return _json_error(400, "bad_request", "before must be a message id (a whole number)")
    with rt.sessions() as session:
        conv = _conversation_of(session, sender)
        if conv is None:
            return jsonify(messages=[], language=None, more=False)
        query = select(Message).where(
            Message.conversation_id == conv.id,
            or_(Message.direction == "out", and_(Message.direction == "in", Message.kind == "message")))
        if before_raw is not None:
            query = query.where(Message.id < int(before_raw))
        rows = list(session.scalars(query.order_by(Message.id.desc()).limit(HISTORY_LIMIT + 1)).all())
        more = len(rows) > HISTORY_LIMIT
        rows = sorted(rows[:HISTORY_LIMIT], key=lambda m: m.id)
        rating_for = load_state(conv).rating_for
        language = conv.language
    return jsonify(messages=_history(rows, rating_for), language=language, more=more)


def _history(rows: list[Message], rating_for: str | None) -> list[dict[str, Any]]:
    last_in = max((m.id for m in rows if m.direction == "in"), default=0)
    # Buttons still answerable: those the citizen has not answered yet (sent after their last
    # message), and the rating buttons while the rating question is open (the dialogue takes a
    # late press, bot/dialogue/engine.py _late_rating).
    rating_msg = next((m.id for m in reversed(rows) if m.direction == "out" and rating_for and any(
        (rating_button(b.get("payload", "")) or (None, 0))[0] == rating_for for b in m.buttons or [])), None)
    titles: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for m in rows:
        if m.direction == "out":
            titles.update({b["payload"]: b["title"] for b in m.buttons or [] if "payload" in b and "title" in b})
            item = _out(m)
            if m.id < last_in and m.id != rating_msg:
                item["buttons"] = []
            item.update(direction="out", staff=m.staff_user_id is not None, photos=[], location=None)
            out.append(item)
            continue
        out.append({"id": m.id, "direction": "in", "text": _shown(m, titles), "buttons": [], "staff": False,
                    "created_at": m.created_at.isoformat(),
                    "location": {"lat": m.latitude, "lon": m.longitude} if m.latitude is not None else None,
                    "photos": [{"url": f"/api/v1/chat/media/{m.id}/{i}", "name": item.get("name"),
                                "content_type": item.get("content_type")}
                               for i, item in enumerate(m.media or []) if item.get("stored")]})
    return out


def _shown(m: Message, titles: dict[str, str]) -> str:
    """What the citizen's message looked like to them: a pressed button by its title."""
    payload = m.button_payload
    if not payload:
        return m.text
    if payload.startswith(LANGUAGE_PAYLOAD):
        return LANGUAGE_NAMES.get(payload[len(LANGUAGE_PAYLOAD):], payload)
    return titles.get(payload, m.text)


@bp.get("/api/v1/chat/media/<int:message_id>/<int:index>")
def get_media(message_id: int, index: int) -> Any:
    """A photo the citizen sent, to that same sender only (the header is the credential:
    message ids are guessable, so anyone else gets 404 as for a photo that does not exist)."""
    rt = current_app.extensions["warga"]
    if "web" not in rt.channels:
        abort(404)
    sender, error = _sender_or_error()
    if sender is None:
        return error
    if message_id > MAX_ID:
        abort(404)       # no such row, and no database takes the number
    with rt.sessions() as session:
        msg = session.get(Message, message_id)
        if msg is None or msg.direction != "in" or msg.urn != f"web:{sender}" or index >= len(msg.media or []):
            abort(404)
        item = dict(msg.media[index])
    stored, content_type = item.get("stored"), item.get("content_type")
    root = rt.settings.media_dir.resolve()
    path = Path(stored).resolve() if isinstance(stored, str) else None
    if path is None or content_type not in IMAGE_TYPES or not path.is_relative_to(root) or not path.is_file():
        abort(404)
    resp = send_file(path, mimetype=content_type, conditional=False, max_age=0)
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["Content-Security-Policy"] = "default-src 'none'"
    return resp
