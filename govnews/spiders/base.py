"""What every govnews spider shares: extraction of article responses and recorded failures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from govnews.crawl.extraction_pool import ExtractionPool
from govnews.crawl.incremental import KnownArticles
from govnews.crawl.signals import page_failed
from govnews.extract import ExtractionError, NotAnArticle, extract_article
from govnews.extract.challenge import status_reason
from govnews.items import Article, Kind


class GovnewsSpider(Spider):
    """A spider that turns article pages into :class:`Article` items and reports every failure."""

    async def start(self) -> AsyncIterator[Request]:
        """The start URLs, with failures recorded like every other request."""
        for url in self.start_urls:
            yield self.request(url, self.parse)

    def record_failure(
        self, url: str, stage: str, reason: str, request: Request | None = None
    ) -> None:
        """Report a page that gave no article, so it is stored and retried on the next run."""
        self.logger.warning("Failed %s (%s): %s", url, stage, reason)
        callback = getattr(request.callback, "__name__", None) if request else None
        self.crawler.signals.send_catch_log(
            page_failed, url=url, stage=stage, reason=reason, spider=self, callback=callback
        )

    @cached_property
    def known(self) -> KnownArticles | None:
        """The crawl's stored articles; None when the run is not incremental."""
        return self.crawler.get_extension(KnownArticles)

    def is_new(self, url: str) -> bool:
        """False when ``url`` leads to a stored article this run need not fetch again."""
        return self.known is None or self.known.is_new(url)

    def any_new(self, urls: Iterable[str]) -> bool:
        """True when a listing page's article links bring something new: worth its next page."""
        return self.known is None or self.known.any_new(urls)

    def request(self, url: str, callback: Any, **kwargs: Any) -> Request:
        """A request whose download and HTTP errors are recorded as failures."""
        return Request(url, callback=callback, errback=self.on_error, **kwargs)

    def on_error(self, failure: Failure) -> None:
        """Errback: record a request that ended in an HTTP error or a download error."""
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(HttpError):
            status = failure.value.response.status
            reason = status_reason(status) or f"HTTP {status}"
            self.record_failure(request.url, "http", reason, request)
        else:
            reason = failure.getErrorMessage() or repr(failure.value)
            self.record_failure(request.url, "download", reason, request)

    async def extract(
        self, response: Response, *, kind: Kind | None = None, expected: bool = True, **hints: Any
    ) -> Article | None:
        """The article on ``response``, or None (recorded as a failure when ``expected``).

        A page that is simply not an article (a listing) is only a failure when the
        spider expected an article there. Extraction runs in a worker process when
        ``GOVNEWS_EXTRACT_WORKERS`` is above 0 (:mod:`govnews.crawl.extraction_pool`), else here.
        """
        if not isinstance(response, TextResponse):
            if expected:
                self.record_failure(response.url, "extract", "not an HTML page", response.request)
            return None
        content_type = response.headers.get("Content-Type") or b""
        options = {
            "headers": {"Content-Type": content_type.decode("latin-1")},
            "kind": kind,
            "fetched_at": datetime.now(UTC),
            **hints,
        }
        workers = self.crawler.get_extension(ExtractionPool)
        try:
            if workers is None:
                article = extract_article(response.body, response.url, **options)
            else:
                article = await workers.extract(response.body, response.url, **options)
        except NotAnArticle as exc:
            if expected:
                self.record_failure(response.url, exc.stage, exc.reason, response.request)
            return None
        except ExtractionError as exc:
            self.record_failure(response.url, exc.stage, exc.reason, response.request)
            return None
        except Exception as exc:  # a bug: logged with its traceback, the page kept as failed
            self.logger.exception("Extraction of %s raised", response.url)
            reason = f"{type(exc).__name__}: {exc}"
            self.record_failure(response.url, "extract", reason, response.request)
            return None
        if article.published_at is None:  # a page without a date is no news article
            if expected:
                reason = "no publication date found"
                self.record_failure(response.url, "extract", reason, response.request)
            return None
        article.redirect_urls = list(response.meta.get("redirect_urls", []))
        return article

    async def parse_article(self, response: Response, **hints: Any) -> AsyncIterator[Article]:
        """Callback for a page that should be an article."""
        article = await self.extract(response, **hints)
        if article is not None:
            yield article
