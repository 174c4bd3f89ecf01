"""The repost graph: a repost points at what it copied, which may itself be a repost."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govnews.store import models


def original_of(session: Session, article_id: int) -> int | None:
    """The article ``article_id`` is linked to, or None."""
    return session.scalar(
        select(models.Repost.original_id).where(models.Repost.repost_id == article_id)
    )


def chain(session: Session, article_id: int) -> list[int]:
    """``article_id`` and every article up its chain of links, first original last."""
    seen = [article_id]
    while (up := original_of(session, seen[-1])) is not None and up not in seen:
        seen.append(up)
    return seen


def first_original(session: Session, article_id: int) -> models.ArticleRow | None:
    """The original at the end of the chain of a linked repost; None when it is not linked."""
    ids = chain(session, article_id)
    return session.get(models.ArticleRow, ids[-1]) if len(ids) > 1 else None
