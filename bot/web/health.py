"""/healthz (the process is up), /readyz (database and NLU reachable), /metrics (Prometheus)."""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from bot.pipeline.metrics import exposition
from bot.runtime.doctor import rasa_fix
from bot.store.engine import ping
from bot.store.migrate import pending
from bot.training.live import LiveNlu
from nlu.fallback import FallbackEngine
from nlu.rasa_engine import RasaEngine

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    rt = current_app.extensions["warga"]
    checks: dict[str, str] = {}
    try:
        ping(rt.engine)
        checks["database"] = "migrations pending: run `warga db upgrade`" if pending(rt.engine) else "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["nlu"] = "ok" if rt.nlu.ready() else f"not ready ({rt.nlu.name})"
    nlu = rt.nlu.current if isinstance(rt.nlu, LiveNlu) else rt.nlu
    if isinstance(rt.nlu, LiveNlu):
        # Which registry version this process serves (each process switches on its own).
        checks["nlu_model"] = f"{rt.nlu.version or 'initial'} (pid {os.getpid()})"
    if isinstance(nlu, FallbackEngine):
        # Rasa down is not "unready": the sklearn engine answers; say so for operators.
        primary = nlu.primary
        if isinstance(primary, RasaEngine):
            # Say why (down, no model, token refused) and which server, so the fix is obvious.
            problem = primary.problem()
            checks["rasa"] = ("ok" if problem is None else
                              f"{problem} at {primary.base_url}; the sklearn engine is answering; "
                              f"fix: {rasa_fix(rt.settings, problem)}")
        else:
            checks["rasa"] = "ok" if nlu.primary_ready() else "unreachable: the sklearn engine is answering"
        checks["nlu_fallbacks"] = str(nlu.fallback_count)
    checks["channels"] = ",".join(sorted(rt.channels)) or "none"
    ok = checks["database"] == "ok" and checks["nlu"] == "ok"
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503


@bp.get("/metrics")
def metrics() -> Any:
    """Prometheus text format; README "Running at scale" says how to read it."""
    body, content_type = exposition(current_app.extensions["warga"])
    return Response(body, content_type=content_type)
