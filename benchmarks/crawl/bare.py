"""The crawl benchmark's baseline: the zhangzhou spider's pages, downloaded and nothing more.

    scrapy runspider benchmarks/crawl/bare.py -a hosts=HOST -s GOVNEWS_MIRROR=DIR

It follows links exactly as ``ZhangzhouSpider`` does (same start URLs, home
page, columns, one list page after another; its callbacks synchronous, the
cheapest kind for Scrapy), with the project's settings,
downloader middlewares (robots.txt, the mirror) and concurrency, but without
article extraction, item pipelines, govnews's spider middlewares or a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.http import Response

from govnews import settings as project
from govnews.items import Article
from govnews.spiders.zhangzhou import ARTICLE_PATH, COLUMN_PATH, ZhangzhouSpider


class BareSpider(ZhangzhouSpider):
    """ZhangzhouSpider that leaves article pages as downloaded and asks no database."""

    name = "bare-zhangzhou"
    custom_settings = {
        "EXTENSIONS": dict.fromkeys(project.EXTENSIONS),
        "ITEM_PIPELINES": dict.fromkeys(project.ITEM_PIPELINES),
        "SPIDER_MIDDLEWARES": dict.fromkeys(project.SPIDER_MIDDLEWARES),
        "GOVNEWS_INCREMENTAL": False,
        "GOVNEWS_RETRY_FAILURES": False,
    }

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Request]:  # type: ignore[override]
        """ZhangzhouSpider.parse, synchronous: columns and site links; an article page is done."""
        path = urlsplit(response.url).path
        if COLUMN_PATH.match(path):
            yield from self.parse_column(response)
        elif not ARTICLE_PATH.match(path):
            yield from self.follow_site_links(response)

    def parse_article(self, response: Response, **hints: Any) -> Iterator[Article]:  # type: ignore[override]
        """Nothing: the page was downloaded."""
        yield from ()

    def any_new(self, urls: Iterable[str]) -> bool:
        """Every list page is worth its next page, as in a first crawl."""
        return True
