"""/healthz (the process is up), /readyz (database and NLU reachable), /metrics (Prometheus).

/readyz also says which engine answers citizens now and where Warga's own Rasa server is
(``nlu``: ``answering``, ``rasa_phase``, ``rasa_detail``): on a fresh `make run` the sklearn
engine answers while Rasa is still being installed, which is ready, not "unavailable".
"""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from bot.pipeline.metrics import exposition
from bot.runtime.doctor import rasa_fix
from bot.runtime.rasa_env import INSTALLING, RasaPhase, phase_file, read_phase
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
    # The supervisor of Warga's own Rasa server writes its phase (in `warga serve` it runs in
    # gunicorn's master, not in this worker process).
    own_rasa = rt.settings.nlu.engine == "rasa" and rt.settings.rasa_autostart and not rt.settings.nlu.external
    phase = read_phase(phase_file(rt.settings.nlu.var_dir)) if own_rasa else None
    answering = nlu.name if nlu.ready() else "none"
    if isinstance(nlu, FallbackEngine):
        # Rasa down is not "unready": the sklearn engine answers; say so for operators.
        primary = nlu.primary
        if isinstance(primary, RasaEngine):
            # Say why (down, no model, token refused) and which server, so the fix is obvious.
            problem = primary.problem()
            if problem is not None and phase is not None and not phase.ready:
                checks["rasa"] = f"{_phase_text(phase)}; the sklearn engine is answering"
            else:
                checks["rasa"] = ("ok" if problem is None else
                                  f"{problem} at {primary.base_url}; the sklearn engine is answering; "
                                  f"fix: {rasa_fix(rt.settings, problem)}")
            primary_up = problem is None
        else:
            primary_up = nlu.primary_ready()
            checks["rasa"] = "ok" if primary_up else "unreachable: the sklearn engine is answering"
        checks["nlu_fallbacks"] = str(nlu.fallback_count)
        answering = _answering(nlu, primary_up)
    checks["channels"] = ",".join(sorted(rt.channels)) or "none"
    ok = checks["database"] == "ok" and checks["nlu"] == "ok"
    state = {"answering": answering, "rasa_phase": phase.name if phase else None,
             "rasa_detail": phase.detail if phase else None}
    return jsonify(status="ok" if ok else "unavailable", checks=checks, nlu=state), 200 if ok else 503


def _phase_text(phase: RasaPhase) -> str:
    return f"{phase.name} ({phase.detail})" if phase.name == INSTALLING and phase.detail else str(phase)


def _answering(nlu: FallbackEngine, primary_up: bool) -> str:
    """The engine the next message goes to: the primary when it is up and not being skipped
    after a recent failure (``nlu.rasa_retry_after``), else the in-process one."""
    if primary_up and not nlu.primary_skipped():
        return nlu.primary.name
    return nlu.secondary.name if nlu.secondary.ready() else "none"


@bp.get("/metrics")
def metrics() -> Any:
    """Prometheus text format; README "Running at scale" says how to read it."""
    body, content_type = exposition(current_app.extensions["warga"])
    return Response(body, content_type=content_type)
