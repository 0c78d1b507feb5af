"""Build the NLU engine the gateway uses from the settings."""

from __future__ import annotations

import logging

from bot.settings import Settings
from nlu.base import NluEngine, NluError, Parse
from nlu.factory import build_engine
from nlu.training_data import TrainingDataError

log = logging.getLogger(__name__)


class NoModelEngine:
    """Used when no model can be loaded or trained: every parse says so, and the dialogue
    still answers buttons and keywords, so citizens are never left without a reply."""

    name = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def parse(self, text: str) -> Parse:
        raise NluError(self.reason, retryable=False)

    def ready(self) -> bool:
        return False


def build_nlu(settings: Settings) -> NluEngine:
    try:
        return build_engine(settings.nlu)
    except (NluError, TrainingDataError) as exc:
        log.error("no NLU model", extra={"reason": str(exc)})
        return NoModelEngine(f"no NLU model: {exc}")
