"""Opening the govnews database: engine, SQLite pragmas, schema version, sessions."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    String,
    column,
    create_engine,
    event,
    inspect,
    make_url,
    select,
    table,
)
from sqlalchemy.orm import Session, sessionmaker

from govnews.store import agencies, textindex
from govnews.store.models import Base

# Modules whose tables live on Base beside models.py's; importing them registers them.
TABLE_MODULES = (agencies, textindex)

MIGRATIONS = Path(__file__).with_name("migrations")

logger = logging.getLogger(__name__)

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
)
# Alembic's version table (its default name), read without an Alembic context.
_VERSION_TABLE = table("alembic_version", column("version_num", String))
# Execution option naming the statement _begin_sqlite starts a transaction with.
_SQLITE_BEGIN = "govnews_sqlite_begin"

# Tables of the two schemas released before Alembic (made by create_all, unversioned).
_V1_TABLES = frozenset({"articles", "article_urls", "reposts", "crawl_runs", "page_failures"})
_LINKING_TABLES = frozenset(
    {
        "repost_sources",
        "link_suggestions",
        "agencies",
        "agency_names",
        "agency_regions",
        "agency_unknown_names",
        "article_fingerprints",
        "fingerprint_bands",
    }
)


def open_database(url: str) -> Engine:
    """Create an engine for the SQLAlchemy ``url`` and bring its schema up to date.

    See :func:`database_engine` for the connection set-up and
    :func:`upgrade_database` for the schema: a database made by any earlier
    govnews is upgraded in place, an empty one gets the current tables.
    """
    engine = database_engine(url)
    upgrade_database(engine)
    return engine


def database_engine(url: str) -> Engine:
    """An engine for the SQLAlchemy ``url``; the schema is left as it is.

    For SQLite the directory of a database file is created, and every
    connection gets WAL journaling, foreign keys, a 30 s busy timeout and
    ``synchronous=NORMAL``, so several crawls can share one file.
    """
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    database = parsed.database or ""
    if is_sqlite and database not in ("", ":memory:") and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    if is_sqlite:
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "begin", _begin_sqlite)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def head_revision() -> str:
    """The newest revision of the schema (the one the models describe)."""
    head = _scripts().get_current_head()
    assert head is not None, f"no revisions in {MIGRATIONS}"
    return head


def upgrade_database(engine: Engine) -> tuple[str | None, str]:
    """Bring the database of ``engine`` to :func:`head_revision`; ``(before, after)``.

    ``before`` is None for a database without govnews tables, which gets the
    current tables at once (``create_all``; a test proves it equals running
    every revision). A database made before govnews used Alembic has no
    ``alembic_version`` table: :func:`unversioned_revision` recognises its
    revision from its tables, which is stamped before the upgrade. An
    up-to-date database costs two small queries (is there a version table,
    what it holds). The upgrade is one transaction; on SQLite it holds the
    write lock from the start (a second process waits, then finds nothing to
    do) and runs with foreign keys off, so that recreating a table cascades
    nothing.
    """
    head = head_revision()
    with engine.connect() as connection:
        before = current_revision(connection)
    if before == head:
        return before, head
    with migration_connection(engine) as connection:
        before = current_revision(connection)
        if before is None:
            before = unversioned_revision(connection)
            if before is None:
                Base.metadata.create_all(connection)
            MigrationContext.configure(connection).stamp(_scripts(), before or head)
        if before not in (None, head):
            command.upgrade(migration_config(connection=connection), head)
    url = engine.url.render_as_string(hide_password=True)
    if before is None:
        logger.info("Created the govnews tables in %s at revision %s", url, head)
    elif before != head:
        logger.info("Upgraded database %s from revision %s to %s", url, before, head)
    return before, head


def current_revision(connection: Connection) -> str | None:
    """The revision stamped in ``alembic_version``, None when there is none."""
    if not inspect(connection).has_table(_VERSION_TABLE.name):
        return None
    return connection.execute(select(_VERSION_TABLE.c.version_num)).scalar_one_or_none()


def unversioned_revision(connection: Connection) -> str | None:
    """The revision of a database made by govnews before Alembic, from its tables.

    None when no govnews table exists. ``0001`` is the first release: its five
    tables with ``reposts.declared_url`` NOT NULL, whatever linking tables the
    second release's ``create_all`` may have added to it (``0002`` creates the
    missing ones). ``0002`` is the second release: every table, that column
    nullable. Any other mix raises RuntimeError. Later revisions never need
    adding here: every database they meet is stamped.
    """
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    known = _V1_TABLES | _LINKING_TABLES
    if not tables & known:
        return None
    if tables >= _V1_TABLES:
        columns = {column["name"]: column for column in inspector.get_columns("reposts")}
        if not columns["declared_url"]["nullable"]:
            return "0001"
        if tables >= known:
            return "0002"
    missing = sorted(known - tables)
    raise RuntimeError(
        f"the database has some govnews tables but no alembic_version and lacks {missing}: "
        "it matches no govnews schema, so it cannot be upgraded"
    )


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in the transaction a migration runs in; committed on success.

    On SQLite foreign keys are off until it ends (alembic recreates a table
    to alter it; dropping the old one with them on would cascade) and the
    transaction starts with ``BEGIN IMMEDIATE``, taking the write lock at once.
    """
    with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            with connection.begin():
                yield connection
            return
        # Outside any transaction (none is open yet), where the pragma takes effect.
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"}).begin():
                yield connection
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def migration_config(**attributes: Any) -> Config:
    """The Alembic configuration of the govnews migrations, with env.py ``attributes``.

    env.py uses ``connection`` (run on that connection) or ``url`` (offline SQL
    for that database's dialect).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes.update(attributes)
    return config


@cache
def _scripts() -> ScriptDirectory:
    """The revision scripts, read once per process."""
    return ScriptDirectory.from_config(migration_config())


def _set_sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Apply the govnews pragmas to a new SQLite connection.

    The driver's own transaction handling is switched off (``isolation_level =
    None``) and :func:`_begin_sqlite` emits BEGIN instead, so that SAVEPOINTs,
    which pipelines use to undo one failed item, work as SQLAlchemy expects.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    """Start every SQLite transaction explicitly (see :func:`_set_sqlite_pragmas`)."""
    connection.exec_driver_sql(connection.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))
