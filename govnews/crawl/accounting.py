"""Every page a crawl requests is accounted for: stored, failed, skipped or a listing.

Scrapy drops some requests without an errback, so without a word in the database:
its duplicate filter drops a redirect back to a URL the page already went through
(a loop A → B → A), or to a page requested before; its offsite filter drops a request
or a redirect to a host outside the spider's ``allowed_domains``. :class:`PageAccounting`,
an extension connected to Scrapy's signals, follows every page the spider asks for,
through its redirects and retries, to how it ended:

``stored``
    an article of it was stored (``item_scraped``);
``failed``
    a failure was recorded for a URL it went through (``page_failed``, ``item_dropped``),
    or it ended in an error its errback recorded under another URL (a download error or
    an HTTP error status: the sites spider records a window's failure on its column);
``skipped``
    dropped by the offsite filter (``offsite``), or by the duplicate filter because
    another page had gone to its URL (``duplicate``: that page's own end accounts for it);
``listings``
    answered (2xx) and handed to its callback, which gave no article and no failure.

What Scrapy would lose is recorded here: a redirect loop is a failure of stage
``redirect`` (so is a chain longer than ``REDIRECT_MAX_TIMES``:
:class:`RedirectLimitMiddleware`), an exception in a callback one of stage ``extract``
(as one in extraction is), in a pipeline one of stage ``store``;
``RetryFailedPagesMiddleware`` requests them again on the next run. Offsite drops are
skips, never failures: the spider's own ``allowed_domains`` refuses them, and a failure
would be retried with ``allow_offsite``.

A page is one request fingerprint (a POST's body is part of it) that the spider handed
to the scheduler. Requests the spider middlewares drop before that are not requested:
stored articles (``SkipKnownArticlesMiddleware``, counted in ``govnews/skipped_known``)
and links beyond ``DEPTH_LIMIT``. At close the stats ``govnews/pages/requested``,
``…/stored``, ``…/failed``, ``…/skipped`` (and ``…/skipped/<reason>``) and
``…/listings`` say how they ended; a page that ended in none of these ways is counted
in ``govnews/pages/unaccounted``, logged as a warning and makes the run ``degraded``
(:mod:`govnews.crawl.health`).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.python.failure import Failure

from govnews.core.urls import site_of, url_key
from govnews.crawl.health import PageCounts
from govnews.crawl.signals import page_failed

logger = logging.getLogger(__name__)

#: The stage of a page whose redirects never end (a loop, or too many).
REDIRECT = "redirect"
#: The meta key that ties a request (and its redirects and retries) to its page.
PAGE = "govnews_page"
#: How many unaccounted pages the warning names.
_NAMED = 5


class TooManyRedirects(IgnoreRequest):
    """A page redirected more than ``REDIRECT_MAX_TIMES`` times: a failure of stage ``redirect``."""

    stage = REDIRECT


class RedirectLimitMiddleware(RedirectMiddleware):
    """Scrapy's ``RedirectMiddleware``, whose giving up names the chain and the stage.

    In ``DOWNLOADER_MIDDLEWARES`` in place of Scrapy's (600). The spiders' errbacks record
    the failure with the exception's ``stage``: ``redirect``, not ``download``.
    """

    def process_response(  # type: ignore[override]  # Scrapy passes no spider any more
        self, request: Request, response: Response
    ) -> Request | Response:
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            first = [*request.meta.get("redirect_urls", []), request.url][0]
            raise TooManyRedirects(
                f"more than {self.max_redirect_times} redirects from {first} ({exc})"
            ) from exc


@dataclass(eq=False)
class Page:
    """One page the spider asked for, and what became of it so far."""

    url: str
    site: str
    #: The HTTP status of its last request's response (None: no response yet) …
    status: int | None = None
    #: … and whether that request left the downloader (a download error, when no response).
    left: bool = False
    stored: bool = False
    failed: bool = False
    #: Why it was dropped without a failure: ``offsite`` or ``duplicate``.
    skipped: str | None = None
    #: Handed to the shared frontier: the worker that downloads it counts it, not this one.
    handed: bool = False

    def hop(self) -> None:
        """A new request of the page (a redirect, a retry): its end is that request's."""
        self.status, self.left = None, False

    @property
    def outcome(self) -> str | None:
        """``stored``, ``failed``, ``skipped``, ``listings``, or None: it did not end."""
        if self.failed:
            return "failed"
        if self.stored:
            return "stored"
        if self.skipped:
            return "skipped"
        if self.status is not None:
            return "listings" if 200 <= self.status < 300 else "failed"  # errback: HttpError
        return "failed" if self.left else None  # errback: the download's exception


class PageAccounting:
    """Extension: follows every requested page to its end; counts them at close."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.pages: list[Page] = []
        #: The page whose first request had this fingerprint.
        self.first: dict[bytes, Page] = {}
        #: The page whose request first had this fingerprint (the one the duplicate filter saw).
        self.owner: dict[bytes, Page] = {}
        #: The pages that went through each URL key (once per request), for failures by URL.
        self.through: defaultdict[str, list[Page]] = defaultdict(list)
        connections = {
            signals.request_scheduled: self.request_scheduled,
            signals.request_dropped: self.request_dropped,
            signals.request_left_downloader: self.request_left_downloader,
            signals.response_received: self.response_received,
            signals.item_scraped: self.item_scraped,
            signals.item_dropped: self.item_dropped,
            signals.item_error: self.item_error,
            signals.spider_error: self.spider_error,
            signals.spider_closed: self.spider_closed,
            page_failed: self.page_failed,
        }
        for signal, handler in connections.items():
            crawler.signals.connect(handler, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    # --- requests ------------------------------------------------------------------------

    def request_scheduled(self, request: Request, spider: Spider) -> None:
        """A new page, or a redirect or retry of one (its meta carries the page)."""
        fingerprint = self.crawler.request_fingerprinter.fingerprint(request)
        number = request.meta.get(PAGE)
        if number is None:
            if fingerprint in self.first:
                return  # asked for again: the duplicate filter drops it, the first goes on
            page = Page(request.url, _site(request.url))
            self.first[fingerprint] = page
            request.meta[PAGE] = len(self.pages)
            self.pages.append(page)
        else:
            page = self.pages[number]
            page.hop()
        if self.is_offsite(request, spider):
            page.skipped = "offsite"
            host = urlparse_cached(request).hostname
            logger.info("Skipped %s: %s is offsite%s", request.url, host, _from(request))
            return
        self.owner.setdefault(fingerprint, page)
        self.through[_key(request.url)].append(page)

    @cached_property
    def offsite(self) -> OffsiteMiddleware | None:
        """Scrapy's offsite filter, which drops requests as they are scheduled (if enabled)."""
        return self.crawler.get_downloader_middleware(OffsiteMiddleware)

    def is_offsite(self, request: Request, spider: Spider) -> bool:
        """Will the offsite filter drop ``request``? Its own test, asked of it."""
        if self.offsite is None or request.dont_filter or request.meta.get("allow_offsite"):
            return False
        return not self.offsite.should_follow(request, spider)

    def request_dropped(self, request: Request, spider: Spider) -> None:
        """The duplicate filter dropped a request: a redirect loop, or another page's URL."""
        number = request.meta.get(PAGE)
        if number is None:
            return  # a page asked for again
        page = self.pages[number]
        self.through[_key(request.url)].remove(page)
        owner = self.owner.get(self.crawler.request_fingerprinter.fingerprint(request))
        if owner is not None and owner is page:  # back to a URL of its own chain
            chain = " → ".join([*request.meta.get("redirect_urls", []), request.url])
            self.record(spider, page.url, REDIRECT, f"redirect loop: {chain}", request)
            return
        page.skipped = "duplicate"
        first = owner.url if owner else "an earlier request"
        logger.debug("Skipped %s: a duplicate of %s", request.url, first)

    def request_left_downloader(self, request: Request, spider: Spider) -> None:
        page = self.page_of(request)
        if page is not None:
            page.left = True

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        page = self.page_of(request)
        if page is not None:
            page.status = response.status

    # --- ends ----------------------------------------------------------------------------

    def page_failed(self, url: str, **kwargs: Any) -> None:
        """A recorded failure: every page that went through its URL failed."""
        for page in self.through.get(_key(url), ()):
            page.failed = True

    def item_scraped(self, item: Any, response: Response | None, spider: Spider) -> None:
        page = self.page_of(getattr(response, "request", None))
        if page is not None:
            page.stored = True

    def item_dropped(
        self, item: Any, response: Response | None, exception: BaseException, spider: Spider
    ) -> None:
        """Recorded by the crawl database (``CrawlDatabase.item_dropped``)."""
        page = self.page_of(getattr(response, "request", None))
        if page is not None:
            page.failed = True

    def item_error(
        self, item: Any, response: Response | None, spider: Spider, failure: Failure
    ) -> None:
        """A pipeline raised: the page's article is not stored, so it is a failure."""
        request = getattr(response, "request", None)
        if request is not None:
            self.record(spider, request.url, "store", _described(failure), request)

    def spider_error(
        self, failure: Failure, response: Response | Failure | None, spider: Spider
    ) -> None:
        """A callback (or errback) raised: its page is a failure, retried by the next run."""
        request = getattr(response, "request", None)
        if request is not None:
            self.record(spider, request.url, "extract", _described(failure), request)

    def record(self, spider: Spider, url: str, stage: str, reason: str, request: Request) -> None:
        """Record a failure of ``url`` as the spiders do (``page_failed``), to be retried."""
        logger.warning("Failed %s (%s): %s", url, stage, reason)
        callback = getattr(request.callback, "__name__", None)
        leads_to_listings = getattr(spider, "leads_to_listings", None)
        self.crawler.signals.send_catch_log(
            page_failed,
            url=url,
            stage=stage,
            reason=reason,
            spider=spider,
            callback=callback,
            listing=leads_to_listings(url, callback) if leads_to_listings else True,
        )
        page = self.page_of(request)
        if page is not None:
            page.failed = True

    def hand_over(self, request: Request) -> None:
        """The shared frontier (``govnews.crawl.frontier``) took ``request``: queued for any
        worker, or dropped as another worker's. Its page is not this worker's to count; the
        worker that takes it from the queue registers it anew (:meth:`request_scheduled`)."""
        number = request.meta.pop(PAGE, None)
        if number is None:
            return
        page = self.pages[number]
        page.handed = True
        fingerprint = self.crawler.request_fingerprinter.fingerprint(request)
        for index in (self.first, self.owner):
            if index.get(fingerprint) is page:
                del index[fingerprint]

    def page_of(self, request: Request | None) -> Page | None:
        number = request.meta.get(PAGE) if request is not None else None
        return None if number is None else self.pages[number]

    # --- the count -------------------------------------------------------------------------

    @property
    def counted(self) -> list[Page]:
        """The pages this worker accounts for: all but those handed to the shared frontier."""
        return [page for page in self.pages if not page.handed]

    def tally(self) -> dict[str, PageCounts]:
        """Per site, how the requested pages ended (so far)."""
        counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for page in self.counted:
            counts[page.site]["requested"] += 1
            if page.outcome is not None:
                counts[page.site][page.outcome] += 1
        return {site: PageCounts(**counted) for site, counted in counts.items()}

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Put the count in the stats; warn of pages that did not end."""
        run = PageCounts.total(self.tally().values())
        stats = self.crawler.stats
        if stats is not None:
            stats.set_value("govnews/pages/requested", run.requested)
            stats.set_value("govnews/pages/stored", run.stored)
            stats.set_value("govnews/pages/failed", run.failed)
            stats.set_value("govnews/pages/skipped", run.skipped)
            stats.set_value("govnews/pages/listings", run.listings)
            if run.unaccounted:
                stats.set_value("govnews/pages/unaccounted", run.unaccounted)
            skips = Counter(page.skipped for page in self.counted if page.outcome == "skipped")
            for why, number in skips.items():
                stats.set_value(f"govnews/pages/skipped/{why}", number)
        if run.unaccounted:
            lost = [page.url for page in self.counted if page.outcome is None]
            logger.warning(
                "%d of %d requested pages not accounted for (neither stored, failed, skipped "
                "nor a listing; the run ended %s): %s",
                run.unaccounted,
                run.requested,
                reason,
                ", ".join(lost[:_NAMED]) + (" …" if len(lost) > _NAMED else ""),
            )


def _key(url: str) -> str:
    """The URL key of ``url``, or the URL itself when it has none."""
    try:
        return url_key(url)
    except ValueError:
        return url


def _site(url: str) -> str:
    try:
        return site_of(url)
    except ValueError:
        return ""


def _from(request: Request) -> str:
    redirects = request.meta.get("redirect_urls")
    return f" (redirected from {redirects[0]})" if redirects else ""


def _described(failure: Failure) -> str:
    return f"{type(failure.value).__name__}: {failure.value}"
