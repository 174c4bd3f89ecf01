"""The Fujian government CMS of nyncj.zhangzhou.gov.cn and its sibling agency sites."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from scrapy import Request
from scrapy.http import Response, TextResponse

from govnews.extract.cms.fujian import PAGE_NUMBER, page_count
from govnews.extract.cms.paging import Listing
from govnews.extract.dates import parse_date
from govnews.items import Article
from govnews.spiders.base import GovnewsSpider

ARTICLE_PATH = re.compile(r"^/cms/html/[^/]+/\d{4}-\d{2}-\d{2}/\d+\.html$")
COLUMN_PATH = re.compile(r"^/cms/html/[^/]+/[^/]+/index\.html$")


class ZhangzhouSpider(GovnewsSpider):
    """Home page → column lists and their pages → articles.

    ``-a hosts=jsj.zhangzhou.gov.cn,nyncj.zhangzhou.gov.cn`` crawls other sites of the
    same CMS (default: the 农业农村局's site and the city government's portal).
    """

    name = "zhangzhou"
    default_hosts = ("nyncj.zhangzhou.gov.cn", "www.zhangzhou.gov.cn")

    def __init__(self, hosts: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        chosen = [h.strip().lower() for h in (hosts or "").split(",") if h.strip()]
        self.hosts = chosen or list(self.default_hosts)
        self.allowed_domains = list(self.hosts)
        self.start_urls = [f"http://{host}/" for host in self.hosts]

    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[Request | Article]:
        """Any page of the site: dispatch columns and articles by the CMS's URL scheme."""
        path = urlsplit(response.url).path
        if ARTICLE_PATH.match(path):
            async for article in self.parse_article(response, kind="gov"):
                yield article
        elif COLUMN_PATH.match(path):
            for request in self.parse_column(response):
                yield request
        else:
            for request in self.follow_site_links(response):
                yield request

    def follow_site_links(self, response: Response, articles: bool = True) -> Iterator[Request]:
        """From a home or navigation page: every column list (and article) of this site."""
        if not isinstance(response, TextResponse):
            return
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href.strip())
            parts = urlsplit(url)
            if (parts.hostname or "").lower() not in self.hosts:
                continue
            if COLUMN_PATH.match(parts.path):
                yield self.request(url, self.parse_column)
            elif articles and ARTICLE_PATH.match(parts.path):
                yield self.request(url, self.parse_article, cb_kwargs={"kind": "gov"})

    def parse_column(
        self, response: Response, page: int | None = None, last: int | None = None
    ) -> Iterator[Request]:
        """A column list page: its articles (with the listed date), then the next page.

        The next page is requested only when this one listed something new
        (:meth:`any_new`), so an incremental run stops paging where the articles
        stored by a finished run begin. Without
        ``page`` and ``last`` (a failed page requested again), they are read from
        the URL's ``page=N`` and the page's "共 N 页".
        """
        if not isinstance(response, TextResponse):
            return
        if not response.css("ul#resources"):
            reason = "column page without ul#resources"
            self.record_failure(response.url, "extract", reason, response.request)
            return
        listed: list[str] = []
        for item in response.css("ul#resources li"):
            href = item.css("a::attr(href)").get()
            if not href:
                continue
            url = response.urljoin(href)
            listed.append(url)
            date = parse_date(" ".join(item.css("span ::text").getall()))
            yield self.request(
                url, self.parse_article, cb_kwargs={"kind": "gov", "listing_date": date}
            )
        page = page or page_number(response.url)
        if last is None:
            last = self.page_count(response)
        if page == 1:
            yield from self.follow_site_links(response, articles=False)  # columns' side menus
        if last is not None and page < last and self.any_new(listed):
            yield from self.next_page(response, page + 1, last)

    def page_count(self, response: TextResponse) -> int:
        """How many pages the column has: from "共 N 页" or the page links (the family's rule)."""
        return page_count(Listing(response.url, response.selector))

    def next_page(self, response: TextResponse, page: int, last: int) -> Iterator[Request]:
        """Page ``page`` of a column: ``/cms/sitemanage/index.shtml?siteId=…&page=N``."""
        site_id = response.css('meta[name="siteIdMeta"]::attr(content)').get("").strip()
        if not site_id:
            reason = "paginated column without siteIdMeta"
            self.record_failure(response.url, "extract", reason, response.request)
            return
        query = urlencode({"siteId": site_id, "page": page})
        yield self.request(
            urljoin(response.url, f"/cms/sitemanage/index.shtml?{query}"),
            self.parse_column,
            cb_kwargs={"page": page, "last": last},
        )


def page_number(url: str) -> int:
    """The page of a column a list URL shows: its ``page=N``, else 1."""
    found = PAGE_NUMBER.search(url)
    return max(1, int(found.group(1))) if found else 1
