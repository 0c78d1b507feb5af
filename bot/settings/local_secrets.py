"""Generated secrets kept in var/ (mode 0600) for installations that set no variable.

Loading settings only reads these files. They are written by one explicit step,
:func:`ensure_local_secrets`, which `warga db upgrade` and the start of `warga run`, `serve`,
`worker` and `nlu serve` call: every process of one installation (web, workers, the Rasa server)
then agrees on the same values. Set the variables instead when several machines serve.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tempfile
from pathlib import Path

from bot.settings.schema import Secrets
from bot.settings.values import ConfigError, Settings

#: Field of :class:`Secrets` -> the file under var/ that holds it when its variable is unset.
LOCAL_SECRET_FILES = {"secret_key": "secret-key", "rasa_token": "rasa-token"}


def read_local_secret(var_dir: Path, field: str) -> str:
    """The generated value of ``field`` kept in ``var_dir``, or "" when there is none yet."""
    path = var_dir / LOCAL_SECRET_FILES[field]
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None


def ensure_local_secrets(settings: Settings) -> Settings:
    """Create the var/ files of the secrets that have neither a variable nor a file yet.

    Returns:
        The settings with those secrets filled in (``secrets.secret_key``, ``secrets.rasa_token``
        and ``nlu.rasa_token``).

    Raises:
        ConfigError: var/ cannot be written; the message names the variable to set instead.
    """
    # An external Rasa server (nlu.rasa_url) has its own token, or none: never a made-up one.
    wanted = [f for f in LOCAL_SECRET_FILES if not (f == "rasa_token" and settings.nlu.external)]
    values = {field: getattr(settings.secrets, field) or _create(settings.var_dir, field) for field in wanted}
    values.setdefault("rasa_token", settings.secrets.rasa_token)
    if all(getattr(settings.secrets, f) == v for f, v in values.items()):
        return settings
    return dataclasses.replace(
        settings,
        secrets=settings.secrets.model_copy(update=values),
        nlu=dataclasses.replace(settings.nlu, rasa_token=values["rasa_token"]),
    )


def _create(var_dir: Path, field: str) -> str:
    path = var_dir / LOCAL_SECRET_FILES[field]
    token = secrets.token_urlsafe(24)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: another process never reads a half-written file,
        # and when two start at once the first link wins and both use its value.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(token)
            try:
                os.link(tmp, path)
            except FileExistsError:
                token = read_local_secret(var_dir, field)
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise ConfigError(f"config: cannot write {path}: set {Secrets.variable(field)} "
                          f"({exc.strerror})") from None
    if not token:
        raise ConfigError(f"config: {path} is empty: delete it, or set {Secrets.variable(field)}")
    return token
