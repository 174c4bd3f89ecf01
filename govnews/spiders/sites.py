"""The ``sites`` spider: every site of the ``GOVNEWS_SITES`` file, by configuration alone.

``scrapy crawl sites`` crawls them all; ``-a name=<site>[,<site>…]`` the ones named. From
the start URLs it follows the links that ``listing`` and ``article`` patterns match; a
listing's further pages come from its pagination kind (:class:`govnews.crawl.sitesfile.Pagination`),
each requested only when the page before it listed something new, so an incremental run
stops paging where the stored articles begin. Articles go through the extraction engine,
then the site's selectors.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from lxml import etree
from parsel import Selector
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import FormRequest, Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from govnews.crawl.sitesfile import Site, SitesConfigError, SitesFile, load_sites
from govnews.extract.challenge import status_reason
from govnews.extract.page import Page
from govnews.items import Article, Kind
from govnews.spiders.base import GovnewsSpider

# --- TRS WCM: createPageHTML(count, current, "index", "htm") ---------------------------

_PAGE_CALL = re.compile(r"(function\s+)?\bcreatePageHTML\s*\(([^()]*)\)")
# Further pages of a TRS list are reached through the page count, not followed as listings.
_TRS_FURTHER_PAGE = re.compile(r"/index_\d+\.s?html?$")


@dataclass(frozen=True)
class TrsPages:
    """What a TRS list's ``createPageHTML`` call says: page count, this page, file names."""

    count: int
    current: int
    name: str
    ext: str

    def url(self, base: str, index: int) -> str:
        """Page ``index`` (0 is the first, ``name.ext``) of the list at ``base``."""
        return urljoin(
            base, f"{self.name}_{index}.{self.ext}" if index else f"{self.name}.{self.ext}"
        )


def trs_pages(scripts: str) -> TrsPages | None:
    """The pagination of a TRS list from its scripts; None when there is no call.

    Arguments may be numbers or variables (``var countPage = 5``); the newer call with a
    container id first (``createPageHTML('page-div', 38, 1, 'index', 'htm', 20, 742)``)
    is read too. Raises ValueError for a call that cannot be read.
    """
    calls = [m[2] for m in _PAGE_CALL.finditer(scripts) if not m[1]]
    if not calls:
        return None
    args = [arg.strip() for arg in calls[0].split(",")]
    if len(args) >= 5 and _quoted(args[0]) is not None:
        args = args[1:]
    if len(args) < 4:
        raise ValueError(f"createPageHTML({calls[0]}): expected count, current, name, ext")
    name, ext = _quoted(args[2]), _quoted(args[3])
    if not name or not ext:
        raise ValueError(f"createPageHTML({calls[0]}): name and extension must be strings")
    count, current = _number(args[0], scripts), _number(args[1], scripts)
    if count < 1 or not 0 <= current < count:
        raise ValueError(f"createPageHTML({calls[0]}): page {current} of {count}")
    return TrsPages(count, current, name, ext)


def _quoted(arg: str) -> str | None:
    match = re.fullmatch(r"""(['"])(.*)\1""", arg)
    return match[2] if match else None


def _number(arg: str, scripts: str) -> int:
    """A number argument, or the number a variable of that name is set to in ``scripts``."""
    if arg.isdigit():
        return int(arg)
    if re.fullmatch(r"[A-Za-z_$][\w$]*", arg):
        set_to = re.findall(rf"(?<![\w$.]){re.escape(arg)}\s*=\s*(\d+)", scripts)
        if set_to:
            return int(set_to[-1])
    raise ValueError(f"createPageHTML: cannot read the number {arg!r}")


# --- Hanweb 大汉 JCMS: <datastore> records and dataproxy.jsp windows ----------------------

_XML_PARSER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
_DEFAULT_PROXY = "/module/web/jpage/dataproxy.jsp"
_DEFAULT_PERPAGE = 15
_DEFAULT_GROUP = 3  # jpage's groupSize: pages per request
_JS_PAIR = re.compile(
    r"""([\w$]+)\s*:\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\{[^{}]*\}|[^,{}\s][^,{}]*)"""
)


@dataclass(frozen=True)
class Datastore:
    """A JCMS ``<datastore>``: its records (HTML of list items), and what it says of the rest."""

    records: tuple[str, ...]
    total: int | None = None
    nextgroup: str | None = None
    #: The id of the list unit around an in-page datastore (its jpage's ``#id``).
    unit: str | None = None


def parse_datastore(text: str, unit: str | None = None) -> Datastore | None:
    """The ``<datastore>`` in ``text`` (a page's ``<script type="text/xml">`` or a
    dataproxy.jsp answer), or None."""
    start = text.find("<datastore")
    if start < 0:
        return None
    root = etree.fromstring(text[start:].encode("utf-8"), _XML_PARSER)
    if root is None or root.tag != "datastore":
        return None
    total = (root.findtext("totalrecord") or "").strip()
    return Datastore(
        records=tuple(record.text or "" for record in root.iter("record")),
        total=int(total) if total.isdigit() else None,
        nextgroup=root.findtext("nextgroup"),
        unit=unit,
    )


def record_links(records: Iterable[str], base: str) -> list[str]:
    """The absolute link targets in datastore records, in order, each once."""
    links: list[str] = []
    for record in records:
        for href in Selector(text=record or "<p></p>").css("a::attr(href)").getall():
            links.append(urljoin(base, href.strip()))
    return list(dict.fromkeys(links))


def js_object(text: str) -> dict[str, str]:
    """The top-level ``key: value`` pairs of a JavaScript object body, values unquoted."""
    values: dict[str, str] = {}
    for key, value in _JS_PAIR.findall(text):
        value = value.strip()
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        values[key] = value
    return values


def jpage_options(scripts: str, unit: str) -> dict[str, str] | None:
    """The options of ``$('#<unit>').jpage({...})``, or None when the page has no such call."""
    call = re.search(
        rf"""\$\(\s*['"]#{re.escape(unit)}['"]\s*\)\s*\.jpage\(\s*\{{(.*?)\}}\s*\)""",
        scripts,
        re.S,
    )
    return js_object(call[1]) if call else None


def _js_variable(scripts: str, name: str) -> dict[str, str] | None:
    found = re.search(rf"\bvar\s+{re.escape(name)}\s*=\s*\{{([^{{}}]*)\}}", scripts)
    return js_object(found[1]) if found else None


def ajax_params(scripts: str, store: Datastore, options: dict[str, str]) -> dict[str, str]:
    """The form a JCMS list POSTs to dataproxy.jsp (col, appid, webid, columnid, unitid …).

    From jpage's ``ajaxParam`` (an object, or the variable holding it), else the
    ``param_<unit>`` variable, else the query of the ``<nextgroup>`` link; {} if none.
    """
    value = options.get("ajaxParam", "")
    if value.startswith("{"):
        return js_object(value[1:-1])
    for name in (value, f"param_{store.unit}"):
        if name and (found := _js_variable(scripts, name)):
            return found
    href = Selector(text=store.nextgroup or "<p></p>").css("a::attr(href)").get("")
    return {k: v for k, v in parse_qsl(urlsplit(href).query) if k != "page"}


@dataclass(frozen=True)
class Window:
    """One POST to dataproxy.jsp: records ``start``–``end`` of a JCMS column."""

    column: str
    proxy: str
    params: tuple[tuple[str, str], ...]
    start: int
    end: int
    perpage: int
    total: int
    #: The links the column has given so far (windows may overlap: deduplicated).
    seen: frozenset[str]

    @property
    def url(self) -> str:
        query = urlencode(
            {"startrecord": self.start, "endrecord": self.end, "perpage": self.perpage}
        )
        return f"{urljoin(self.column, self.proxy)}?{query}"

    def following(self, total: int, seen: frozenset[str]) -> Window:
        size = self.end - self.start + 1
        return replace(self, start=self.end + 1, end=self.end + size, total=total, seen=seen)


# --- the spider ----------------------------------------------------------------------------


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
        """Requests for the site's article and listing pages among ``urls``."""
        for url in urls:
            if site.is_article(url):
                yield self.request(url, self.parse_article)
            elif site.is_listing(url) and not self.is_further_page(site, url):
                yield self.request(url, self.parse_listing)

    @staticmethod
    def is_further_page(site: Site, url: str) -> bool:
        """A page after a listing's first: reached through its pagination only."""
        if site.pagination.kind == "links":
            return any(p.search(url) for p in site.pagination.links)
        return site.pagination.kind == "trs" and bool(_TRS_FURTHER_PAGE.search(url))

    # --- callbacks ----------------------------------------------------------------

    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[Request | Article]:
        """Any page of a site: an article, a listing, or a page to find them on."""
        site = self.config.site_for(response.url)
        if site is None or not isinstance(response, TextResponse):
            return
        if site.is_article(response.url):
            async for article in self.parse_article(response):
                yield article
        elif site.is_listing(response.url):
            for request in self.parse_listing(response):
                yield request
        else:
            for request in self.follow(site, self.links(response, site)):
                yield request

    def links(self, response: TextResponse, site: Site) -> list[str]:
        """The page's links on the site (with a JCMS page's datastore records), each once."""
        hrefs = [response.urljoin(h.strip()) for h in response.css("a::attr(href)").getall()]
        if site.pagination.kind == "hanweb":
            for store in self.datastores(response):
                hrefs.extend(record_links(store.records, response.url))
        return [url for url in dict.fromkeys(hrefs) if site.allows(url)]

    def parse_listing(self, response: Response) -> Iterator[Request]:
        """A listing page: its articles and listing links, then its next page."""
        site = self.config.site_for(response.url)
        if site is None or not isinstance(response, TextResponse):
            return
        links = self.links(response, site)
        articles = [url for url in links if site.is_article(url)]
        yield from self.follow(site, links)
        kind = site.pagination.kind
        if kind == "links":
            if self.any_new(articles):
                for url in links:
                    if any(p.search(url) for p in site.pagination.links):
                        yield self.request(url, self.parse_listing)
        elif kind == "trs":
            yield from self.trs_next_page(response, articles)
        elif kind == "hanweb":
            yield from self.hanweb_windows(response, site)

    def trs_next_page(self, response: TextResponse, articles: list[str]) -> Iterator[Request]:
        """The next page of a TRS list (``index_1.htm`` after ``index.htm`` …)."""
        try:
            pages = trs_pages(self.scripts(response))
        except ValueError as exc:
            self.record_failure(response.url, "extract", str(exc), response.request)
            return
        if pages is None:
            reason = "TRS list without a createPageHTML(...) pagination call"
            self.record_failure(response.url, "extract", reason, response.request)
            return
        following = pages.current + 1
        if following < pages.count and self.any_new(articles):
            yield self.request(pages.url(response.url, following), self.parse_listing)

    def datastores(self, response: TextResponse) -> list[Datastore]:
        """The JCMS datastores of a page, each with the id of its list unit."""
        stores = []
        for script in response.xpath("//script[@type='text/xml']"):
            unit = script.xpath("ancestor::*[@id][1]/@id").get()
            store = parse_datastore(script.xpath("string()").get(""), unit)
            if store is not None:
                stores.append(store)
        return stores

    def hanweb_windows(self, response: TextResponse, site: Site) -> Iterator[FormRequest]:
        """A JCMS column: after its in-page records, the first dataproxy.jsp window of each list."""
        stores = self.datastores(response)
        if not stores:
            reason = "JCMS column without a <datastore> list"
            self.record_failure(response.url, "extract", reason, response.request)
            return
        scripts = self.scripts(response)
        for store in stores:
            options = jpage_options(scripts, store.unit or "")
            if options is None:
                reason = f"JCMS list {store.unit} without its jpage(...) pagination script"
                self.record_failure(response.url, "extract", reason, response.request)
                continue
            window = self.first_window(response.url, site, scripts, store, options)
            if window is not None and self.any_new(u for u in window.seen if site.is_article(u)):
                yield self.window_request(window)

    def first_window(
        self,
        column: str,
        site: Site,
        scripts: str,
        store: Datastore,
        options: dict[str, str],
    ) -> Window | None:
        """The window after a list's in-page records; None when they are all (or on failure)."""
        total = options.get("totalRecord", "")
        if not total.isdigit():
            reason = f"JCMS list {store.unit}: no totalRecord in its jpage(...) script"
            self.record_failure(column, "extract", reason)
            return None
        seen = frozenset(record_links(store.records, column))
        if int(total) <= len(store.records):
            return None
        params = ajax_params(scripts, store, options)
        if "columnid" not in params:
            reason = f"JCMS list {store.unit}: no dataproxy.jsp parameters (ajaxParam)"
            self.record_failure(column, "extract", reason)
            return None
        perpage = site.pagination.perpage or _int(options.get("perPage"), _DEFAULT_PERPAGE)
        size = site.pagination.window or perpage * _int(options.get("groupSize"), _DEFAULT_GROUP)
        start = len(store.records) + 1
        return Window(
            column=column,
            proxy=options.get("proxyUrl") or _DEFAULT_PROXY,
            params=tuple(params.items()),
            start=start,
            end=start + size - 1,
            perpage=perpage,
            total=int(total),
            seen=seen,
        )

    def window_request(self, window: Window) -> FormRequest:
        """The POST of one window, with the form the site's own jpage sends."""
        return FormRequest(
            window.url,
            formdata=dict(window.params),
            headers={"X-Requested-With": "XMLHttpRequest"},
            callback=self.parse_window,
            errback=self.on_window_error,
            cb_kwargs={"window": window},
            meta=self.politeness(window.url),
        )

    def parse_window(self, response: Response, window: Window) -> Iterator[Request]:
        """A dataproxy.jsp answer: its new records' articles, then the next window.

        Paging stops when a window brings nothing new (nothing this run has not seen,
        or only stored articles) or the column's total is reached.
        """
        site = self.config.site_for(window.column)
        text = response.text if isinstance(response, TextResponse) else ""
        store = parse_datastore(text)
        if site is None or store is None:
            self.record_window_failure(window, "extract", "no <datastore> in the answer")
            return
        links = [url for url in record_links(store.records, window.column) if site.allows(url)]
        new = [url for url in links if url not in window.seen]
        yield from self.follow(site, new)
        total = store.total or window.total
        if window.end < total and self.any_new(url for url in new if site.is_article(url)):
            yield self.window_request(window.following(total, window.seen | set(new)))

    def on_window_error(self, failure: Failure) -> None:
        """Errback of a window: recorded against its column, which the next run pages again."""
        window: Window = failure.request.cb_kwargs["window"]  # type: ignore[attr-defined]
        if failure.check(HttpError):
            status = failure.value.response.status
            self.record_window_failure(window, "http", status_reason(status) or f"HTTP {status}")
        else:
            reason = failure.getErrorMessage() or repr(failure.value)
            self.record_window_failure(window, "download", reason)

    def record_window_failure(self, window: Window, stage: str, reason: str) -> None:
        """Record a failed window on its column page (retried with :meth:`parse`)."""
        where = f"dataproxy.jsp records {window.start}-{window.end}"
        self.record_failure(window.column, stage, f"{where}: {reason}")

    @staticmethod
    def scripts(response: TextResponse) -> str:
        """The text of the page's inline scripts."""
        return "\n".join(response.xpath("//script[not(@src)]/text()").getall())

    # --- articles ------------------------------------------------------------------------

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
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        page = Page.from_bytes(response.body, response.url, {"Content-Type": content_type})
        missed = site.selectors.apply(article, page)
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


def _int(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() and int(value) > 0 else default
