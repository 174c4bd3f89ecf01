"""``INSERT … ON CONFLICT`` for the databases govnews runs on: SQLite and PostgreSQL.

SQLAlchemy's generic ``insert`` has no conflict clause; the SQLite and
PostgreSQL dialects each have one, with the same API
(``on_conflict_do_update`` / ``on_conflict_do_nothing``, ``excluded``).
:func:`insert_for` picks the dialect's own, so that a write racing another
writer of the same key is one statement that cannot fail on the key, instead
of a select then an insert (which, with two writers, raises a duplicate key
on PostgreSQL or loses one writer's counter update).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.dialects import postgresql, sqlite

_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_for(dialect: Dialect | str, table: Any) -> Any:
    """An ``INSERT`` into ``table`` (a Table or an ORM entity) with ``on_conflict_do_update``.

    A :class:`NotImplementedError` names a database govnews does not support.
    """
    name = dialect if isinstance(dialect, str) else dialect.name
    try:
        return _INSERTS[name](table)
    except KeyError:
        raise NotImplementedError(
            f"govnews stores into SQLite or PostgreSQL, not {name!r}"
        ) from None


@cache
def insert_ignoring(dialect_name: str, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table``, built once per dialect.

    Built once, so that compiled statements cached by identity stay valid.
    """
    return insert_for(dialect_name, table).on_conflict_do_nothing()
