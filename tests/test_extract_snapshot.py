"""Extraction without the Scrapy engine: snapshot bytes in, the hand-written record out."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from govnews.extract import ErrorPage, ExtractionError, NotAnArticle, extract_article
from tests.conftest import (
    SEED_ORIGINAL,
    SEED_REPOST,
    SNAPSHOT,
    expected_records,
    snapshot_file,
    snapshot_headers,
)

RECORDS = expected_records()
SEED_TITLE = "漳州召开2022年度全国文明城市创建工作动员会"
CHROME = (
    "欢迎访问农民工法治网",
    "设为首页",
    "您当前所在位置",
    "原文链接",
    "免责声明",
    "版权所有",
    "京ICP备14049160号",
    "来源:",
    "作者:",
    "时间:",
)
VARIANTS = Path(__file__).parent / "fixtures" / "seed_variants"


def extract_url(url: str, **hints: object):
    return extract_article(
        snapshot_file(url).read_bytes(), url, headers=snapshot_headers(url), **hints
    )


def as_record(article) -> dict:
    return {
        "url": article.url,
        "site": article.site,
        "kind": article.kind,
        "title": article.title,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "source_name": article.source_name,
        "author": article.author,
        "editor": article.editor,
        "original_title": article.original_title,
        "category": article.category,
        "declared_original_url": article.declared_original_url,
        "body_text": article.body_text,
        "images": article.images,
        "attachments": article.attachments,
    }


def normalised(record: dict) -> dict:
    value = record["published_at"]
    return {**record, "published_at": datetime.fromisoformat(value).isoformat() if value else None}


@pytest.mark.parametrize("record", RECORDS, ids=[r["url"] for r in RECORDS])
def test_snapshot_article_fields_exact(record: dict) -> None:
    assert as_record(extract_url(record["url"])) == normalised(record)


def test_seed_repost() -> None:
    article = extract_url(SEED_REPOST)
    assert article.title == SEED_TITLE
    assert article.published_at.date().isoformat() == "2022-08-18"
    assert article.published_at.utcoffset().total_seconds() == 8 * 3600
    assert article.source_name == "漳州市农业农村局"
    assert article.author is None
    assert article.kind == "portal" and article.site == "www.nmgfzw.cn"
    assert article.body_text.startswith("8月16日")
    assert article.body_text.endswith("作表态发言。")
    for chrome in CHROME:
        assert chrome not in article.body_text, chrome
    assert article.declared_original_url == SEED_ORIGINAL
    assert "<script" not in article.body_html and "免责声明" not in article.body_html
    assert article.provenance["declared_original_url"] == "label:原文链接"


def test_seed_original() -> None:
    repost = extract_url(SEED_REPOST)
    article = extract_url(SEED_ORIGINAL)
    assert article.title == SEED_TITLE
    assert article.kind == "gov" and article.site == "nyncj.zhangzhou.gov.cn"
    assert article.published_at.date().isoformat() == "2022-08-18"
    assert article.source_name == "漳州市农业农村局"
    assert article.author is None
    assert article.body_text.startswith("8月16日")
    assert article.body_text == repost.body_text
    assert article.fingerprint == repost.fingerprint
    assert article.declared_original_url is None


@pytest.mark.parametrize("name", ["table_gbk.html", "div_modern.html"])
def test_same_visible_page_in_other_markup_gives_same_record(name: str) -> None:
    snapshot = as_record(extract_url(SEED_REPOST))
    variant = as_record(extract_article((VARIANTS / name).read_bytes(), SEED_REPOST))
    assert variant == snapshot


def test_listing_and_about_pages_are_not_articles() -> None:
    for path in (
        "www.nmgfzw.cn/index.html",
        "www.nmgfzw.cn/about/index.html",
        "nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/gzdt/index.html",
    ):
        url = "http://" + path
        with pytest.raises(NotAnArticle):
            extract_article((SNAPSHOT / path).read_bytes(), url)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02\xff" * 100, ""),
        (
            "<html><title>404 页面不存在</title><body>页面不存在</body></html>".encode(),
            "404",
        ),
        ("<html><body><script>var $_ts={};</script>安全验证</body></html>".encode(), "challenge"),
    ],
)
def test_unusable_pages_give_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(ExtractionError) as raised:
        extract_article(body, "http://www.example.gov.cn/a.html")
    assert raised.value.reason
    assert reason in raised.value.reason


def test_soft_404_in_chrome_is_an_error_page() -> None:
    html = (
        "<html><head><title>农民工法治网</title></head><body><div class='nav'><a href='/'>首页</a>"
        "<a href='/shgz/'>社会关注</a></div><div class='main'><p>您访问的页面不存在</p></div>"
        "<div class='footer'>农民工法治网 nmgfzw.cn 版权所有。京ICP备14049160号-8</div>"
        "</body></html>"
    )
    with pytest.raises(ErrorPage):
        extract_article(html, "http://www.nmgfzw.cn/shgz/20220901/1.html")


@pytest.mark.parametrize(("status", "reason"), [(412, "anti-bot"), (521, "anti-bot"), (404, "404")])
def test_error_statuses_are_error_pages(status: int, reason: str) -> None:
    with pytest.raises(ErrorPage, match=reason):
        extract_article(snapshot_file(SEED_REPOST).read_bytes(), SEED_REPOST, status=status)
