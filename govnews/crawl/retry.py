"""Middlewares: re-requesting the pages an earlier run failed on; backing off before retries."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from govnews.core.urls import url_key
from govnews.crawl.crawldb import crawl_database
from govnews.crawl.outbound import POLICY, OutboundPolicy
from govnews.crawl.signals import page_failed


class RetryFailedPagesMiddleware:
    """Request again, after the start requests, every open failure of this spider.

    Enabled by ``GOVNEWS_RETRY_FAILURES``. An article page's failure is closed
    when its article is stored. Any other page's failure (a listing) is closed
    when the page is handled again without an item and without failing: its
    callback gave only requests. Until then it is retried on every run.

    A failure the outbound policy refused (stage ``policy``) is never requested again;
    nor is one whose URL the policy refuses now, which is recorded as refused instead
    (:mod:`govnews.crawl.outbound`).
    """

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("GOVNEWS_RETRY_FAILURES"):
            raise NotConfigured
        self.crawler = crawler
        self.database = crawl_database(crawler)
        self.policy = OutboundPolicy.from_settings(crawler.settings)
        #: URL keys of this spider's open failures, less those closed in this run.
        self.open: set[str] = set()
        #: URL keys that failed in this run (an errback also reaches the output hooks).
        self.failed: set[str] = set()
        crawler.signals.connect(self.page_failed, signal=page_failed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        spider = self.crawler.spider
        assert spider is not None, "start requests are asked for once the spider exists"
        self.database.start_run(spider.name)
        failures = self.database.repository.open_failures(spider.name)
        retries = [
            (failure.url, failure.callback)
            for failure in failures
            if not self._refused(spider, failure.url, failure.stage, failure.callback)
        ]
        self.open = {failure.url_key for failure in failures}
        async for item_or_request in start:
            yield item_or_request
        for url, callback in retries:
            yield self.retry_request(spider, url, callback)

    def _refused(self, spider: Spider, url: str, stage: str, callback: str | None) -> bool:
        """True for a failure not to request again: the outbound policy refused it, or does now."""
        if stage != POLICY:
            reason = self.policy.refusal(url)
            if reason is None:
                return False
            # Refused now: its record says why it is not requested again.
            self.crawler.signals.send_catch_log(
                page_failed, url=url, stage=POLICY, reason=reason, spider=spider, callback=callback
            )
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("govnews/policy_retries_skipped")
        return True

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        items = False
        for item_or_request in result:
            items = items or not isinstance(item_or_request, Request)
            yield item_or_request
        self._handled(response, items)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        items = False
        async for item_or_request in result:
            items = items or not isinstance(item_or_request, Request)
            yield item_or_request
        self._handled(response, items)

    def page_failed(self, url: str, **kwargs: Any) -> None:
        with contextlib.suppress(ValueError):
            self.failed.add(url_key(url))

    def _handled(self, response: Response, items: bool) -> None:
        """Close the open failure of a page that gave no item and did not fail this run."""
        if items:
            return  # an article: closed when it is stored, reopened if it is dropped
        keys = set()
        for url in [*response.meta.get("redirect_urls", []), response.url]:
            with contextlib.suppress(ValueError):
                keys.add(url_key(url))
        closing = (keys & self.open) - self.failed
        if not closing:
            return
        self.database.resolve_failures(closing)
        self.open -= closing
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("govnews/failures_resolved", len(closing))

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
