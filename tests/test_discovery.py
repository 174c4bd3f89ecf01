"""A site's structure read from its pages (govnews.extract.discovery), on real shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from parsel import Selector

from govnews.extract.cms import PAGINGS
from govnews.extract.cms.paging import Listing
from govnews.extract.discovery import (
    column_links,
    is_article_url,
    is_further_page,
    next_page_link,
    paging_kind,
    read_listing,
    url_shape,
)
from govnews.extract.page import Page
from govnews.mirror.paths import snapshot_path

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "snapshot"
CMS = Path(__file__).parent / "fixtures" / "cms"


def _page(url: str, body: bytes | None = None) -> tuple[Page, Listing]:
    page = Page.from_bytes(
        body if body is not None else snapshot_path(SNAPSHOT, url).read_bytes(), url
    )
    return page, Listing(url, Selector(text=page.html))


@pytest.mark.parametrize(
    "url",
    [
        "http://nynct.fujian.gov.cn/xxgk/gzdt/nyyw/202211/t20221108_6051234.htm",
        "http://www.example.gov.cn/zwgk/202305/t20230506_123.shtml",
        "http://nynct.zj.gov.cn/art/2022/8/30/art_1589297_58963902.html",
        "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html",
        "http://www.nmgfzw.cn/shgz/20221104/25301.html",
        "http://news.example.com.cn/gn/2023/0506/91234.html",
        "http://www.gov.cn/xinwen/2023-05/06/content_5754321.htm",
        "http://www.gd.gov.cn/gdywdt/content/post_4170021.html",
    ],
)
def test_article_shapes_of_known_systems(url: str) -> None:
    assert is_article_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://nynct.fujian.gov.cn/xxgk/gzdt/nyyw/index_1.htm",
        "http://nynct.zj.gov.cn/col/col1589295/index.html",
        "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/gzdt/index.html",
        "http://www.nmgfzw.cn/shgz/list_12_2.html",
        "http://www.example.gov.cn/module/web/jpage/dataproxy.jsp?page=1",
    ],
)
def test_listing_and_paging_urls_are_no_articles(url: str) -> None:
    assert not is_article_url(url)


def test_url_shape_keeps_the_path_and_frees_the_numbers() -> None:
    shape = url_shape("http://www.nmgfzw.cn/ldbz/20221028/25262.html")
    assert shape == r"^https?://www\.nmgfzw\.cn/ldbz/\d+/\d+\.html$"


@pytest.mark.parametrize(
    ("url", "kind", "least"),
    [
        ("http://nynct.fujian.gov.cn/xxgk/gzdt/nyyw/index.html", "trs", 2),
        ("http://nynct.zj.gov.cn/col/col1589295/index.html", "hanweb", 2),
        ("http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/gzdt/index.html", "fujian", 4),
        ("http://www.nmgfzw.cn/shgz/index.html", "links", 10),
    ],
)
def test_listings_of_the_snapshot_are_read(url: str, kind: str, least: int) -> None:
    page, listing = _page(url)
    host = page.host
    listed = [link for paging in PAGINGS.values() for link in paging.listed(listing)]
    read = read_listing(page, [host], listed)
    assert read.is_listing and len(read.articles) >= least
    assert all(link.startswith(f"http://{host}/") for link in read.articles)
    assert paging_kind(listing, page, [host]) == kind


def test_unknown_shape_counts_when_a_run_of_dated_items_shows_it() -> None:
    items = "".join(
        f'<li><a href="/news/show.php?itemid={n}">某某县召开第{n}次工作推进会议</a>'
        f"<span>2023-04-{n:02d}</span></li>"
        for n in range(1, 6)
    )
    html = (
        "<html><body><div class='nav'><a href='/about/'>本站简介</a><a href='/news/'>新闻中心</a>"
        f"</div><ul class='list'>{items}</ul></body></html>"
    )
    page, _ = _page("http://www.example.gov.cn/news/", html.encode())
    read = read_listing(page, ["www.example.gov.cn"])
    assert len(read.articles) == 5 and read.dated == 5
    assert read.shapes == {r"^https?://www\.example\.gov\.cn/news/show\.php\?itemid=\d+$"}
    # The page itself and its articles are no column links.
    assert column_links(page, ["www.example.gov.cn"], read.articles) == [
        "http://www.example.gov.cn/about/"
    ]


def test_navigation_is_no_listing() -> None:
    html = (
        "<html><body><ul><li><a href='/col/col1/index.html'>工作动态</a></li>"
        "<li><a href='/col/col2/index.html'>通知公告</a></li>"
        "<li><a href='/col/col3/index.html'>政策文件</a></li></ul></body></html>"
    )
    page, _ = _page("http://www.example.gov.cn/", html.encode())
    assert not read_listing(page, ["www.example.gov.cn"]).is_listing
    assert len(column_links(page, ["www.example.gov.cn"])) == 3


def test_the_next_link_first() -> None:
    html = (
        "<html><body><div class='page'><a href='index.html'>首页</a><a href='index_1.html'>2</a>"
        "<a href='index_2.html'>3</a><a href='index_1.html'>下一页</a>"
        "<a href='http://other.example.cn/index_3.html'>4</a></div></body></html>"
    )
    page, _ = _page("http://www.example.gov.cn/xwzx/index.html", html.encode())
    assert (
        next_page_link(page, ["www.example.gov.cn"])
        == "http://www.example.gov.cn/xwzx/index_1.html"
    )


@pytest.mark.parametrize(
    ("url", "links", "following"),
    [
        # Page 1 shows 2 3 4 linked: page 2 follows.
        (
            "/news/list_12.html",
            "<a href='list_12_2.html'>2</a><a href='list_12_3.html'>3</a>",
            "list_12_2.html",
        ),
        # Page 2 shows 1 and 3 linked, itself not: page 3 follows.
        (
            "/news/list_12_2.html",
            "<a href='list_12.html'>1</a><a href='list_12_3.html'>3</a>",
            "list_12_3.html",
        ),
        # The last page: nothing follows.
        (
            "/news/list_12_3.html",
            "<a href='list_12.html'>1</a><a href='list_12_2.html'>2</a>",
            None,
        ),
    ],
)
def test_numbered_pages_the_one_after_the_current(
    url: str, links: str, following: str | None
) -> None:
    html = f"<html><body><div class='pages'>{links}</div></body></html>"
    page, _ = _page(f"http://www.example.com.cn{url}", html.encode())
    found = next_page_link(page, ["www.example.com.cn"])
    assert found == (f"http://www.example.com.cn/news/{following}" if following else None)


@pytest.mark.parametrize(
    ("url", "further"),
    [
        ("http://a.gov.cn/xwzx/index_1.htm", True),
        ("http://a.com.cn/news/list_12_2.html", True),
        ("http://a.com.cn/news/list_12.html", False),
        ("http://a.cn/news/?page=2", True),
        ("http://a.cn/news/?page=1", False),
        ("http://a.gov.cn/cms/sitemanage/index.shtml?siteId=6&page=2", True),
        ("http://a.gov.cn/col/col123/index.html", False),
    ],
)
def test_further_pages_by_url(url: str, further: bool) -> None:
    assert is_further_page(url) is further


@pytest.mark.parametrize(
    "name", ["hanweb_list_nextgroup", "hanweb_list_proxy", "hanweb_list_unitbuild"]
)
def test_hanweb_list_variants_are_detected(name: str) -> None:
    url = "http://www.example.gov.cn/col/col1234/index.html"
    page, listing = _page(url, (CMS / f"{name}.html").read_bytes())
    assert PAGINGS["hanweb"].detect(listing)
    assert not PAGINGS["trs"].detect(listing)
