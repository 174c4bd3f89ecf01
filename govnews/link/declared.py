"""Linking reposts to the originals they declare by URL (原文链接, 来源网址 …)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from govnews.core.timezone import utcnow
from govnews.store import models

METHOD = "declared_url"
CONFIDENCE = 1.0


def link_declared(session: Session, row: models.ArticleRow) -> list[models.Repost]:
    """Link ``row`` to the original it declares, and pending reposts to ``row``.

    Call it right after ``Repository.save_article`` for every stored article,
    in the same transaction. The declared URL is matched through
    ``article_urls``, so an original is found by its final URL and by any URL
    it was reached by before a redirect. A repost whose original is not stored
    yet stays pending (``original_id`` NULL) until the original is saved; the
    result is the same in either arrival order. A declaration of one of the
    row's own URLs is ignored, and a repost row whose declaration has gone is
    deleted. Returns the ``reposts`` rows created or changed (``[]`` when
    nothing changed); flushes, never commits.
    """
    now = utcnow()
    own_keys = set(
        session.scalars(
            select(models.ArticleUrl.url_key).where(models.ArticleUrl.article_id == row.id)
        )
    )
    changed: list[models.Repost] = []
    declared = _link_declaration(session, row, own_keys | {row.url_key}, now)
    if declared is not None:
        changed.append(declared)
    waiting = session.scalars(
        select(models.Repost).where(
            models.Repost.declared_key.in_(own_keys),
            models.Repost.repost_id != row.id,
            or_(models.Repost.original_id.is_distinct_from(row.id), models.Repost.method != METHOD),
        )
    )
    for repost in waiting:  # pending, or linked by content before the declaration was confirmed
        repost.original_id = row.id
        repost.method, repost.confidence = METHOD, CONFIDENCE
        repost.linked_at = now
        changed.append(repost)
    session.flush()
    return changed


def _link_declaration(
    session: Session, row: models.ArticleRow, own_keys: set[str], now: datetime
) -> models.Repost | None:
    """Make ``row``'s repost row match its declaration; return it if created or changed."""
    repost = session.scalars(
        select(models.Repost).where(models.Repost.repost_id == row.id)
    ).one_or_none()
    key = row.declared_original_key
    if key is None or key in own_keys:
        if repost is not None and repost.method == METHOD:
            session.delete(repost)  # the declaration is gone; a link found by content stays
        return None
    original_id = session.scalar(
        select(models.ArticleUrl.article_id).where(models.ArticleUrl.url_key == key)
    )
    declared_url = row.declared_original_url or ""
    if repost is None:
        repost = models.Repost(
            repost_id=row.id,
            declared_url=declared_url,
            declared_key=key,
            method=METHOD,
            confidence=CONFIDENCE,
            created_at=now,
            original_id=original_id,
            linked_at=now if original_id is not None else None,
        )
        session.add(repost)
        return repost
    if (repost.declared_url, repost.declared_key, repost.original_id, repost.method) == (
        declared_url,
        key,
        original_id,
        METHOD,
    ):
        return None
    repost.declared_url = declared_url
    repost.declared_key = key
    repost.method, repost.confidence = METHOD, CONFIDENCE
    if repost.original_id != original_id:
        repost.original_id = original_id
        repost.linked_at = now if original_id is not None else None
    return repost
