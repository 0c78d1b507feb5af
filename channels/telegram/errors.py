"""Telegram failures as :class:`~channels.base.SendError` with a :class:`~channels.base.SendFailure` kind.

The order of the checks matters: ``BadRequest`` and ``TimedOut`` subclass ``NetworkError``,
so a blanket "network error: retry" would retry bad requests for ever (notes §3).
"""

from __future__ import annotations

from typing import Any

import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from channels.base import SendError, SendFailure
from channels.loop_bridge import BridgeTimeout

# A 403 means the citizen is gone only for these descriptions; "bot can't initiate
# conversation" or "not enough rights" are our problem, not an opt-out (courier PR 688).
UNREACHABLE_403 = ("bot was blocked by the user", "user is deactivated",
                   "bot was kicked from", "bot is not a member of")


def send_error(exc: BaseException, *, parts_sent: int = 0, sent_ids: tuple[str, ...] = ()) -> SendError:
    """Map a PTB error (or a bridge timeout) to a :class:`SendError`.

    Raises:
        TypeError: ``exc`` is not an error a Telegram call raises.
    """
    kw: dict[str, Any] = {"parts_sent": parts_sent, "sent_ids": sent_ids}
    if isinstance(exc, RetryAfter):
        return SendError(f"Telegram flood control: {exc.message}", kind=SendFailure.throttled,
                         retry_after=_retry_seconds(exc), code="429", **kw)
    if isinstance(exc, Forbidden):
        gone = any(s in exc.message.lower() for s in UNREACHABLE_403)
        return SendError(exc.message, code="403", **kw,
                         kind=SendFailure.contact_unreachable if gone else SendFailure.permanent)
    if isinstance(exc, InvalidToken):
        return SendError(f"Telegram rejected the bot token: {exc.message}", kind=SendFailure.permanent,
                         code="401", **kw)
    if isinstance(exc, ChatMigrated):
        return SendError(f"the group became supergroup {exc.new_chat_id}", kind=SendFailure.permanent,
                         code="chat_migrated", **kw)
    if isinstance(exc, Conflict):
        return SendError(exc.message, kind=SendFailure.permanent, code="409", **kw)
    if isinstance(exc, BadRequest):
        return SendError(exc.message, kind=SendFailure.permanent, code="400", **kw)
    if isinstance(exc, TimedOut):
        # PoolTimeout and ConnectTimeout mean the request never left; a read or write
        # timeout means Telegram may have delivered it.
        unsent = isinstance(exc.__cause__, (httpx.PoolTimeout, httpx.ConnectTimeout))
        return SendError(f"Telegram timed out: {exc.message}", kind=SendFailure.retry_later,
                         code="timeout", outcome_unknown=not unsent, **kw)
    if isinstance(exc, NetworkError):
        cause = exc.__cause__
        # Only a transport failure after connecting (connection reset mid-request, a read
        # error) leaves the outcome open. ConnectError: it never left. No transport cause:
        # Telegram answered (a 5xx, or a body PTB could not parse) without carrying it out.
        unsent = (not isinstance(cause, httpx.TransportError)
                  or isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)))
        return SendError(f"Telegram network error: {exc.message}", kind=SendFailure.retry_later,
                         code="network", outcome_unknown=not unsent, **kw)
    if isinstance(exc, BridgeTimeout):
        return SendError(str(exc), kind=SendFailure.retry_later, code="timeout", outcome_unknown=True, **kw)
    if isinstance(exc, TelegramError):
        return SendError(exc.message, kind=SendFailure.permanent, code="telegram_error", **kw)
    if isinstance(exc, TimeoutError):
        return SendError(f"timed out: {exc}", kind=SendFailure.retry_later, code="timeout",
                         outcome_unknown=True, **kw)
    raise TypeError(f"send_error: not a Telegram error: {exc!r}")


def _retry_seconds(exc: RetryAfter) -> float:
    value: Any = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def api_result(response: httpx.Response) -> Any:
    """Decode a raw Bot API answer the way PTB would, mapping errors to :class:`SendError`."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code == 200 and isinstance(data, dict) and data.get("ok") is True:
        return data.get("result")
    body = data if isinstance(data, dict) else {}
    description = str(body.get("description") or response.text[:200] or response.reason_phrase)
    status = response.status_code
    raw_params = body.get("parameters")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    if status == 429:
        retry_after = params.get("retry_after")
        raise SendError(description, kind=SendFailure.throttled, code="429",
                        retry_after=float(retry_after) if retry_after is not None else None)
    if status == 409:
        raise SendError(f"{description} (a webhook is set or another poller runs; "
                        "delete_webhook() first)", kind=SendFailure.permanent, code="409")
    if status in (401, 404):
        raise SendError(f"Telegram rejected the bot token: {description}", kind=SendFailure.permanent,
                        code="401")
    raise SendError(description, code=str(status),
                    kind=SendFailure.retry_later if status >= 500 else SendFailure.permanent)
