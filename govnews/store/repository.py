"""Reads and writes of govnews data: articles, their URLs, failures and runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, cast, get_args

from sqlalchemy import ColumnElement, Table, bindparam, case, func, or_, select, update
from sqlalchemy import cast as cast_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from govnews import items
from govnews.core.timezone import utcnow
from govnews.core.urls import url_key
from govnews.store import locks, models
from govnews.store.upsert import insert_for

SaveStatus = Literal["new", "updated", "unchanged"]
FailureStage = Literal["download", "http", "extract", "validate", "store", "policy", "redirect"]

_STAGES = frozenset(get_args(FailureStage))
_RUN_COUNTS = frozenset(
    {"requests", "items_new", "items_updated", "items_unchanged", "failures", "links"}
)


@dataclass
class SaveResult:
    """The stored row of a saved article and what saving it did."""

    row: models.ArticleRow
    status: SaveStatus


class Repository:
    """All reads and writes of govnews data go through here (one Session, caller commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save_article(self, article: items.Article) -> SaveResult:
        """Insert or update ``article``, keyed by the URL key of its final URL.

        One ``INSERT … ON CONFLICT (url_key) DO UPDATE … RETURNING`` statement,
        so that two writers of one URL (two workers whose pages redirect to the
        same article) both succeed, the second updating the first's row. It is
        built once per database (see :func:`_article_upsert`). The
        status is ``updated`` when a field of the content differs (decided in
        SQL, by the ``updated_at`` the statement returns), else ``unchanged``:
        another spelling of the URL or another way of finding the same values
        (``provenance``) is stored but is no change. The final URL and every
        redirect URL are registered as the article's URLs (taken over from
        another article if need be), and open failures of those URLs are
        resolved. Flushes, never commits.
        """
        now = utcnow()
        stored = self.session.execute(
            _article_upsert(self.session.connection().dialect.name),
            {
                **_stored_values(article),
                "url_key": url_key(article.url),
                "first_seen_at": now,
                "updated_at": now,
                "fetched_at": article.fetched_at or now,
            },
            execution_options=_NO_SYNC,
        ).one()
        status: SaveStatus = "unchanged"
        if stored.first_seen_at == now:  # set on insert only
            status = "new"
        elif stored.updated_at == now:  # set when the content differed
            status = "updated"
        row = self.session.get(models.ArticleRow, stored.id, populate_existing=True)
        assert row is not None, f"article {stored.id} vanished after its upsert"
        urls = {url_key(url): url for url in [*article.redirect_urls, article.url]}
        self._register_urls(row, urls)
        self.resolve_failures(urls, now)
        return SaveResult(row=row, status=status)

    def record_failure(
        self, url: str, *, spider: str, stage: str, reason: str, callback: str | None = None
    ) -> None:
        """Record that ``url`` failed at ``stage``; a known URL's failure is bumped and reopened.

        One upsert: the attempt count is incremented in SQL, so that two writers
        recording the same URL lose neither count.
        """
        if stage not in _STAGES:
            raise ValueError(f"unknown failure stage {stage!r}; expected one of {sorted(_STAGES)}")
        now = utcnow()
        # The ORM entity, not its table: the statement then refreshes the session's object.
        insert = insert_for(self.session.connection().dialect, models.PageFailure)
        self.session.execute(
            insert.values(
                url=url,
                url_key=url_key(url),
                spider=spider,
                stage=stage,
                reason=reason,
                callback=callback,
                first_failed_at=now,
                last_failed_at=now,
                attempts=1,
            )
            .on_conflict_do_update(
                index_elements=[_FAILURES.c.url_key],
                set_={
                    **{
                        name: insert.excluded[name]
                        for name in ("url", "spider", "stage", "reason", "callback")
                    },
                    "last_failed_at": insert.excluded.last_failed_at,
                    "attempts": models.PageFailure.attempts + 1,  # in SQL: no update is lost
                    "resolved_at": None,
                },
            )
            .returning(models.PageFailure),
            execution_options={"populate_existing": True},
        ).scalar_one()  # loading the row refreshes the session's object of it, if any

    def resolve_failures(self, keys: Iterable[str], now: datetime | None = None) -> None:
        """Mark the open failures of these URL keys resolved (one UPDATE, no rows loaded)."""
        self.session.execute(
            _RESOLVE_FAILURES,
            {"keys": list(keys), "now": now or utcnow()},
            execution_options=_NO_SYNC,
        )

    def open_failures(self, spider: str | None = None) -> list[models.PageFailure]:
        """Unresolved failures of ``spider`` (of all spiders when None), oldest first."""
        query = select(models.PageFailure).where(models.PageFailure.resolved_at.is_(None))
        if spider is not None:
            query = query.where(models.PageFailure.spider == spider)
        order = (models.PageFailure.first_failed_at, models.PageFailure.id)
        return list(self.session.scalars(query.order_by(*order)))

    def unconfirmed_declarations(self, confirmed: str, spider: str) -> list[tuple[str, str]]:
        """(repost URL, declared URL) of reposts whose declared original a run of ``spider``
        may never have asked for: stored since its last run that finished (``finished`` or
        ``degraded``: one that asked for every declaration it stored), and still pending or
        linked by another ``method`` than ``confirmed``. A declaration whose page has an
        open failure is left out (that failure is retried)."""
        since = self.session.scalar(
            select(func.max(models.CrawlRun.finished_at)).where(
                models.CrawlRun.spider == spider,
                models.CrawlRun.status.in_(("finished", "degraded")),
            )
        )
        failing = select(models.PageFailure.url_key).where(models.PageFailure.resolved_at.is_(None))
        query = (
            select(models.ArticleRow.url, models.Repost.declared_url)
            .join(models.ArticleRow, models.ArticleRow.id == models.Repost.repost_id)
            .where(
                models.Repost.declared_url.is_not(None),
                or_(models.Repost.original_id.is_(None), models.Repost.method != confirmed),
                models.Repost.declared_key.not_in(failing),
            )
            .order_by(models.Repost.id)
        )
        if since is not None:
            query = query.where(models.Repost.created_at > since)
        return [(repost, declared) for repost, declared in self.session.execute(query) if declared]

    def start_run(self, spider: str) -> models.CrawlRun:
        """Record that a run of ``spider`` started now."""
        run = models.CrawlRun(spider=spider, started_at=utcnow(), status="running")
        self.session.add(run)
        self.session.flush()
        return run

    def finish_run(
        self,
        run: models.CrawlRun,
        *,
        status: str,
        finish_reason: str | None,
        counts: Mapping[str, int],
    ) -> None:
        """Record the end of ``run``; ``counts`` sets any of its counters (``requests`` …)."""
        unknown = set(counts) - _RUN_COUNTS
        if unknown:
            raise ValueError(
                f"unknown run counts {sorted(unknown)}; expected {sorted(_RUN_COUNTS)}"
            )
        for name, value in counts.items():
            setattr(run, name, value)
        run.status = status
        run.finish_reason = finish_reason
        run.finished_at = utcnow()
        self.session.flush()

    def close_dead_runs(self, current: models.CrawlRun) -> list[models.CrawlRun]:
        """Close as ``killed`` every run but ``current`` still marked ``running`` whose
        process has ended.

        On SQLite the caller holds the database's exclusive run lock: no other run
        is going on, so every such row belongs to a process that ended without
        closing it (``kill -9``, a crash, the machine going down). On PostgreSQL,
        where crawl workers run side by side, a live run's process holds its
        advisory lock (:func:`~govnews.store.locks.run_is_alive`): only runs whose
        lock is free are closed. Their counters stay as they were (nothing
        recorded them); their finish time is when they were found dead.
        """
        connection = self.session.connection()
        dead = [
            run
            for run in self.session.scalars(
                select(models.CrawlRun)
                .where(models.CrawlRun.status == "running", models.CrawlRun.id != current.id)
                .order_by(models.CrawlRun.id)
            )
            if not (locks.is_postgres(connection) and locks.run_is_alive(connection, run.id))
        ]
        now = utcnow()
        for run in dead:
            run.status = "killed"
            run.finished_at = now
            run.finish_reason = (
                f"killed: still running when run {current.id} started "
                "(its process ended without closing it)"
            )
        self.session.flush()
        return dead

    def paging_watermark(self, spider: str, site: str) -> int | None:
        """The highest article id stored when ``spider`` last finished paging ``site``."""
        return self.session.scalar(
            select(models.PagingWatermark.last_article_id).where(
                models.PagingWatermark.spider == spider, models.PagingWatermark.site == site
            )
        )

    def advance_paging_watermarks(self, run: models.CrawlRun, sites: Iterable[str]) -> None:
        """Record that ``run`` paged the listings of ``sites`` to their stopping point.

        Every article stored so far is then below the watermark of those sites;
        the caller does this only for a run that finished (see
        :class:`~govnews.store.models.PagingWatermark`).
        """
        last = self.session.scalar(select(func.max(models.ArticleRow.id))) or 0
        marks = [
            {"spider": run.spider, "site": site, "run_id": run.id, "last_article_id": last}
            for site in sorted(set(sites))
        ]
        if not marks:
            return
        insert = insert_for(self.session.connection().dialect, _WATERMARKS)
        self.session.execute(
            insert.values(marks).on_conflict_do_update(
                index_elements=[_WATERMARKS.c.spider, _WATERMARKS.c.site],
                set_={
                    "run_id": insert.excluded.run_id,
                    "last_article_id": insert.excluded.last_article_id,
                },
            ),
            execution_options=_NO_SYNC,
        )

    def article_by_url(self, url: str) -> models.ArticleRow | None:
        """The article reached by ``url`` (its final URL or a URL before a redirect)."""
        return self.session.scalars(
            select(models.ArticleRow)
            .join(models.ArticleUrl, models.ArticleUrl.article_id == models.ArticleRow.id)
            .where(models.ArticleUrl.url_key == url_key(url))
        ).one_or_none()

    def counts(self) -> dict[str, int]:
        """Totals for a run summary: articles (by kind), reposts linked/pending, open failures."""
        by_kind = dict(
            self.session.execute(
                select(models.ArticleRow.kind, func.count()).group_by(models.ArticleRow.kind)
            ).all()
        )
        linked = self._count(models.Repost, models.Repost.original_id.is_not(None))
        pending = self._count(models.Repost, models.Repost.original_id.is_(None))
        failures = self._count(models.PageFailure, models.PageFailure.resolved_at.is_(None))
        result = {"articles": sum(by_kind.values())}
        result |= {f"articles_{kind}": by_kind.get(kind, 0) for kind in get_args(items.Kind)}
        result |= {"reposts_linked": linked, "reposts_pending": pending, "failures_open": failures}
        return result

    def _count(self, model: type[models.Base], condition: ColumnElement[bool]) -> int:
        """Number of ``model`` rows meeting ``condition``."""
        return self.session.scalar(select(func.count()).select_from(model).where(condition)) or 0

    def _register_urls(self, row: models.ArticleRow, urls: Mapping[str, str]) -> None:
        """Point every key of ``urls`` (key → URL as seen) at ``row`` (one upsert)."""
        self.session.execute(
            _url_upsert(self.session.connection().dialect.name),
            [{"url_key": key, "url": url, "article_id": row.id} for key, url in urls.items()],
            execution_options=_NO_SYNC,
        )


_FAILURES = cast(Table, models.PageFailure.__table__)
_ARTICLES = cast(Table, models.ArticleRow.__table__)
_ARTICLE_URLS = cast(Table, models.ArticleUrl.__table__)
_WATERMARKS = cast(Table, models.PagingWatermark.__table__)
# A Core statement built once: the ORM's bulk UPDATE costs more than the query itself.
_RESOLVE_FAILURES = (
    update(_FAILURES)
    .where(
        _FAILURES.c.url_key.in_(bindparam("keys", expanding=True)),
        _FAILURES.c.resolved_at.is_(None),
    )
    .values(resolved_at=bindparam("now"))
)
_NO_SYNC = {"synchronize_session": False}

# Stored on every save but not a change of the article: how it was reached and read.
_NOT_CONTENT = frozenset({"url", "provenance"})
_JSON_CONTENT = ("images", "attachments")


# Set from the article on every save; the others are the key and the times.
_STORED = tuple(
    column.name
    for column in _ARTICLES.c
    if column.name not in {"id", "url_key", "first_seen_at", "updated_at", "fetched_at"}
)


@cache
def _article_upsert(dialect_name: str) -> Any:
    """The article upsert of :meth:`Repository.save_article`, built once per database.

    Built per call, the statement (18 columns, each compared) cost more CPU than
    executing it: the single-process SQLite crawl took 17.2 ms of CPU per page,
    against 15.1-15.7 with the select-then-insert it replaced; built once, 14.9-15.0
    (``python -m benchmarks.crawl.scaleout --workers 0 --database sqlite --latency 0``).
    """
    insert = insert_for(dialect_name, _ARTICLES)
    changed = _content_changed(insert, dialect_name)
    return insert.on_conflict_do_update(
        index_elements=[_ARTICLES.c.url_key],
        set_={
            **{name: insert.excluded[name] for name in _STORED},
            "fetched_at": insert.excluded.fetched_at,
            "updated_at": case((changed, insert.excluded.updated_at), else_=_ARTICLES.c.updated_at),
        },
    ).returning(_ARTICLES.c.id, _ARTICLES.c.first_seen_at, _ARTICLES.c.updated_at)


@cache
def _url_upsert(dialect_name: str) -> Any:
    """Point a URL key at an article, taking it over from another one (built once)."""
    insert = insert_for(dialect_name, _ARTICLE_URLS)
    return insert.on_conflict_do_update(
        index_elements=[_ARTICLE_URLS.c.url_key],
        set_={"url": insert.excluded.url, "article_id": insert.excluded.article_id},
    )


def _content_changed(insert: Any, dialect_name: str) -> ColumnElement[bool]:
    """SQL: the row the upsert met differs from the new values in a field of the content.

    JSON columns are compared as ``jsonb`` on PostgreSQL, whose ``json`` has no
    equality; on SQLite they are text, compared as such.
    """
    differences = []
    for name in _STORED:
        if name in _NOT_CONTENT:
            continue
        old: ColumnElement[Any] = _ARTICLES.c[name]
        new: ColumnElement[Any] = insert.excluded[name]
        if dialect_name == "postgresql" and name in _JSON_CONTENT:
            old, new = cast_(old, JSONB), cast_(new, JSONB)
        differences.append(old.is_distinct_from(new))
    return or_(*differences)


def _stored_values(article: items.Article) -> dict[str, Any]:
    """The article's values for the ``articles`` columns compared on re-save."""
    declared = article.declared_original_url
    return {
        "url": article.url,
        "site": article.site,
        "kind": article.kind,
        "title": article.title,
        "published_at": article.published_at,
        "source_name": article.source_name,
        "author": article.author,
        "editor": article.editor,
        "original_title": article.original_title,
        "category": article.category,
        "declared_original_url": declared,
        "declared_original_key": _declared_key(declared),
        "body_text": article.body_text,
        "body_html": article.body_html,
        "images": list(article.images),
        "attachments": [dict(attachment) for attachment in article.attachments],
        "provenance": dict(article.provenance),
        "fingerprint": article.fingerprint,
    }


def _declared_key(url: str | None) -> str | None:
    """Key of a declared original URL; None when absent or not an http(s) URL."""
    if not url:
        return None
    try:
        return url_key(url)
    except ValueError:
        return None
