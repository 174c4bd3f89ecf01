"""Incremental runs: article pages already stored are not requested again.

A stored article is *current* unless the run refreshes everything
(``GOVNEWS_REFRESH``) or it is still young enough to be edited: published in
the last ``GOVNEWS_REFRESH_WINDOW`` days and fetched more than
``GOVNEWS_REFRESH_AFTER`` hours ago. :class:`SkipKnownArticlesMiddleware`
drops the requests for current articles before they are scheduled, and
spiders ask :meth:`KnownArticles.is_new` to stop paging through a listing
after a page that brings nothing new. Pages that failed last time are retried
all the same (``RetryFailedPagesMiddleware``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.settings import BaseSettings
from sqlalchemy import select

from govnews.core.urls import site_of, url_key
from govnews.crawl.crawldb import CrawlDatabase
from govnews.store import models

_BY_CRAWLER: WeakKeyDictionary[Crawler, KnownArticles] = WeakKeyDictionary()
#: Look-ups remembered per crawl (a URL is asked about by the listing and by the middleware).
_CACHE_SIZE = 100_000


@dataclass(frozen=True)
class RefreshPolicy:
    """When a stored article is fetched again."""

    #: Fetch every article again (``GOVNEWS_REFRESH``).
    everything: bool = False
    #: Articles published this recently may still be edited (``GOVNEWS_REFRESH_WINDOW``, days) …
    window: timedelta = timedelta(days=3)
    #: … and are fetched again once their copy is this old (``GOVNEWS_REFRESH_AFTER``, hours).
    after: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RefreshPolicy:
        return cls(
            everything=settings.getbool("GOVNEWS_REFRESH"),
            window=timedelta(days=settings.getfloat("GOVNEWS_REFRESH_WINDOW")),
            after=timedelta(hours=settings.getfloat("GOVNEWS_REFRESH_AFTER")),
        )

    def is_current(
        self, published: datetime | None, fetched: datetime, now: datetime | None = None
    ) -> bool:
        """True when a stored copy fetched at ``fetched`` need not be fetched again."""
        if self.everything:
            return False
        now = now or datetime.now(UTC)
        young = published is None or published >= now - self.window
        return not (young and fetched <= now - self.after)


class KnownArticles:
    """Which URLs lead to stored, current articles, asked of the crawl's database."""

    def __init__(self, crawler: Crawler) -> None:
        enabled = crawler.settings.getbool("GOVNEWS_INCREMENTAL")
        #: None when the run is not incremental: then every URL is new.
        self.database = CrawlDatabase.of(crawler) if enabled else None
        self.policy = RefreshPolicy.from_settings(crawler.settings)
        self._current: dict[str, bool] = {}

    @classmethod
    def of(cls, crawler: Crawler) -> KnownArticles:
        """The one KnownArticles of ``crawler``."""
        if crawler not in _BY_CRAWLER:
            _BY_CRAWLER[crawler] = cls(crawler)
        return _BY_CRAWLER[crawler]

    def is_current(self, url: str) -> bool:
        """True when ``url`` leads to a stored article that this run need not fetch again."""
        if self.database is None:
            return False
        try:
            key = url_key(url)
        except ValueError:
            return False
        if key not in self._current:
            if len(self._current) >= _CACHE_SIZE:
                self._current.clear()
            self._current[key] = self._look_up(key)
        return self._current[key]

    def is_new(self, url: str) -> bool:
        """True when ``url`` is worth requesting: not a stored article, or one due a refresh."""
        return not self.is_current(url)

    def any_new(self, urls: Iterable[str]) -> bool:
        """True when one of ``urls`` is new (a listing page that is worth its next page)."""
        return any(self.is_new(url) for url in urls)

    def _look_up(self, key: str) -> bool:
        assert self.database is not None
        session = self.database.repository.session
        row = session.execute(
            select(models.ArticleRow.published_at, models.ArticleRow.fetched_at)
            .join(models.ArticleUrl, models.ArticleUrl.article_id == models.ArticleRow.id)
            .where(models.ArticleUrl.url_key == key)
        ).first()
        return row is not None and self.policy.is_current(row.published_at, row.fetched_at)


class SkipKnownArticlesMiddleware:
    """Spider middleware: drop requests for stored, current articles (``GOVNEWS_INCREMENTAL``).

    Retries of failed pages (``meta["govnews_retry"]``) and requests marked
    ``meta["govnews_refresh"]`` always go through. Counts the skipped requests
    in the ``govnews/skipped_known`` stat and, per site, ``govnews/skipped_known/<host>``.
    """

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("GOVNEWS_INCREMENTAL"):
            raise NotConfigured
        self.crawler = crawler
        self.known = KnownArticles.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        for item_or_request in result:
            if not (isinstance(item_or_request, Request) and self._skip(item_or_request)):
                yield item_or_request

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for item_or_request in result:
            if not (isinstance(item_or_request, Request) and self._skip(item_or_request)):
                yield item_or_request

    def _skip(self, request: Request) -> bool:
        meta = request.meta
        if meta.get("govnews_retry") or meta.get("govnews_refresh"):
            return False
        if not self.known.is_current(request.url):
            return False
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("govnews/skipped_known")
            self.crawler.stats.inc_value(f"govnews/skipped_known/{site_of(request.url)}")
        return True
