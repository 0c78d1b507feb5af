"""The console's fixed words in Indonesian and English, and the switch between them.

Templates call ``t("key")`` and route modules ``label("key", **values)`` (flash messages); the
language is the signed session's ``lang`` (set by the ID/EN link in the header). Every fixed
word of every console page lives in this package, one module per language (:mod:`.id`,
:mod:`.en`) under the same keys (a test checks); citizen and staff text stays as written.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, session, url_for

from bot.casework.filter_refusal import FilterRefused
from bot.web.console.blueprint import bp
from bot.web.console.labels.en import WORDS as ENGLISH
from bot.web.console.labels.id import WORDS as INDONESIAN

LANGUAGES = ("id", "en")

LABELS: dict[str, dict[str, str]] = {"id": INDONESIAN, "en": ENGLISH}


def console_language() -> str:
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "id"


def label(key: str, **values: Any) -> str:
    """The fixed word ``key`` in the console's language (Indonesian when English lacks it)."""
    text = LABELS[console_language()].get(key) or LABELS["id"].get(key, key)
    return text.format(**values) if values else text


def refusal(exc: FilterRefused) -> str:
    """A refused filter value in the console's language: "from: a date is written ..."."""
    return f"{exc.param}: {label('refused.' + exc.reason, **exc.values)}"


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"t": label, "console_lang": console_language()}


@bp.get("/language/<lang>")
def switch_language(lang: str) -> Any:
    # A plain link (GET): it changes only how this browser's console reads, nothing stored.
    if lang not in LANGUAGES:
        abort(404)
    session["lang"] = lang
    back = request.args.get("next", "")
    # Only local console paths: never bounce to another site.
    return redirect(back if back.startswith("/console") and not back.startswith("//") else url_for("console.index"))
