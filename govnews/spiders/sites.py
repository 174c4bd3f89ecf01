"""The ``sites`` spider: every site of the ``GOVNEWS_SITES`` file, by configuration alone.

``scrapy crawl sites`` crawls them all; ``-a name=<site>[,<site>…]`` the ones named. From
the start URLs it follows the links that ``listing`` and ``article`` patterns match; a
listing's further pages come from its pagination kind (:class:`govnews.crawl.sitesfile.Pagination`),
each requested only when the page before it listed something new (``any_new``), so an
incremental run stops paging where the articles stored by a finished run begin. Articles
go through the extraction engine, then the site's selectors.

The spider is the Scrapy glue only: ``links`` paging is its own, any other kind is a CMS
family's listing rules (:data:`govnews.extract.cms.PAGINGS`, Scrapy-free), whose answers
(:data:`govnews.extract.cms.paging.Step`) it turns into requests, POSTed windows and
recorded failures.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import FormRequest, Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from govnews.crawl.sitesfile import Site, SitesConfigError, SitesFile, load_sites
from govnews.extract.challenge import status_reason
from govnews.extract.cms import Paging, paging_of
from govnews.extract.cms.paging import Listing, NextPage, Problem, Window
from govnews.extract.discovery import (
    ListingRead,
    column_links,
    is_article_url,
    is_further_page,
    next_page_link,
    paging_kind,
    read_listing,
)
from govnews.extract.page import Page
from govnews.items import Article, Kind
from govnews.spiders.base import GovnewsSpider


class SitesSpider(GovnewsSpider):
    """Crawls the configured sites: start URLs → listings and their pages → articles."""

    name = "sites"

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        # ``-a name=`` chooses sites; the spider keeps its own name.
        super().__init__(**kwargs)
        self.chosen = name
        self.config = SitesFile("", ())
        self.sites: list[Site] = []
        #: Per site name: the meta that puts its requests in its download slot.
        self.slot_meta: dict[str, dict[str, Any]] = {}
        #: Per site name: URL patterns of the articles its listings showed (discovered).
        self.article_shapes: dict[str, set[str]] = defaultdict(set)
        #: Links from a start page to a listing, at most (``GOVNEWS_DISCOVERY_DEPTH``).
        self.discovery_depth = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.configure(crawler.settings)
        return spider

    def configure(self, settings: BaseSettings) -> None:
        """Load the sites file, choose the sites and give each its download slot.

        A site with a delay or a concurrency gets a slot of its own in
        ``DOWNLOAD_SLOTS`` (set here, before the settings freeze; entries set
        explicitly win), and its requests carry ``download_slot``. A configured delay
        is kept as it is (``autothrottle_dont_adjust_delay``), and dropped when the
        crawl is mirrored (``GOVNEWS_MIRROR``), as the mirror drops DOWNLOAD_DELAY.
        """
        path = settings.get("GOVNEWS_SITES")
        if not path:
            raise SitesConfigError("GOVNEWS_SITES is not set: no sites file to crawl")
        self.config = load_sites(path)
        self.sites = self.config.select(self.chosen)
        self.discovery_depth = settings.getint("GOVNEWS_DISCOVERY_DEPTH")
        self.start_urls = [url for site in self.sites for url in site.start_urls]
        self.allowed_domains = sorted({host for site in self.sites for host in site.allowed_hosts})
        slots = download_slots(self.sites, with_delays=not settings.get("GOVNEWS_MIRROR"))
        if not slots:
            return
        if settings.frozen:
            self.logger.warning("Per-site delay and concurrency not applied: settings frozen")
            return
        settings.set(
            "DOWNLOAD_SLOTS", {**slots, **settings.getdict("DOWNLOAD_SLOTS")}, priority="spider"
        )
        for site in self.sites:
            slot = slots.get(slot_name(site))
            if slot is not None:
                meta: dict[str, Any] = {"download_slot": slot_name(site)}
                if "delay" in slot:
                    meta["autothrottle_dont_adjust_delay"] = True
                self.slot_meta[site.name] = meta

    # --- requests ---------------------------------------------------------------

    def request(self, url: str, callback: Any, **kwargs: Any) -> Request:
        """A request in its site's download slot."""
        kwargs["meta"] = {**self.politeness(url), **kwargs.get("meta", {})}
        return super().request(url, callback, **kwargs)

    def politeness(self, url: str) -> dict[str, Any]:
        """The meta that puts a request for ``url`` in its site's download slot."""
        site = self.config.site_for(url)
        return dict(self.slot_meta.get(site.name, {})) if site else {}

    def follow(self, site: Site, urls: Iterable[str]) -> Iterator[Request]:
        """Requests for the site's article and configured listing pages among ``urls``."""
        for url in urls:
            if self.is_article(site, url):
                yield self.request(url, self.parse_article)
            elif site.is_listing(url) and not self.is_further_page(site, url):
                yield self.request(url, self.parse_listing)

    def is_article(self, site: Site, url: str) -> bool:
        """An article link of ``site``: its ``article`` patterns say so; without them, the
        URL has an article shape (:data:`~govnews.extract.discovery.ARTICLE_SHAPES`) or
        the shape of the articles its listings showed."""
        if site.article:
            return site.is_article(url)
        shapes = self.article_shapes[site.name]
        return site.allows(url) and (
            is_article_url(url) or any(re.match(shape, url) for shape in shapes)
        )

    def is_further_page(self, site: Site, url: str) -> bool:
        """A page after a listing's first: reached through its pagination only."""
        if site.pagination is None:
            return is_further_page(url)
        if site.pagination.kind == "links" and site.pagination.links:
            return any(p.search(url) for p in site.pagination.links)
        paging = paging_of(site.pagination.kind)
        return paging.is_further_page(url) if paging else is_further_page(url)

    # --- callbacks ----------------------------------------------------------------

    async def parse(
        self, response: Response, depth: int = 0, **kwargs: Any
    ) -> AsyncIterator[Request | Article]:
        """Any page of a site: an article, a listing, or a page to find them on.

        ``depth``: links from a start page to this one. A page found by discovery
        that neither lists articles nor is one leads on to its column links while
        ``depth`` is below ``GOVNEWS_DISCOVERY_DEPTH``.
        """
        site = self.config.site_for(response.url)
        if site is None or not isinstance(response, TextResponse):
            return
        if self.is_article(site, response.url):
            async for article in self.parse_article(response):
                yield article
        elif site.is_listing(response.url):
            for request in self.parse_listing(response):
                yield request
        elif site.listing:  # the file names the listings: nothing to discover
            for request in self.follow(site, self.links(response, site)):
                yield request
        else:
            for request in self.explore(response, site, depth):
                yield request

    def explore(self, response: TextResponse, site: Site, depth: int) -> Iterator[Request]:
        """A page of a site whose listings are found, not named: read it as a listing
        when it is one (its articles, its next page), else request its article links;
        then, below the discovery depth, its column links."""
        page = page_of(response)
        listing = listing_of(response)
        kind = self.paging_kind(site, listing, page)
        read = self.read(site, page, listing, kind)
        if read.is_listing:
            articles = read.articles
            if site.article:  # the file's patterns say which links are articles
                links = self.links(response, site, kind)
                articles = [url for url in links if site.is_article(url)]
            yield from self.list_page(response, site, page, listing, kind, articles)
        else:
            articles = [url for url in self.links(response, site) if self.is_article(site, url)]
            for url in articles:
                yield self.request(url, self.parse_article, cb_kwargs={"expected": False})
        if depth < self.discovery_depth:
            for url in column_links(page, site.allowed_hosts, articles):
                if not self.is_further_page(site, url):
                    yield self.request(url, self.parse, cb_kwargs={"depth": depth + 1})

    def read(self, site: Site, page: Page, listing: Listing, kind: str) -> ListingRead:
        """The articles a page lists, their shapes learned as the site's article shapes."""
        paging = paging_of(kind)
        read = read_listing(page, site.allowed_hosts, paging.listed(listing) if paging else ())
        if read.is_listing:
            self.article_shapes[site.name] |= read.shapes
        return read

    def paging_kind(self, site: Site, listing: Listing, page: Page) -> str:
        """The site's configured paging kind, else the one the page shows.

        A listing the file does not name (a home page's list, found by discovery) pages
        by the configured family only when it carries the family's marks; else not at all.
        """
        if site.pagination is None:
            return paging_kind(listing, page, site.allowed_hosts)
        kind = site.pagination.kind
        paging = paging_of(kind)
        if paging is None or site.is_listing(listing.url) or paging.detect(listing):
            return kind
        return "none"

    def links(self, response: TextResponse, site: Site, kind: str | None = None) -> list[str]:
        """The page's links on the site (with those its paging lists: JCMS records), each once."""
        hrefs = [response.urljoin(h.strip()) for h in response.css("a::attr(href)").getall()]
        paging = paging_of(kind or (site.pagination.kind if site.pagination else "none"))
        if paging is not None:
            hrefs.extend(paging.listed(listing_of(response)))
        return [url for url in dict.fromkeys(hrefs) if site.allows(url)]

    def parse_listing(self, response: Response) -> Iterator[Request]:
        """A listing page: its articles and listing links, then its next page."""
        site = self.config.site_for(response.url)
        if site is None or not isinstance(response, TextResponse):
            return
        page = page_of(response)
        listing = listing_of(response)
        kind = self.paging_kind(site, listing, page)
        if not site.article:
            articles = self.read(site, page, listing, kind).articles
            yield from self.list_page(response, site, page, listing, kind, articles)
            return
        links = self.links(response, site, kind)
        yield from self.follow(site, links)
        articles = [url for url in links if site.is_article(url)]
        yield from self.list_page(response, site, page, listing, kind, articles, listed=True)

    def list_page(
        self,
        response: TextResponse,
        site: Site,
        page: Page,
        listing: Listing,
        kind: str,
        articles: list[str],
        listed: bool = False,
    ) -> Iterator[Request]:
        """A listing's articles (unless ``listed``: requested already), then its next page.

        Each further page is asked for only when this one listed an article not stored yet.
        """
        if not listed:
            for url in articles:
                yield self.request(url, self.parse_article)
        if kind == "links":
            if self.any_new(articles):
                yield from self.link_pages(response, site, page)
        elif (paging := paging_of(kind)) is not None:
            yield from self.next_pages(response, site, paging, articles)

    def link_pages(self, response: TextResponse, site: Site, page: Page) -> Iterator[Request]:
        """A ``links`` listing's next page: the configured patterns' links, else its pager's."""
        patterns = site.pagination.links if site.pagination else ()
        if patterns:
            for url in self.links(response, site):
                if any(p.search(url) for p in patterns):
                    yield self.request(url, self.parse_listing)
        elif following := next_page_link(page, site.allowed_hosts):
            yield self.request(following, self.parse_listing)

    def next_pages(
        self, response: TextResponse, site: Site, paging: Paging, articles: list[str]
    ) -> Iterator[Request]:
        """What a family's paging says follows a listing page, as requests and failures.

        A next page is asked for when the page listed an article not stored yet; a window
        when the records it follows did, and when it is on one of the site's hosts (a
        window elsewhere is a recorded failure: the offsite filter would drop it).
        """
        options = site.pagination.options if site.pagination else {}
        for step in paging.next_pages(listing_of(response), options):
            if isinstance(step, Problem):
                request = response.request if step.with_request else None
                self.record_failure(response.url, "extract", step.reason, request)
            elif isinstance(step, NextPage):
                if self.any_new(articles):
                    yield self.request(step.url, self.parse_listing)
            elif not self.any_new(u for u in step.seen if self.is_article(site, u)):
                continue
            elif site.allows(step.url):
                yield self.window_request(step, paging.kind)
            else:  # the offsite filter would drop it without a word
                host = urlsplit(step.url).hostname
                self.record_window_failure(step, "extract", f"{host} is not in allowed_hosts")

    def window_request(self, window: Window, kind: str) -> FormRequest:
        """The POST of one window, with the form the site's own list script sends."""
        return FormRequest(
            window.url,
            formdata=dict(window.params),
            headers={"X-Requested-With": "XMLHttpRequest"},
            callback=self.parse_window,
            errback=self.on_window_error,
            cb_kwargs={"window": window, "kind": kind},
            meta=self.politeness(window.url),
        )

    def parse_window(self, response: Response, window: Window, kind: str) -> Iterator[Request]:
        """A window's answer (JCMS: dataproxy.jsp): its new records' articles, then the next window.

        Paging stops when a window brings nothing new (nothing this run has not seen,
        or only stored articles) or the column's total is reached.
        """
        site = self.config.site_for(window.column)
        paging = paging_of(kind)
        if site is None or paging is None:
            self.record_window_failure(window, "extract", "not a list of a configured site")
            return
        text = response.text if isinstance(response, TextResponse) else ""
        answer = paging.read_window(window, text)
        if isinstance(answer, Problem):
            self.record_window_failure(window, "extract", answer.reason)
            return
        links = [url for url in answer.links if site.allows(url)]
        new = [url for url in links if url not in window.seen]
        yield from self.follow(site, new)
        total = answer.total
        if window.end < total and self.any_new(url for url in new if self.is_article(site, url)):
            following = window.following(total, window.seen | set(new))
            yield self.window_request(following, kind)

    def on_window_error(self, failure: Failure) -> None:
        """Errback of a window: recorded against its column, which the next run pages again."""
        window: Window = failure.request.cb_kwargs["window"]  # type: ignore[attr-defined]
        if failure.check(HttpError):
            status = failure.value.response.status
            self.record_window_failure(window, "http", status_reason(status) or f"HTTP {status}")
        else:
            reason = failure.getErrorMessage() or repr(failure.value)
            stage = getattr(failure.value, "stage", "download")  # policy: refused
            self.record_window_failure(window, stage, reason)

    def record_window_failure(self, window: Window, stage: str, reason: str) -> None:
        """Record a failed window on its column page (retried with :meth:`parse`)."""
        self.record_failure(window.column, stage, f"{window.where}: {reason}")

    # --- articles ------------------------------------------------------------------------

    async def parse_article(
        self, response: Response, **hints: Any
    ) -> AsyncIterator[Article | Request]:
        """An article of a site, then the government original it declares (a repost's)."""
        async for article in super().parse_article(response, **hints):
            yield article
            if isinstance(article, Article):
                for request in self.originals_of(article):
                    yield request

    async def extract(
        self, response: Response, *, kind: Kind | None = None, expected: bool = True, **hints: Any
    ) -> Article | None:
        """The engine's article, of the site's kind, with the site's selectors applied."""
        site = self.config.site_for(response.url)
        article = await super().extract(
            response, kind=kind or (site.kind if site else None), expected=expected, **hints
        )
        if article is None or site is None or not site.selectors:
            return article
        assert isinstance(response, TextResponse)  # the engine read it
        missed = site.selectors.apply(article, page_of(response))
        if missed:
            self.logger.warning(
                "Selectors of %s found nothing on %s: %s", site.name, response.url, missed
            )
        return article


def slot_name(site: Site) -> str:
    """The download slot of a site's requests (all its hosts share it)."""
    return f"sites:{site.name}"


def download_slots(sites: Iterable[Site], with_delays: bool = True) -> dict[str, dict[str, Any]]:
    """``DOWNLOAD_SLOTS`` entries for the sites' delay and concurrency, by slot name."""
    slots: dict[str, dict[str, Any]] = {}
    for site in sites:
        slot: dict[str, Any] = {}
        if site.concurrency is not None:
            slot["concurrency"] = site.concurrency
        if site.delay is not None and with_delays:
            slot["delay"] = site.delay
        if slot:
            slots[slot_name(site)] = slot
    return slots


def listing_of(response: TextResponse) -> Listing:
    """A listing page as a family's paging rules read it."""
    return Listing(response.url, response.selector)


def page_of(response: TextResponse) -> Page:
    """A page as discovery and the extraction engine read it (decoded as the engine does)."""
    content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
    return Page.from_bytes(response.body, response.url, {"Content-Type": content_type})
