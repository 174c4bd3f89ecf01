"""Incremental runs: article pages already stored are not requested again.

A stored article is *current* unless the run refreshes everything
(``GOVNEWS_REFRESH``) or it is still young enough to be edited: published in
the last ``GOVNEWS_REFRESH_WINDOW`` days and fetched more than
``GOVNEWS_REFRESH_AFTER`` hours ago. :class:`SkipKnownArticlesMiddleware`
drops the requests for current articles before they are scheduled.

Every spider pages a listing through one rule, :meth:`KnownArticles.any_new`:
the next page is requested while a page lists something new. Stopping at the
first page with nothing new is only safe when the stored articles below it were
stored by a run that paged on past them and finished; a run killed (``kill -9``)
after storing pages 1 and 2 of a listing never asked for page 3. So an article
counts as known to the paging only when it was stored by the time a run of the
same spider last finished paging its site: its ``articles.id`` is at most the
site's watermark (``paging_watermarks``, written by
:class:`~govnews.crawl.crawldb.CrawlDatabase` when a run finishes). Articles
stored since, by a run that did not finish, are paged past like new ones, until
a page of articles stored before the watermark, or the listing's end. After a
finished run every stored article is below the watermark: the next run stops as
early as ever.

:class:`KnownArticles` is a Scrapy extension (``EXTENSIONS``), not configured
when ``GOVNEWS_INCREMENTAL`` is off (every URL is new, every listing paged to
its end); the middleware and the spiders reach it with
``crawler.get_extension(KnownArticles)``. Pages that failed last time are
retried all the same (``RetryFailedPagesMiddleware``).
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


@dataclass(frozen=True)
class Stored:
    """What the database says of one URL, for this run."""

    #: A stored article this run need not fetch again (see :class:`RefreshPolicy`).
    current: bool
    #: Stored by the time a run of this spider last finished paging its site.
    settled: bool


#: A URL of no stored article.
UNKNOWN = Stored(current=False, settled=False)


class KnownArticles:
    """Which URLs lead to stored, current articles, and whether the paging may stop at them."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("GOVNEWS_INCREMENTAL"):
            raise NotConfigured("GOVNEWS_INCREMENTAL is off: every URL is new")
        return cls(crawler, RefreshPolicy.from_settings(crawler.settings))

    def __init__(self, crawler: Crawler, policy: RefreshPolicy) -> None:
        self.crawler = crawler
        self.policy = policy
        self._stored: dict[str, Stored] = {}
        #: Per site, the paging watermark of this spider (None: never paged to the end).
        self._watermarks: dict[str, int | None] = {}

    @cached_property
    def database(self) -> CrawlDatabase:
        """The crawl's database (an extension too: looked up once all are built)."""
        return crawl_database(self.crawler)

    def is_current(self, url: str) -> bool:
        """True when ``url`` leads to a stored article that this run need not fetch again."""
        return self.stored(url).current

    def is_new(self, url: str) -> bool:
        """True when ``url`` is worth requesting: not a stored article, or one due a refresh."""
        return not self.is_current(url)

    def any_new(self, urls: Iterable[str]) -> bool:
        """True when a listing page that lists ``urls`` is worth its next page.

        One of them is new (:meth:`is_new`), or was stored after the last run of
        this spider that finished paging its site: a run that stopped on the way,
        which may not have reached the pages after this one. Such pages are counted
        in the ``govnews/paged_past_unfinished`` stat.
        """
        found = [self.stored(url) for url in urls]
        if any(not s.current for s in found):
            return True
        if any(not s.settled for s in found):
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("govnews/paged_past_unfinished")
            return True
        return False

    def stored(self, url: str) -> Stored:
        """What the database says of ``url`` (looked up once per run)."""
        try:
            key = url_key(url)
        except ValueError:
            return UNKNOWN
        if key not in self._stored:
            if len(self._stored) >= _CACHE_SIZE:
                self._stored.clear()
            self._stored[key] = self._look_up(key)
        return self._stored[key]

    def _look_up(self, key: str) -> Stored:
        session = self.database.repository.session
        row = session.execute(
            select(
                models.ArticleRow.id,
                models.ArticleRow.site,
                models.ArticleRow.published_at,
                models.ArticleRow.fetched_at,
            )
            .join(models.ArticleUrl, models.ArticleUrl.article_id == models.ArticleRow.id)
            .where(models.ArticleUrl.url_key == key)
        ).first()
        if row is None:
            return UNKNOWN
        watermark = self._watermark(row.site)
        return Stored(
            current=self.policy.is_current(row.published_at, row.fetched_at),
            settled=watermark is not None and row.id <= watermark,
        )

    def _watermark(self, site: str) -> int | None:
        """The site's paging watermark for this spider, as it was when the run asked first."""
        if site not in self._watermarks:
            spider = self.crawler.spidercls.name
            self._watermarks[site] = self.database.repository.paging_watermark(spider, site)
        return self._watermarks[site]


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
