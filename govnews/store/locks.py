"""PostgreSQL advisory locks of govnews: who may migrate, link, crawl and relink at once.

A shared database has no file to ``flock``, and its writers may be on other
machines; PostgreSQL's advisory locks are held by a connection and released by
the server when it ends, however it ends (a killed worker leaves none behind).
Keys are two 32-bit numbers: :data:`NAMESPACE` and what is locked.

- :data:`MIGRATION`, per transaction: one process brings the schema up to date;
  the others wait, then find it current (``database.upgrade_database``).
- :data:`LINKING`, per transaction: one linker at a time drains the linking
  outbox (``govnews/link/outbox.py``).
- :data:`RUNS`, per connection (``govnews/crawl/runlock.py``): crawl workers
  hold it shared, ``scrapy migrate`` and ``scrapy relink`` exclusively.
- ``(RUN_NAMESPACE, run id)``, per connection: held by the process of a running
  run, so that another worker can tell a killed run from a live one.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

NAMESPACE = 0x676F76  # "gov"
RUN_NAMESPACE = NAMESPACE + 1
MIGRATION = 1
LINKING = 2
RUNS = 3


def is_postgres(connection: Connection) -> bool:
    """Whether ``connection`` is to PostgreSQL, the one database with these locks."""
    return connection.dialect.name == "postgresql"


def lock_for_transaction(connection: Connection, key: int, *, wait: bool = True) -> bool:
    """Take the lock ``key`` until the connection's transaction ends; False when not ``wait``
    and another transaction holds it."""
    if wait:
        connection.execute(select(func.pg_advisory_xact_lock(NAMESPACE, key)))
        return True
    return bool(connection.scalar(select(func.pg_try_advisory_xact_lock(NAMESPACE, key))))


def try_lock_runs(connection: Connection, *, shared: bool) -> bool:
    """Take :data:`RUNS` for the connection's life (shared or exclusive); False when taken."""
    take = func.pg_try_advisory_lock_shared if shared else func.pg_try_advisory_lock
    return bool(connection.scalar(select(take(NAMESPACE, RUNS))))


def hold_run(connection: Connection, run_id: int) -> None:
    """Mark run ``run_id`` alive for as long as ``connection`` lasts."""
    connection.execute(select(func.pg_advisory_lock(RUN_NAMESPACE, run_id)))


def run_is_alive(connection: Connection, run_id: int) -> bool:
    """Whether another connection holds run ``run_id``'s lock: its process still runs."""
    if not connection.scalar(select(func.pg_try_advisory_lock(RUN_NAMESPACE, run_id))):
        return True
    connection.execute(select(func.pg_advisory_unlock(RUN_NAMESPACE, run_id)))
    return False
