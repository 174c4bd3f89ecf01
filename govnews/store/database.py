"""Opening the govnews database: engine, SQLite pragmas, schema version, sessions."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import (
    URL,
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
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from govnews.core.errors import DatabaseError
from govnews.store import agencies, locks, textindex
from govnews.store.models import Base

# Modules whose tables live on Base beside models.py's; importing them registers them.
TABLE_MODULES = (agencies, textindex)

MIGRATIONS = Path(__file__).with_name("migrations")

logger = logging.getLogger(__name__)

#: How long a SQLite connection waits for another's lock (seconds) before "database is locked".
BUSY_TIMEOUT = 30.0
_SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)
# SQLite's primary result codes (the low byte of an extended one).
_SQLITE_BUSY = 5
_SQLITE_FULL = 13
# Codes of a database that refuses every write: read-only, I/O error, full, cannot open.
_SQLITE_UNWRITABLE = frozenset({8, 10, _SQLITE_FULL, 14})
# Alembic's version table (its default name), read without an Alembic context.
_VERSION_TABLE = table("alembic_version", column("version_num", String))
# Execution option naming the statement _begin_sqlite starts a transaction with.
_SQLITE_BEGIN = "govnews_sqlite_begin"
# Execution option: the busy timeout (milliseconds) _begin_sqlite sets before it begins.
_SQLITE_BUSY_MS = "govnews_sqlite_busy_ms"

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


def open_database(url: str, *, create: bool = True) -> Engine:
    """Create an engine for the SQLAlchemy ``url`` and bring its schema up to date.

    See :func:`database_engine` for the connection set-up and
    :func:`upgrade_database` for the schema: a database made by any earlier
    govnews is upgraded in place, an empty one gets the current tables.
    ``create=False`` is for commands that only read what a crawl stored: a
    SQLite file that does not exist is then an error, and nothing is created.
    Whatever keeps the database from opening is a :class:`DatabaseError`
    naming it, so that a command can say so in one line.
    """
    engine = database_engine(url, create=create)
    try:
        with database_errors(engine):
            upgrade_database(engine)
    except DatabaseError:
        engine.dispose()
        raise
    return engine


def database_url(url: str) -> URL:
    """``url`` parsed; a :class:`DatabaseError` when it is no SQLAlchemy URL."""
    try:
        return make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"GOVNEWS_DATABASE_URL {url!r} is not a database URL (e.g. sqlite:///data/govnews.db)"
        ) from None


def database_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for the SQLAlchemy ``url``; the schema is left as it is.

    For SQLite the directory of a database file is created (``create=False``:
    the file must exist), and every connection gets WAL journaling, foreign
    keys, a 30 s busy timeout and ``synchronous=NORMAL``, so several crawls can
    share one file. A URL that names no usable database is a :class:`DatabaseError`.
    """
    parsed = database_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    database = parsed.database or ""
    if is_sqlite and database not in ("", ":memory:") and not database.startswith("file:"):
        _check_sqlite_file(Path(database).expanduser(), create=create)
    try:
        engine = create_engine(parsed)
    except ArgumentError as error:  # NoSuchModuleError: no such dialect
        raise DatabaseError(
            f"GOVNEWS_DATABASE_URL {parsed.render_as_string()!r}: "
            f"unknown database dialect {parsed.drivername!r}"
        ) from error
    except ImportError as error:
        raise DatabaseError(
            f"GOVNEWS_DATABASE_URL {parsed.render_as_string()!r}: "
            f"its driver is not installed ({error})"
        ) from error
    if is_sqlite:
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "begin", _begin_sqlite)
    return engine


def _check_sqlite_file(path: Path, *, create: bool) -> None:
    """A SQLite file govnews may open: not a directory; existing unless ``create``."""
    if path.is_dir():
        raise DatabaseError(f"the database {path} is a directory, not a file")
    if not create:
        if not path.is_file():
            raise DatabaseError(f"no database at {path}")
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseError(
            f"cannot create the directory of the database {path}: {error.strerror or error}"
        ) from error


@contextmanager
def database_errors(engine: Engine) -> Iterator[None]:
    """The driver's errors (cannot connect, not a database, locked) as a :class:`DatabaseError`."""
    try:
        yield
    except DBAPIError as error:
        raise DatabaseError(
            f"cannot open the database {engine.url.render_as_string()}: {error.orig or error}"
        ) from error


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
    check_revision(engine, before)
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
    nullable. Any other mix raises DatabaseError. Later revisions never need
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
    raise DatabaseError(
        f"the database has some govnews tables but no alembic_version and lacks {missing}: "
        "it matches no govnews schema, so it cannot be upgraded"
    )


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in the transaction a migration runs in; committed on success.

    On SQLite foreign keys are off until it ends (alembic recreates a table
    to alter it; dropping the old one with them on would cascade) and the
    transaction starts with ``BEGIN IMMEDIATE``, taking the write lock at once.
    On PostgreSQL it starts by taking the migration's advisory lock
    (:data:`~govnews.store.locks.MIGRATION`): DDL takes no lock that would keep
    two processes from creating the same tables at once (a duplicate key on
    ``pg_type``), so the second one waits, then reads the revision the first left.
    """
    with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            with connection.begin():
                if locks.is_postgres(connection):
                    locks.lock_for_transaction(connection, locks.MIGRATION)
                yield connection
            return
        # Outside any transaction (none is open yet), where the pragma takes effect.
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.execution_options(**write_options()).begin():
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


def check_revision(engine: Engine, revision: str | None) -> None:
    """A :class:`DatabaseError` when the database's ``revision`` is none of this govnews's.

    Such a database was made by a newer govnews: upgrading it is impossible,
    using it would corrupt it.
    """
    if revision is None:
        return
    try:
        if _scripts().get_revision(revision) is not None:
            return
    except CommandError:
        pass
    raise DatabaseError(
        f"the database {engine.url.render_as_string()} has schema revision {revision!r}, "
        f"which this govnews does not know (its newest is {head_revision()!r}): "
        "a newer govnews made it; upgrade govnews to use it"
    )


def write_options(busy_timeout: float | None = None) -> dict[str, Any]:
    """Execution options that begin a transaction as a writer: ``BEGIN IMMEDIATE`` on SQLite.

    A transaction begun with a plain ``BEGIN`` that reads and then writes is
    refused at once ("database is locked") when another connection holds the
    write lock or wrote since it read: SQLite does not wait out the busy timeout
    there, as waiting could deadlock. ``BEGIN IMMEDIATE`` takes the write lock
    first and waits for it. ``busy_timeout`` (seconds) sets how long the ``BEGIN``
    waits for the lock (default :data:`BUSY_TIMEOUT`): a crawl tries briefly and
    waits between tries itself, so that its reactor is never blocked for long.
    Other databases ignore these options (they wait for row locks themselves).
    """
    options: dict[str, Any] = {_SQLITE_BEGIN: "BEGIN IMMEDIATE"}
    if busy_timeout is not None:
        options[_SQLITE_BUSY_MS] = max(0, int(busy_timeout * 1000))
    return options


def is_busy(error: BaseException) -> bool:
    """True for SQLite's "database is locked" (SQLITE_BUSY): another connection holds the lock."""
    return _sqlite_code(error) == _SQLITE_BUSY


def is_full(error: BaseException) -> bool:
    """True for SQLite's "database or disk is full" (SQLITE_FULL; a write that met ENOSPC)."""
    refused = refusal(error)
    return refused is not None and _sqlite_code(refused) == _SQLITE_FULL


def is_unwritable(error: BaseException) -> bool:
    """True when the database refuses writes as such (full, read-only, I/O error), not the item."""
    return refusal(error) is not None


def refusal(error: BaseException) -> BaseException | None:
    """The driver's error by which the database refused writes as such, if ``error`` is one.

    Also when that error was met first and ``error`` raised while handling it: on
    SQLITE_FULL SQLite rolls the transaction back itself, so undoing the item's savepoint
    then fails with "no such savepoint", the full disk in its ``__context__``.
    """
    seen: BaseException | None = error
    for _ in range(10):  # a chain, not a cycle
        if seen is None:
            return None
        if _sqlite_code(seen) in _SQLITE_UNWRITABLE:
            return getattr(seen, "orig", None) or seen
        seen = seen.__cause__ or seen.__context__
    return None


def _sqlite_code(error: BaseException) -> int | None:
    """The primary SQLite result code of ``error`` (a driver error or SQLAlchemy's wrapper)."""
    code = getattr(getattr(error, "orig", None) or error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _set_sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Apply the govnews pragmas to a new SQLite connection, then switch it to WAL.

    The driver's own transaction handling is switched off (``isolation_level =
    None``) and :func:`_begin_sqlite` emits BEGIN instead, so that SAVEPOINTs,
    which pipelines use to undo one failed item, work as SQLAlchemy expects.
    The busy timeout comes first, so that everything after it waits for locks.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        _use_wal(cursor)
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch the database to WAL journaling, waiting for other connections up to BUSY_TIMEOUT.

    Switching reads the database and then takes its exclusive lock; SQLite
    answers SQLITE_BUSY at once, without its busy handler, when another
    connection reads or switches at that moment (two processes opening a
    database an older govnews made, in rollback-journal mode). So the switch is
    tried again, with short pauses, until the busy timeout has passed. A
    database already in WAL mode switches nothing.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if not is_busy(error) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def _begin_sqlite(connection: Connection) -> None:
    """Start every SQLite transaction explicitly (see :func:`_set_sqlite_pragmas`).

    With a plain ``BEGIN`` unless :func:`write_options` asked for ``BEGIN
    IMMEDIATE`` (and a busy timeout for the ``BEGIN`` alone).
    """
    options = connection.get_execution_options()
    begin = options.get(_SQLITE_BEGIN, "BEGIN")
    if _SQLITE_BUSY_MS not in options:
        connection.exec_driver_sql(begin)
        return
    connection.exec_driver_sql(f"PRAGMA busy_timeout={int(options[_SQLITE_BUSY_MS])}")
    try:
        connection.exec_driver_sql(begin)
    finally:  # the connection's own timeout again, for what the transaction does next
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
