"""What every govnews spider shares: extraction of article responses and recorded failures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.url import url_is_from_any_domain
from twisted.python.failure import Failure

from govnews.core.urls import clean_url
from govnews.crawl.crawldb import CrawlDatabase
from govnews.crawl.extraction_pool import ExtractionPool
from govnews.crawl.incremental import KnownArticles
from govnews.crawl.signals import page_failed
from govnews.extract import ExtractionError, NotAnArticle, extract_article, kind_of
from govnews.extract.challenge import status_reason
from govnews.items import Article, Kind
from govnews.link.declared import METHOD as DECLARED

#: Callbacks of pages that hold one article and lead to no listing page.
ARTICLE_CALLBACKS = frozenset({"parse_article", "parse_original"})
#: The priority of every other page (home, listings, their next pages): before every
#: article queued. A column's pages come one after another, so they are the crawl's
#: critical path; behind the articles queued by later list pages each waited its turn
#: (4 workers at 1 s latency: a column's last page answered 28.6 s after the start,
#: 15.2 s with this; benchmarks/README.md, Scale-out).
LIST_PRIORITY = 1


class GovnewsSpider(Spider):
    """A spider that turns article pages into :class:`Article` items and reports every failure.

    A repost that declares its original on a government site (原文链接, or a linked
    来源) makes the spider fetch that original too, as a ``gov`` article, unless
    ``-a follow_originals=false`` leaves declared originals to the government spiders.
    """

    def __init__(self, follow_originals: str | bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.follow_originals = str(follow_originals).lower() not in ("0", "false", "no")

    async def start(self) -> AsyncIterator[Request]:
        """The start URLs, with failures recorded like every other request; then the
        declared originals of this spider's stored reposts that are still unconfirmed."""
        for url in self.start_urls:
            yield self.request(url, self.parse)
        for url in self.unconfirmed_originals():
            for request in self.request_original(url):
                yield request

    def unconfirmed_originals(self) -> list[str]:
        """The government originals that reposts stored since this spider's last finished
        run declare and no stored article answers to: a run killed between a repost and
        its original would otherwise never fetch it, as the stored repost is not read again."""
        database = self.crawler.get_extension(CrawlDatabase)
        if not self.follow_originals or database is None:
            return []
        domains = list(getattr(self, "allowed_domains", None) or [])
        found = database.repository.unconfirmed_declarations(DECLARED, self.name)
        return list(
            dict.fromkeys(
                declared
                for repost, declared in found
                if kind_of(declared) == "gov" and url_is_from_any_domain(repost, domains)
            )
        )

    def record_failure(
        self, url: str, stage: str, reason: str, request: Request | None = None
    ) -> None:
        """Report a page that gave no article, so it is stored and retried on the next run.

        Not retried: a request the outbound policy refused (stage ``policy``).
        """
        self.logger.warning("Failed %s (%s): %s", url, stage, reason)
        callback = getattr(request.callback, "__name__", None) if request else None
        self.crawler.signals.send_catch_log(
            page_failed,
            url=url,
            stage=stage,
            reason=reason,
            spider=self,
            callback=callback,
            listing=self.leads_to_listings(url, callback),
        )

    def leads_to_listings(self, url: str, callback: str | None) -> bool:
        """Could this failed page have led to listing pages (a listing, a home page)?

        A run in which one did has not paged its site to the end: it leaves the
        site's paging watermark where it was (:mod:`govnews.crawl.incremental`).
        Pages handled by an article callback cannot.
        """
        return callback not in ARTICLE_CALLBACKS

    @cached_property
    def known(self) -> KnownArticles | None:
        """The crawl's stored articles; None when the run is not incremental."""
        return self.crawler.get_extension(KnownArticles)

    def is_new(self, url: str) -> bool:
        """False when ``url`` leads to a stored article this run need not fetch again."""
        return self.known is None or self.known.is_new(url)

    def any_new(self, urls: Iterable[str]) -> bool:
        """True when a listing page's article links bring something new: worth its next page.

        Every spider's paging asks this, and only this: the stop-paging rule is
        :meth:`KnownArticles.any_new <govnews.crawl.incremental.KnownArticles.any_new>`.
        """
        return self.known is None or self.known.any_new(urls)

    def request(self, url: str, callback: Any, **kwargs: Any) -> Request:
        """A request whose download and HTTP errors are recorded as failures; a page that
        leads to listings goes before the articles (:data:`LIST_PRIORITY`)."""
        if getattr(callback, "__name__", None) not in ARTICLE_CALLBACKS:
            kwargs.setdefault("priority", LIST_PRIORITY)
        return Request(url, callback=callback, errback=self.on_error, **kwargs)

    def on_error(self, failure: Failure) -> None:
        """Errback: record a request that ended in an HTTP error or a download error.

        An exception with a ``stage`` (the outbound policy's refusal: ``policy``) names its own.
        """
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(HttpError):
            status = failure.value.response.status
            reason = status_reason(status) or f"HTTP {status}"
            self.record_failure(request.url, "http", reason, request)
        else:
            reason = failure.getErrorMessage() or repr(failure.value)
            stage = getattr(failure.value, "stage", "download")
            self.record_failure(request.url, stage, reason, request)

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

    async def parse_article(
        self, response: Response, **hints: Any
    ) -> AsyncIterator[Article | Request]:
        """Callback for a page that should be an article."""
        article = await self.extract(response, **hints)
        if article is not None:
            yield article

    def originals_of(self, article: Article) -> Iterator[Request]:
        """The request for the government original a repost declares, if it declares one."""
        original = article.declared_original_url
        if (
            self.follow_originals
            and article.kind != "gov"
            and original
            and kind_of(original) == "gov"
        ):
            yield from self.request_original(original)

    def request_original(self, url: str) -> Iterator[Request]:
        """A request for a declared government original (any host, however it was spelled)."""
        try:
            cleaned = clean_url(url)
        except ValueError as exc:
            self.logger.warning("Declared original %r cannot be requested: %s", url, exc)
            return
        # Not filtered as a duplicate: when the declared URL redirects to a page this run
        # fetched already, fetching it again records the declared URL as that article's,
        # so that the repost links by its declaration, not by its content.
        yield self.request(
            cleaned, self.parse_original, meta={"allow_offsite": True}, dont_filter=True
        )

    async def parse_original(self, response: Response) -> AsyncIterator[Article | Request]:
        """The government original a repost declared; an article is expected there."""
        async for article in self.parse_article(response, kind="gov"):
            yield article
