"""``warga nlu ...``: train, parse, evaluate, validate, serve.

Each command reports failures as one line on stderr and exits with status 1; no traceback.
scikit-learn is imported by the commands that train or score, never at import: every `warga`
process imports this module.
The configuration comes from ``ctx.obj`` when the caller put an :class:`~nlu.config.NluConfig`
there (tests, or a parent group holding settings with an ``nlu`` attribute), otherwise from
``bot.settings.load_settings().nlu``.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.settings import ConfigError
from nlu.base import NluError, Parse
from nlu.config import NluConfig, NluConfigError
from nlu.datasets import CONLL_SUFFIXES, load_dataset
from nlu.factory import (
    build_engine,
    build_rasa_engine,
    build_rasa_server,
    build_rasa_trainer,
    build_sklearn_engine,
)
from nlu.rasa_server import latest_model
from nlu.training_checks import validate
from nlu.training_data import ERROR, WARNING, TrainingData, TrainingDataError, load_and_validate
from nlu.training_reader import load_training_data

if TYPE_CHECKING:
    from nlu.scores import EvaluationReport

F = TypeVar("F", bound=Callable[..., Any])

# Its own -h as well as warga's: click keeps a command's help option from the first context it
# ran in, so a group run on its own (tests) would otherwise take -h away from `warga nlu -h`.
nlu_group = click.Group("nlu", help="Train, test and run the NLU engines.",
                        context_settings={"help_option_names": ["-h", "--help"]})


def _get_config(ctx: click.Context, *, local_secrets: bool = False) -> NluConfig:
    """The NLU settings: an :class:`NluConfig` given to the group directly (tests), else the
    gateway's ``nlu:`` settings from ``warga --config`` (or the default file); with
    ``local_secrets``, after creating var/rasa-token when no WARGA_NLU_RASA_TOKEN is set (the server
    and its clients share it)."""
    obj = ctx.find_object(NluConfig)
    if obj is not None:
        return obj
    from bot.cli.support import settings_of, settings_with_local_secrets  # late: bot.cli imports us

    return (settings_with_local_secrets(ctx) if local_secrets else settings_of(ctx)).nlu


def _edge(func: F) -> F:
    """Turn every failure into one line on stderr and exit status 1 (this is the CLI's edge)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TrainingDataError as exc:
            for problem in exc.problems[:20]:
                click.echo(f"error: {problem}", err=True)
            if len(exc.problems) > 20:
                click.echo(f"error: ... and {len(exc.problems) - 20} more problems", err=True)
            if not exc.problems:
                click.echo(f"error: {exc}", err=True)
        except (NluError, NluConfigError, OSError, ValueError, ImportError) as exc:
            click.echo(f"error: {exc}", err=True)
        except (click.exceptions.Exit, click.ClickException, ConfigError):
            raise   # warga's own edge reports these (a ConfigError as `warga: config: ...`)
        except Exception as exc:  # noqa: BLE001 - the edge: report, never a traceback
            click.echo(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _external_refusal(config: NluConfig, what: str) -> str:
    return (f"nlu.rasa_url points at your own Rasa server ({config.rasa_url}): Warga does not {what} it; "
            f"{what} it where it runs (empty nlu.rasa_url to use Warga's own)")


def _engine_choice(config: NluConfig, engine: str | None) -> str:
    return engine or config.engine


# -------------------------------------------------------------------------------------------


@nlu_group.command("validate")
@click.option("--data", "data_path", type=click.Path(path_type=Path), help="File or directory (default: nlu.data_dir).")
@click.pass_context
@_edge
def validate_cmd(ctx: click.Context, data_path: Path | None) -> None:
    """Check the training data: YAML errors, duplicates, conflicts, unknown intents/entities."""
    config = _get_config(ctx)
    path = data_path or config.data_dir
    data = load_training_data(path)
    problems = validate(data)
    for p in problems:
        click.echo(str(p), err=p.severity == ERROR)
    errors = sum(p.severity == ERROR for p in problems)
    warnings = len(problems) - errors
    click.echo(
        f"{path}: {len(data.examples)} examples, {len(data.intents)} intents: {errors} errors, {warnings} warnings"
    )
    if errors:
        sys.exit(1)


@nlu_group.command("train")
@click.option(
    "--engine",
    type=click.Choice(["rasa", "sklearn", "all"]),
    help="Default: all when nlu.engine is rasa (it falls back to sklearn), else sklearn.",
)
@click.option("--data", "data_path", type=click.Path(path_type=Path), help="File or directory (default: nlu.data_dir).")
@click.option("--if-missing", is_flag=True, help="Only train engines that have no model yet (make run).")
@click.option("--from-db", is_flag=True,
              help="Train a new version from the database's training data into the model registry "
                   "(scored, gated; activate it with `warga nlu activate`).")
@click.pass_context
@_edge
def train_cmd(ctx: click.Context, engine: str | None, data_path: Path | None, if_missing: bool,
              from_db: bool) -> None:
    """Train models from the Rasa YAML data; a failed training keeps the active model."""
    if from_db:
        from bot.cli.nlu_training import train_from_db  # late: it imports this module

        train_from_db(ctx)
        return
    from nlu.sklearn_engine import SklearnEngine, active_model_path  # scikit-learn: seconds to import

    config = _get_config(ctx)
    if config.external:
        if engine in ("rasa", "all"):
            raise NluError(_external_refusal(config, "train"), retryable=False)
        if engine is None and config.engine == "rasa":
            click.echo(f"rasa: the external server at {config.rasa_url} is trained where it runs; "
                       "training the sklearn fallback only")
        engine = "sklearn"
    engine = engine or ("all" if config.engine == "rasa" else "sklearn")
    want_sklearn = engine in ("sklearn", "all")
    want_rasa = engine in ("rasa", "all")
    if if_missing:
        if want_sklearn and active_model_path(config.sklearn_models_dir) is not None:
            click.echo(f"sklearn: a model exists in {config.sklearn_models_dir}; not training (--if-missing)")
            want_sklearn = False
        if want_rasa and latest_model(config.rasa_models_dir) is not None:
            click.echo(f"rasa: a model exists in {config.rasa_models_dir}; not training (--if-missing)")
            want_rasa = False
        if not (want_sklearn or want_rasa):
            return
    data, warnings = load_and_validate(data_path or config.data_dir)
    for w in warnings:
        click.echo(str(w), err=True)
    if want_sklearn:
        t0 = time.perf_counter()
        sk = SklearnEngine(config.sklearn_models_dir, threshold=config.threshold, ticket_prefix=config.ticket_prefix)
        version = sk.train(data)
        click.echo(
            f"sklearn: model {version} trained in {time.perf_counter() - t0:.1f}s ({len(data.examples)} examples)"
        )
        for note in sk.model.info.notes if sk.model is not None else ():
            click.echo(f"sklearn: warning: {note}", err=True)
    if want_rasa:
        click.echo("rasa: training in a separate process (about 20 s)...")
        t0 = time.perf_counter()
        trainer = build_rasa_trainer(config)
        model = trainer.train(data)
        click.echo(f"rasa: model {model.name} trained in {time.perf_counter() - t0:.0f}s")
        client = build_rasa_engine(config)
        try:
            if client.ready():
                click.echo("rasa: loading it into the running server (requests wait ~15 s)...")
                try:
                    client.load_model(model, timeout=config.rasa_start_timeout)
                except NluError:
                    trainer.discard(model)
                    raise
                click.echo(f"rasa: server now serves {model.name}")
            else:
                click.echo(f"rasa: server not running at {config.rasa_base_url}; "
                           "it loads the newest model when it starts")
        finally:
            client.close()


def _parse_dict(p: Parse) -> dict[str, Any]:
    return {
        "text": p.text,
        "intent": p.intent,
        "confidence": p.confidence,
        "ranking": [{"intent": i, "confidence": c} for i, c in p.ranking],
        "entities": [
            {"entity": e.entity, "value": e.value, "start": e.start, "end": e.end, "text": e.text}
            for e in p.entities
        ],
        "language": p.language,
        "engine": p.engine,
        "model_version": p.model_version,
        "source_intent": p.source_intent,
        "secondary_intent": p.secondary_intent,
        "secondary_confidence": p.secondary_confidence,
        "parts": [
            {"text": x.text, "start": x.start, "end": x.end, "mark": x.mark, "intent": x.intent,
             "confidence": x.confidence, "role": x.role}
            for x in p.parts
        ],
    }


@nlu_group.command("parse")
@click.argument("text")
@click.option("--engine", type=click.Choice(["rasa", "sklearn"]), help="Default: nlu.engine.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@_edge
def parse_cmd(ctx: click.Context, text: str, engine: str | None, as_json: bool) -> None:
    """Understand one message."""
    config = _get_config(ctx)
    chosen = _engine_choice(config, engine)
    nlu = build_engine(_with_engine(config, chosen))
    result = nlu.parse(text)
    if as_json:
        click.echo(json.dumps(_parse_dict(result), ensure_ascii=False))
        return
    if result.intent:
        label = result.intent
    elif result.ranking:
        label = f"(not sure; best guess {result.ranking[0][0]})"
    else:
        label = "(none)"
    click.echo(f"intent      {label}  confidence {result.confidence:.3f}")
    if result.secondary_intent:
        click.echo(f"also        {result.secondary_intent}  confidence {result.secondary_confidence:.3f}")
    for e in result.entities:
        click.echo(f"entity      {e.entity} = {e.value!r}  [{e.start}:{e.end}]")
    for x in result.parts:
        click.echo(f"part        {x.role:<9} {x.intent or '-'} {x.confidence:.2f}  {x.text!r}")
    click.echo(f"language    {result.language}")
    click.echo(f"engine      {result.engine}  model {result.model_version}")
    if len(result.ranking) > 1:
        click.echo("ranking     " + ", ".join(f"{i} {c:.2f}" for i, c in result.ranking[:5]))


def _with_engine(config: NluConfig, engine: str) -> NluConfig:
    from dataclasses import replace

    return replace(config, engine=engine)


@nlu_group.command("evaluate")
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path),
    help="Cross-validate on this data, or with --test-file score the active model.",
)
@click.option("--train", "train_path", type=click.Path(path_type=Path), help="Train a throw-away model on this file...")
@click.option("--test", "test_path", type=click.Path(path_type=Path), help="...and test it on this one.")
@click.option(
    "--test-file",
    "test_file",
    is_flag=True,
    help="Treat --data as a test file for the active model instead of cross-validating.",
)
@click.option("--engine", type=click.Choice(["rasa", "sklearn"]), help="Default: nlu.engine.")
@click.option("--folds", type=int, default=5, show_default=True, help="Cross-validation folds.")
@click.option(
    "--png",
    "png_path",
    type=click.Path(path_type=Path),
    help="Confusion matrix picture (default: next to the models).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@_edge
def evaluate_cmd(
    ctx: click.Context,
    data_path: Path | None,
    train_path: Path | None,
    test_path: Path | None,
    test_file: bool,
    engine: str | None,
    folds: int,
    png_path: Path | None,
    as_json: bool,
) -> None:
    """Accuracy, macro-F1, per-intent scores, confusion matrix and worst confusions.

    \b
    warga nlu evaluate                        k-fold cross-validation on nlu.data_dir
    warga nlu evaluate --data FILE            k-fold cross-validation on FILE
    warga nlu evaluate --data FILE --test-file   the active model on FILE
    warga nlu evaluate --train A.yml --test B.yml   throw-away model on A, tested on B
    """
    from nlu.evaluate import (  # scikit-learn: seconds to import
        cross_validate_rasa,
        cross_validate_sklearn,
        evaluate_engine,
        train_and_evaluate_rasa,
        train_and_evaluate_sklearn,
    )
    from nlu.scores import format_report, save_confusion_png
    from nlu.sklearn_engine import SklearnEngine

    config = _get_config(ctx)
    chosen = _engine_choice(config, engine)
    say = (lambda msg: click.echo(msg, err=True)) if as_json else click.echo
    if (train_path is None) != (test_path is None):
        raise click.UsageError("--train and --test go together")
    report: EvaluationReport
    if train_path is not None and test_path is not None:
        train, test = _foreign_pair(train_path, test_path, say)
        method = f"trained on {train_path.name}, tested on {test_path.name}"
        if chosen == "sklearn":
            report = train_and_evaluate_sklearn(
                train, test, threshold=config.threshold, ticket_prefix=config.ticket_prefix, method=method
            )
        else:
            say("rasa: training a throw-away model and starting a throw-away server (about a minute)...")
            report = train_and_evaluate_rasa(train, test, config, method=method)
    elif test_file:
        if data_path is None:
            raise click.UsageError("--test-file needs --data FILE")
        test = load_dataset(data_path)
        if chosen == "sklearn":
            nlu: Any = build_sklearn_engine(config, train_if_missing=False)
        else:
            nlu = build_rasa_engine(config)
            nlu.status()  # fail with a clear line when the server is not running
        known = nlu.model.info.intents if isinstance(nlu, SklearnEngine) and nlu.model is not None else None
        report = evaluate_engine(nlu, test, method=f"active model on {data_path.name}", known_intents=known)
    else:
        source = data_path or config.data_dir
        if data_path is not None:
            # People pass --data expecting a test of the active model; say loudly what happens.
            say(
                f"NOTE: cross-validating ({folds} folds) on {data_path}: models are trained and tested on "
                f"parts of this file. To test the active model on it, add --test-file; to train on one "
                f"file and test on another, use --train A --test B."
            )
        if data_path is not None and data_path.suffix.lower() in CONLL_SUFFIXES:
            data = load_dataset(data_path)
        else:
            data, _ = load_and_validate(source)
        if chosen == "sklearn":
            report = cross_validate_sklearn(data, folds, threshold=config.threshold, ticket_prefix=config.ticket_prefix)
        else:
            say(f"rasa: {folds}-fold cross-validation trains {folds} models (about a minute in all)...")
            report = cross_validate_rasa(data, config, folds, progress=say)
    png = save_confusion_png(report, png_path or config.models_dir.parent / f"confusion-{report.engine}.png")
    if as_json:
        out = report.to_dict()
        out["confusion_png"] = str(png)
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        click.echo(format_report(report))
        click.echo(f"\nconfusion matrix: {png}")


def _foreign_pair(
    train_path: Path, test_path: Path, say: Callable[[str], None]
) -> tuple[TrainingData, TrainingData]:
    """Training and test data for ``--train A --test B``: any intents, any source.

    Engines are compared on other people's data sets, so intents outside Warga's list are
    accepted and a text filed under two labels is a warning, not a refusal. Broken files
    still fail.
    """
    train = load_dataset(train_path)
    test = load_dataset(test_path)
    problems = validate(train, intents=train.intents, conflicts=WARNING, min_examples=0)
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        raise TrainingDataError(errors)
    conflicts = [p for p in problems if p.kind == "conflict"]
    if conflicts:
        say(f"warning: {len(conflicts)} training texts are filed under two intents; both are kept")
    unseen = sorted(set(test.intents) - set(train.intents))
    if unseen:
        say(f"warning: {len(unseen)} test intents have no training example (always wrong): {', '.join(unseen)}")
    return train, test


class _Stopped(Exception):
    """SIGTERM arrived: unwind the main thread, then stop the server once, normally."""


@nlu_group.command("serve")
@click.option("--no-train", is_flag=True, help="Fail instead of training a first model when there is none.")
@click.pass_context
@_edge
def serve_cmd(ctx: click.Context, no_train: bool) -> None:
    """Run the Rasa server alone, in the foreground, on nlu.rasa_host:nlu.rasa_port."""
    config = _get_config(ctx, local_secrets=True)
    if config.external:
        raise NluError(_external_refusal(config, "start"), retryable=False)

    def _on_sigterm(signum: int, frame: Any) -> None:
        # Only raise: stopping the server inside the handler would wait on the very process the
        # interrupted main thread is waiting on (that hung for 30 s and exited 1).
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    server = None
    try:
        if latest_model(config.rasa_models_dir) is None:
            if no_train:
                raise NluError(
                    f"no Rasa model in {config.rasa_models_dir}: run `warga nlu train --engine rasa`",
                    retryable=False,
                )
            click.echo("no Rasa model yet: training one first (about 20 s)...")
            data, _ = load_and_validate(config.data_dir)
            build_rasa_trainer(config).train(data)
        server = build_rasa_server(config)
        server.start()
        server.wait_ready(config.rasa_start_timeout)
        model = latest_model(config.rasa_models_dir)
        model_name = model.name if model is not None else "?"
        click.echo(f"rasa: ready on {server.url} (model {model_name}, log {server.log_file})")
        code = server.wait()
    except (KeyboardInterrupt, _Stopped):
        click.echo("rasa: stopping")
        return
    finally:
        if server is not None and server.running():
            server.stop()
        signal.signal(signal.SIGTERM, previous)
    if code != 0:
        raise NluError(f"rasa server exited with status {code}; see {server.log_file}", retryable=True)
