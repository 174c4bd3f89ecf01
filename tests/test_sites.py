"""Sites added by configuration: the sites file, the ``sites`` spider, the TRS and Hanweb sites."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import AsyncCrawlerRunner
from scrapy.http import FormRequest, HtmlResponse, Response, TextResponse
from scrapy.settings import Settings
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler, get_reactor_settings
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from twisted.python.failure import Failure

from govnews.core.urls import url_key
from govnews.crawl.signals import page_failed
from govnews.crawl.sitesfile import SitesConfigError, load_sites
from govnews.extract import extract_article
from govnews.extract.cms import PAGINGS
from govnews.extract.cms.hanweb import Window
from govnews.extract.cms.trs import trs_pages
from govnews.items import Article
from govnews.mirror import SnapshotServer
from govnews.spiders.sites import SitesSpider
from govnews.store import models
from tests.conftest import (
    ROOT,
    SNAPSHOT,
    assert_stored_as,
    collect,
    snapshot_file,
    snapshot_headers,
)
from tests.test_extract_snapshot import as_record, normalised

SITES = ROOT / "data" / "sites.toml"
EXPECTED = Path(__file__).parent / "expected" / "sites"
TRS = "http://nynct.fujian.gov.cn"
HANWEB = "http://nynct.zj.gov.cn"
ZHANGZHOU_ORIGINAL = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-10-12/2101211342.html"
TRS_REPOST = f"{TRS}/xxgk/gzdt/sxdt/202210/t20221013_6029876.htm"
DATAPROXY = f"{HANWEB}/module/web/jpage/dataproxy.jsp"
FIXTURES = Path(__file__).parent / "fixtures"
#: Snapshots of sites that are not configured: one per host folder, served by the mirror.
SITE_SNAPSHOTS = FIXTURES / "sites"
Crawl = Callable[..., subprocess.CompletedProcess[str]]


def expected_site_records() -> list[dict[str, Any]]:
    """The hand-written records of the configured sites' article pages."""
    records: list[dict[str, Any]] = []
    for path in sorted(EXPECTED.glob("*.json")):
        records.extend(json.loads(path.read_text(encoding="utf-8")))
    return records


RECORDS = expected_site_records()


# --- the sites file --------------------------------------------------------------------------


def test_shipped_sites_file() -> None:
    config = load_sites(SITES)
    fujian, zhejiang = config.sites
    assert (fujian.name, fujian.kind, fujian.pagination.kind) == ("fujian-nynct", "gov", "trs")
    assert (zhejiang.name, zhejiang.pagination.kind) == ("zhejiang-nynct", "hanweb")
    assert (fujian.delay, fujian.concurrency, zhejiang.concurrency) == (1.0, 1, 2)
    assert fujian.is_article(f"{TRS}/xxgk/gzdt/nyyw/202208/t20220818_5977781.htm")
    assert fujian.is_listing(f"{TRS}/xxgk/gzdt/nyyw/")
    assert not fujian.is_listing(f"{TRS}/xxgk/zcfg/")
    assert zhejiang.is_article(f"{HANWEB}/art/2022/8/18/art_1589295_58954321.html")
    assert not zhejiang.allows(f"{TRS}/")
    assert config.site_for(f"{HANWEB}/col/col1589295/index.html") is zhejiang
    assert [s.name for s in config.select(None)] == ["fujian-nynct", "zhejiang-nynct"]
    assert config.select(" zhejiang-nynct ,fujian-nynct") == [zhejiang, fujian]
    with pytest.raises(SitesConfigError, match=r"sites.toml: no site named 'nope' \(sites: fuj"):
        config.select("fujian-nynct,nope")


GOOD = """
name = "a"
kind = "gov"
start_urls = ["http://www.a.gov.cn/"]
allowed_hosts = ["www.a.gov.cn"]
article = ['/t\\d{8}_\\d+\\.html$']
"""


def sites_file(tmp_path: Path, *tables: str, head: str = "") -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(head + "".join(f"[[sites]]\n{t}\n" for t in tables), encoding="utf-8")
    return path


PAGES = "[sites.pagination]\n"
PICK = "[sites.selectors]\n"
SITE_A, SITE_B = "site 'a'", "site 'b'"
NOT_A_HOST = GOOD.replace('"www.a.gov.cn"]', '"http://www.a.gov.cn/"]')
ELSEWHERE = GOOD.replace("http://www.a.gov.cn/", "http://b.gov.cn/")


@pytest.mark.parametrize(
    ("tables", "site", "key", "problem"),
    [
        ([GOOD + "colour = 'red'"], SITE_A, "colour", "unknown key"),
        ([GOOD.replace("article = [", "x = [")], SITE_A, "x", "unknown key"),
        ([GOOD.replace('name = "a"', "")], "site #1", "name", "missing"),
        ([GOOD.replace('kind = "gov"', 'kind = "news"')], SITE_A, "kind", "'gov' or 'portal'"),
        ([GOOD + "listing = ['(index']"], SITE_A, "listing", "bad regular expression"),
        ([GOOD.replace("article = ['", "article = ['[")], SITE_A, "article", "bad regular"),
        ([GOOD + "listing = '/col/'"], SITE_A, "listing", "list of strings"),
        ([GOOD, GOOD], SITE_A, "name", "duplicate name"),
        ([GOOD, GOOD.replace('"a"', '"b"')], SITE_B, "allowed_hosts", "a host of site 'a'"),
        ([NOT_A_HOST], SITE_A, "allowed_hosts", "not a host name"),
        ([ELSEWHERE], SITE_A, "start_urls", "not an http(s) URL of allowed_hosts"),
        ([GOOD + "delay = -1"], SITE_A, "delay", "≥ 0"),
        ([GOOD + "concurrency = 0"], SITE_A, "concurrency", "≥ 1"),
        ([GOOD + PAGES + "kind = 'pages'"], SITE_A, "pagination.kind", "one of"),
        (
            [GOOD.replace('allowed_hosts = ["www.a.gov.cn"]', "")],
            SITE_A,
            "allowed_hosts",
            "missing",
        ),
        (
            [GOOD.replace('start_urls = ["http://www.a.gov.cn/"]', "")],
            SITE_A,
            "start_urls",
            "missing",
        ),
        ([GOOD + PAGES + "kind = 'trs'\nperpage = 5"], SITE_A, "pagination.perpage", "unknown"),
        ([GOOD + PAGES + "kind = 'hanweb'\nwindow = 0"], SITE_A, "pagination.window", "≥ 1"),
        ([GOOD + PAGES + "kind = 'links'\nlinks = ['(']"], SITE_A, "pagination.links", "bad"),
        ([GOOD + PICK + "date = 'span'"], SITE_A, "selectors.date", "unknown key"),
        ([GOOD + PICK + "title = 'h1['"], SITE_A, "selectors.title", "bad selector"),
        ([GOOD + PICK + "body = '//div['"], SITE_A, "selectors.body", "bad selector"),
    ],
)
def test_mistakes_name_the_file_the_site_and_the_key(
    tmp_path: Path, tables: list[str], site: str, key: str, problem: str
) -> None:
    path = sites_file(tmp_path, *tables)
    with pytest.raises(SitesConfigError) as raised:
        load_sites(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {site}: key {key!r}: "), message
    assert problem in message


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SitesConfigError, match="cannot read"):
        load_sites(tmp_path / "none.toml")
    with pytest.raises(SitesConfigError, match="not valid TOML"):
        load_sites(sites_file(tmp_path, GOOD + "kind = 'twice'"))
    with pytest.raises(SitesConfigError, match="unknown key 'site'"):
        load_sites(sites_file(tmp_path, head="[[site]]\nname = 'a'\n"))


def test_pagination_kinds_are_the_families_and_links(tmp_path: Path) -> None:
    """A family's paging kind (and its options) is accepted without a line in the sites file."""
    for kind, paging in PAGINGS.items():
        options = "".join(f"{option} = {n}\n" for n, option in enumerate(paging.options, 2))
        table = GOOD + PAGES + f"kind = '{kind}'\n" + options
        [site] = load_sites(sites_file(tmp_path, table)).sites
        assert site.pagination.kind == kind
        assert site.pagination.options == {o: n for n, o in enumerate(paging.options, 2)}
    hanweb = GOOD + PAGES + "kind = 'hanweb'\nwindow = 30"
    assert load_sites(sites_file(tmp_path, hanweb)).sites[0].pagination.options == {"window": 30}
    with pytest.raises(SitesConfigError) as raised:
        load_sites(sites_file(tmp_path, GOOD + PAGES + "kind = 'pages'"))
    kinds = ", ".join(map(repr, ["none", "links", *PAGINGS]))
    assert f"must be one of {kinds}, not 'pages'" in str(raised.value)


# --- the spider's callbacks --------------------------------------------------------------------


def make_spider(sites: Path = SITES, **kwargs: str) -> tuple[SitesSpider, list[dict[str, Any]]]:
    crawler = get_crawler(SitesSpider, {"GOVNEWS_SITES": str(sites)})
    failures: list[dict[str, Any]] = []
    crawler.signals.connect(lambda **kw: failures.append(kw), signal=page_failed, weak=False)
    return SitesSpider.from_crawler(crawler, **kwargs), failures


def response(url: str, callback: object = None) -> HtmlResponse:
    request = Request(url, callback=callback)
    return HtmlResponse(url, body=snapshot_file(url).read_bytes(), request=request)


def answer(request: Request) -> TextResponse:
    """What the snapshot answers a (POST) request: the file keyed by its body."""
    path = SnapshotServer(SNAPSHOT).path_for(request.url, request.body)
    return TextResponse(request.url, body=path.read_bytes(), encoding="utf-8", request=request)


def requests(out: list[Any], callback: object) -> list[str]:
    return [r.url for r in out if isinstance(r, Request) and r.callback == callback]


def test_name_argument_chooses_sites_not_the_spider_name() -> None:
    spider, _ = make_spider(name="zhejiang-nynct")
    assert spider.name == "sites"
    assert spider.start_urls == [f"{HANWEB}/"]
    assert spider.allowed_domains == ["nynct.zj.gov.cn"]
    every, _ = make_spider()
    assert every.start_urls == [f"{TRS}/", f"{HANWEB}/"]


def test_home_page_gives_listings_and_articles_of_the_site() -> None:
    spider, failures = make_spider()
    out = collect(spider.parse(response(f"{TRS}/")))
    assert sorted(requests(out, spider.parse_listing)) == [
        f"{TRS}/xxgk/gzdt/nyyw/",
        f"{TRS}/xxgk/gzdt/sxdt/",
    ]
    assert len(requests(out, spider.parse_article)) == 4
    assert failures == []


def test_trs_list_pages_follow_create_page_html_one_after_another() -> None:
    spider, failures = make_spider()
    first = list(spider.parse_listing(response(f"{TRS}/xxgk/gzdt/nyyw/")))
    assert requests(first, spider.parse_article) == [
        f"{TRS}/xxgk/gzdt/nyyw/202211/t20221108_6051234.htm",
        f"{TRS}/xxgk/gzdt/nyyw/202210/t20221019_6032587.htm",
    ]
    assert requests(first, spider.parse_listing) == [
        f"{TRS}/xxgk/gzdt/nyyw/",  # the menus (Scrapy's duplicate filter drops this one)
        f"{TRS}/xxgk/gzdt/sxdt/",
        f"{TRS}/xxgk/gzdt/nyyw/index_1.htm",  # countPage = 3, currentPage = 0
    ]
    second = list(spider.parse_listing(response(f"{TRS}/xxgk/gzdt/nyyw/index_1.htm")))
    assert f"{TRS}/xxgk/gzdt/nyyw/index_2.htm" in requests(second, spider.parse_listing)
    last = list(spider.parse_listing(response(f"{TRS}/xxgk/gzdt/nyyw/index_2.htm")))
    assert requests(last, spider.parse_article) == [
        f"{TRS}/xxgk/gzdt/nyyw/202208/t20220818_5977781.htm"
    ]
    assert not [url for url in requests(last, spider.parse_listing) if "index_" in url]
    assert failures == []


def test_trs_paging_stops_after_a_page_with_nothing_new() -> None:
    spider, _ = make_spider()
    spider.any_new = lambda urls: False  # type: ignore[method-assign]
    out = list(spider.parse_listing(response(f"{TRS}/xxgk/gzdt/nyyw/")))
    assert len(requests(out, spider.parse_article)) == 2
    assert not [url for url in requests(out, spider.parse_listing) if "index_" in url]


def test_unreadable_or_missing_trs_pagination_is_a_failure() -> None:
    with pytest.raises(ValueError, match="cannot read the number 'pageCount'"):
        trs_pages('createPageHTML(pageCount, 0, "index", "htm");')
    with pytest.raises(ValueError, match="page 3 of 2"):
        trs_pages('createPageHTML(2, 3, "index", "htm");')
    spider, failures = make_spider()
    url = f"{TRS}/xxgk/gzdt/sxdt/"
    page = HtmlResponse(
        url, body=b"<ul><li><a href='./a.htm'>a</a></li></ul>", request=Request(url)
    )
    assert list(spider.parse_listing(page)) == []
    assert (failures[0]["url"], failures[0]["stage"]) == (url, "extract")
    assert "without a createPageHTML" in failures[0]["reason"]


def test_hanweb_column_records_then_a_post_window() -> None:
    spider, failures = make_spider()
    column = f"{HANWEB}/col/col1589295/index.html"
    out = list(spider.parse_listing(response(column)))
    assert requests(out, spider.parse_article) == [
        f"{HANWEB}/art/2022/11/9/art_1589295_59012463.html",
        f"{HANWEB}/art/2022/10/21/art_1589295_59001287.html",
    ]
    [window] = [r for r in out if isinstance(r, FormRequest)]
    assert window.method == "POST"
    assert window.url == f"{DATAPROXY}?startrecord=3&endrecord=4&perpage=2"
    assert window.headers["X-Requested-With"] == b"XMLHttpRequest"
    assert window.body == (
        b"col=1&appid=1&webid=3064&path=%2F&columnid=1589295&sourceContentType=1"
        b"&unitid=7214843&webname=%E6%B5%99%E6%B1%9F%E7%9C%81%E5%86%9C%E4%B8%9A%E5%86%9C"
        b"%E6%9D%91%E5%8E%85&permissiontype=0"
    )
    state: Window = window.cb_kwargs["window"]
    assert (state.column, state.total, state.start, state.end) == (column, 4, 3, 4)
    assert failures == []


def test_hanweb_windows_overlap_and_are_deduplicated_until_the_total() -> None:
    spider, failures = make_spider()
    column = f"{HANWEB}/col/col1589295/index.html"
    [first] = [r for r in spider.parse_listing(response(column)) if isinstance(r, FormRequest)]
    # An article published after the column page shifts the live records by one: the
    # first window repeats the page's second record, which is not requested again.
    out = list(spider.parse_window(answer(first), **first.cb_kwargs))
    assert requests(out, spider.parse_article) == [
        f"{HANWEB}/art/2022/9/13/art_1589295_58978654.html"
    ]
    [second] = [r for r in out if isinstance(r, FormRequest)]
    assert second.url == f"{DATAPROXY}?startrecord=5&endrecord=6&perpage=2"
    assert second.body == first.body
    assert second.cb_kwargs["window"].total == 5  # the answer's <totalrecord>
    out = list(spider.parse_window(answer(second), **second.cb_kwargs))
    assert requests(out, spider.parse_article) == [
        f"{HANWEB}/art/2022/8/18/art_1589295_58954321.html"
    ]
    assert not [r for r in out if isinstance(r, FormRequest)]  # 6 ≥ 5 records
    assert failures == []


def test_hanweb_windows_stop_when_nothing_is_new() -> None:
    spider, _ = make_spider()
    column = f"{HANWEB}/col/col1589295/index.html"
    [first] = [r for r in spider.parse_listing(response(column)) if isinstance(r, FormRequest)]
    spider.any_new = lambda urls: False  # type: ignore[method-assign]
    assert not [r for r in spider.parse_listing(response(column)) if isinstance(r, FormRequest)]
    assert not [
        r
        for r in spider.parse_window(answer(first), **first.cb_kwargs)
        if isinstance(r, FormRequest)
    ]
    spider.any_new = lambda urls: bool(list(urls))  # type: ignore[method-assign]
    answered = {
        f"{HANWEB}/art/2022/10/21/art_1589295_59001287.html",
        f"{HANWEB}/art/2022/9/13/art_1589295_58978654.html",
    }
    repeat = replace(first.cb_kwargs["window"], seen=frozenset(answered))
    repeat_answer = spider.parse_window(answer(first), window=repeat, kind="hanweb")
    assert list(repeat_answer) == []  # only repeats


def test_hanweb_column_whose_records_fit_on_the_page_posts_nothing(tmp_path: Path) -> None:
    spider, failures = make_spider()
    url = f"{HANWEB}/col/col1589297/index.html"
    page = snapshot_file(url).read_bytes().replace(b"totalRecord:3,", b"totalRecord:2,")
    out = list(spider.parse_listing(HtmlResponse(url, body=page, request=Request(url))))
    assert len(requests(out, spider.parse_article)) == 2
    assert not [r for r in out if isinstance(r, FormRequest)]
    assert failures == []


NO_PARAMS = (
    "JCMS list 7214843: no dataproxy.jsp parameters"
    " (columnid in none of ajaxParam, the <nextgroup> link, param_7214843)"
)


def test_hanweb_failures_are_recorded_on_the_column() -> None:
    spider, failures = make_spider()
    column = f"{HANWEB}/col/col1589295/index.html"
    bare = HtmlResponse(
        column, body=b"<html><body><ul></ul></body></html>", request=Request(column)
    )
    assert list(spider.parse_listing(bare)) == []
    page = snapshot_file(column).read_bytes()
    no_jpage = page.replace(b".jpage(", b".paging(")
    no_params = re.sub(rb"ajaxParam:\{[^}]*\}", b"ajaxParam:null", page)
    no_params = re.sub(rb"<nextgroup>.*?</nextgroup>", b"", no_params, flags=re.S)
    for body in (no_jpage, no_params):
        out = spider.parse_listing(HtmlResponse(column, body=body, request=Request(column)))
        assert not [r for r in out if isinstance(r, FormRequest)]
    [window] = [r for r in spider.parse_listing(response(column)) if isinstance(r, FormRequest)]
    garbled = TextResponse(window.url, body=b"<html>busy</html>", encoding="utf-8", request=window)
    assert list(spider.parse_window(garbled, **window.cb_kwargs)) == []
    error = HttpError(TextResponse(window.url, status=503, body=b"", request=window))
    failure = Failure(error)
    failure.request = window  # type: ignore[attr-defined]
    spider.on_window_error(failure)
    reasons = [(f["url"], f["callback"], f["reason"]) for f in failures]
    assert reasons == [
        (column, None, "JCMS column without a <datastore> list"),
        (column, None, "JCMS list 7214843 without its jpage(...) pagination script"),
        (column, None, NO_PARAMS),
        (column, None, "dataproxy.jsp records 3-4: no <datastore> in the answer"),
        (column, None, "dataproxy.jsp records 3-4: HTTP 503"),
    ]


ZJJ = "http://zjj.example.gov.cn"
ZJJ_SITE = f"""name = "zjj"
kind = "gov"
start_urls = ["{ZJJ}/"]
allowed_hosts = ["zjj.example.gov.cn"]
listing = ['/col/col\\d+/index\\.html$']
article = ['/art/\\d{{4}}/\\d{{1,2}}/\\d{{1,2}}/art_\\d+_\\d+\\.html$']
"""


def test_hanweb_window_posted_where_its_jpage_says_on_the_site_only(tmp_path: Path) -> None:
    """An old JCMS POSTs to /module/jpage/dataproxy.jsp; a proxy off the site is a failure."""
    column = f"{ZJJ}/col/col1389975/index.html"
    page = (FIXTURES / "cms" / "hanweb_list_proxy.html").read_bytes()
    spider, failures = make_spider(sites_file(tmp_path, ZJJ_SITE + PAGES + "kind = 'hanweb'"))
    out = list(spider.parse_listing(HtmlResponse(column, body=page, request=Request(column))))
    assert len(requests(out, spider.parse_article)) == 6
    [window] = [r for r in out if isinstance(r, FormRequest)]
    assert window.url == f"{ZJJ}/module/jpage/dataproxy.jsp?startrecord=7&endrecord=24&perpage=6"
    assert b"&columnid=1389975&" in window.body
    elsewhere = page.replace(
        b"proxyUrl:'/module/jpage/dataproxy.jsp'",
        b"proxyUrl:'http://www.example.gov.cn/module/jpage/dataproxy.jsp'",
    )
    out = list(spider.parse_listing(HtmlResponse(column, body=elsewhere, request=Request(column))))
    assert not [r for r in out if isinstance(r, FormRequest)]
    assert [(f["url"], f["reason"]) for f in failures] == [
        (column, "dataproxy.jsp records 7-24: www.example.gov.cn is not in allowed_hosts")
    ]


def test_pagination_links_kind(tmp_path: Path) -> None:
    table = (
        GOOD.replace("www.a.gov.cn", "nynct.fujian.gov.cn").replace(".html$", ".htm$")
        + "listing = ['/sxdt/$']\n"
        + PAGES
        + "kind = 'links'\nlinks = ['/sxdt/index_\\d+\\.htm$']"
    )
    spider, _ = make_spider(sites_file(tmp_path, table))
    url = f"{TRS}/xxgk/gzdt/sxdt/"
    numbers = b'<div class="pagination"><a href="index_1.htm">2</a>'
    page = snapshot_file(url).read_bytes().replace(b'<div class="pagination">', numbers)
    out = list(spider.parse_listing(HtmlResponse(url, body=page, request=Request(url))))
    assert requests(out, spider.parse_listing) == [url, f"{url}index_1.htm"]  # menu, next
    spider.any_new = lambda urls: False  # type: ignore[method-assign]
    out = list(spider.parse_listing(HtmlResponse(url, body=page, request=Request(url))))
    assert requests(out, spider.parse_listing) == [url]


def test_selectors_override_the_engine(tmp_path: Path) -> None:
    table = GOOD.replace("www.a.gov.cn", "nynct.fujian.gov.cn") + (
        "[sites.selectors]\n"
        "title = 'title'\n"
        "body = 'div.TRS_Editor > p:nth-of-type(2)'\n"
        "published_at = '//meta[@name=\"PubDate\"]/@content'\n"
        "source_name = 'div.xl_info span:nth-child(2)'\n"
        "author = 'div.no-such-block'\n"
    )
    spider, failures = make_spider(sites_file(tmp_path, table))
    url = f"{TRS}/xxgk/gzdt/nyyw/202211/t20221108_6051234.htm"
    [article] = collect(spider.parse_article(response(url)))
    assert isinstance(article, Article) and article.kind == "gov"
    assert article.title == "全省秋冬种农业生产工作推进会在三明召开_农业要闻_福建省农业农村厅"
    assert article.body_text.startswith("会议指出，今年以来") and "\n" not in article.body_text
    assert article.published_at == datetime.fromisoformat("2022-11-08T17:20:00+08:00")
    assert article.source_name == "福建省农业农村厅"
    assert article.author is None  # nothing found: the engine's value stays
    assert {name: article.provenance[name] for name in ("title", "body_text", "source_name")} == {
        "title": "selector:title",
        "body_text": "selector:body",
        "source_name": "selector:source_name",
    }
    engine = extract_article(snapshot_file(url).read_bytes(), url)
    assert article.fingerprint != engine.fingerprint
    assert failures == []


def test_per_site_slots_are_set_before_the_settings_freeze(tmp_path: Path) -> None:
    settings = get_project_settings()
    settings.setdict(get_reactor_settings(), priority="cmdline")
    # Freezing builds the extensions, the crawl's database among them.
    settings.set("GOVNEWS_DATABASE_URL", f"sqlite:///{tmp_path / 'g.db'}", priority="cmdline")
    crawler = AsyncCrawlerRunner(settings).create_crawler(SitesSpider)
    spider = SitesSpider.from_crawler(crawler, name="fujian-nynct,zhejiang-nynct")
    crawler._apply_settings()  # what Crawler.crawl does once the spider exists
    assert crawler.settings.frozen
    assert crawler.settings.getdict("DOWNLOAD_SLOTS") == {
        "sites:fujian-nynct": {"concurrency": 1, "delay": 1.0},
        "sites:zhejiang-nynct": {"concurrency": 2, "delay": 1.0},
    }
    request = spider.request(f"{TRS}/xxgk/gzdt/nyyw/", spider.parse_listing)
    assert request.meta == {
        "download_slot": "sites:fujian-nynct",
        "autothrottle_dont_adjust_delay": True,
    }
    mirrored = Settings(get_project_settings().copy_to_dict())
    mirrored.set("GOVNEWS_MIRROR", str(SNAPSHOT))
    crawler = AsyncCrawlerRunner(mirrored).create_crawler(SitesSpider)
    spider = SitesSpider.from_crawler(crawler, name="fujian-nynct")
    assert crawler.settings.getdict("DOWNLOAD_SLOTS") == {"sites:fujian-nynct": {"concurrency": 1}}
    assert spider.politeness(f"{TRS}/") == {"download_slot": "sites:fujian-nynct"}


# --- the pages: extraction and whole crawls ---------------------------------------------------


@pytest.mark.parametrize("record", RECORDS, ids=[r["url"] for r in RECORDS])
def test_site_article_fields_exact(record: dict[str, Any]) -> None:
    url = record["url"]
    article = extract_article(snapshot_file(url).read_bytes(), url, headers=snapshot_headers(url))
    assert as_record(article) == normalised(record)


def fetched(log: str) -> list[tuple[str, str]]:
    """(method, URL) of every response a crawl's DEBUG log says was downloaded."""
    return re.findall(r"Crawled \(\d+\) <(GET|POST) ([^>]+)>", log)


def assert_stored_exactly(engine: Engine, host: str) -> set[str]:
    """Every expected record of ``host`` stored field by field; nothing else of it stored."""
    expected = [r for r in RECORDS if r["site"] == host]
    with Session(engine) as session:
        for record in expected:
            row = session.scalar(
                select(models.ArticleRow).where(models.ArticleRow.url_key == url_key(record["url"]))
            )
            assert_stored_as(row, record)
        stored_keys = set(
            session.scalars(select(models.ArticleRow.url_key).where(models.ArticleRow.site == host))
        )
        assert stored_keys == {url_key(r["url"]) for r in expected}
        assert not session.scalars(select(models.PageFailure)).all()
    return stored_keys


def test_trs_site_end_to_end(crawl: Crawl, crawl_engine: Engine) -> None:
    first = crawl("sites", "-a", "name=fujian-nynct", "-s", "LOG_LEVEL=DEBUG")
    stored = assert_stored_exactly(crawl_engine, "nynct.fujian.gov.cn")
    assert (
        "GET",
        f"{TRS}/xxgk/gzdt/nyyw/index_2.htm",
    ) in fetched(first.stderr)
    again = crawl("sites", "-a", "name=fujian-nynct", "-s", "LOG_LEVEL=DEBUG")
    urls = {url for _, url in fetched(again.stderr)}
    assert urls and not {url_key(u) for u in urls} & stored  # no stored article fetched again
    assert f"{TRS}/xxgk/gzdt/nyyw/index_1.htm" not in urls  # paging stopped at page 1
    # The department's repost of a Zhangzhou article links to it once the original is stored.
    crawl("zhangzhou")
    with Session(crawl_engine) as session:
        repost = session.scalar(
            select(models.ArticleRow).where(models.ArticleRow.url == TRS_REPOST)
        )
        original = session.scalar(
            select(models.ArticleRow).where(models.ArticleRow.url == ZHANGZHOU_ORIGINAL)
        )
        assert repost is not None and original is not None
        link = session.scalar(select(models.Repost).where(models.Repost.repost_id == repost.id))
        assert link is not None and link.original_id == original.id
        assert link.method == "title_date"


def test_hanweb_site_end_to_end(crawl: Crawl, crawl_engine: Engine) -> None:
    first = crawl("sites", "-a", "name=zhejiang-nynct", "-s", "LOG_LEVEL=DEBUG")
    stored = assert_stored_exactly(crawl_engine, "nynct.zj.gov.cn")
    posts = [url for method, url in fetched(first.stderr) if method == "POST"]
    assert sorted(posts) == [
        f"{DATAPROXY}?startrecord=3&endrecord=4&perpage=2",  # 工作动态
        f"{DATAPROXY}?startrecord=3&endrecord=4&perpage=2",  # 市县动态: same URL, its own form
        f"{DATAPROXY}?startrecord=5&endrecord=6&perpage=2",
    ]
    again = crawl("sites", "-a", "name=zhejiang-nynct", "-s", "LOG_LEVEL=DEBUG")
    requested = fetched(again.stderr)
    assert requested and not {url_key(url) for _, url in requested} & stored
    assert not [url for method, url in requested if method == "POST"]
    assert "'govnews/skipped_known/nynct.zj.gov.cn'" in again.stderr


NYNCJ = "http://nyncj.example.gov.cn"
NYNCJ_DATAPROXY = f"{NYNCJ}/module/web/jpage/dataproxy.jsp"
#: Its articles: two in the column page's datastore, then two in each dataproxy.jsp window.
NYNCJ_ARTICLES = {
    f"{NYNCJ}/art/2024/6/12/art_1229500101_59120437.html": (
        "全市“三夏”生产暨夏粮收购工作会议召开",
        "2024-06-12T16:05:00+08:00",
    ),
    f"{NYNCJ}/art/2024/6/6/art_1229500101_59111802.html": (
        "市农业农村局开展农资打假专项检查",
        "2024-06-06T10:30:00+08:00",
    ),
    f"{NYNCJ}/art/2024/5/29/art_1229500101_59098265.html": (
        "我市新增4家省级农业龙头企业",
        "2024-05-29T09:12:00+08:00",
    ),
    f"{NYNCJ}/art/2024/5/20/art_1229500101_59083140.html": (
        "全市高素质农民培育工作启动",
        "2024-05-20T15:48:00+08:00",
    ),
    f"{NYNCJ}/art/2024/5/11/art_1229500101_59069573.html": (
        "市农业农村局部署水稻病虫害统防统治工作",
        "2024-05-11T11:20:00+08:00",
    ),
    f"{NYNCJ}/art/2024/4/30/art_1229500101_59052918.html": (
        "清溪市美丽乡村示范村建设名单公布",
        "2024-04-30T14:36:00+08:00",
    ),
}
NYNCJ_SITE = f"""name = "nyncj-example"
kind = "gov"
start_urls = ["{NYNCJ}/"]
allowed_hosts = ["nyncj.example.gov.cn"]
listing = ['/col/col1229500101/index\\.html$']
article = ['/art/\\d{{4}}/\\d{{1,2}}/\\d{{1,2}}/art_\\d+_\\d+\\.html$']

[sites.pagination]
kind = "hanweb"
"""


def test_hanweb_form_from_the_nextgroup_link_end_to_end(
    tmp_path: Path, crawl: Crawl, crawl_engine: Engine
) -> None:
    """A column whose jpage ajaxParam is {col, sourceContentType} only: the column and unit
    come from the <nextgroup> link, and both windows are POSTed with them."""
    done = crawl(
        "sites",
        "-s", f"GOVNEWS_SITES={sites_file(tmp_path, NYNCJ_SITE)}",
        "-s", f"GOVNEWS_MIRROR={SITE_SNAPSHOTS}",
        "-s", "LOG_LEVEL=DEBUG",
    )  # fmt: skip
    requested = fetched(done.stderr)
    assert sorted(url for method, url in requested if method == "POST") == [
        f"{NYNCJ_DATAPROXY}?startrecord=3&endrecord=4&perpage=2",
        f"{NYNCJ_DATAPROXY}?startrecord=5&endrecord=6&perpage=2",
    ]
    assert {url for _, url in requested if "/art/" in url} == set(NYNCJ_ARTICLES)
    with Session(crawl_engine) as session:
        rows = session.scalars(
            select(models.ArticleRow).where(models.ArticleRow.site == "nyncj.example.gov.cn")
        ).all()
        stored = {row.url: (row.title, row.published_at) for row in rows}
        assert {row.kind for row in rows} == {"gov"}
        assert {row.source_name for row in rows} == {"清溪市农业农村局"}
        assert not session.scalars(select(models.PageFailure)).all()
    assert stored == {
        url: (title, datetime.fromisoformat(date)) for url, (title, date) in NYNCJ_ARTICLES.items()
    }


def test_a_site_delay_holds_on_a_real_connection(tmp_path: Path) -> None:
    """Without the mirror, a site's delay spaces its requests, AutoThrottle on."""
    root = tmp_path / "snapshot" / "127.0.0.1"
    root.mkdir(parents=True)
    lists = [f"/list{n}.html" for n in range(1, 4)]
    links = "".join(f'<a href="{path}">{path}</a>' for path in lists)
    (root / "index.html").write_text(f"<html><body>{links}</body></html>")
    for path in lists:
        (root / path.lstrip("/")).write_text("<html><body><p>empty list</p></body></html>")
    with SnapshotServer(tmp_path / "snapshot") as server:
        table = f"""name = "local"
kind = "gov"
start_urls = ["http://127.0.0.1:{server.port}/"]
allowed_hosts = ["127.0.0.1"]
listing = ['/list\\d\\.html$']
article = ['/art/\\d+\\.html$']
delay = 1.0
concurrency = 1
"""
        command = [
            sys.executable, "-m", "scrapy", "crawl", "sites",
            "-s", f"GOVNEWS_SITES={sites_file(tmp_path, table)}",
            "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{tmp_path / 'local.db'}",
            "-s", "DOWNLOAD_DELAY_JITTER=0",
            # the test's server, on this machine: let through by the test allowance
            "-s", f"GOVNEWS_OUTBOUND_ALLOW=127.0.0.1:{server.port}",
        ]  # fmt: skip
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'downloader/request_count': 5" in done.stderr  # robots.txt, home, 3 lists
    elapsed = float(re.findall(r"'elapsed_time_seconds': ([\d.]+)", done.stderr)[0])
    # Four requests in the site's slot, one second apart; AutoThrottle (on) would have
    # brought the delay down to DOWNLOAD_DELAY (0.5 s) after the first response.
    assert elapsed >= 3 * 0.95


def test_responses_are_not_articles_of_other_sites() -> None:
    spider, _ = make_spider(name="fujian-nynct")
    off = HtmlResponse("http://www.example.com/", body=b"<html><a href='/x'>x</a></html>")
    assert collect(spider.parse(off)) == []
    not_html = Response(f"{TRS}/file.pdf", body=b"%PDF")
    assert collect(spider.parse(not_html)) == []
