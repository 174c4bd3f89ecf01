"""Linking on a shared database: articles queue in ``link_outbox``, one linker links them.

With N crawl workers writing one PostgreSQL database, linking each article in
the transaction that stores it goes wrong: a transaction sees only what others
committed, so a repost and its original stored at the same moment by two
workers never see each other (measured on the snapshot: 7 links instead of 8).
Instead, a worker stores each article together with a row in ``link_outbox``
(:func:`enqueue`, same transaction), and after each commit one worker at a time
-- the holder of the transaction-scoped advisory lock
:data:`~govnews.store.locks.LINKING` -- links the queued articles
(:func:`drain`). Whichever of two articles is linked second is linked after both
were committed, so it sees the first: the links are those of one process taking
the articles in the queue's order, which :class:`~govnews.link.linker.Linker`
makes the same in any order. Every worker drains once more, waiting for the
lock, before it exits: when the last worker of a run exits, every link is made.

The agency registry is shared the same way: the linker merges what the database
holds before it links (names learned by other workers' drains) and saves what it
learned before it lets the lock go.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from govnews.core.timezone import utcnow
from govnews.link.linker import Linker
from govnews.store import locks, models
from govnews.store.upsert import insert_for

logger = logging.getLogger(__name__)

_OUTBOX = cast(Table, models.LinkOutbox.__table__)


def enqueue(session: Session, article_id: int, site_meta: Mapping[str, str] | None) -> None:
    """Queue a just-stored article for linking, in the transaction that stored it."""
    session.execute(
        _enqueue(session.connection().dialect.name),
        {"article_id": article_id, "site_meta": dict(site_meta or {}), "queued_at": utcnow()},
        execution_options={"synchronize_session": False},
    )


@cache
def _enqueue(dialect_name: str) -> Any:
    """The outbox upsert, built once per database (built per article, it cost more than it ran)."""
    insert = insert_for(dialect_name, _OUTBOX)
    return insert.on_conflict_do_update(
        index_elements=[_OUTBOX.c.article_id], set_={"site_meta": insert.excluded.site_meta}
    )


def drain(session: Session, linker: Linker, *, wait: bool) -> int | None:
    """Link every queued article, oldest first, holding the linking lock; the caller commits.

    Returns the number of reposts linked to an original, or None when ``wait``
    is False and another worker is linking (the caller ends its transaction: that
    worker, or this one's next drain, takes the queue). An article whose linking
    fails is logged and left in the queue for the next drain.
    """
    if not locks.lock_for_transaction(session.connection(), locks.LINKING, wait=wait):
        return None
    # Other workers wrote since this session last read: nothing it holds may be trusted.
    session.expire_all()
    linker.forget_caches()
    linker.registry.merge(session)
    linked = 0
    queue = session.execute(
        select(_OUTBOX.c.article_id, _OUTBOX.c.site_meta).order_by(
            _OUTBOX.c.queued_at, _OUTBOX.c.article_id
        )
    ).all()
    for article_id, site_meta in queue:
        row = session.get(models.ArticleRow, article_id)
        try:
            with session.begin_nested():
                if row is not None:
                    changes = linker.link(row, site_meta or None)
                    linked += sum(change.original_id is not None for change in changes)
                session.execute(delete(_OUTBOX).where(_OUTBOX.c.article_id == article_id))
        except SQLAlchemyError as error:
            logger.error("Could not link article %s (kept in the outbox): %s", article_id, error)
    linker.registry.save(session)
    return linked
