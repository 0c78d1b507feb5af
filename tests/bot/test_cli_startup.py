"""`warga` commands that need no NLU model never import scikit-learn, SciPy or NumPy.

Those take seconds of CPU to import, which every operator command (and every `make` step that
runs one) would pay. Each check runs in a fresh interpreter: the test process itself has them
loaded already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
WARGA = PROJECT / ".venv" / "bin" / "warga"
HEAVY = ("sklearn", "scipy", "numpy")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """config.yml with its database, models and var/ in the test's directory."""
    data = yaml.safe_load((PROJECT / "config.yml").read_text(encoding="utf-8"))
    data["database"]["url"] = "sqlite:///var/warga.db"        # relative: next to the file
    data["nlu"]["data_dir"] = str(PROJECT / "nlu" / "data")
    data["nlu"]["models_dir"] = str(tmp_path / "models")
    path = tmp_path / "etc" / "config.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _env() -> dict[str, str]:
    """This machine's WARGA_*/provider variables stay out of the commands."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("WARGA_", "TELEGRAM_", "TWILIO_"))}


def _top_level_imports(importtime: str) -> set[str]:
    """The packages named in ``python -X importtime`` output (``import time: self | total | name``)."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in importtime.splitlines() if line.startswith("import time:") and "|" in line}


def test_db_upgrade_imports_no_model_library(config: Path) -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", str(WARGA), "--config", str(config), "db", "upgrade"],
                          env=_env(), cwd=config.parent, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "database is up to date" in proc.stdout
    imported = _top_level_imports(proc.stderr)
    assert "sqlalchemy" in imported      # the output is read right: the command's own imports are there
    assert sorted(imported & set(HEAVY)) == []


# Each command runs in one interpreter, in this order; the script prints, per command, the
# heavy packages loaded so far.
_SCRIPT = """
import json, sys
from bot.cli.main import cli

heavy = {heavy!r}
seen = {{}}
for args in json.loads(sys.argv[1]):
    try:
        cli(["--config", sys.argv[2], *args], obj={{}}, standalone_mode=False)
    except SystemExit:
        pass     # a command that refuses (no such version, no token) still counts
    seen[" ".join(args)] = [m for m in heavy if m in sys.modules]
print(json.dumps(seen))
"""


def test_operator_commands_import_no_model_library(config: Path, tmp_path: Path) -> None:
    exported = tmp_path / "exported"
    commands = [
        ["--help"],
        ["db", "upgrade"],
        ["users", "list"],
        ["users", "--help"],
        ["nlu", "validate"],
        ["nlu", "export", "--out", str(exported)],
        ["nlu", "import", str(exported / "nlu.yml")],
        ["nlu", "models"],
        ["nlu", "rollback"],
        ["channels", "info", "telegram"],
        ["channels", "--help"],
        ["complaints", "--help"],
    ]
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(heavy=HEAVY), json.dumps(commands), str(config)],
        env=_env(), cwd=config.parent, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert list(seen) == [" ".join(c) for c in commands]      # every command ran
    assert (exported / "nlu.yml").is_file()
    assert {command: heavy for command, heavy in seen.items() if heavy} == {}
