"""Export records: each stored article with the first original its chain of links leads to."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from govnews.core.timezone import SHANGHAI
from govnews.store.models import ArticleRow, Repost

#: The article's own fields; ``declared_*`` is what the page says of its original
#: (原文链接, 原标题).
ARTICLE_FIELDS = (
    "url",
    "site",
    "kind",
    "title",
    "published_at",
    "source_name",
    "author",
    "editor",
    "category",
    "declared_original_url",
    "declared_original_title",
    "body_text",
    "images",
    "attachments",
    "fetched_at",
    "first_seen_at",
    "updated_at",
)
#: The first original a repost resolves to, and how the repost itself is linked.
ORIGINAL_FIELDS = (
    "original_url",
    "original_site",
    "original_title",
    "original_published_at",
    "link_method",
    "link_confidence",
)
EXPORT_FIELDS = ARTICLE_FIELDS + ORIGINAL_FIELDS

_COLUMNS = (
    ArticleRow.id,
    ArticleRow.url,
    ArticleRow.site,
    ArticleRow.kind,
    ArticleRow.title,
    ArticleRow.published_at,
    ArticleRow.source_name,
    ArticleRow.author,
    ArticleRow.editor,
    ArticleRow.category,
    ArticleRow.declared_original_url,
    ArticleRow.original_title.label("declared_original_title"),
    ArticleRow.body_text,
    ArticleRow.images,
    ArticleRow.attachments,
    ArticleRow.fetched_at,
    ArticleRow.first_seen_at,
    ArticleRow.updated_at,
    Repost.original_id,
    Repost.method,
    Repost.confidence,
)


def export_records(
    session: Session,
    *,
    since: datetime | None = None,
    before: datetime | None = None,
    site: str | None = None,
    kind: str | None = None,
    reposts_only: bool = False,
    batch_size: int = 500,
) -> Iterator[dict[str, Any]]:
    """Stored articles as records of :data:`EXPORT_FIELDS`, oldest published first.

    ``since`` (inclusive) and ``before`` (exclusive) bound ``published_at``
    (articles without a date are left out when either is given); ``site`` and
    ``kind`` select the article's own; ``reposts_only`` keeps articles linked to
    an original. Rows are read ``batch_size`` at a time, each batch with a few
    more queries: one per step up the longest chain of links, one for the
    originals. Publication dates are given in Asia/Shanghai, the others in UTC.
    """
    linked = Repost.original_id.is_not(None)
    query = select(*_COLUMNS).outerjoin(Repost, (Repost.repost_id == ArticleRow.id) & linked)
    if since is not None:
        query = query.where(ArticleRow.published_at >= since)
    if before is not None:
        query = query.where(ArticleRow.published_at < before)
    if site is not None:
        query = query.where(ArticleRow.site == site)
    if kind is not None:
        query = query.where(ArticleRow.kind == kind)
    if reposts_only:
        query = query.where(linked)
    query = query.order_by(
        ArticleRow.published_at.is_(None), ArticleRow.published_at, ArticleRow.id
    )
    rows = session.execute(query.execution_options(yield_per=batch_size))
    for batch in rows.partitions():
        originals = _first_originals(session, batch)
        for row in batch:
            yield _record(row, originals.get(row.id))


def _first_originals(session: Session, batch: Sequence[Row[Any]]) -> dict[int, Any]:
    """The first original of every linked article of ``batch``, by the article's id."""
    up = {row.id: row.original_id for row in batch if row.original_id is not None}
    asked = set(up)
    while frontier := set(up.values()) - asked:
        asked |= frontier
        links = session.execute(
            select(Repost.repost_id, Repost.original_id).where(
                Repost.repost_id.in_(frontier), Repost.original_id.is_not(None)
            )
        )
        up.update((link.repost_id, link.original_id) for link in links)
    ends = {article_id: _end_of_chain(article_id, up) for article_id in {row.id for row in batch}}
    found = session.execute(
        select(
            ArticleRow.id,
            ArticleRow.url,
            ArticleRow.site,
            ArticleRow.title,
            ArticleRow.published_at,
        ).where(ArticleRow.id.in_({end for end in ends.values() if end is not None}))
    ).all()
    by_id = {original.id: original for original in found}
    return {article_id: by_id[end] for article_id, end in ends.items() if end in by_id}


def _end_of_chain(article_id: int, up: Mapping[int, int]) -> int | None:
    """The last article up the chain from ``article_id`` (as ``link.graph.chain``), or None."""
    seen = [article_id]
    while (next_id := up.get(seen[-1])) is not None and next_id not in seen:
        seen.append(next_id)
    return seen[-1] if len(seen) > 1 else None


def _record(row: Row[Any], original: Any) -> dict[str, Any]:
    record = {name: getattr(row, name) for name in ARTICLE_FIELDS}
    record["published_at"] = _shanghai(row.published_at)
    record.update(
        original_url=original.url if original else None,
        original_site=original.site if original else None,
        original_title=original.title if original else None,
        original_published_at=_shanghai(original.published_at) if original else None,
        link_method=row.method if original else None,
        link_confidence=row.confidence if original else None,
    )
    return record


def _shanghai(value: datetime | None) -> datetime | None:
    return value.astimezone(SHANGHAI) if value is not None else None
