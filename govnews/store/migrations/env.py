"""Alembic environment of the govnews schema.

Three ways in: ``config.attributes["connection"]`` (``open_database`` and
``scrapy migrate``: run on that connection, in its transaction); offline SQL
(``--sql``: the dialect of ``config.attributes["url"]``); the ``alembic``
command line, on the database of ``-x url=...`` (by default the project's
``GOVNEWS_DATABASE_URL``) in a connection of
:func:`~govnews.store.database.migration_connection`.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from govnews import settings
from govnews.store.database import database_engine, migration_connection
from govnews.store.models import Base, UTCDateTime

config = context.config


def render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write the models' UTCDateTime as the plain ``sa.DateTime()`` it is stored as."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime()"
    return False


def url() -> str:
    """The database URL of an offline or command-line run."""
    given = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    return str(given or settings.GOVNEWS_DATABASE_URL)


def run_online(connection: Connection) -> None:
    """Run the migrations on ``connection``; batch mode on SQLite."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Print the migrations' SQL; on SQLite with foreign keys off around its transaction."""
    context.configure(
        url=url(),
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=True,
        transactional_ddl=True,
    )
    sqlite = context.get_context().dialect.name == "sqlite"
    if sqlite:
        context.execute("PRAGMA foreign_keys=OFF")
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        context.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_offline()
elif (given := config.attributes.get("connection")) is not None:
    run_online(given)
else:
    engine = database_engine(url())
    try:
        with migration_connection(engine) as connection:
            run_online(connection)
    finally:
        engine.dispose()
