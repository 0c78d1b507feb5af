"""Build the NLU engine the gateway uses from the settings."""

from __future__ import annotations

from bot.settings import Settings
from nlu.base import NluEngine, NluError, Parse


class NoModelEngine:
    """Used until a model is trained: every parse says so, and the dialogue answers by keywords."""

    name = "none"

    def parse(self, text: str) -> Parse:
        raise NluError("no NLU model is trained yet: run `warga nlu train`", retryable=False)

    def ready(self) -> bool:
        return False


def build_nlu(settings: Settings) -> NluEngine:
    return NoModelEngine()
