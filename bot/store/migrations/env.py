"""Alembic environment: the URL comes from the caller (bot.store.migrate), never from alembic.ini."""

from alembic import context
from sqlalchemy import Connection, create_engine

from bot.store.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata,
                      render_as_batch=conn.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    assert url is not None, "bot.store.migrate passes either a connection or sqlalchemy.url"
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
