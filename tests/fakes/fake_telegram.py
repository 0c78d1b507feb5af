"""A local fake of the Telegram Bot API, for tests.

Usage::

    with FakeTelegram(token="123:ABC") as fake:
        channel = TelegramChannel(TelegramConfig(token="123:ABC", webhook_secret="s3cret",
                                                 api_base_url=fake.url))
        channel.send(OutboundMessage("telegram", "telegram:42", "Halo"))
        assert fake.calls("sendMessage")[0].params == {"chat_id": "42", "text": "Halo"}

API:

- ``start()`` / ``stop()`` or a ``with`` block; ``url`` is the origin to put in
  ``TelegramConfig.api_base_url``. Requests go to ``POST /bot<TOKEN>/<method>`` and file
  downloads to ``GET /file/bot<TOKEN>/<file_path>``, as PTB sends them.
- ``requests``: every raw request (:class:`tests.fakes._http.Recorded`);
  ``calls(method=None)``: the Bot API calls, each a :class:`TelegramCall` with ``method``,
  ``params`` (form fields as a dict; nested values are JSON strings, e.g. ``reply_markup``),
  ``token`` and the raw ``request``.
- Programmable failures, consumed in order, each ``times`` times (``None`` = for ever),
  optionally only for one ``chat_id``:
  ``fail(method, status, description, retry_after=..., migrate_to_chat_id=...)`` answers
  a Bot API error (429 with ``retry_after``, 403, 400, 5xx...); ``fail_html(method, 502)``
  answers an HTML error page; ``delay(method, seconds)`` answers late (timeouts);
  ``block(chat_id)`` makes every send to that chat a 403 "bot was blocked by the user";
  ``after=n`` lets n matching calls through before the rule applies (fail the 2nd part).
- Files: ``add_file(file_id, content, file_path)`` serves ``getFile`` and the download.
- Polling: ``push_update(update)`` queues an update for ``getUpdates`` (offset semantics as
  Telegram's: updates below ``offset`` are confirmed and dropped); while a webhook is set
  (``setWebhook``), ``getUpdates`` answers 409 Conflict.
- ``webhook``: the state ``setWebhook``/``deleteWebhook`` left (url, secret_token, ...);
  ``webhook_info_extra`` is merged into ``getWebhookInfo``'s answer.
- A wrong token gets 401, an unknown method a 400 naming it (a 404 would make PTB raise a
  misleading InvalidToken).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from tests.fakes._http import FakeServer, FaultRules, Recorded, Reply

SEND_METHODS = {"sendMessage", "sendPhoto", "sendLocation", "sendVenue", "sendDocument"}


@dataclass(frozen=True)
class TelegramCall:
    method: str
    params: dict[str, str]
    token: str
    request: Recorded

    def json_param(self, name: str) -> Any:
        """A nested parameter (``reply_markup``, ``allowed_updates``) decoded from JSON."""
        return json.loads(self.params[name])


class FakeTelegram(FakeServer):
    """See the module docstring."""

    def __init__(self, token: str = "123456:TEST-token") -> None:
        super().__init__()
        self.token = token
        self.webhook: dict[str, str] = {}
        self.webhook_info_extra: dict[str, Any] = {}
        self.faults = FaultRules()
        self._files: dict[str, tuple[str, bytes]] = {}
        self._updates: list[dict[str, Any]] = []
        self._updates_cond = threading.Condition(self._lock)
        self._next_message_id = 1000

    # -- programming -------------------------------------------------------------------

    def fail(self, method: str, status: int, description: str, *, retry_after: int | None = None,
             migrate_to_chat_id: int | None = None, times: int | None = 1,
             chat_id: int | str | None = None, after: int = 0) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        params: dict[str, Any] = {}
        if retry_after is not None:
            params["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            params["migrate_to_chat_id"] = migrate_to_chat_id
        if params:
            body["parameters"] = params
        self.faults.add(Reply.json(body, status), times=times, where={"method": method, "chat_id": _str(chat_id)},
                        after=after)

    def fail_html(self, method: str, status: int = 502, *, times: int | None = 1) -> None:
        page = f"<html><body><h1>{status} Bad Gateway</h1></body></html>".encode()
        self.faults.add(Reply(status, page, "text/html"), times=times, where={"method": method})

    def delay(self, method: str, seconds: float, *, times: int | None = 1, after: int = 0) -> None:
        self.faults.add(None, times=times, where={"method": method}, delay=seconds, after=after)

    def block(self, chat_id: int | str, description: str = "Forbidden: bot was blocked by the user") -> None:
        for method in SEND_METHODS:
            self.fail(method, 403, description, times=None, chat_id=chat_id)

    def add_file(self, file_id: str, content: bytes, file_path: str = "photos/file_1.jpg") -> None:
        with self._lock:
            self._files[file_id] = (file_path, content)

    def push_update(self, update: dict[str, Any]) -> None:
        with self._updates_cond:
            self._updates.append(update)
            self._updates_cond.notify_all()

    # -- reading -----------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[TelegramCall]:
        out = []
        with self._lock:
            requests = list(self.requests)
        for r in requests:
            if r.method != "POST" or not r.path.startswith("/bot"):
                continue
            token, _, name = r.path[len("/bot"):].partition("/")
            if method is None or name == method:
                params = dict(r.form()) if "urlencoded" in r.headers.get("content-type", "") else {}
                out.append(TelegramCall(name, params, token, r))
        return out

    def downloads(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/file/bot")]

    # -- serving -----------------------------------------------------------------------

    def handle(self, request: Recorded) -> Reply:
        if request.path.startswith("/file/bot"):
            return self._download(request)
        if not request.path.startswith("/bot"):
            return Reply.json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        token, _, method = request.path[len("/bot"):].partition("/")
        if token != self.token:
            return Reply.json({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        params = request.form_dict() if request.body else {}
        fault, delay = self.faults.take({**params, "method": method})
        if fault is not None:
            return fault
        reply = self._answer(method, params)
        reply.delay = delay
        return reply

    def _answer(self, method: str, params: dict[str, str]) -> Reply:
        if method == "getMe":
            return _ok({"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "Warga",
                        "username": "warga_test_bot", "can_join_groups": False})
        if method in SEND_METHODS:
            with self._lock:
                self._next_message_id += 1
                message_id = self._next_message_id
            chat_id = params.get("chat_id", "0")
            message: dict[str, Any] = {
                "message_id": message_id, "date": int(time.time()),
                "from": {"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "Warga",
                         "username": "warga_test_bot"},
                "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else 0, "type": "private"}}
            if "text" in params:
                message["text"] = params["text"]
            if "caption" in params:
                message["caption"] = params["caption"]
            if method == "sendLocation":
                message["location"] = {"latitude": float(params["latitude"]),
                                       "longitude": float(params["longitude"])}
            if method == "sendPhoto":
                message["photo"] = [{"file_id": "AgACAgUAAxkDAAI", "file_unique_id": "AQAD",
                                     "width": 90, "height": 90}]
            return _ok(message)
        if method == "answerCallbackQuery":
            return _ok(True)
        if method == "setWebhook":
            with self._lock:
                self.webhook = dict(params)
            return _ok(True)
        if method == "deleteWebhook":
            with self._lock:
                self.webhook = {}
                if params.get("drop_pending_updates") == "true":
                    self._updates.clear()
            return _ok(True)
        if method == "getWebhookInfo":
            with self._lock:
                info: dict[str, Any] = {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                                        "pending_update_count": len(self._updates)}
                if self.webhook:
                    info["max_connections"] = int(self.webhook.get("max_connections", "40"))
                    info["allowed_updates"] = json.loads(self.webhook.get("allowed_updates", "[]"))
                info.update(self.webhook_info_extra)
            return _ok(info)
        if method == "getFile":
            with self._lock:
                found = self._files.get(params.get("file_id", ""))
            if found is None:
                return Reply.json({"ok": False, "error_code": 400,
                                   "description": "Bad Request: invalid file_id"}, 400)
            return _ok({"file_id": params["file_id"], "file_unique_id": "AQADu", "file_size": len(found[1]),
                        "file_path": found[0]})
        if method == "getUpdates":
            return self._get_updates(params)
        return Reply.json({"ok": False, "error_code": 400,
                           "description": f"Bad Request: the fake has no method {method}"}, 400)

    def _get_updates(self, params: dict[str, str]) -> Reply:
        offset = int(params.get("offset", "0") or 0)
        timeout = float(params.get("timeout", "0") or 0)
        deadline = time.monotonic() + min(timeout, 5.0)
        with self._updates_cond:
            if self.webhook:
                return Reply.json({"ok": False, "error_code": 409, "description":
                                   "Conflict: can't use getUpdates method while webhook is active; "
                                   "use deleteWebhook to delete the webhook first"}, 409)
            # Telegram: an offset confirms every update below it.
            self._updates = [u for u in self._updates if _update_id(u) >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._updates_cond.wait(deadline - time.monotonic())
            batch = self._updates[: int(params.get("limit", "100") or 100)]
        return _ok(batch)

    def _download(self, request: Recorded) -> Reply:
        rest = unquote(request.path[len("/file/bot"):])      # PTB quotes the token's ":" here
        token, _, file_path = rest.partition("/")
        if token != self.token:
            return Reply(401, b"Unauthorized", "text/plain")
        with self._lock:
            for path, content in self._files.values():
                if path == file_path:
                    return Reply(200, content, "application/octet-stream")
        return Reply(404, b"Not Found", "text/plain")


def _ok(result: Any) -> Reply:
    return Reply.json({"ok": True, "result": result})


def _str(value: int | str | None) -> str | None:
    return None if value is None else str(value)


def _update_id(update: dict[str, Any]) -> int:
    value = update.get("update_id")
    return value if isinstance(value, int) else 1 << 62    # malformed: keep it until confirmed
