"""Where Warga's own Rasa stands: is its environment installed yet, and which phase is it in.

`make run` installs Rasa's 2.7 GB environment in the background (nlu/rasa/install.sh) while the
gateway already answers with the in-process engine. The install leaves two facts behind, read
here: ``<rasa_venv>/.installed`` when it has finished, and ``<var>/rasa-install.status``
(``installing PID`` | ``failed EXIT`` | ``done``) while it runs or after it failed.

The supervisor (bot/runtime/rasa.py) writes its phase to a small JSON file so every process can
show it on /readyz: ``warga serve`` runs the supervisor in gunicorn's master and answers requests
in worker processes that cannot see the master's memory.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from bot.process_alive import process_alive

INSTALLING = "installing environment"
TRAINING = "training"
STARTING = "starting"
READY = "ready"
FAILED = "failed"
PHASES = (INSTALLING, TRAINING, STARTING, READY, FAILED)


@dataclass(frozen=True, slots=True)
class Environment:
    """What a look at Rasa's environment found.

    Attributes:
        ready: Rasa can be run from it.
        failed: Why the install failed (it is not retried by the gateway), else None.
        detail: What is happening meanwhile (where the install log is, or what to run).
    """

    ready: bool
    failed: str | None = None
    detail: str = ""


class InstallProbe:
    """Looks at ``venv`` and the install's status file under ``var_dir`` (cheap: a few stats).

    Args:
        venv: Rasa's virtualenv (``nlu.rasa_venv``).
        var_dir: Where nlu/rasa/install.sh keeps its lock, log and status (the project's var/).
    """

    def __init__(self, venv: Path, var_dir: Path) -> None:
        self.venv = Path(venv)
        self.log = Path(var_dir) / "rasa-install.log"
        self.status = Path(var_dir) / "rasa-install.status"

    def _status(self) -> tuple[str, int | None]:
        try:
            words = self.status.read_text(encoding="utf-8").split()
        except OSError:
            return "", None
        if not words:
            return "", None
        number = int(words[1]) if len(words) > 1 and words[1].isdigit() else None
        return words[0], number

    def __call__(self) -> Environment:
        if (self.venv / ".installed").is_file():
            return Environment(True)
        state, number = self._status()
        if state == "installing" and number is not None and process_alive(number):
            return Environment(False, detail=f"log: {self.log}")
        if state == "installing":
            return Environment(False, failed=f"the Rasa install stopped before it finished (log: {self.log}); "
                                             "run `make rasa-venv`")
        if state == "failed":
            return Environment(False, failed=f"installing the Rasa environment failed (exit {number}; "
                                             f"log: {self.log}); fix it and run `make rasa-venv`")
        if (self.venv / "bin" / "rasa").is_file():
            # A virtualenv made some other way (no marker), and nobody is installing into it.
            return Environment(True)
        return Environment(False, detail=f"{self.venv} does not exist yet: run `make rasa-venv`")


@dataclass(frozen=True, slots=True)
class RasaPhase:
    """Where Warga's own Rasa server is: one of :data:`PHASES`, with a sentence of detail."""

    name: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}" if self.name == FAILED else self.name

    @property
    def ready(self) -> bool:
        return self.name == READY


def console_line(phase: RasaPhase) -> str:
    """What `warga run` prints when the phase changes (an operator reads it on the terminal)."""
    if phase.name == INSTALLING:
        return f"Rasa: answering with the in-process engine while Rasa installs ({phase.detail})"
    if phase.name == TRAINING:
        return "Rasa: environment ready; training its first model (the in-process engine answers meanwhile)"
    if phase.name == STARTING:
        return "Rasa: starting the Rasa server (the in-process engine answers meanwhile)"
    if phase.name == READY:
        return "Rasa ready: answering with Rasa"
    return f"Rasa failed: {phase.detail}; the in-process engine keeps answering"


def phase_file(rasa_var_dir: Path) -> Path:
    """The supervisor's phase file, beside the Rasa server's own files (``nlu.var_dir``)."""
    return Path(rasa_var_dir) / "supervisor-phase.json"


def write_phase(path: Path, phase: RasaPhase) -> None:
    """Replace the file in one step: a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"phase": phase.name, "detail": phase.detail, "pid": os.getpid()}), encoding="utf-8")
    os.replace(tmp, path)


def read_phase(path: Path) -> RasaPhase | None:
    """The phase a live supervisor wrote, or None (no supervisor, or the one that wrote it died)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        pid, name, detail = int(data["pid"]), str(data["phase"]), str(data.get("detail", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if name not in PHASES or not process_alive(pid):
        return None
    return RasaPhase(name, detail)


def remove_phase(path: Path) -> None:
    """Forget the phase when the supervisor stops (its server stops with it); only this
    process's own file."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if int(json.loads(Path(path).read_text(encoding="utf-8"))["pid"]) == os.getpid():
            Path(path).unlink()
