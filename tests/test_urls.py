"""URL keys: every spelling of one page gets one key, different pages get different keys."""

from __future__ import annotations

import pytest

from govnews.core.urls import clean_url, is_gov_url, request_host, site_of, url_key
from govnews.extract import kind_of

ORIGINAL = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
ORIGINAL_KEY = "nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"


def test_key_has_no_scheme_and_http_equals_https() -> None:
    assert url_key(ORIGINAL) == ORIGINAL_KEY
    assert url_key(ORIGINAL.replace("http://", "https://")) == ORIGINAL_KEY
    assert url_key(ORIGINAL.replace("http://", "HTTPS://")) == ORIGINAL_KEY


def test_host_is_lower_cased_and_idna_encoded() -> None:
    assert url_key("http://NYNCJ.ZhangZhou.GOV.cn/a.html") == "nyncj.zhangzhou.gov.cn/a.html"
    assert url_key("http://漳州.中国/a.html") == url_key("http://xn--6rts99a.xn--fiqs8s/a.html")
    assert url_key("http://漳州.中国/a.html").startswith("xn--")


def test_www_is_kept() -> None:
    assert url_key("http://www.nmgfzw.cn/a.html") != url_key("http://nmgfzw.cn/a.html")


def test_path_case_is_kept() -> None:
    assert url_key("http://x.gov.cn/News/A.html") == "x.gov.cn/News/A.html"


@pytest.mark.parametrize(
    "url",
    [
        "http://nyncj.zhangzhou.gov.cn:80/a.html",
        "https://nyncj.zhangzhou.gov.cn:443/a.html",
        "http://nyncj.zhangzhou.gov.cn:443/a.html",
    ],
)
def test_default_ports_are_dropped(url: str) -> None:
    assert url_key(url) == "nyncj.zhangzhou.gov.cn/a.html"


def test_other_ports_are_kept() -> None:
    assert url_key("http://nyncj.zhangzhou.gov.cn:8080/a.html") == (
        "nyncj.zhangzhou.gov.cn:8080/a.html"
    )


def test_fragment_is_dropped() -> None:
    assert url_key(f"{ORIGINAL}#content") == ORIGINAL_KEY
    assert url_key(f"{ORIGINAL}#") == ORIGINAL_KEY


@pytest.mark.parametrize("page", ["", "index.html", "index.htm", "index.shtml"])
def test_directory_index_pages_are_the_directory(page: str) -> None:
    assert url_key(f"http://www.nmgfzw.cn/xwzx/{page}") == "www.nmgfzw.cn/xwzx/"


def test_empty_path_is_root_and_equals_index() -> None:
    assert url_key("http://www.nmgfzw.cn") == "www.nmgfzw.cn/"
    assert url_key("http://www.nmgfzw.cn/index.html") == "www.nmgfzw.cn/"


def test_other_pages_named_index_are_kept() -> None:
    assert url_key("http://x.gov.cn/default.html") == "x.gov.cn/default.html"
    assert url_key("http://x.gov.cn/index.html.bak") == "x.gov.cn/index.html.bak"
    assert url_key("http://x.gov.cn/index.html/") == "x.gov.cn/index.html/"


def test_chinese_path_equals_its_utf8_escapes() -> None:
    escaped = "http://x.gov.cn/%E6%96%B0%E9%97%BB/a.html"
    assert url_key("http://x.gov.cn/新闻/a.html") == url_key(escaped)
    assert url_key(escaped) == "x.gov.cn/%E6%96%B0%E9%97%BB/a.html"


def test_escapes_are_upper_cased_and_unreserved_ones_decoded() -> None:
    assert url_key("http://x.gov.cn/%e6%96%b0%e9%97%bb/a.html") == (
        "x.gov.cn/%E6%96%B0%E9%97%BB/a.html"
    )
    assert url_key("http://x.gov.cn/%7Euser/%61.html") == "x.gov.cn/~user/a.html"
    assert url_key("http://x.gov.cn/list?q=%e6%96%b0&p=%32") == "x.gov.cn/list?q=%E6%96%B0&p=2"


def test_escaped_slash_is_not_a_slash() -> None:
    assert url_key("http://x.gov.cn/a%2Fb") != url_key("http://x.gov.cn/a/b")


def test_chinese_query_equals_its_utf8_escapes() -> None:
    assert url_key("http://x.gov.cn/search?kw=新闻") == url_key(
        "http://x.gov.cn/search?kw=%E6%96%B0%E9%97%BB"
    )


def test_query_is_kept_in_its_order() -> None:
    url = "http://www.nmgfzw.cn/list.jsp?page=2&cid=15"
    assert url_key(url) == "www.nmgfzw.cn/list.jsp?page=2&cid=15"
    assert url_key(url) != url_key("http://www.nmgfzw.cn/list.jsp?cid=15&page=2")
    assert url_key(url) != url_key("http://www.nmgfzw.cn/list.jsp")


def test_empty_query_is_dropped() -> None:
    assert url_key(f"{ORIGINAL}?") == ORIGINAL_KEY
    assert url_key(f"{ORIGINAL}?#top") == ORIGINAL_KEY


def test_query_on_an_index_page() -> None:
    assert url_key("http://x.gov.cn/index.html?id=3") == "x.gov.cn/?id=3"


def test_surrounding_white_space_is_stripped() -> None:
    assert url_key(f"  {ORIGINAL}\n") == ORIGINAL_KEY


def test_user_info_is_left_out() -> None:
    assert url_key("http://user:secret@x.gov.cn/a.html") == "x.gov.cn/a.html"


def test_dot_segments_are_resolved() -> None:
    assert url_key("http://x.gov.cn/cms/html/../a.html") == "x.gov.cn/cms/a.html"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x.gov.cn/a.html", "not an http"),
        ("javascript:void(0)", "not an http"),
        ("/cms/html/a.html", "not an http"),
        ("", "not an http"),
        ("http:///a.html", "no host"),
        ("http://x.gov.cn:99999/a.html", "invalid port"),
        ("http://x.gov.cn:port/a.html", "invalid port"),
    ],
)
def test_bad_urls_raise_value_error(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        url_key(url)
    with pytest.raises(ValueError, match=message):
        site_of(url)


def test_site_of_is_the_lower_case_host_without_port() -> None:
    assert site_of("HTTP://NYNCJ.Zhangzhou.gov.cn:8080/a.html") == "nyncj.zhangzhou.gov.cn"
    assert site_of("https://www.nmgfzw.cn/") == "www.nmgfzw.cn"
    assert site_of("http://漳州.中国/") == "xn--6rts99a.xn--fiqs8s"


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        (
            "http://NYNCJ.zhangzhou.gov.cn:80/cms/html/zzsnyj/2022-09-20/2101209055.html#content",
            "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-09-20/2101209055.html",
        ),
        ("https://Example.gov.cn:443", "https://example.gov.cn/"),
        ("http://example.gov.cn:8080/a?b=1&a=2", "http://example.gov.cn:8080/a?b=1&a=2"),
    ],
)
def test_clean_url(url: str, clean: str) -> None:
    assert clean_url(url) == clean


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("HTTP://NYNCJ.Zhangzhou.GOV.cn:8080/a.html", "nyncj.zhangzhou.gov.cn"),
        ("http://127.0.0.1\\secret-F.gov.cn/", "127.0.0.1"),  # "\" ends the host, as "/" does
        ("http://www.a.gov.cn\\@127.0.0.1/", "www.a.gov.cn"),
        ("http://x.gov.cn./a", "x.gov.cn"),
        ("http://例.gov.cn/", "xn--fsq.gov.cn"),
        ("not a url", ""),
    ],
)
def test_request_host_is_the_host_the_downloader_connects_to(url: str, host: str) -> None:
    assert request_host(url) == host


@pytest.mark.parametrize(
    ("url", "gov"),
    [
        ("http://nyncj.zhangzhou.gov.cn/a.html", True),
        ("https://gov.cn/", True),
        ("http://WWW.Zhangzhou.GOV.CN:8080/", True),
        ("http://例.gov.cn/", True),
        ("http://127.0.0.1\\secret-F.gov.cn/", False),  # the spelling: host 127.0.0.1
        ("http://127.0.0.1%2Fsecret.gov.cn/", False),  # no host name
        ("http://x.gov.cn.evil.com/", False),
        ("http://evilgov.cn/", False),
        ("http://www.nmgfzw.cn/", False),
    ],
)
def test_gov_urls_by_the_host_the_downloader_connects_to(url: str, gov: bool) -> None:
    assert is_gov_url(url) is gov
    assert kind_of(url) == ("gov" if gov else "portal")
