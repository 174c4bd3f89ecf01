"""农民工法治网 (www.nmgfzw.cn): a repost portal of unknown markup, read by what pages say."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

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

    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[Article | Request]:
        """Any on-site page: yield its article if it is one, then follow its links."""
        if not isinstance(response, TextResponse):
            return
        article = await self.extract(response, expected=False)
        if article is not None:
            yield article
            for request in self.originals_of(article):
                yield request
        links = [link.url for link in self.links.extract_links(response)]
        listed = [url for url in links if ARTICLE_LINK.search(urlsplit(url).path)]
        # A list page whose articles are all known: the older pages after it are too (any_new).
        more_pages = article is not None or not listed or self.any_new(listed)
        for url in links:
            if more_pages or not NEXT_PAGE_LINK.search(url):
                yield self.request(url, self.parse)

    def leads_to_listings(self, url: str, callback: str | None) -> bool:
        """Every page goes to :meth:`parse`: an article's own URL says it lists nothing."""
        is_article = ARTICLE_LINK.search(urlsplit(url).path) is not None
        return not is_article and super().leads_to_listings(url, callback)
