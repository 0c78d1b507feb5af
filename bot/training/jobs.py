"""Training as a background job: one at a time, progress and log in the registry row.

``request_training`` queues a row (status ``queued``) and starts the job: a thread of the web
process with the thread backend, an RQ job run by ``warga worker`` with the redis backend. The
job trains on the ``train`` split only, scores on the ``heldout`` split and by cross-validation,
asks the gate, and stores the model file and its confusion picture. Whatever fails (bad data,
an exception, memory) ends as status ``failed`` with the reason; the active model never changes
here.
"""

from __future__ import annotations

import logging
import pickle
import threading
import traceback
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from bot.store.models import NluModel, utcnow
from bot.training.gate import GateRules, Scores, judge
from bot.training.registry import Registry, registry_dir
from bot.training.store import HELDOUT, SYSTEM, TRAIN, Actor, TrainingStore, ensure_seeded
from nlu.evaluate import EvaluationReport, cross_validate_sklearn, evaluate_engine, save_confusion_png
from nlu.intents import ENTITIES
from nlu.sklearn_engine import SklearnEngine, SklearnModel, fit_model, load_model
from nlu.training_data import ERROR, TrainingDataError, validate

log = logging.getLogger(__name__)

#: Cross-validation folds on the train split (fewer when the largest intent is smaller).
CV_FOLDS = 5


#: How often a running training says it is alive (registry.STALE_TRAINING is several of these).
HEARTBEAT_SECONDS = 20.0


def job_timeout(settings: Settings) -> timedelta:
    """The longest an RQ training job may run."""
    return timedelta(seconds=max(settings.nlu.rasa_train_timeout, 600) * 2)


def _heartbeat(sessions: sessionmaker[Session], model_id: int, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            _update(sessions, model_id, heartbeat_at=utcnow())
        except Exception:  # noqa: BLE001 - the database briefly away: the next beat tries again
            log.warning("training heartbeat not written", extra={"model_id": model_id})


def _update(sessions: sessionmaker[Session], model_id: int, *, line: str | None = None, **fields: Any) -> None:
    """Write progress in its own short transaction, so the console shows it while training runs."""
    with sessions() as s, s.begin():
        row = s.get(NluModel, model_id)
        if row is None:
            return
        for key, value in fields.items():
            setattr(row, key, value)
        if line:
            row.log = (row.log or "") + line + "\n"


def _scores_of(report: EvaluationReport, fallback: dict[str, float]) -> Scores:
    per_intent = dict(fallback)
    per_intent.update({s.intent: s.f1 for s in report.per_intent})
    return Scores(report.accuracy, report.macro_f1, per_intent)


def _write_model(model: SklearnModel, directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{version}.pkl"
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(target)   # a reader sees the whole file or none
    return target


def run_training(sessions: sessionmaker[Session], settings: Settings, model_id: int) -> str:
    """Train, score and judge one queued version. Returns its final status. Never raises."""
    status = _train_or_fail(sessions, settings, model_id)
    try:
        with sessions() as s, s.begin():
            row = s.get(NluModel, model_id)
            if row is not None:
                TrainingStore(s).record(SYSTEM, f"training_{status}", row.version, accuracy=row.accuracy,
                                        macro_f1=row.macro_f1, reason=row.refusal_reason or row.error)
    except Exception:  # noqa: BLE001 - the history line is not worth failing the job for
        log.exception("training result not recorded in the history")
    return status


def _train_or_fail(sessions: sessionmaker[Session], settings: Settings, model_id: int) -> str:
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(sessions, model_id, stop), name="warga-training-heartbeat",
                            daemon=True)
    beat.start()
    try:
        return _run(sessions, settings, model_id)
    except TrainingDataError as exc:
        reasons = "; ".join(str(p) for p in exc.problems[:10]) or str(exc)
        _update(sessions, model_id, status="failed", error=f"data kurang tepat: {reasons}", progress=100,
                line=f"failed: {reasons}")
        return "failed"
    except MemoryError:
        _update(sessions, model_id, status="failed", error="kehabisan memori", progress=100,
                line="failed: out of memory")
        return "failed"
    except Exception as exc:  # the edge of a background job: record why, the active model stays
        log.exception("training failed", extra={"model_id": model_id})
        _update(sessions, model_id, status="failed", error=f"{type(exc).__name__}: {exc}", progress=100,
                line="failed:\n" + traceback.format_exc(limit=5))
        return "failed"
    finally:
        stop.set()


def _run(sessions: sessionmaker[Session], settings: Settings, model_id: int) -> str:
    config = settings.nlu
    ensure_seeded(sessions, config.data_dir)
    with sessions() as s, s.begin():
        row = s.get(NluModel, model_id)
        if row is None or row.status != "queued":
            return row.status if row is not None else "missing"
        row.status = "training"
        row.heartbeat_at = utcnow()
        row.progress = 5
        version = row.version
        store = TrainingStore(s)
        intents = store.intent_names()
        train = store.snapshot(TRAIN)
        heldout = store.snapshot(HELDOUT)
        active = Registry(s).active()
        active_path = active.model_path if active is not None else None
        active_scores = (Scores(active.accuracy or 0.0, active.macro_f1 or 0.0)
                         if active is not None and active.accuracy is not None else None)
    _update(sessions, model_id, line=f"data: {len(train.examples)} training and {len(heldout.examples)} "
                                     f"held-out sentences, {len(train.intents)} intents")
    problems = validate(train, intents=intents, entities=ENTITIES, min_examples=0)
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        raise TrainingDataError(errors)
    counts = Counter(train.labels())
    single = sorted(i for i, n in counts.items() if n < 2)
    if single:
        _update(sessions, model_id, line=f"warning: intents with one example: {', '.join(single)}")

    model = fit_model(train, ticket_prefix=config.ticket_prefix)
    # Every parse names the registry version that answered (stored with each message).
    model = replace(model, info=replace(model.info, version=version))
    for note in model.info.notes:
        _update(sessions, model_id, line=f"warning: {note}")
    _update(sessions, model_id, progress=35, data_hash=train.fingerprint(), examples=len(train.examples),
            line=f"trained in {model.info.train_seconds:.1f}s")
    engine = SklearnEngine(Path("."), threshold=config.threshold, ticket_prefix=config.ticket_prefix, model=model)

    cv_f1: dict[str, float] = {}
    cv: EvaluationReport | None = None
    folds = min(CV_FOLDS, max(counts.values()))
    if folds >= 2:
        cv = cross_validate_sklearn(train, folds, threshold=config.threshold, ticket_prefix=config.ticket_prefix)
        cv_f1 = {sc.intent: sc.f1 for sc in cv.per_intent}
        _update(sessions, model_id, progress=70, cv_accuracy=cv.accuracy, cv_macro_f1=cv.macro_f1,
                line=f"{folds}-fold cross-validation: accuracy {cv.accuracy:.3f}, macro-F1 {cv.macro_f1:.3f}")
    directory = registry_dir(config.models_dir)
    if heldout.examples:
        report = evaluate_engine(engine, heldout, method="held-out split", known_intents=train.intents)
    else:
        # Nothing held out yet (a tiny data set): cross-validation is all there is.
        report = cv if cv is not None else evaluate_engine(engine, train, method="training data")
    scores = _scores_of(report, cv_f1)
    picture = save_confusion_png(report, directory / f"{version}-confusion.png")
    _update(sessions, model_id, progress=85, accuracy=report.accuracy, macro_f1=report.macro_f1,
            below_threshold=report.fallback_rate, per_intent_f1=dict(sorted(scores.per_intent_f1.items())),
            confusion_path=str(picture),
            line=f"{report.method}: accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}, "
                 f"below threshold {report.fallback_rate:.1%}")
    if active_path and heldout.examples:
        # The active model scored on today's held-out sentences (it never trained on them
        # either): the comparison is on the same test, whatever data it was trained on.
        try:
            old = SklearnEngine(Path("."), threshold=config.threshold, ticket_prefix=config.ticket_prefix,
                                model=load_model(Path(active_path)))
            old_report = evaluate_engine(old, heldout, method="held-out split")
            active_scores = Scores(old_report.accuracy, old_report.macro_f1)
            _update(sessions, model_id, line=f"active model on the same held-out split: accuracy "
                                             f"{old_report.accuracy:.3f}, macro-F1 {old_report.macro_f1:.3f}")
        except Exception as exc:  # noqa: BLE001 - an unreadable old model: compare with its stored scores
            _update(sessions, model_id, line=f"active model not re-scored ({exc}); using its stored scores")
    verdict = judge(scores, active_scores,
                    GateRules(settings.training.gate_margin, settings.training.gate_intent_f1_floor))
    path = _write_model(model, directory, version)
    status = "trained" if verdict.passed else "refused"
    _update(sessions, model_id, status=status, progress=100, model_path=str(path), trained_at=utcnow(),
            refusal_reason=verdict.reason or None,
            line="gate: passed" if verdict.passed else f"gate: refused: {verdict.reason}")
    return status


# -- starting the job ------------------------------------------------------------------------


def request_training(sessions: sessionmaker[Session], settings: Settings, actor: Actor, *,
                     start: bool = True) -> str:
    """Queue a training of the configured engine's in-process model and start it in the
    background. Returns the new version.

    Raises:
        TrainingInputError: One is already queued or running.
    """
    ensure_seeded(sessions, settings.nlu.data_dir)
    with sessions() as s, s.begin():
        row = Registry(s).request("sklearn", actor)
        model_id, version = row.id, row.version
    if start:
        _start(sessions, settings, model_id)
    return version


def _start(sessions: sessionmaker[Session], settings: Settings, model_id: int) -> None:
    if settings.queue.backend == "redis":
        from redis import Redis
        from rq import Queue

        with Redis.from_url(settings.queue.redis_url, socket_connect_timeout=2, socket_timeout=2) as redis:
            Queue("warga", connection=redis).enqueue(run_training_job, model_id,
                                                     job_timeout=int(job_timeout(settings).total_seconds()),
                                                     result_ttl=0, failure_ttl=86400)
        return
    thread = threading.Thread(target=run_training, args=(sessions, settings, model_id),
                              name=f"warga-training-{model_id}", daemon=True)
    thread.start()


def run_training_job(model_id: int) -> None:
    """What the RQ job runs inside ``warga worker`` (importable by name)."""
    from bot.pipeline.queue import worker_runtime

    rt = worker_runtime()
    run_training(rt.sessions, rt.settings, model_id)
