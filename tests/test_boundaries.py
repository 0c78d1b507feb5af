"""The libraries stay libraries: nlu/ and channels/ never import the app, Flask or SQLAlchemy.

Read statically from every module's source (imports inside functions and ``TYPE_CHECKING``
blocks included), so a module that no test imports is checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Top-level packages the libraries must not import (werkzeug is Flask's).
FORBIDDEN = frozenset({"bot", "flask", "werkzeug", "sqlalchemy", "alembic"})

LIBRARIES = ("nlu", "channels")


def imported_modules(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """Every absolute module a source imports, with its line: ``import a.b``, ``from a import b``,
    and ``importlib.import_module("a")`` / ``__import__("a")`` with a literal name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:  # relative imports stay inside the package
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def violations(source: str, filename: str = "<source>") -> list[str]:
    return [f"{filename}:{line}: imports {module}" for line, module in imported_modules(source, filename)
            if module.split(".")[0] in FORBIDDEN]


def library_modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("package", LIBRARIES)
def test_library_never_imports_the_app_flask_or_sqlalchemy(package: str) -> None:
    modules = library_modules(package)
    assert ROOT / package / "__init__.py" in modules
    problems = [v for path in modules
                for v in violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not problems, f"{package}/ must not depend on the app or its web/database stack:\n" + "\n".join(problems)


@pytest.mark.parametrize("source", [
    "import bot",
    "import flask.json as j",
    "from sqlalchemy.orm import Session",
    "from bot.store.models import Message",
    "def late():\n    from werkzeug import Request",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.runtime import Runtime",
    "import importlib\nimportlib.import_module('bot.settings')",
    "__import__('flask')",
])
def test_the_guard_sees_every_form_of_import(source: str) -> None:
    assert violations(source)


@pytest.mark.parametrize("source", [
    "import botocore",
    "from nlu.base import Parse",
    "from . import bot",
    "from .bot import x",
    "import httpx, yaml",
    "name = 'bot'",
])
def test_the_guard_allows_everything_else(source: str) -> None:
    assert not violations(source)
