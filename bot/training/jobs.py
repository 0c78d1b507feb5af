"""Training as a background job: one at a time, progress and log in the registry row.

``request_training`` queues a row (status ``queued``) and starts the job: a thread of the web
process with the thread backend, an RQ job run by ``warga worker`` with the redis backend. The
job trains on the ``train`` split only, scores on the ``heldout`` split and by cross-validation,
asks the gate, and stores the model file and its confusion picture. Whatever fails (bad data,
an exception, memory, Rasa not installed or not starting) ends as status ``failed`` with the
reason; the active model never changes here.

With Warga's own Rasa server (``nlu.engine: rasa``) a version is a Rasa model plus its sklearn
twin, trained on the same snapshot: the twin answers whenever Rasa cannot (down, slow, loading
a model). Rasa is trained in a separate process (:class:`nlu.rasa_server.RasaTrainer`) and
scored on the held-out split through a throw-away server (:class:`nlu.throwaway_rasa.ThrowawayRasa`);
cross-validation is the twin's (Rasa's would be five more trainings), and the row's
``score_methods`` says which method each score came from.
"""

from __future__ import annotations

import logging
import pickle
import shutil
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from bot.store.models import NluModel, utcnow
from bot.training.gate import GateRules, Scores, judge
from bot.training.registry import ActiveModel, Registry, registry_dir
from bot.training.store import HELDOUT, SYSTEM, TRAIN, Actor, TrainingStore, ensure_seeded
from nlu.base import NluError
from nlu.config import NluConfig
from nlu.evaluate import cross_validate_sklearn, evaluate_engine
from nlu.intents import ENTITIES
from nlu.rasa_server import RasaTrainer
from nlu.scores import EvaluationReport, save_confusion_png
from nlu.sklearn_engine import SklearnEngine, SklearnModel, load_model
from nlu.sklearn_training import fit_model
from nlu.throwaway_rasa import ThrowawayRasa
from nlu.training_checks import validate
from nlu.training_data import ERROR, TrainingData, TrainingDataError

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
    except NluError as exc:
        # Rasa could not train or serve (not installed, bad config, out of memory: the training
        # process was killed, server would not start): the reason is Rasa's own words.
        log.warning("rasa training failed", extra={"model_id": model_id, "reason": str(exc)})
        _update(sessions, model_id, status="failed", error=f"Rasa: {exc}", progress=100, line=f"failed: Rasa: {exc}")
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
        version, engine_name = row.version, row.engine
        store = TrainingStore(s)
        intents = store.intent_names()
        train = store.snapshot(TRAIN)
        heldout = store.snapshot(HELDOUT)
        active = Registry(s).active()
        active_model = (ActiveModel(active.version, active.engine, active.model_path, active.twin_path)
                        if active is not None else None)
        active_scores = (Scores(active.accuracy or 0.0, active.macro_f1 or 0.0)
                         if active is not None and active.accuracy is not None else None)
    rasa = engine_name == "rasa"
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

    # The sklearn model: the version itself, or a Rasa version's twin (what answers whenever
    # the Rasa server cannot: down, slow, loading this model).
    model = fit_model(train, ticket_prefix=config.ticket_prefix)
    # Every parse names the registry version that answered (stored with each message).
    model = replace(model, info=replace(model.info, version=version))
    for note in model.info.notes:
        _update(sessions, model_id, line=f"warning: {note}")
    what = "sklearn twin" if rasa else "sklearn"
    _update(sessions, model_id, progress=20 if rasa else 35, data_hash=train.fingerprint(),
            examples=len(train.examples), line=f"{what} trained in {model.info.train_seconds:.1f}s")
    engine = SklearnEngine(Path("."), threshold=config.threshold, ticket_prefix=config.ticket_prefix, model=model)

    cv_f1: dict[str, float] = {}
    cv: EvaluationReport | None = None
    folds = min(CV_FOLDS, max(counts.values()))
    methods: dict[str, str] = {}
    if folds >= 2:
        cv = cross_validate_sklearn(train, folds, threshold=config.threshold, ticket_prefix=config.ticket_prefix)
        cv_f1 = {sc.intent: sc.f1 for sc in cv.per_intent}
        # A Rasa version's cross-validation is its twin's: Rasa's would be `folds` more trainings
        # (half a minute each on a small data set); the held-out score below is Rasa's own.
        methods["cv"] = f"{what}, {folds}-fold cross-validation of the train split"
        _update(sessions, model_id, progress=30 if rasa else 70, cv_accuracy=cv.accuracy, cv_macro_f1=cv.macro_f1,
                line=f"{what}: {folds}-fold cross-validation: accuracy {cv.accuracy:.3f}, "
                     f"macro-F1 {cv.macro_f1:.3f}")
    directory = registry_dir(config.models_dir)
    twin_report = (evaluate_engine(engine, heldout, method="held-out split", known_intents=train.intents)
                   if heldout.examples else None)
    if rasa:
        if twin_report is not None:
            methods["twin"] = (f"sklearn twin on the held-out split: accuracy {twin_report.accuracy:.3f}, "
                               f"macro-F1 {twin_report.macro_f1:.3f}")
            _update(sessions, model_id, line=methods["twin"])
        outcome = _train_and_score_rasa(sessions, settings, model_id, version, train, heldout, active_model,
                                        directory)
        report, path = outcome.report, outcome.model
        if outcome.active_scores is not None:
            active_scores = outcome.active_scores
        if report is None:
            # Nothing held out yet (a tiny data set): the twin's cross-validation is all there is.
            report = cv if cv is not None else evaluate_engine(engine, train, method="training data")
            methods["heldout"] = f"sklearn twin, {report.method} (no held-out sentences)"
        else:
            methods["heldout"] = (f"Rasa, held-out split ({report.examples} sentences) through a throw-away "
                                  "Rasa server")
    else:
        if twin_report is not None:
            report = twin_report
        else:
            # Nothing held out yet (a tiny data set): cross-validation is all there is.
            report = cv if cv is not None else evaluate_engine(engine, train, method="training data")
        methods["heldout"] = f"sklearn, {report.method} ({report.examples} sentences)"
        path = None
    if cv_f1:
        methods["per_intent"] = (f"{methods['heldout'].split(',')[0]} held-out F1; an intent without held-out "
                                 f"sentences: {what} cross-validation")
    scores = _scores_of(report, cv_f1)
    picture = save_confusion_png(report, directory / f"{version}-confusion.png")
    _update(sessions, model_id, progress=85, accuracy=report.accuracy, macro_f1=report.macro_f1,
            below_threshold=report.fallback_rate, per_intent_f1=dict(sorted(scores.per_intent_f1.items())),
            confusion_path=str(picture), score_methods=methods,
            line=f"{'Rasa, ' if rasa and report.engine == 'rasa' else ''}{report.method}: accuracy "
                 f"{report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}, below threshold {report.fallback_rate:.1%}")
    if not rasa and active_model is not None and heldout.examples:
        rescored = _rescore_active_sklearn(sessions, settings, model_id, active_model, heldout)
        active_scores = rescored or active_scores
    verdict = judge(scores, active_scores,
                    GateRules(settings.training.gate_margin, settings.training.gate_intent_f1_floor))
    sk_path = _write_model(model, directory, version)
    status = "trained" if verdict.passed else "refused"
    _update(sessions, model_id, status=status, progress=100, model_path=str(path or sk_path),
            twin_path=str(sk_path) if path is not None else None, trained_at=utcnow(),
            refusal_reason=verdict.reason or None,
            line="gate: passed" if verdict.passed else f"gate: refused: {verdict.reason}")
    return status


def _rescore_active_sklearn(sessions: sessionmaker[Session], settings: Settings, model_id: int,
                            active: ActiveModel, heldout: TrainingData) -> Scores | None:
    """The active model scored on today's held-out sentences (it never trained on them either):
    the comparison is on the same test, whatever data it was trained on. None: use its stored
    scores."""
    config = settings.nlu
    # A Rasa version scored without Rasa: its twin stands in (said in the log).
    path = active.twin_path if active.engine == "rasa" else active.model_path
    if not path:
        return None
    try:
        old = SklearnEngine(Path("."), threshold=config.threshold, ticket_prefix=config.ticket_prefix,
                            model=load_model(Path(path)))
        old_report = evaluate_engine(old, heldout, method="held-out split")
    except Exception as exc:  # noqa: BLE001 - an unreadable old model: compare with its stored scores
        _update(sessions, model_id, line=f"active model not re-scored ({exc}); using its stored scores")
        return None
    who = "active model's sklearn twin" if active.engine == "rasa" else "active model"
    _update(sessions, model_id, line=f"{who} on the same held-out split: accuracy "
                                     f"{old_report.accuracy:.3f}, macro-F1 {old_report.macro_f1:.3f}")
    return Scores(old_report.accuracy, old_report.macro_f1)


@dataclass(frozen=True, slots=True)
class _RasaOutcome:
    model: Path
    report: EvaluationReport | None       # Rasa on the held-out split (None: nothing held out)
    active_scores: Scores | None          # the active version on the same split (None: not re-scored)


def _train_and_score_rasa(sessions: sessionmaker[Session], settings: Settings, model_id: int, version: str,
                          train: TrainingData, heldout: TrainingData, active: ActiveModel | None,
                          directory: Path) -> _RasaOutcome:
    """Train the Rasa model into the registry and score it, and the active version, on the
    held-out split through a throw-away Rasa server (never the serving one: loading a model
    there would put it live).

    Raises:
        RasaNotInstalled, TrainingError, RasaServerError: Rasa could not train or serve; the
            job ends failed with the reason and nothing served changes.
    """
    config = settings.nlu
    staging = directory / ".rasa-training"
    # The trainer keeps only the newest models of its directory: it writes into a staging
    # directory, and the registry keeps every version's file under the version's name.
    trainer = RasaTrainer(venv=config.rasa_venv, config=config.rasa_config, models_dir=staging,
                          work_dir=config.var_dir / "registry-training", timeout=config.rasa_train_timeout,
                          # validated above with the database's intents (an admin's new intent
                          # is not in nlu/intents.py yet)
                          any_intents=True)
    with ThrowawayRasa(config) as scorer:
        if heldout.examples:
            scorer.start()   # about 20 s to start: it boots while the model trains
        _update(sessions, model_id, progress=35,
                line="training Rasa in a separate process (about a minute on a small data set)")
        started = time.monotonic()
        produced = trainer.train(train)
        target = directory / f"{version}.tar.gz"
        # The file's name is the version: Rasa reports it (GET /status), and every parse Rasa
        # answers is stored with it (nlu.rasa_answer.version_of).
        shutil.move(str(produced), target)
        _update(sessions, model_id, progress=65, line=f"Rasa trained in {time.monotonic() - started:.0f}s")
        if not heldout.examples:
            return _RasaOutcome(target, None, None)
        try:
            _update(sessions, model_id, line="scoring Rasa on the held-out split (throw-away Rasa server)")
            report = evaluate_engine(scorer.serve(target), heldout, method="held-out split",
                                     known_intents=train.intents)
        except BaseException:
            target.unlink(missing_ok=True)   # a failed version leaves no model behind
            raise
        active_scores: Scores | None = None
        if active is not None and active.engine == "rasa" and active.model_path and Path(active.model_path).is_file():
            _update(sessions, model_id, progress=75, line="scoring the active Rasa version on the same split")
            try:
                old = evaluate_engine(scorer.serve(Path(active.model_path)), heldout, method="held-out split")
            except NluError as exc:   # compare with its stored scores rather than fail the new one
                _update(sessions, model_id, line=f"active model not re-scored ({exc}); using its stored scores")
            else:
                active_scores = Scores(old.accuracy, old.macro_f1)
                _update(sessions, model_id, line=f"active model on the same held-out split: accuracy "
                                                 f"{old.accuracy:.3f}, macro-F1 {old.macro_f1:.3f}")
        elif active is not None:
            active_scores = _rescore_active_sklearn(sessions, settings, model_id, active, heldout)
    return _RasaOutcome(target, report, active_scores)


# -- starting the job ------------------------------------------------------------------------


def training_engine(config: NluConfig) -> str:
    """What "Latih" trains: Rasa (with its sklearn twin) for Warga's own Rasa server, sklearn
    for the sklearn engine, and for an external Rasa server (``nlu.rasa_url``) only the sklearn
    fallback: the city trains that server's model where it runs."""
    return "rasa" if config.engine == "rasa" and not config.external else "sklearn"


def external_note(config: NluConfig) -> str | None:
    """Why a training does not train Rasa, for the console and the CLI (None: it does, or
    Rasa is not the engine)."""
    if config.engine == "rasa" and config.external:
        return (f"the external Rasa server at {config.rasa_url} is trained where it runs; "
                "this trains the sklearn fallback only")
    return None


def request_training(sessions: sessionmaker[Session], settings: Settings, actor: Actor, *,
                     start: bool = True) -> str:
    """Queue a training of the configured engine (:func:`training_engine`) and start it in the
    background. Returns the new version.

    Raises:
        TrainingInputError: One is already queued or running.
    """
    ensure_seeded(sessions, settings.nlu.data_dir)
    with sessions() as s, s.begin():
        row = Registry(s).request(training_engine(settings.nlu), actor)
        note = external_note(settings.nlu)
        if note:
            row.log += f"note: {note}\n"
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
