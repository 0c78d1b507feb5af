"""Alembic environment: the URL comes from the caller (bot.store.migrate), never from alembic.ini."""

from alembic import context
from sqlalchemy import Connection, create_engine

from bot.store.models import Base
from bot.store.text_search import is_model_object

config = context.config
url = config.get_main_option("sqlalchemy.url")
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata,
                      render_as_batch=conn.dialect.name == "sqlite", compare_type=True,
                      include_name=is_model_object)   # the search indexes: not in the models
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
