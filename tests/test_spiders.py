"""Spider callbacks on snapshot pages: which requests and items each page gives."""

from __future__ import annotations

from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from govnews.crawl.signals import page_failed
from govnews.items import Article
from govnews.spiders.nmgfzw import NmgfzwSpider
from govnews.spiders.zhangzhou import ZhangzhouSpider
from tests.conftest import SEED_ORIGINAL, SEED_REPOST, collect, snapshot_file

NYNCJ = "http://nyncj.zhangzhou.gov.cn"


def response(url: str, body: bytes | None = None, callback: object = None) -> HtmlResponse:
    request = Request(url, callback=callback)
    return HtmlResponse(url, body=body or snapshot_file(url).read_bytes(), request=request)


def spider(cls: type, **kwargs: str) -> tuple[object, list[dict]]:
    crawler = get_crawler(cls)
    failures: list[dict] = []
    crawler.signals.connect(lambda **kw: failures.append(kw), signal=page_failed, weak=False)
    return cls.from_crawler(crawler, **kwargs), failures


def test_column_page_gives_articles_with_listed_dates_and_the_next_page() -> None:
    zhangzhou, failures = spider(ZhangzhouSpider)
    out = list(zhangzhou.parse_column(response(f"{NYNCJ}/cms/html/zzsnyj/gzdt/index.html")))
    articles = [r for r in out if r.callback == zhangzhou.parse_article]
    [page] = [r for r in out if r.callback == zhangzhou.parse_column and "page=" in r.url]
    assert len(articles) == 4
    assert all(r.cb_kwargs["listing_date"] is not None for r in articles)
    assert page.url == f"{NYNCJ}/cms/sitemanage/index.shtml?siteId=60434401&page=2"
    assert page.cb_kwargs == {"page": 2, "last": 3}
    second = response(page.url, snapshot_file(page.url).read_bytes())
    out = list(zhangzhou.parse_column(second, **page.cb_kwargs))
    pages = [r.url for r in out if r.callback == zhangzhou.parse_column]
    assert pages == [f"{NYNCJ}/cms/sitemanage/index.shtml?siteId=60434401&page=3"]
    third = list(zhangzhou.parse_column(second, page=3, last=3))
    assert [r for r in third if r.callback == zhangzhou.parse_column] == []  # the last page
    assert failures == []


def test_a_failed_column_page_requested_again_goes_on_from_its_own_number() -> None:
    zhangzhou, failures = spider(ZhangzhouSpider)
    url = f"{NYNCJ}/cms/sitemanage/index.shtml?siteId=60434401&page=2"
    out = list(zhangzhou.parse_column(response(url)))  # as a retry calls it: no cb_kwargs
    pages = [r for r in out if r.callback == zhangzhou.parse_column]
    assert [(r.url, r.cb_kwargs) for r in pages] == [
        (f"{NYNCJ}/cms/sitemanage/index.shtml?siteId=60434401&page=3", {"page": 3, "last": 3})
    ]
    assert len([r for r in out if r.callback == zhangzhou.parse_article]) > 0
    assert failures == []


def test_column_paging_stops_after_a_page_with_nothing_new() -> None:
    zhangzhou, _ = spider(ZhangzhouSpider)
    zhangzhou.any_new = lambda urls: False  # every listed article is stored and current
    out = list(zhangzhou.parse_column(response(f"{NYNCJ}/cms/html/zzsnyj/gzdt/index.html")))
    assert [r for r in out if "page=" in r.url] == []
    assert len([r for r in out if r.callback == zhangzhou.parse_article]) == 4


def test_portal_list_stops_paging_when_its_articles_are_all_stored() -> None:
    nmgfzw, _ = spider(NmgfzwSpider)
    listing = response("http://www.nmgfzw.cn/shgz/index.html")
    pages = [r.url for r in collect(nmgfzw.parse(listing)) if "list_" in r.url]
    assert pages  # a first run pages on
    nmgfzw.any_new = lambda urls: False
    assert [r.url for r in collect(nmgfzw.parse(listing)) if "list_" in r.url] == []


def test_empty_column_is_no_failure_but_a_page_without_list_is() -> None:
    zhangzhou, failures = spider(ZhangzhouSpider)
    empty = response(f"{NYNCJ}/cms/html/zzsnyj/dwfy/index.html")
    assert [r for r in zhangzhou.parse_column(empty) if r.callback == zhangzhou.parse_article] == []
    assert failures == []
    broken = response(f"{NYNCJ}/cms/html/zzsnyj/x/index.html", b"<html><body>x</body></html>")
    assert list(zhangzhou.parse_column(broken)) == []
    assert failures[0]["stage"] == "extract" and "ul#resources" in failures[0]["reason"]


def test_hosts_argument_chooses_sites_of_the_same_cms() -> None:
    zhangzhou, _ = spider(ZhangzhouSpider, hosts="www.zhangzhou.gov.cn, JSJ.zhangzhou.gov.cn")
    assert zhangzhou.start_urls == ["http://www.zhangzhou.gov.cn/", "http://jsj.zhangzhou.gov.cn/"]
    default, _ = spider(ZhangzhouSpider)
    assert default.start_urls == ["http://nyncj.zhangzhou.gov.cn/", "http://www.zhangzhou.gov.cn/"]


def test_repost_gives_article_and_request_for_its_government_original() -> None:
    nmgfzw, failures = spider(NmgfzwSpider)
    out = collect(nmgfzw.parse(response(SEED_REPOST)))
    [article] = [o for o in out if isinstance(o, Article)]
    assert article.url == SEED_REPOST and article.kind == "portal"
    [original] = [o for o in out if isinstance(o, Request) and o.callback == nmgfzw.parse_original]
    assert original.url == SEED_ORIGINAL and original.meta["allow_offsite"]
    assert failures == []


def test_declared_original_spelled_oddly_is_requested_clean() -> None:
    nmgfzw, _ = spider(NmgfzwSpider)
    url = "http://www.nmgfzw.cn/shgz/20220921/25102.html"
    out = [o for o in collect(nmgfzw.parse(response(url))) if isinstance(o, Request)]
    originals = [o.url for o in out if o.callback == nmgfzw.parse_original]
    assert originals == [f"{NYNCJ}/cms/html/zzsnyj/2022-09-20/2101209055.html"]


def test_portal_follows_content_links_only() -> None:
    nmgfzw, failures = spider(NmgfzwSpider)
    urls = [r.url for r in collect(nmgfzw.parse(response("http://www.nmgfzw.cn/")))]
    assert "http://www.nmgfzw.cn/shgz/" in urls
    assert SEED_REPOST in urls
    assert not [u for u in urls if "/member/" in u or "search" in u or "nmgfzw.cn" not in u]
    assert failures == []  # the home page is no article, and that is no failure


def test_original_that_is_no_article_is_a_failure() -> None:
    nmgfzw, failures = spider(NmgfzwSpider)
    home = response(f"{NYNCJ}/", callback=nmgfzw.parse_original)
    assert collect(nmgfzw.parse_original(home)) == []
    assert failures[0]["callback"] == "parse_original"
