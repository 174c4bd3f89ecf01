"""Copying a govnews database into an empty one: SQLite to PostgreSQL, and back.

``scrapy copydb`` moves a database between backends, rows and ids unchanged:
every table of the schema (``Base.metadata``, so whatever table a revision adds
is copied too) in foreign-key order, a chunk of :data:`CHUNK_ROWS` rows at a
time, read through SQLAlchemy's column types (a naive-UTC datetime, JSON, bytes)
and written through them again, so that each backend stores them its own way.

The copy is one transaction on the target: a copy that fails (a value the
target refuses, a lost connection) or whose row counts do not match leaves the
target's tables as empty as they were. The source is read in one transaction
too (``REPEATABLE READ`` on PostgreSQL; on SQLite one read transaction sees one
state of the file), so a crawl writing to it meanwhile changes nothing of the
copy. PostgreSQL's sequences are set past the greatest copied id, so that rows
inserted later do not collide with copied ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    Table,
    func,
    insert,
    make_url,
    select,
)
from sqlalchemy.exc import ArgumentError, DBAPIError

from govnews.core.errors import DatabaseError
from govnews.store.database import open_database, write_options
from govnews.store.models import Base

#: Rows read and inserted at a time: a chunk of articles stays within tens of
#: megabytes even at tens of kB of text and HTML each, and its inserts go to
#: PostgreSQL as a few multi-row INSERTs. Measured (54,000 articles, SQLite to
#: PostgreSQL on one machine): 12.9 s, the process's memory flat at 131 MB, as
#: for 5,400.
CHUNK_ROWS = 500
_EXAMPLE = "e.g. sqlite:///data/govnews.db or postgresql+psycopg://user@host/govnews"


@dataclass(frozen=True)
class TableCount:
    """A table's rows in the source and in the target after the copy."""

    table: str
    source: int
    target: int


def copied_tables() -> list[Table]:
    """The tables of the schema in foreign-key order (a table after those it refers to)."""
    return [table for table in Base.metadata.sorted_tables if table.name != "alembic_version"]


def open_source(url: str, name: str) -> Engine:
    """The database to copy from, which must exist; ``name`` says where its URL came from."""
    return _open(url, name, create=False)


def open_target(url: str, name: str) -> Engine:
    """The database to copy into, with the current schema (created if it has none)."""
    return _open(url, name, create=True)


def parse_url(url: str, name: str) -> URL:
    """``url`` parsed; a :class:`DatabaseError` naming ``name`` (option, setting) if it is none."""
    try:
        return make_url(url)
    except ArgumentError:
        raise DatabaseError(f"{name} {url!r} is not a database URL ({_EXAMPLE})") from None


def check_distinct(source: URL, target: URL) -> None:
    """A :class:`DatabaseError` when both URLs name one database (one SQLite file, one URL)."""
    if _identity(source) == _identity(target):
        raise DatabaseError(
            f"the source and the target are the same database "
            f"({source.render_as_string()}): copy into another one"
        )


def copy_database(
    source: Engine,
    target: Engine,
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[str, int], None] | None = None,
) -> list[TableCount]:
    """Copy every row of ``source`` into the empty ``target``; the row counts of each table.

    Raises :class:`DatabaseError`, with the target unchanged, when the target
    holds a row already, when the target refuses a row, or when a table's row
    count in the target differs from the source's once every row is inserted.
    ``progress`` is called with each table's name and rows once it is copied.
    """
    tables = copied_tables()
    with _reading(source) as reading, _writing(target) as writing:
        _check_empty(writing, tables, target)
        for table in tables:
            with _copy_errors(table, target):
                copied = _copy_table(reading, writing, table, chunk_rows)
            if progress is not None:
                progress(table.name, copied)
        with _copy_errors(None, target):
            if target.dialect.name == "postgresql":
                _advance_sequences(writing, tables)
            counts = [
                TableCount(table.name, _count(reading, table), _count(writing, table))
                for table in tables
            ]
        differing = [count for count in counts if count.source != count.target]
        if differing:  # raised inside the transaction: it is rolled back
            listed = ", ".join(f"{c.table} {c.source} -> {c.target}" for c in differing)
            raise DatabaseError(f"row counts differ, nothing copied: {listed}")
    return counts


def _identity(url: URL) -> tuple[object, ...]:
    """What names one database: a SQLite file's resolved path, else server and name."""
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return ("sqlite", Path(url.database or "").expanduser().resolve())
    return (url.get_backend_name(), url.host, url.port, url.database)


def _open(url: str, name: str, *, create: bool) -> Engine:
    """``open_database(url)``, its errors naming the option or setting ``name`` of the URL.

    The dialect and its driver are checked here first, so that their errors name
    ``name``, not the crawl's ``GOVNEWS_DATABASE_URL``.
    """
    parsed = parse_url(url, name)
    try:
        dialect = parsed.get_dialect()
    except ArgumentError:  # NoSuchModuleError
        raise DatabaseError(
            f"{name} {parsed.render_as_string()!r}: unknown database dialect "
            f"{parsed.drivername!r} ({_EXAMPLE})"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as error:
        raise DatabaseError(
            f"{name} {parsed.render_as_string()!r}: its driver is not installed ({error}; "
            "PostgreSQL's comes with pip install -e '.[distributed]')"
        ) from None
    try:
        return open_database(url, create=create)
    except DatabaseError as error:
        raise DatabaseError(f"{name}: {error}") from None


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    """A connection in one read transaction: one state of the source throughout."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            yield connection


@contextmanager
def _writing(engine: Engine) -> Iterator[Connection]:
    """A connection in the target's one transaction (``BEGIN IMMEDIATE`` on SQLite)."""
    with engine.connect() as connection, connection.execution_options(**write_options()).begin():
        yield connection


def _check_empty(connection: Connection, tables: list[Table], engine: Engine) -> None:
    """A :class:`DatabaseError` naming the tables that hold rows, if any does."""
    with _copy_errors(None, engine):
        filled = [
            f"{table.name}: {rows} rows" for table in tables if (rows := _count(connection, table))
        ]
    if filled:
        raise DatabaseError(
            f"the target {engine.url.render_as_string()} is not empty "
            f"({', '.join(filled[:3])}{', …' if len(filled) > 3 else ''}): "
            "copy only into a database without govnews data"
        )


def _copy_table(reading: Connection, writing: Connection, table: Table, chunk_rows: int) -> int:
    """Stream ``table``'s rows from ``reading`` into ``writing``, a chunk at a time; how many."""
    keys = [column.key for column in table.columns]
    # yield_per streams: a server-side cursor on PostgreSQL, SQLite's own cursor.
    rows = reading.execute(select(table).execution_options(yield_per=chunk_rows))
    copied = 0
    for chunk in rows.partitions():
        writing.execute(insert(table), [dict(zip(keys, row, strict=True)) for row in chunk])
        copied += len(chunk)
    return copied


def _advance_sequences(connection: Connection, tables: list[Table]) -> None:
    """Set each serial primary key's sequence so that its next value is past the greatest id.

    The copy inserts the ids it read, which advances no sequence: without this
    the next insert would be given id 1 again and collide.
    """
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        sequence = connection.scalar(select(func.pg_get_serial_sequence(table.name, column.name)))
        if sequence is None:
            continue
        # is_called=false: the next nextval() returns exactly max(id) + 1 (1 when empty).
        connection.execute(
            select(func.setval(sequence, func.coalesce(func.max(column), 0) + 1, False))
        )


def _count(connection: Connection, table: Table) -> int:
    return connection.scalar(select(func.count()).select_from(table)) or 0


@contextmanager
def _copy_errors(table: Table | None, target: Engine) -> Iterator[None]:
    """The driver's errors while copying as a one-line :class:`DatabaseError`."""
    try:
        yield
    except DBAPIError as error:
        what = f"table {table.name}" if table is not None else "the database"
        detail = "; ".join(line.strip() for line in str(error.orig or error).splitlines() if line)
        raise DatabaseError(
            f"cannot copy {what} into {target.url.render_as_string()}, nothing copied: {detail}"
        ) from None
