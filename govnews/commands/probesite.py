"""``scrapy probesite URL [URL …]``: a site's profile, as a ``[[sites]]`` entry to paste.

Fetches a few pages of the site (``GOVNEWS_PROBE_PAGES`` at most) with the probe spider
(:class:`ProbeSpider`, below) and prints what discovery found as TOML: the entry
(``name``, ``kind``, ``start_urls``, ``allowed_hosts``, ``article`` and, when every
listing pages the same way, ``[sites.pagination]``) under comments that give the
evidence: the listings with their paging kind, article count and next page, the
article URL shapes with sample matches, and a sample record. The listings found are
left commented out: without ``listing`` the crawl finds them as the probe did, and
finds new columns too. Nothing is stored.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from scrapy import Request
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.http import Response, TextResponse
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from govnews.commands.checks import check_mirror, check_settings, reports_errors
from govnews.commands.extract import check_page_url
from govnews.core.errors import GovnewsError
from govnews.core.urls import is_gov_url, request_host
from govnews.crawl.crawldb import CrawlDatabase
from govnews.crawl.sitesfile import Site, SitesFile
from govnews.extract.cms import paging_of
from govnews.extract.cms.paging import Listing, NextPage, Problem
from govnews.extract.discovery import next_page_link
from govnews.extract.page import Page
from govnews.items import Article
from govnews.spiders.sites import SitesSpider

FAILED = 1  # a bad argument or setting, or no listing found
# A literal path segment of a URL shape (no pattern in it).
_LITERAL = re.compile(r"^[\w\\.-]+$")
_ANY = "[^/]+"


# --- the probe spider: the sites spider on a site made of the URLs given --------------
#
# It is the ``sites`` spider with discovery doing all the work
# (:mod:`govnews.extract.discovery`), and three differences: it notes what it finds
# instead of crawling on (each listing, its paging kind and next page, the article URL
# shapes), it reads only ``GOVNEWS_PROBE_SAMPLES`` articles of each listing and requests
# no further list page, and it stores nothing (its articles are samples).
# ``GOVNEWS_PROBE_PAGES`` bounds its pages. It lives here, not in ``govnews/spiders``,
# so that ``scrapy list`` and ``crawlall`` do not take it for a crawl.


@dataclass(frozen=True)
class ListingSeen:
    """A listing the probe read: its URL, paging kind, article links, and its next page."""

    url: str
    kind: str
    articles: tuple[str, ...]
    following: str | None


class ProbeSpider(SitesSpider):
    """Reads listings and a few articles of one site; crawls no further."""

    name = "probe"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe_urls = list(urls)
        self.listings: list[ListingSeen] = []
        self.samples: list[Article] = []
        self.refused: dict[str, str] = {}  # sampled article URL → why it holds no article
        self.per_listing = 0

    def configure(self, settings: BaseSettings) -> None:
        """The site of the URLs: their hosts, ``gov`` when the first is on a .gov.cn host."""
        hosts = sorted({request_host(url) for url in self.probe_urls})
        site = Site(
            name=site_name(hosts[0]),
            kind="gov" if is_gov_url(self.probe_urls[0]) else "portal",
            start_urls=tuple(self.probe_urls),
            allowed_hosts=frozenset(hosts),
        )
        self.config = SitesFile("probesite", (site,))
        self.sites = [site]
        self.start_urls = list(self.probe_urls)
        self.allowed_domains = hosts
        self.discovery_depth = settings.getint("GOVNEWS_DISCOVERY_DEPTH")
        self.per_listing = settings.getint("GOVNEWS_PROBE_SAMPLES")

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
        """Note the listing and its next page; read a few of its articles, first."""
        self.listings.append(
            ListingSeen(response.url, kind, tuple(articles), next_page(site, page, listing, kind))
        )
        for url in articles[: self.per_listing]:
            yield self.request(url, self.parse_article, priority=1)

    async def parse_article(
        self, response: Response, **hints: Any
    ) -> AsyncIterator[Article | Request]:
        """Keep the sample; yield nothing (a probe stores nothing, follows no original)."""
        hints["expected"] = False
        article = await self.extract(response, **hints)
        if article is None:
            self.refused[response.url] = "no article with a date"
        else:
            self.samples.append(article)
        return
        yield  # an async generator, as Scrapy's callbacks are


def next_page(site: Site, page: Page, listing: Listing, kind: str) -> str | None:
    """The next page a listing's paging would ask for (not requested), or a window's URL."""
    if kind == "links":
        return next_page_link(page, site.allowed_hosts)
    paging = paging_of(kind)
    if paging is None:
        return None
    for step in paging.next_pages(listing, {}):
        if isinstance(step, NextPage):
            return step.url
        if isinstance(step, Problem):
            return None  # the crawl would record it as a failure
        return f"POST {step.url}"  # a window
    return None


def site_name(host: str) -> str:
    """A name for the site of ``host``: ``nynct.fujian.gov.cn`` → ``nynct-fujian``."""
    parts = host.lower().split(".")
    if parts[0] == "www" and len(parts) > 2:
        parts = parts[1:]
    for tail in (["gov", "cn"], ["com", "cn"], ["org", "cn"], ["net", "cn"], ["cn"], ["com"]):
        if len(parts) > len(tail) and parts[-len(tail) :] == tail:
            parts = parts[: -len(tail)]
            break
    return "-".join(parts)


class Command(ScrapyCommand):
    requires_project = True

    def syntax(self) -> str:
        return "[options] <URL> [URL ...]"

    def short_desc(self) -> str:
        return "Find a site's listings, paging and article URLs; print its [[sites]] entry"

    def long_desc(self) -> str:
        return (
            "Fetch a few pages of a site from its start URLs (GOVNEWS_PROBE_PAGES at most), "
            "find its listings, their paging and its article URLs as the sites spider does "
            "for a site given by its address alone, and print a [[sites]] entry for "
            "data/sites.toml with the evidence as comments. Works under GOVNEWS_MIRROR. "
            f"Nothing is stored. Exit status 0 with a profile; {FAILED} when an argument or "
            "a setting is wrong or no listing was found."
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        # Read-only, as `scrapy extract`: no pipelines, no database, nothing retried.
        self.settings.set("ITEM_PIPELINES", {}, priority="cmdline")
        path = f"{CrawlDatabase.__module__}.{CrawlDatabase.__qualname__}"
        extensions = {**self.settings.getdict("EXTENSIONS"), path: None}
        self.settings.set("EXTENSIONS", extensions, priority="cmdline")
        self.settings.set("GOVNEWS_RETRY_FAILURES", False, priority="cmdline")
        self.settings.set("GOVNEWS_INCREMENTAL", False, priority="cmdline")
        pages = self.settings.get("GOVNEWS_PROBE_PAGES")
        self.settings.set("CLOSESPIDER_PAGECOUNT", pages, priority="cmdline")
        if (self.settings.getpriority("LOG_LEVEL") or 0) < SETTINGS_PRIORITIES["cmdline"]:
            self.settings.set("LOG_LEVEL", "WARNING", priority="cmdline")

    @reports_errors(FAILED)
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("give the site's start URL (and more of its pages if you like)")
        assert self.settings is not None and self.crawler_process is not None
        for url in args:
            check_page_url(url, "the URL")
        check_settings(self.settings)
        check_mirror(self.settings)
        crawler = self.crawler_process.create_crawler(ProbeSpider)
        self.crawler_process.crawl(crawler, urls=args)
        self.crawler_process.start()
        spider = crawler.spider
        if not isinstance(spider, ProbeSpider):
            raise GovnewsError("the probe did not start (see the log above)")
        sys.stdout.write(profile(spider))
        if not spider.listings:
            raise GovnewsError(f"no listing found from {', '.join(args)} (see the entry's notes)")


def profile(spider: ProbeSpider) -> str:
    """The ``[[sites]]`` entry the probe's findings make, under the evidence as comments."""
    site = spider.sites[0]
    shapes = merged_shapes(spider.article_shapes[site.name])
    kinds = Counter(seen.kind for seen in spider.listings)
    lines = [f"# scrapy probesite {' '.join(site.start_urls)}"]
    lines.append(f"# listings found: {len(spider.listings)}")
    for seen in spider.listings:
        following = f"; next: {seen.following}" if seen.following else ""
        lines.append(f"#   {seen.url}  {seen.kind}, {len(seen.articles)} articles{following}")
    for shape in shapes:
        samples = [url for seen in spider.listings for url in seen.articles if re.match(shape, url)]
        lines.append(f"# article URLs: {shape}")
        lines.extend(f"#   e.g. {url}" for url in samples[:2])
    for article in spider.samples[:3]:
        published = article.published_at.isoformat() if article.published_at else "no date"
        lines.append(
            f"# sample: {article.title} | {published} | 来源 {article.source_name or '–'}"
            f" | {article.url}"
        )
    for url, reason in list(spider.refused.items())[:3]:
        lines.append(f"# not an article: {url} ({reason})")
    lines += [
        "[[sites]]",
        f"name = {toml_string(site.name)}",
        f"kind = {toml_string(site.kind)}",
        f"start_urls = {toml_list(site.start_urls)}",
        f"allowed_hosts = {toml_list(sorted(site.allowed_hosts))}",
    ]
    if shapes:
        lines.append(f"article = {toml_list(shapes, literal=True)}")
    listing_urls = [f"^{re.escape(seen.url)}$" for seen in spider.listings]
    if listing_urls:
        lines.append(f"# listing = {toml_list(listing_urls, literal=True)}")
    paged = [kind for kind in kinds if kind != "none"]  # a home page's list pages not
    if len(paged) == 1:
        lines += ["", "[sites.pagination]", f"kind = {toml_string(paged[0])}"]
    elif paged:
        found = ", ".join(f"{kind} ({count})" for kind, count in kinds.most_common())
        lines.append(f"# pagination: listings page in several ways ({found}): found per page")
    return "\n".join(lines) + "\n"


def merged_shapes(shapes: Iterable[str]) -> list[str]:
    """URL shapes, those differing in one literal path segment only made one (``[^/]+``).

    ``…/gzdt/nyyw/\\d+/t\\d+_\\d+\\.htm$`` and ``…/gzdt/sxdt/…`` are one shape of two columns.
    """
    merged = sorted(set(shapes))
    changed = True
    while changed:
        changed = False
        for index, one in enumerate(merged):
            for other in merged[index + 1 :]:
                joined = _joined(one, other)
                if joined is not None:
                    merged = sorted((set(merged) - {one, other}) | {joined})
                    changed = True
                    break
            if changed:
                break
    return merged


def _joined(one: str, other: str) -> str | None:
    """The one shape of two that differ in one path segment: a literal in either, or
    ``[^/]+`` in one (which takes the other's literal in); None when they differ more."""
    # [^/]+ holds a slash: a placeholder keeps it one segment.
    first, second = (shape.replace(_ANY, "\0").split("/") for shape in (one, other))
    if len(first) != len(second):
        return None
    differ = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
    if len(differ) != 1 or differ[0] < 3:  # never the scheme or the host
        return None
    index = differ[0]
    if not all(part == "\0" or _LITERAL.match(part) for part in (first[index], second[index])):
        return None
    return "/".join([*first[:index], "\0", *first[index + 1 :]]).replace("\0", _ANY)


def toml_string(value: str) -> str:
    """A TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def toml_list(values: Iterable[str], literal: bool = False) -> str:
    """A TOML array of strings: literal strings ('…', no escapes) for patterns."""
    if literal:
        return "[" + ", ".join(f"'{value}'" for value in values) + "]"
    return "[" + ", ".join(toml_string(value) for value in values) + "]"
