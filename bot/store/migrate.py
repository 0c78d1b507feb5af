"""Run Alembic migrations from code (``warga db upgrade``, app start-up checks, tests)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@cache
def newest_revisions() -> frozenset[str]:
    """The heads of the migrations this code ships (read once: they cannot change under a
    running process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def pending(engine: Engine) -> bool:
    """True when the database is not at the newest migration.

    Reads Alembic's version table directly: /readyz asks on every probe, and Alembic's own
    migration context logged two lines each time (and its scripts were parsed again).
    """
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return True
        current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    return current != newest_revisions()
