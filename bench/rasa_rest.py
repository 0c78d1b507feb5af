"""Rasa's own REST chatbot serving Warga's intents: the "what a city would pick instead" target
of bench/load.py.

One rule per intent answers with a fixed response (``utter_<intent>``), so Rasa does the work a
Rasa-only bot does per message (NLU, tracker, policies, response) and nothing of Warga's. The
model is trained with the project's NLU pipeline (nlu/rasa/config.yml) plus ``RulePolicy``, in
``var/bench/rasa-rest`` (the training cache there makes a second run fast).

Usage (from the repository root)::

    .venv/bin/python bench/rasa_rest.py train     # about a minute the first time
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlu.intents import ENTITIES, INTENTS  # noqa: E402

WORK = ROOT / "var" / "bench" / "rasa-rest"
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
DATA = [ROOT / "nlu" / "data" / name for name in ("complaints.yml", "conversation.yml", "questions.yml",
                                                  "entities.yml")]


def rasa_env() -> dict[str, str]:
    """Rasa's environment: its own HOME under var/, no telemetry, Warga's custom components."""
    home = WORK / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
            "HOME": str(home), "RASA_TELEMETRY_ENABLED": "false", "MPLCONFIGDIR": str(home),
            "PYTHONPATH": str(ROOT / "nlu" / "rasa")}


def write_project() -> None:
    """The domain (one response per intent), the rules and the config, into WORK."""
    WORK.mkdir(parents=True, exist_ok=True)
    domain = ['version: "3.1"', "intents:", *[f"  - {i}" for i in INTENTS], "  - nlu_fallback",
              "entities:", *[f"  - {e}" for e in ENTITIES], "responses:"]
    for intent in [*INTENTS, "nlu_fallback"]:
        domain += [f"  utter_{intent}:", f'    - text: "({intent}) Terima kasih, pesan Anda kami terima."']
    domain += ["session_config:", "  session_expiration_time: 60", "  carry_over_slots_to_new_session: true"]
    (WORK / "domain.yml").write_text("\n".join(domain) + "\n")
    rules = ['version: "3.1"', "rules:"]
    for intent in [*INTENTS, "nlu_fallback"]:
        rules += [f"- rule: answer {intent}", "  steps:", f"  - intent: {intent}", f"  - action: utter_{intent}"]
    (WORK / "rules.yml").write_text("\n".join(rules) + "\n")
    config = (ROOT / "nlu" / "rasa" / "config.yml").read_text()
    config = config.replace("policies: []", "policies:\n  - name: RulePolicy")
    (WORK / "config.yml").write_text(config)


def train() -> Path:
    """Train (or reuse) the model; returns the models directory."""
    write_project()
    models = WORK / "models"
    cmd = [str(RASA), "train", "--config", "config.yml", "--domain", "domain.yml",
           "--data", *map(str, DATA), "rules.yml", "--out", str(models), "--fixed-model-name", "rest"]
    subprocess.run(cmd, cwd=WORK, env=rasa_env(), check=True, stdout=subprocess.DEVNULL)
    return models


def serve_command(port: int) -> list[str]:
    """`rasa run` on loopback with the REST channel (it is on by default)."""
    return [str(RASA), "run", "-i", "127.0.0.1", "-p", str(port), "-m", str(WORK / "models"),
            "--enable-api"]


if __name__ == "__main__":
    if sys.argv[1:] == ["train"]:
        print(train())
