"""Incremental runs: article pages already stored are not requested again.

A stored article is *current* unless the run refreshes everything
(``GOVNEWS_REFRESH``) or it is still young enough to be edited: published in
the last ``GOVNEWS_REFRESH_WINDOW`` days and fetched more than
``GOVNEWS_REFRESH_AFTER`` hours ago. :class:`SkipKnownArticlesMiddleware`
drops the requests for current articles before they are scheduled, and
spiders ask :meth:`KnownArticles.is_new` to stop paging through a listing
after a page that brings nothing new. :class:`KnownArticles` is a Scrapy
extension (``EXTENSIONS``), not configured when ``GOVNEWS_INCREMENTAL`` is
off; both reach it with ``crawler.get_extension(KnownArticles)``. Pages that
failed last time are retried all the same (``RetryFailedPagesMiddleware``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.settings import BaseSettings
from sqlalchemy import select

from govnews.core.urls import site_of, url_key
from govnews.crawl.crawldb import CrawlDatabase, crawl_database
from govnews.store import models

#: Look-ups remembered per crawl (a URL is asked about by the listing and by the middleware).
_CACHE_SIZE = 100_000


@dataclass(frozen=True)
class RefreshPolicy:
    """When a stored article is fetched again."""

    #: Fetch every article again (``GOVNEWS_REFRESH``).
    everything: bool
    #: Articles published this recently may still be edited (``GOVNEWS_REFRESH_WINDOW``, days) …
    window: timedelta
    #: … and are fetched again once their copy is this old (``GOVNEWS_REFRESH_AFTER``, hours).
    after: timedelta

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

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("GOVNEWS_INCREMENTAL"):
            raise NotConfigured("GOVNEWS_INCREMENTAL is off: every URL is new")
        return cls(crawler, RefreshPolicy.from_settings(crawler.settings))

    def __init__(self, crawler: Crawler, policy: RefreshPolicy) -> None:
        self.crawler = crawler
        self.policy = policy
        self._current: dict[str, bool] = {}

    @cached_property
    def database(self) -> CrawlDatabase:
        """The crawl's database (an extension too: looked up once all are built)."""
        return crawl_database(self.crawler)

    def is_current(self, url: str) -> bool:
        """True when ``url`` leads to a stored article that this run need not fetch again."""
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
        known = crawler.get_extension(KnownArticles)
        if known is None:
            raise NotConfigured("no KnownArticles extension (GOVNEWS_INCREMENTAL is off)")
        self.crawler = crawler
        self.known = known

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
