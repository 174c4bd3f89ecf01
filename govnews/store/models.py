"""The govnews database schema (SQLAlchemy 2.x declarative)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from govnews.core.timezone import utcnow

URL_LENGTH = 2048


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC; read back aware, in UTC.

    Storing naive UTC works the same on every backend (SQLite keeps no time
    zone at all). Naive input is refused: its instant would be a guess.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored: add a tzinfo")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Mark a stored naive UTC datetime as UTC."""
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of every govnews table."""

    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class ArticleRow(Base):
    """One stored article, keyed by the normalised form of its final URL."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    url_key: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True, index=True)
    site: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    source_name: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    editor: Mapped[str | None] = mapped_column(Text)
    original_title: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)
    declared_original_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    declared_original_key: Mapped[str | None] = mapped_column(String(URL_LENGTH), index=True)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    images: Mapped[list[Any]]
    attachments: Mapped[list[Any]]
    provenance: Mapped[dict[str, Any]]
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    fetched_at: Mapped[datetime]
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the stored content last changed (the first save until it does).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArticleUrl(Base):
    """A URL an article was reached by: its final URL or one requested before a redirect."""

    __tablename__ = "article_urls"

    url_key: Mapped[str] = mapped_column(String(URL_LENGTH), primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )


class Repost(Base):
    """A repost and its original; ``original_id`` is NULL while it waits for it.

    ``method`` says how the original was found: ``declared_url`` (原文链接 or a
    linked 来源), ``title_date`` (the source agency's article of that title and
    date) or ``content`` (the same text); ``declared_url`` is NULL for the last two.
    """

    __tablename__ = "reposts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repost_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), unique=True
    )
    original_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    declared_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    declared_key: Mapped[str | None] = mapped_column(String(URL_LENGTH), index=True)
    method: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    linked_at: Mapped[datetime | None]


class RepostSource(Base):
    """Who an article says it comes from (来源), resolved to an agency's site when known.

    Reposts waiting for their original are found through this table when a
    government article arrives: by the site the source maps to and by date.
    """

    __tablename__ = "repost_sources"
    __table_args__ = (
        Index("ix_repost_sources_host_date", "agency_host", "published_at"),
        Index("ix_repost_sources_published_at", "published_at"),
    )

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    source_name: Mapped[str] = mapped_column(Text)
    agency_host: Mapped[str | None] = mapped_column(String(255))
    resolution: Mapped[str] = mapped_column(String(16))
    published_at: Mapped[datetime | None]


class LinkSuggestion(Base):
    """A candidate original scored below the linking threshold: kept, never used as a link."""

    __tablename__ = "link_suggestions"

    repost_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float)
    scores: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrawlRun(Base):
    """One run of one spider and what it did.

    ``status``: ``running`` while it lasts, then ``finished``, ``degraded`` or
    ``failed`` (:mod:`govnews.crawl.health`), or ``killed`` when its process ended
    without closing it (``kill -9``, a crash) and the next run found it still running.
    """

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spider: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(64), default="running")
    requests: Mapped[int] = mapped_column(default=0)
    items_new: Mapped[int] = mapped_column(default=0)
    items_updated: Mapped[int] = mapped_column(default=0)
    items_unchanged: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    links: Mapped[int] = mapped_column(default=0)
    finish_reason: Mapped[str | None] = mapped_column(Text)


class PageFailure(Base):
    """A page that could not be fetched or extracted; open while ``resolved_at`` is NULL."""

    __tablename__ = "page_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    url_key: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True, index=True)
    spider: Mapped[str] = mapped_column(String(64), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    # The spider method that failed on the page, so a retry handles it the same way.
    callback: Mapped[str | None] = mapped_column(String(64))
    first_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=1)
    resolved_at: Mapped[datetime | None]


class PagingWatermark(Base):
    """How far a spider last paged a site's listings in a run that finished.

    The run went on through every listing of the site until a page whose articles
    were all stored before (or to the listing's end), and no listing page of the
    site failed in it: every article stored when it finished (``articles.id`` up to
    ``last_article_id``) is followed, on its listings, only by articles stored as
    well. Articles stored after it, by a run that was killed while paging, prove
    nothing: the next run pages past them (``govnews/crawl/incremental.py``).
    """

    __tablename__ = "paging_watermarks"

    spider: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(255), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"))
    last_article_id: Mapped[int]


class LinkOutbox(Base):
    """An article stored but not linked yet: the linking queue of a shared database.

    With several writers (crawl workers on PostgreSQL) the article and its outbox
    row are stored in one transaction, and one linker at a time (an advisory lock)
    links the queue's articles after they are committed, so that a repost and its
    original stored at the same moment by two workers still meet
    (``govnews/link/outbox.py``). ``site_meta`` is what the page said about its site.
    """

    __tablename__ = "link_outbox"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    site_meta: Mapped[dict[str, Any]]
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
