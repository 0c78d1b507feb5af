"""The one PTB ``Bot`` of a Telegram connector, on its own event-loop thread.

Pattern D of notes/provider-libraries.md §2 (``channels/loop_bridge.py``): sync callers run
coroutines on one loop that owns the Bot and its connection pools, created lazily after fork.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import Bot
from telegram.request import HTTPXRequest

from channels.loop_bridge import LoopBridge
from channels.telegram.config import TelegramConfig


@dataclass(frozen=True, slots=True)
class _BotHandle:
    """The Bot and the request objects it was built with (so we can close them)."""

    bot: Bot
    requests: tuple[HTTPXRequest, ...]


class BotClient:
    """Runs Bot API calls from sync code.

    Args:
        config: Token, API origin and timeouts.
    """

    def __init__(self, config: TelegramConfig) -> None:
        self.config = config
        self._bridge: LoopBridge[_BotHandle] = LoopBridge(self._make_bot, _close_bot, "warga-telegram")

    async def _make_bot(self) -> _BotHandle:
        c = self.config

        def request(pool: int) -> HTTPXRequest:
            return HTTPXRequest(connection_pool_size=pool, connect_timeout=c.connect_timeout,
                                read_timeout=c.read_timeout, write_timeout=c.write_timeout,
                                pool_timeout=c.pool_timeout)

        # Only our own polling calls getUpdates (over plain HTTP, see admin.py), so the
        # Bot's getUpdates pool stays minimal.
        requests = (request(c.connection_pool_size), request(1))
        bot = Bot(c.token, base_url=c.bot_base_url, base_file_url=c.file_base_url,
                  request=requests[0], get_updates_request=requests[1])
        return _BotHandle(bot, requests)

    def call(self, call: Callable[[Bot], Any], timeout: float | None = None) -> Any:
        """Run ``call(bot)`` (a coroutine) on the loop and return its result.

        Raises:
            TelegramError: As PTB raises it.
            BridgeTimeout: The call took longer than ``timeout`` (default: the config's).
        """
        return self._bridge.run(lambda handle: call(handle.bot), timeout or self.config.call_timeout)

    def close(self) -> None:
        """Close the pools and stop the loop thread; the next call starts them again."""
        self._bridge.close()


async def _close_bot(handle: _BotHandle) -> None:
    # Bot.shutdown() only closes the pools if initialize() ran (notes §2), and we never call
    # initialize() (it costs a getMe per process): close the request objects directly.
    for request in handle.requests:
        await request.shutdown()
