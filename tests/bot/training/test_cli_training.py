"""`warga nlu export|import|models` against a real database (subprocesses, as an admin runs them)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from nlu.training_reader import load_training_data
from tests.bot.training.data import small_data, write_small_data
from tests.support import PROJECT, WARGA

pytestmark = pytest.mark.slow


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WARGA, *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)


def test_export_import_and_an_import_refused_whole(tmp_path: Path, sqlite_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARGA_")}
    env.update({"WARGA_DATABASE_URL": sqlite_url, "WARGA_NLU_ENGINE": "sklearn",
                "WARGA_NLU_DATA_DIR": str(write_small_data(tmp_path / "data")),
                "WARGA_NLU_MODELS_DIR": str(tmp_path / "models")})
    up = run(env, "db", "upgrade")
    assert up.returncode == 0 and "training data: 120 examples" in up.stdout, up.stderr
    assert "training data" not in run(env, "db", "upgrade").stdout          # seeded once

    out = run(env, "nlu", "export", "--out", str(tmp_path / "export"))
    assert out.returncode == 0, out.stderr
    exported = load_training_data(tmp_path / "export" / "nlu.yml")
    assert exported.fingerprint() == small_data().fingerprint()

    (tmp_path / "more.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: ask_parking_permit\n  examples: |\n'
        "    - bagaimana cara urus izin parkir\n    - syarat izin parkir apa saja\n", encoding="utf-8")
    added = run(env, "nlu", "import", str(tmp_path / "more.yml"))
    assert added.returncode == 0 and "2 new examples" in added.stdout, added.stderr

    taken = small_data().examples[0]
    (tmp_path / "bad.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n'
        f"    - kalimat yang baru sekali\n    - {taken.text}\n", encoding="utf-8")
    refused = run(env, "nlu", "import", str(tmp_path / "bad.yml"))
    assert refused.returncode == 1 and f"already under {taken.intent!r}" in refused.stderr
    again = run(env, "nlu", "export")
    assert "kalimat yang baru sekali" not in again.stdout and "izin parkir" in again.stdout

    models = run(env, "nlu", "models")
    assert models.returncode == 0 and "no trained versions yet" in models.stdout
    assert run(env, "nlu", "rollback").returncode == 1
