"""Running Rasa 3.6.21 beside the gateway: training models and serving them.

Rasa needs Python 3.10 and pins libraries the gateway uses in newer versions, so it lives in its
own virtualenv (``.venv-rasa``, ``make rasa-venv``) and runs as child processes:

- :class:`RasaTrainer` trains in a separate process of the Rasa virtualenv's Python running
  ``rasa.model_training.train_nlu`` (what ``rasa train nlu`` runs; several models in one process
  for cross-validation). Training inside the serving process (``POST /model/train``) grew it
  from 1.2 GB to 3.4 GB over four trainings and never gave it back
  (../shared/notes/rasa-server.md).
- :class:`RasaServer` runs ``rasa run --enable-api`` bound to 127.0.0.1 (Rasa's default is
  0.0.0.0, and ``/webhooks/rest/webhook`` is not covered by the token), with the token,
  telemetry off, and its own HOME and working directory under the var dir (Rasa writes
  ``$HOME/.config/rasa``, ``$HOME/.keras``, ``.rasa/cache`` and ``models/`` where it runs).

Both get nlu/rasa/ (Warga's custom component ``warga_rasa.TfidfFeaturizer``) as their only
PYTHONPATH: a model names that component, so the server must find it too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import httpx
import yaml

from nlu.base import NluError, TrainingError
from nlu.rasa_text import rasa_training_data
from nlu.training_checks import validate
from nlu.training_data import ERROR, WARNING, TrainingData, TrainingDataError

log = logging.getLogger(__name__)

_MODEL_GLOB = "rasa-*.tar.gz"
_KEEP_MODELS = 3

#: Run by the Rasa virtualenv's Python: ``CONFIG OUT_DIR (NLU_FILE MODEL_NAME)...``. Trains each
#: data set with ``rasa.model_training.train_nlu``, the function behind ``rasa train nlu``.
_TRAINED = "WARGA-TRAINED "
_TRAIN_SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
from rasa.model_training import train_nlu
config, out, *jobs = sys.argv[1:]
for nlu, name in zip(jobs[::2], jobs[1::2]):
    if train_nlu(config=config, nlu_data=nlu, output=out, fixed_model_name=name) is None:
        sys.exit(f"training {name} produced no model")
    print("WARGA-TRAINED", name, flush=True)
"""


class RasaNotInstalled(NluError):
    """The Rasa virtualenv is missing. Not retryable: run ``make rasa-venv``."""

    def __init__(self, rasa_bin: Path) -> None:
        super().__init__(
            f"Rasa is not installed at {rasa_bin}: run `make rasa-venv` (creates .venv-rasa with rasa 3.6.21)",
            retryable=False,
        )


class RasaServerError(NluError):
    """The Rasa server did not start, or stopped."""


#: Warga's own Rasa components (nlu/rasa/warga_rasa.py, named in nlu/rasa/config.yml). Only this
#: directory goes on Rasa's PYTHONPATH: the Rasa processes never import the gateway.
RASA_COMPONENTS_DIR = Path(__file__).resolve().parent / "rasa"


def rasa_environment(home: Path) -> dict[str, str]:
    """The environment for Rasa processes: own HOME, no telemetry, no leaking gateway paths."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        PYTHONPATH=str(RASA_COMPONENTS_DIR),
        HOME=str(home),
        RASA_TELEMETRY_ENABLED="false",
        MPLCONFIGDIR=str(home / ".matplotlib"),
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONWARNINGS="ignore",
    )
    return env


def rasa_executable(venv: Path) -> Path:
    """``<venv>/bin/rasa``.

    Raises:
        RasaNotInstalled: It does not exist.
    """
    rasa_bin = Path(venv).resolve() / "bin" / "rasa"
    if not rasa_bin.is_file():
        raise RasaNotInstalled(rasa_bin)
    return rasa_bin


def latest_model(models_dir: Path) -> Path | None:
    """The newest Warga-trained Rasa model in ``models_dir`` (what the server loads at start)."""
    models = sorted(Path(models_dir).glob(_MODEL_GLOB)) if Path(models_dir).is_dir() else []
    return models[-1] if models else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free right now (for throw-away servers in tests and evaluation)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL a child started with ``start_new_session`` and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    useful = [ln for ln in text if ln.strip() and "Warning" not in ln and not ln.startswith("  ")]
    return " | ".join(useful[-lines:])


# --------------------------------------------------------------------------------------------
# Training


@dataclass(frozen=True, slots=True)
class RasaTrainer:
    """Trains Rasa NLU models in a separate process.

    Attributes:
        venv: The Rasa virtualenv.
        config: Rasa pipeline config (``nlu/rasa/config.yml``).
        models_dir: Where finished models go (the server's ``-m``).
        work_dir: Rasa's working directory and HOME parent (keeps ``.rasa/cache`` for fast retrains).
        timeout: Seconds before training is abandoned.
    """

    venv: Path
    config: Path
    models_dir: Path
    work_dir: Path
    timeout: float = 1800.0
    #: Evaluation on other people's data sets: accept any intents, and a text under two intents
    #: is not an error (the gateway's own training keeps Warga's checks).
    any_intents: bool = False

    def train(self, data: TrainingData) -> Path:
        """Train on ``data``; the model appears in :attr:`models_dir` only if training succeeded.

        Returns:
            The model file ``rasa-<UTC timestamp>-<data hash>.tar.gz``.

        Raises:
            TrainingDataError: Validation errors (nothing runs).
            RasaNotInstalled: No Rasa virtualenv.
            TrainingError: The process failed or timed out; nothing changed.
        """
        return self.train_many([data])[0]

    def train_many(self, datasets: Sequence[TrainingData]) -> list[Path]:
        """Train one model per data set in ONE Rasa process; see :meth:`train_each`.

        Returns:
            The model files, in the order of ``datasets``.
        """
        return list(self.train_each(datasets))

    def train_each(self, datasets: Sequence[TrainingData]) -> Iterator[Path]:
        """Train one model per data set in ONE Rasa process, yielding each as soon as it exists.

        Starting Rasa (importing TensorFlow) costs several seconds here, about as much as
        training Warga's pipeline, so k folds in one process cost far less than k separate
        ``rasa train nlu`` runs, and a caller can test fold 1 while fold 2 trains. Each model
        is made by ``rasa.model_training.train_nlu`` (what ``rasa train nlu`` calls) from the
        pipeline config and the data written as Rasa will see messages.

        Models already yielded stay in :attr:`models_dir` if a later one fails. Closing the
        iterator early stops the training process.

        Raises:
            TrainingDataError: Validation errors in any data set (nothing runs).
            RasaNotInstalled: No Rasa virtualenv.
            TrainingError: The process failed or timed out.
        """
        if not datasets:
            return
        for data in datasets:
            problems = (
                validate(data, intents=data.intents, conflicts=WARNING, min_examples=0)
                if self.any_intents
                else validate(data)
            )
            errors = [p for p in problems if p.severity == ERROR]
            if errors:
                raise TrainingDataError(errors)
        python = rasa_executable(self.venv).parent / "python"
        work = Path(self.work_dir).resolve()
        work.mkdir(parents=True, exist_ok=True)
        stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
        names = [
            f"rasa-{stamp}-{data.fingerprint()}" + (f"-{k}" if len(datasets) > 1 else "")
            for k, data in enumerate(datasets, 1)
        ]
        timeout = self.timeout * len(datasets)
        with tempfile.TemporaryDirectory(prefix="train-", dir=work) as tmp_name:
            tmp = Path(tmp_name)
            config_file = self._write_config(tmp)
            jobs: list[str] = []
            for k, (data, name) in enumerate(zip(datasets, names, strict=True)):
                # Rasa gets the data we parsed, not nlu/data itself: it would also read
                # nlu/data/test/ (held-out data), and both engines must learn the same
                # examples, written as Rasa will be sent messages (nlu.rasa_text.rasa_text).
                nlu_file = tmp / f"nlu-{k}.yml"
                nlu_file.write_text(rasa_training_data(data).to_yaml(), encoding="utf-8")
                jobs += [str(nlu_file), name]
            log_file = tmp / "train.log"
            cmd = [str(python), "-c", _TRAIN_SCRIPT, str(config_file), str(tmp / "out"), *jobs]
            started = time.monotonic()
            models = Path(self.models_dir).resolve()
            done: list[Path] = []
            timed_out = threading.Event()
            with log_file.open("wb") as log_out:
                proc = subprocess.Popen(
                    cmd, cwd=work, env=rasa_environment(work / "home"), stdout=subprocess.PIPE, stderr=log_out,
                    stdin=subprocess.DEVNULL, text=True, start_new_session=True,
                )

                def expire() -> None:
                    timed_out.set()
                    _kill_group(proc)

                timer = threading.Timer(timeout, expire)
                timer.start()
                try:
                    assert proc.stdout is not None
                    for line in proc.stdout:
                        name = line.strip().removeprefix(_TRAINED)
                        produced = tmp / "out" / f"{name}.tar.gz"
                        if not line.startswith(_TRAINED) or not produced.is_file():
                            continue
                        models.mkdir(parents=True, exist_ok=True)
                        target = models / produced.name
                        shutil.move(str(produced), target)
                        done.append(target)
                        log.info("rasa model %s trained (%.0fs so far)", target.name, time.monotonic() - started)
                        yield target
                    proc.wait()
                finally:
                    timer.cancel()
                    if proc.poll() is None:  # the caller stopped early, or an error above
                        _kill_group(proc)
                    if proc.stdout is not None:
                        proc.stdout.close()
            if timed_out.is_set():
                raise TrainingError(f"rasa train timed out after {timeout:.0f}s", retryable=True)
            if proc.returncode != 0 or len(done) != len(names):
                raise TrainingError(f"rasa train failed (exit {proc.returncode}): {_tail(log_file)}", retryable=False)
        self._prune(keep=done)

    def _write_config(self, tmp: Path) -> Path:
        # Read and re-written here so that an unreadable config fails with one line now, not
        # with a Rasa traceback after the process has started.
        try:
            config = yaml.safe_load(Path(self.config).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise TrainingError(f"cannot read rasa config {self.config}: {exc}", retryable=False) from exc
        target = tmp / "config.yml"
        target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return target

    def discard(self, model_file: Path) -> None:
        """Delete a model the server refused, so a restart does not load it."""
        Path(model_file).unlink(missing_ok=True)

    def _prune(self, keep: Sequence[Path]) -> None:
        models = sorted(Path(self.models_dir).resolve().glob(_MODEL_GLOB))
        for old in models[: -max(_KEEP_MODELS, len(keep))]:
            if old not in keep:
                old.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Serving


class RasaServer:
    """A ``rasa run --enable-api`` child process on 127.0.0.1.

    Args:
        venv: The Rasa virtualenv.
        models_dir: Served models; Rasa loads the newest at start.
        work_dir: Working directory and HOME parent.
        port: TCP port.
        token: Required API token (``-t``).
        host: Bind address; loopback unless you put a proxy in front.
        model: A specific model file to serve instead of the newest in ``models_dir``.

    Use as a context manager or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        venv: Path,
        models_dir: Path,
        work_dir: Path,
        *,
        port: int,
        token: str,
        host: str = "127.0.0.1",
        model: Path | None = None,
    ) -> None:
        if not token:
            raise RasaServerError("a Rasa token is required: set WARGA_NLU_RASA_TOKEN", retryable=False)
        self.venv = Path(venv)
        self.models_dir = Path(models_dir).resolve()
        self.work_dir = Path(work_dir).resolve()
        self.host = host
        self.port = port
        self.token = token
        self.model = Path(model).resolve() if model else None
        self.log_file = self.work_dir / f"rasa-server-{port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> RasaServer:
        """Start the process (returns at once; see :meth:`wait_ready`).

        Raises:
            RasaNotInstalled: No Rasa virtualenv.
            RasaServerError: Already running, or the port is taken.
        """
        if self.running():
            raise RasaServerError("this Rasa server is already running", retryable=False)
        rasa_bin = rasa_executable(self.venv)
        if _port_in_use(self.host, self.port):
            raise RasaServerError(f"port {self.host}:{self.port} is already in use", retryable=False)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(rasa_bin), "run", "--enable-api",
            "-i", self.host, "-p", str(self.port),
            "-m", str(self.model or self.models_dir),
            "-t", self.token,
        ]
        log.info("starting rasa server on %s (models %s)", self.url, self.model or self.models_dir)
        with self.log_file.open("ab") as out:
            # Own session: stop() signals the whole process group, and a Ctrl-C on the gateway's
            # terminal does not reach Rasa before we stop it ourselves.
            self._proc = subprocess.Popen(
                cmd, cwd=self.work_dir, env=rasa_environment(self.work_dir / "home"),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 120.0, *, require_model: bool = True) -> None:
        """Block until ``GET /status`` answers (start-up takes about 20 s here).

        Args:
            timeout: Seconds to wait.
            require_model: Wait for a loaded model (200), not only for the port (409 = no model).

        Raises:
            RasaServerError: The process exited, or the timeout passed (the process is stopped).
        """
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self._proc is None or self._proc.poll() is not None:
                    code = self._proc.returncode if self._proc else None
                    raise RasaServerError(f"rasa server exited (code {code}): {_tail(self.log_file)}", retryable=False)
                try:
                    resp = client.get(f"{self.url}/status", params={"token": self.token})
                except httpx.TransportError:
                    resp = None
                if resp is not None:
                    if resp.status_code == 200 or (resp.status_code == 409 and not require_model):
                        return
                    if resp.status_code == 401:
                        self.stop()
                        raise RasaServerError("rasa server rejected our token", retryable=False)
                time.sleep(0.5)
        self.stop()
        raise RasaServerError(f"rasa server not ready after {timeout:.0f}s: {_tail(self.log_file)}", retryable=True)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        log.info("rasa server on %s stopped", self.url)

    def wait(self) -> int:
        """Wait for the process to end (foreground ``warga nlu serve``); its exit code."""
        if self._proc is None:
            return 0
        return self._proc.wait()

    def __enter__(self) -> RasaServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
