"""农民工法治网 (www.nmgfzw.cn): a repost portal of unknown markup, read by what pages say."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from govnews.core.urls import clean_url
from govnews.extract import kind_of
from govnews.items import Article
from govnews.spiders.base import GovnewsSpider

# Paths a reader never needs for news: accounts, search, feeds, printing, ads, downloads.
NON_CONTENT = (
    r"/member/",
    r"/login",
    r"/register",
    r"/user/",
    r"search",
    r"/rss",
    r"/plus/(?!list\.php|view\.php)",
    r"print",
    r"/ad/",
    r"/tag",
    r"/comment",
    r"/api/",
)


# Article pages (/shgz/20221104/25301.html) and further pages of a list (list_12_2.html,
# plus/list.php?tid=13&PageNo=2), as this portal's CMS (DedeCMS) writes them.
ARTICLE_LINK = re.compile(r"/\d{8}/\d+\.html$")
NEXT_PAGE_LINK = re.compile(r"/list_\d+_\d+\.html$|[?&]PageNo=\d+")


class NmgfzwSpider(GovnewsSpider):
    """Follows on-site links to articles; each page is judged an article by its content.

    A repost that declares its original on a government site (原文链接, or a
    linked 来源) makes the spider fetch that original too, as a ``gov`` article.
    """

    name = "nmgfzw"
    allowed_domains = ["nmgfzw.cn"]
    start_urls = ["http://www.nmgfzw.cn/"]
    custom_settings = {"DEPTH_LIMIT": 6}
    links = LinkExtractor(allow_domains=allowed_domains, deny=NON_CONTENT, unique=True)

    def __init__(self, follow_originals: str | bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: ``-a follow_originals=false`` leaves declared originals to the government spiders.
        self.follow_originals = str(follow_originals).lower() not in ("0", "false", "no")

    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[Article | Request]:
        """Any on-site page: yield its article if it is one, then follow its links."""
        if not isinstance(response, TextResponse):
            return
        article = await self.extract(response, expected=False)
        if article is not None:
            yield article
            original = article.declared_original_url
            if self.follow_originals and original and kind_of(original) == "gov":
                for request in self.request_original(original):
                    yield request
        links = [link.url for link in self.links.extract_links(response)]
        listed = [url for url in links if ARTICLE_LINK.search(urlsplit(url).path)]
        # A list page whose articles are all stored: the older pages after it are too.
        more_pages = article is not None or not listed or self.any_new(listed)
        for url in links:
            if more_pages or not NEXT_PAGE_LINK.search(url):
                yield self.request(url, self.parse)

    def request_original(self, url: str) -> Iterator[Request]:
        """A request for a declared government original (any host, however it was spelled)."""
        try:
            cleaned = clean_url(url)
        except ValueError as exc:
            self.logger.warning("Declared original %r cannot be requested: %s", url, exc)
            return
        yield self.request(cleaned, self.parse_original, meta={"allow_offsite": True})

    async def parse_original(self, response: Response) -> AsyncIterator[Article]:
        """The government original a repost declared; an article is expected there."""
        async for article in self.parse_article(response, kind="gov"):
            yield article
