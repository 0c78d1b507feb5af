"""Improving the bot (admins only): the NLU inbox, training data, model versions, intent overview.

Staff and supervisors get 404 on every page here. Every change goes through bot/training, which
records it in ``nlu_changes`` (who, when, what).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from bot.store.models import NluExample, NluIntent
from bot.training import inbox
from bot.training.jobs import external_note, request_training, training_engine
from bot.training.live import LiveNlu, announce
from bot.training.registry import Registry
from bot.training.store import HELDOUT, TRAIN, Actor, TrainingInputError, TrainingStore, ensure_seeded
from bot.web.console.blueprint import bp
from bot.web.console.common import current_runtime, login_required
from bot.web.console.labels import label

F = TypeVar("F", bound=Callable[..., Any])


def admin_only(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.user.role != "admin":
            abort(404)
        ensure_seeded(current_runtime().sessions, current_runtime().settings.nlu.data_dir)
        return view(*args, **kwargs)
    return login_required(wrapper)  # type: ignore[return-value]


def _actor() -> Actor:
    return Actor(f"staff:{g.user.username}", g.user.id)


def _change(action: Callable[[Any], Any], ok: str) -> bool:
    """Run one change in a transaction; a person's mistake is a flash, never a 500."""
    rt = current_runtime()
    try:
        with rt.sessions() as s, s.begin():
            action(s)
    except TrainingInputError as exc:
        flash(str(exc), "error")
        return False
    flash(ok, "ok")
    return True


def _entities(raw: str) -> list[dict[str, Any]]:
    if not raw.strip():
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        raise TrainingInputError(label("nlu.bad_entities")) from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise TrainingInputError(label("nlu.bad_entities"))
    return items


# -- inbox --------------------------------------------------------------------------------

@bp.get("/nlu/")
@admin_only
def nlu_inbox() -> Any:
    rt = current_runtime()
    reason = request.args.get("reason") or None
    intent = request.args.get("intent") or None
    with rt.sessions() as s:
        found, per_reason, per_intent = inbox.items(s, rt.settings, reason=reason, intent=intent)
        shown = found[:50]
        contexts = {it.message_id: inbox.context(s, it.message_id) for it in shown}
        intents = TrainingStore(s).intent_names()
    reasons = {key: label(f"nlu.reason.{key}") for key in inbox.REASONS}
    return render_template("console/nlu_inbox.html", items=shown, total=len(found), contexts=contexts,
                           per_reason=per_reason, per_intent=per_intent, reasons=reasons,
                           reason=reason, intent=intent, intents=intents, mask=inbox.mask)


@bp.post("/nlu/inbox/<int:message_id>")
@admin_only
def nlu_decide(message_id: int) -> Any:
    decision = request.form.get("decision", "")
    intent = request.form.get("intent") or None

    def action(s: Any) -> None:
        inbox.decide(s, message_id, decision, _actor(), intent=intent,
                     entities=_entities(request.form.get("entities", "")))

    _change(action, label(f"nlu.flash.{decision}" if decision in ("confirmed", "corrected", "dismissed")
                          else "nlu.flash.saved", intent=intent or ""))
    return redirect(url_for("console.nlu_inbox", reason=request.args.get("reason"),
                            intent=request.args.get("intent")))


# -- training data ------------------------------------------------------------------------

@bp.get("/nlu/intents")
@admin_only
def nlu_intents() -> Any:
    rt = current_runtime()
    with rt.sessions() as s:
        counts = TrainingStore(s).counts()
        descriptions = {n: d for n, d in s.execute(select(NluIntent.name, NluIntent.description))}
        seen, missed = inbox.traffic(s)
        active = Registry(s).active()
        f1 = dict(active.per_intent_f1) if active is not None else {}
    configured = {c.intent for c in rt.settings.complaints.categories}
    return render_template("console/nlu_intents.html", counts=counts, descriptions=descriptions, seen=seen,
                           missed=missed, f1=f1, active=active, configured=configured,
                           TRAIN=TRAIN, HELDOUT=HELDOUT)


@bp.post("/nlu/intents")
@admin_only
def nlu_add_intent() -> Any:
    name = request.form.get("name", "")
    _change(lambda s: TrainingStore(s).add_intent(name, request.form.get("description", ""), _actor()),
            label("nlu.flash.intent_added", name=name.strip()))
    return redirect(url_for("console.nlu_intents"))


@bp.get("/nlu/intents/<name>")
@admin_only
def nlu_intent(name: str) -> Any:
    with current_runtime().sessions() as s:
        if s.scalar(select(NluIntent.id).where(NluIntent.name == name)) is None:
            abort(404)
        examples = s.scalars(select(NluExample).where(NluExample.intent == name).order_by(NluExample.id)).all()
        intents = TrainingStore(s).intent_names()
    return render_template("console/nlu_intent.html", name=name, examples=examples, intents=intents)


@bp.post("/nlu/intents/<name>/examples")
@admin_only
def nlu_add_example(name: str) -> Any:
    _change(lambda s: TrainingStore(s).add_example(name, request.form.get("text", ""), _actor(),
                                                   entities=_entities(request.form.get("entities", ""))),
            label("nlu.flash.example_added"))
    return redirect(url_for("console.nlu_intent", name=name))


@bp.post("/nlu/examples/<int:example_id>")
@admin_only
def nlu_edit_example(example_id: int) -> Any:
    back = request.form.get("back", "")
    if request.form.get("delete"):
        _change(lambda s: TrainingStore(s).delete_example(example_id, _actor()), label("nlu.flash.example_deleted"))
    else:
        _change(lambda s: TrainingStore(s).update_example(
            example_id, request.form.get("intent", ""), request.form.get("text", ""), _actor(),
            entities=_entities(request.form.get("entities", ""))), label("nlu.flash.example_changed"))
    with current_runtime().sessions() as s:
        known = back in TrainingStore(s).intent_names()
    return redirect(url_for("console.nlu_intent", name=back) if known else url_for("console.nlu_intents"))


@bp.get("/nlu/history")
@admin_only
def nlu_history() -> Any:
    with current_runtime().sessions() as s:
        changes = TrainingStore(s).history()
    return render_template("console/nlu_history.html", changes=changes)


# -- models -------------------------------------------------------------------------------

@bp.get("/nlu/models")
@admin_only
def nlu_models() -> Any:
    with current_runtime().sessions() as s:
        reg = Registry(s)
        versions = reg.versions()
        running = reg.running()
    live = current_runtime().nlu
    serving = live.version if isinstance(live, LiveNlu) else None
    config = current_runtime().settings.nlu
    # Say what "Latih" trains: Rasa with its twin, or (an external server) the fallback only.
    engine_note = (label("nlu.external_rasa", url=config.rasa_url) if external_note(config)
                   else label("nlu.trains_rasa") if training_engine(config) == "rasa" else "")
    return render_template("console/nlu_models.html", versions=versions, running=running, serving=serving,
                           engine_note=engine_note)


@bp.get("/nlu/models/<version>")
@admin_only
def nlu_model(version: str) -> Any:
    with current_runtime().sessions() as s:
        model = Registry(s).get(version)
        if model is None:
            abort(404)
    return render_template("console/nlu_model.html", m=model)


@bp.get("/nlu/models/<version>/confusion.png")
@admin_only
def nlu_confusion(version: str) -> Any:
    with current_runtime().sessions() as s:
        model = Registry(s).get(version)
    if model is None or not model.confusion_path or not Path(model.confusion_path).is_file():
        abort(404)
    return send_file(model.confusion_path, mimetype="image/png", max_age=0)


@bp.post("/nlu/models/train")
@admin_only
def nlu_train() -> Any:
    rt = current_runtime()
    try:
        version = request_training(rt.sessions, rt.settings, _actor())
    except TrainingInputError as exc:
        flash(str(exc), "error")
    else:
        flash(label("nlu.flash.training", version=version), "ok")
    return redirect(url_for("console.nlu_models"))


def _switched() -> None:
    """This process switches before the admin sees the page; the others are told."""
    rt = current_runtime()
    if isinstance(rt.nlu, LiveNlu):
        rt.nlu.check_now()
    announce(rt.settings)


@bp.post("/nlu/models/<version>/activate")
@admin_only
def nlu_activate(version: str) -> Any:
    reason = request.form.get("reason", "")
    if _change(lambda s: Registry(s).activate(version, _actor(), override_reason=reason),
               label("nlu.flash.activated", version=version)):
        _switched()
    return redirect(url_for("console.nlu_models"))


@bp.post("/nlu/models/rollback")
@admin_only
def nlu_rollback() -> Any:
    if _change(lambda s: Registry(s).rollback(_actor()), label("nlu.flash.rolled_back")):
        _switched()
    return redirect(url_for("console.nlu_models"))
