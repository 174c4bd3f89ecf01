"""Opening the govnews database: engine, SQLite pragmas, schema, sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from govnews.store import agencies, fingerprints
from govnews.store.models import Base

# Modules whose tables live on Base beside models.py's; importing them registers them.
TABLE_MODULES = (agencies, fingerprints)

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
)


def open_database(url: str) -> Engine:
    """Create an engine for the SQLAlchemy ``url`` and the govnews tables in it.

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
    Base.metadata.create_all(engine)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


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
    connection.exec_driver_sql("BEGIN")
