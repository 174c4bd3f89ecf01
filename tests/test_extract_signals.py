"""The small signals of extraction, one rule at a time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from govnews.core.timezone import SHANGHAI
from govnews.extract.dates import date_from_url, parse_date
from govnews.extract.encoding import decode_html
from govnews.extract.labels import (
    anonymous,
    category_from_breadcrumb,
    find_editor,
    parse_labelled,
)
from govnews.extract.meta import usable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-08-18", datetime(2022, 8, 18, tzinfo=SHANGHAI)),
        ("2022/8/18", datetime(2022, 8, 18, tzinfo=SHANGHAI)),
        ("2022.08.18", datetime(2022, 8, 18, tzinfo=SHANGHAI)),
        ("2022年08月18日 10:20", datetime(2022, 8, 18, 10, 20, tzinfo=SHANGHAI)),
        ("2022年8月18日", datetime(2022, 8, 18, tzinfo=SHANGHAI)),
        ("2022—08—18 10:20", datetime(2022, 8, 18, 10, 20, tzinfo=SHANGHAI)),
        ("2022－08－18 10:20:33", datetime(2022, 8, 18, 10, 20, 33, tzinfo=SHANGHAI)),
        ("发布时间：2022-08-18 09:05 来源：本网", datetime(2022, 8, 18, 9, 5, tzinfo=SHANGHAI)),
        ("2022-02-30 then 2021-01-01", datetime(2021, 1, 1, tzinfo=SHANGHAI)),
        ("发布日期： 7/5/2005 9:23:57 PM", datetime(2005, 5, 7, 21, 23, 57, tzinfo=SHANGHAI)),
        ("9/17/2004 5:54:13 AM", datetime(2004, 9, 17, 5, 54, 13, tzinfo=SHANGHAI)),
        ("发表时间： 06/02/2022 - 13:48", datetime(2022, 2, 6, 13, 48, tzinfo=SHANGHAI)),
        ("2022-08-18T02:20:00Z", datetime(2022, 8, 18, 2, 20, tzinfo=UTC)),
        ("2022-08-18T10:20:00+08:00", datetime(2022, 8, 18, 10, 20, tzinfo=SHANGHAI)),
        ("联系电话：0596-2991234 邮编 363000", None),
        ("浏览次数: 1024", None),
        ("", None),
    ],
)
def test_parse_date(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_dates_are_shanghai_time() -> None:
    value = parse_date("2022-08-18 10:20")
    assert value is not None and value.utcoffset().total_seconds() == 8 * 3600


@pytest.mark.parametrize(
    ("url", "day"),
    [
        ("http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html", "2022-08-18"),
        ("http://www.nmgfzw.cn/shgz/20220818/24915.html", "2022-08-18"),
        ("http://www.example.gov.cn/xxgk/202208/t20220818_123.html", "2022-08-18"),
        ("http://rlsbt.zj.gov.cn/art/2022/8/18/art_1229506775_2415123.html", "2022-08-18"),
        ("http://epaper.example.com.cn/html/2009-04/17/content_118802.htm", "2009-04-17"),
        ("http://www.example.gov.cn/a.html?d=20220818", None),
    ],
)
def test_date_from_url(url: str, day: str | None) -> None:
    found = date_from_url(url)
    assert (found.date().isoformat() if found else None) == day


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "时间:2022-08-18 来源:漳州市农业农村局 作者:佚名",
            {"date": "2022-08-18", "source": "漳州市农业农村局", "author": "佚名"},
        ),
        (
            "发布时间：2022-08-18 10:20　　信息来源：漳州日报　　浏览次数：",
            {"date": "2022-08-18 10:20", "source": "漳州日报"},
        ),
        (
            "日期:2022-09-06 来源:漳州市农业农村局 【字体:大 中 小】",
            {"date": "2022-09-06", "source": "漳州市农业农村局"},
        ),
        ("作者：林清 责任编辑：陈明", {"author": "林清", "editor": "陈明"}),
        ("稿源: 工人日报 | 编辑: 王芳", {"source": "工人日报", "editor": "王芳"}),
    ],
)
def test_parse_labelled(line: str, expected: dict[str, str]) -> None:
    assert parse_labelled(line) == expected


def test_editor_label_is_not_author() -> None:
    assert "author" not in parse_labelled("责任编辑：陈明")


@pytest.mark.parametrize(
    "line",
    ["责任编辑：林晓", "（责任编辑：林晓）", "(编辑:林晓)", "【责任编辑：林晓】", "[责编：林晓]"],
)
def test_editor_lines_alone_or_in_brackets(line: str) -> None:
    assert find_editor(["正文最后一段。", line]) == "林晓"


@pytest.mark.parametrize("value", ["佚名", " 佚名 ", "", None, "匿名"])
def test_anonymous_authors(value: str | None) -> None:
    assert anonymous(value)


def test_named_author_is_not_anonymous() -> None:
    assert not anonymous("林清")


def test_category_is_last_named_breadcrumb_item() -> None:
    assert category_from_breadcrumb(["首页", "社会关注", "正文"]) == "社会关注"
    assert category_from_breadcrumb(["首页"]) is None


@pytest.mark.parametrize("value", ["", "‹CMS:ArticleTitle›", "$!{article.title}", "{{title}}"])
def test_template_leftovers_are_not_usable(value: str) -> None:
    assert not usable(value)


def test_gbk_declared_as_gb2312_decodes_as_gb18030() -> None:
    text = "<meta charset=gb2312><p>朱镕基在漳州</p>"  # 镕 is in GBK, not in GB2312
    body = text.encode("gbk")
    decoded, encoding = decode_html(body)
    assert "朱镕基" in decoded and encoding == "gb18030"


def test_http_header_charset_wins_over_meta() -> None:
    body = "<meta charset=utf-8><p>漳州市农业农村局</p>".encode("gb18030")
    decoded, _ = decode_html(body, "text/html; charset=GB18030")
    assert "漳州市农业农村局" in decoded


def test_undeclared_gbk_is_detected() -> None:
    body = (
        "<html><body><p>" + "漳州市农业农村局召开全市农业农村工作会议。" * 20 + "</p></body></html>"
    )
    decoded, _ = decode_html(body.encode("gbk"))
    assert "漳州市农业农村局" in decoded
