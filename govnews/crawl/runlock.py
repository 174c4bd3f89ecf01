"""Who may use a database at once: crawls, and ``migrate`` / ``relink`` alone.

On SQLite (one machine) the lock is an ``flock`` on ``GOVNEWS_LOCK_FILE``
(default: the SQLite file's path with ``.lock`` added), exclusive for every
run, as before: one run at a time per file. On PostgreSQL, the shared store of
N crawl workers on N machines, it is the advisory lock
:data:`~govnews.store.locks.RUNS` held by a connection of its own: crawl
workers hold it shared (any number at once), ``scrapy migrate`` and ``scrapy
relink`` exclusively (no crawl meanwhile). The operating system, or the
database server, releases the lock when the process ends, however it ends, so
a killed run never leaves a stale lock behind. Within one process the lock is
re-entrant: ``scrapy crawlall`` holds it across the crawls it runs.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from scrapy.settings import BaseSettings
from sqlalchemy import Connection, create_engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from govnews.core.errors import DatabaseError
from govnews.store import locks


class RunLocked(RuntimeError):
    """Another run holds the database's lock."""


@dataclass
class _Held:
    """A lock this process holds: its file or connection, and how often it was taken."""

    count: int
    shared: bool
    handle: IO[str] | None = None
    connection: Connection | None = None


_HELD: dict[str, _Held] = {}


def lock_path(settings: BaseSettings) -> Path | None:
    """The lock file of a SQLite database; None for a database in memory or on a server."""
    configured = settings.get("GOVNEWS_LOCK_FILE")
    if configured:
        return Path(configured)
    url = make_url(settings.get("GOVNEWS_DATABASE_URL"))
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return None
    return Path(database).expanduser().with_name(Path(database).name + ".lock")


def on_server(settings: BaseSettings) -> bool:
    """Whether the database is PostgreSQL (advisory locks) rather than a file."""
    if settings.get("GOVNEWS_LOCK_FILE"):
        return False
    return make_url(settings.get("GOVNEWS_DATABASE_URL")).get_backend_name() == "postgresql"


def acquire(settings: BaseSettings, holder: str, *, shared: bool = False) -> None:
    """Take the database's run lock for ``holder`` (a spider or command name), or raise RunLocked.

    ``shared``: a crawl worker, which may run beside other workers on PostgreSQL.
    SQLite's file lock is exclusive whatever is asked.
    """
    if on_server(settings):
        _acquire_advisory(settings.get("GOVNEWS_DATABASE_URL"), shared)
        return
    path = lock_path(settings)
    if path is None:
        return
    key = str(path.resolve())
    if key in _HELD:
        _HELD[key].count += 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        who = handle.read().strip() or "another process"
        handle.close()
        raise RunLocked(f"another govnews run holds {path} ({who}); not starting") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{holder}, pid {os.getpid()}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    handle.flush()
    # A lock file in front of PostgreSQL: the runs still mark themselves alive on the server.
    url = settings.get("GOVNEWS_DATABASE_URL")
    try:
        server = _connect(url) if make_url(url).get_backend_name() == "postgresql" else None
    except DatabaseError:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
        raise
    _HELD[key] = _Held(count=1, shared=False, handle=handle, connection=server)


def _acquire_advisory(url: str, shared: bool) -> None:
    """Hold :data:`~govnews.store.locks.RUNS` on a connection of its own (autocommit: it
    sits idle, never idle in a transaction)."""
    held = _HELD.get(url)
    if held is not None:
        if held.shared and not shared:
            raise RunLocked("this process holds the database's lock shared, not exclusively")
        held.count += 1
        return
    connection = _connect(url)
    if not locks.try_lock_runs(connection, shared=shared):
        connection.close()
        who = "crawl workers are running" if not shared else "a migrate or relink is running"
        where = connection.engine.url.render_as_string()
        raise RunLocked(f"the database {where} is in use ({who}); not starting")
    _HELD[url] = _Held(count=1, shared=shared, connection=connection)


def _connect(url: str) -> Connection:
    """A connection of its own to the PostgreSQL database ``url``, for its session locks."""
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        return engine.connect()
    except SQLAlchemyError as error:
        raise DatabaseError(
            f"cannot open the database {engine.url.render_as_string()}: "
            f"{getattr(error, 'orig', None) or error}"
        ) from error


def hold_run(settings: BaseSettings, run_id: int) -> None:
    """Mark run ``run_id`` alive while this process lasts (PostgreSQL: another worker then
    does not close it as killed, whichever run lock this process took); nothing on
    SQLite, whose runs are alone."""
    key = _key(settings)
    held = _HELD.get(key) if key is not None else None
    if held is not None and held.connection is not None:
        locks.hold_run(held.connection, run_id)


def _key(settings: BaseSettings) -> str | None:
    """What this process's hold of the run lock is kept under: the URL or the lock file."""
    if on_server(settings):
        return str(settings.get("GOVNEWS_DATABASE_URL"))
    path = lock_path(settings)
    return str(path.resolve()) if path is not None else None


def release(settings: BaseSettings) -> None:
    """Give back one hold of the database's run lock; the last one unlocks it."""
    key = _key(settings)
    if key is None or key not in _HELD:
        return
    held = _HELD[key]
    held.count -= 1
    if held.count > 0:
        return
    del _HELD[key]
    if held.connection is not None:
        held.connection.close()  # the server releases every advisory lock of the session
    if held.handle is not None:
        held.handle.seek(0)
        held.handle.truncate()
        fcntl.flock(held.handle, fcntl.LOCK_UN)
        held.handle.close()


@contextmanager
def alone(settings: BaseSettings, holder: str) -> Iterator[None]:
    """Hold a PostgreSQL database's run lock exclusively (``migrate``, ``relink``): no crawl
    worker runs meanwhile. Nothing on SQLite, where these take the write lock for their
    one transaction. Raises RunLocked while workers run."""
    if not on_server(settings):
        yield
        return
    acquire(settings, holder)
    try:
        yield
    finally:
        release(settings)
