"""`make run` answers citizens before Rasa is installed (issue 14): the Makefile does not wait for
Rasa's environment, and nlu/rasa/install.sh installs it once however many runs ask.

The install script runs for real with a fake "Python 3.10" whose pip waits for the test's word,
so the lock, the status file and the log are those of a real install, in a second.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.rasa_env import InstallProbe
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "nlu" / "rasa" / "install.sh"

FAKE_PYTHON = r"""#!/usr/bin/env bash
# A fake python3.10: `-m venv DIR` makes DIR/bin/pip; installing rasa waits for $FAKE/go (its
# content is pip's exit status).
echo venv >> "$FAKE/calls"
mkdir -p "$3/bin"
cat > "$3/bin/pip" <<'PIP'
#!/usr/bin/env bash
case "$*" in *rasa==*) ;; *) exit 0 ;; esac
echo "installing rasa (fake)"
for _ in $(seq 600); do [ -f "$FAKE/go" ] && exit "$(cat "$FAKE/go")"; sleep 0.05; done
exit 9
PIP
chmod +x "$3/bin/pip"
"""


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[dict[str, str]]:
    python = tmp_path / "python3.10"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    env = {**os.environ, "FAKE": str(tmp_path), "RASA_PYTHON": str(python)}
    yield env
    (tmp_path / "go").write_text("9")  # a pip still waiting gives up at once


def install(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args, str(tmp_path / "venv-rasa"), str(tmp_path / "var")],
                          env=env, capture_output=True, text=True, timeout=60)


def venv_made(tmp_path: Path) -> int:
    calls = tmp_path / "calls"
    return calls.read_text().split().count("venv") if calls.exists() else 0


def lock_free(tmp_path: Path) -> bool:
    """Nobody holds the install lock (the background install has exited)."""
    with open(tmp_path / "var" / "rasa-install.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


def test_the_helper_script_parses() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    assert os.access(SCRIPT, os.X_OK)


def test_concurrent_runs_install_once_and_the_gateway_sees_each_step(fake: dict[str, str], tmp_path: Path) -> None:
    probe = InstallProbe(tmp_path / "venv-rasa", tmp_path / "var")
    started = install(fake, tmp_path, "--background")
    assert started.returncode == 0 and "installed in the background" in started.stdout
    assert "rasa-install.log" in started.stdout
    wait_for(lambda: not probe().ready and "log:" in probe().detail, what="the install to be running")

    # A second `make run` leaves it to the first; `make rasa-venv` (or `make test`) waits for it.
    second = install(fake, tmp_path, "--background")
    assert second.returncode == 0 and "already being installed" in second.stdout
    waiting = subprocess.Popen(["bash", str(SCRIPT), str(tmp_path / "venv-rasa"), str(tmp_path / "var")],
                               env=fake, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert waiting.stdout is not None
        assert "being installed by another run" in waiting.stdout.readline()
        (tmp_path / "go").write_text("0")
        assert waiting.wait(timeout=60) == 0
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert venv_made(tmp_path) == 1
    assert probe().ready and (tmp_path / "venv-rasa" / ".installed").is_file()
    assert (tmp_path / "var" / "rasa-install.status").read_text().strip() == "done"
    assert "Rasa installed into" in (tmp_path / "var" / "rasa-install.log").read_text()

    again = install(fake, tmp_path, "--background")
    assert again.returncode == 0 and again.stdout == "" and venv_made(tmp_path) == 1


def test_a_failed_install_is_reported_and_not_tried_again(fake: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "go").write_text("1")
    assert install(fake, tmp_path, "--background").returncode == 0
    status = tmp_path / "var" / "rasa-install.status"
    wait_for(lambda: status.exists() and status.read_text().strip() == "failed 1", what="the failure")
    wait_for(lambda: lock_free(tmp_path), what="the install to exit")
    env = InstallProbe(tmp_path / "venv-rasa", tmp_path / "var")()
    assert not env.ready and env.failed is not None and "exit 1" in env.failed and "make rasa-venv" in env.failed
    log = (tmp_path / "var" / "rasa-install.log").read_text()
    assert "installing Rasa failed (exit 1)" in log
    assert venv_made(tmp_path) == 1 and not (tmp_path / "venv-rasa" / ".installed").exists()


def recipes(target: str) -> list[str]:
    """The commands `make TARGET` would run if nothing were built yet (dry run)."""
    out = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=True)
    return out.stdout.splitlines()


def test_make_run_serves_without_waiting_for_rasa() -> None:
    lines = recipes("run")
    serve = next(i for i, line in enumerate(lines) if re.search(r"warga run\b", line))
    before = lines[:serve]
    # Rasa's environment is installed in the background, never in the foreground before serving...
    assert [line for line in before if "install.sh" in line and "--background" in line]
    assert not [line for line in before if "install.sh" in line and "--background" not in line]
    assert not [line for line in before if "rasa==" in line]
    # ...nor the dev tools (`make test` adds them).
    assert [line for line in before if "pip install" in line and " -e " in line] == [
        ".venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -e ."]
    assert any("-e '.[dev]'" in line for line in recipes("test"))
    # ...and only the in-process model is trained before it (Rasa's is trained by the supervisor).
    assert [line for line in before if "nlu train" in line] == [
        ".venv/bin/warga nlu train --engine sklearn --if-missing"]
    # `make rasa-venv` (and `make test`) take the same lock as the background install.
    assert any(re.search(r"nlu/rasa/install\.sh \.venv-rasa var$", line) for line in recipes("rasa-venv"))
