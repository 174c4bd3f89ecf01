"""Spider middleware that re-requests the pages an earlier run failed on."""

from __future__ import annotations

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
