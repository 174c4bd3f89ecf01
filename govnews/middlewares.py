"""Middlewares: re-requesting the pages an earlier run failed on; backing off before retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from govnews.crawldb import CrawlDatabase


class RetryFailedPagesMiddleware:
    """After the start requests, request again every open failure of this spider.

    Enabled by ``GOVNEWS_RETRY_FAILURES``. A failure is closed when its page is
    later stored; until then it is retried on every run.
    """

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("GOVNEWS_RETRY_FAILURES"):
            raise NotConfigured
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item_or_request in start:
            yield item_or_request
        spider = self.crawler.spider
        assert spider is not None, "start requests are asked for once the spider exists"
        database = CrawlDatabase.of(self.crawler)
        database.start_run(spider.name)
        for failure in database.repository.open_failures(spider.name):
            yield self.retry_request(spider, failure.url, failure.callback)

    @staticmethod
    def retry_request(spider: Spider, url: str, callback: str | None) -> Request:
        """A request for ``url`` handled by the spider method that failed on it."""
        method = getattr(spider, callback or "parse", None) or spider.parse
        return Request(
            url,
            callback=method,
            errback=getattr(spider, "on_error", None),
            meta={"govnews_retry": True, "allow_offsite": True},
        )


class RetryBackoffMiddleware:
    """Downloader middleware: wait before each retry, twice as long as before the last one.

    Scrapy's ``RetryMiddleware`` re-requests a page after a 5xx or a timeout at
    once; a struggling government server is better left alone a moment. The
    n-th retry waits ``GOVNEWS_RETRY_BACKOFF * 2**(n-1)`` seconds, at most
    ``GOVNEWS_RETRY_BACKOFF_MAX``. Disabled by ``GOVNEWS_RETRY_BACKOFF = 0``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.base = crawler.settings.getfloat("GOVNEWS_RETRY_BACKOFF")
        self.longest = crawler.settings.getfloat("GOVNEWS_RETRY_BACKOFF_MAX")
        if self.base <= 0:
            raise NotConfigured
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def delay(self, retries: int) -> float:
        """Seconds to wait before retry number ``retries`` (0: not a retry)."""
        if retries <= 0:
            return 0.0
        return float(min(self.longest, self.base * 2 ** (retries - 1)))

    async def process_request(self, request: Request) -> None:
        wait = self.delay(int(request.meta.get("retry_times", 0)))
        if wait:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("govnews/retry_backoff_waits")
            await asyncio.sleep(wait)
