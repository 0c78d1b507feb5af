"""The boundary between bot/ and the connectors: bot/ never names a provider.

bot/ may look a channel up by name in a registry (``"web" in rt.channels``), but it never
imports a provider package, never branches on a channel name, and never probes a connector
with ``getattr`` for an optional ability (channels.base declares those as protocols).
"""

from __future__ import annotations

import ast
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_NAMES = {"telegram", "sms", "whatsapp", "web", "terminal"}
PROVIDER_PACKAGES = ("channels.telegram", "channels.twilio")
ABILITIES = {"fetch_media", "answer_callback", "close", "poll_updates", "webhook_routes",
             "set_webhook", "delete_webhook", "get_webhook_info", "get_me"}
# Known exceptions outside this branch's files, each to be replaced by a channel capability.
ALLOWED: set[tuple[str, str]] = set()


def _names(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & CHANNEL_NAMES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(_names(e) for e in node.elts)) if node.elts else set()
    return set()


def violations(path: Path, source: str) -> list[str]:
    """What in ``source`` names a provider or a channel the forbidden ways."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            modules = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            modules = []
        if any(m == p or m.startswith(p + ".") for m in modules for p in PROVIDER_PACKAGES):
            found.append(ast.get_source_segment(source, node) or "import")
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, (left, right) in zip(node.ops, pairwise(operands), strict=True):
                named = (isinstance(op, (ast.Eq, ast.NotEq)) and (_names(left) or _names(right))) or \
                        (isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.List, ast.Set))
                         and _names(right))
                if named:
                    found.append(ast.get_source_segment(source, node) or "comparison")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr") \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value in ABILITIES:
            found.append(ast.get_source_segment(source, node) or "getattr")
    return found


def test_bot_never_names_a_provider() -> None:
    found = set()
    for path in sorted((ROOT / "bot").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        found |= {(rel, v) for v in violations(path, path.read_text(encoding="utf-8"))}
    assert found - ALLOWED == set()


@pytest.mark.parametrize("source, caught", [
    ("from channels.twilio import OPTED_OUT", True),
    ("import channels.telegram.inbound", True),
    ("from channels import telegram", True),
    ("from channels.base import SendError", False),
    ('if conv.channel in ("sms", "whatsapp"): pass', True),
    ('if msg.channel == "telegram": pass', True),
    ('if "web" != name: pass', True),
    ('if "web" not in rt.channels: pass', False),          # a registry lookup, not a branch
    ('answer = getattr(channel, "answer_callback", None)', True),
    ('code = getattr(exc, "problem_mark", None)', False),
    ('if kind == "message": pass', False),
])
def test_the_guard_catches_what_it_should(source: str, caught: bool) -> None:
    assert bool(violations(Path("x.py"), source)) is caught


def test_connectors_never_import_the_app_flask_or_sqlalchemy() -> None:
    import subprocess
    import sys
    code = ("import sys, channels.registry, channels.sms_segments; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'bot', 'flask', 'sqlalchemy', 'werkzeug'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
