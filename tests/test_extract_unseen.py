"""Pages of the failure classes found on sites never seen, and the label rules they need.

Every ``tests/fixtures/unseen/<name>.html`` with a ``<name>.json`` beside it is extracted
with the URL the JSON gives, and the fields the JSON names are compared: ``title``,
``published_at`` (ISO 8601), ``source_name``, ``author``, ``editor``,
``declared_original_url``, ``original_title``, ``category``, ``body_text`` (whole), or
``body_start``/``body_end`` (its first/last characters); ``error`` names the
ExtractionError subclass a page without an article must raise.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

import govnews.extract as extract
from govnews.extract import extract_article
from govnews.extract.dates import western_years
from govnews.extract.labels import find_original_url, parse_labelled
from govnews.extract.page import Page

UNSEEN = Path(__file__).parent / "fixtures" / "unseen"
PAGES = sorted(path for path in UNSEEN.glob("*.html") if path.with_suffix(".json").exists())
_FIELDS = (
    "title",
    "source_name",
    "author",
    "editor",
    "declared_original_url",
    "original_title",
    "category",
    "body_text",
)


def _expected(page: Path) -> dict:
    return json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_unseen_page(page: Path) -> None:
    expected = _expected(page)
    body = page.read_bytes()
    if "error" in expected:
        with pytest.raises(getattr(extract, expected["error"])):
            extract_article(body, expected["url"])
        return
    article = extract_article(body, expected["url"])
    got = {name: getattr(article, name) for name in _FIELDS if name in expected}
    want = {name: expected[name] for name in _FIELDS if name in expected}
    if "published_at" in expected:
        published = article.published_at.isoformat() if article.published_at else None
        got["published_at"] = published
        value = expected["published_at"]
        want["published_at"] = datetime.fromisoformat(value).isoformat() if value else None
    if "body_start" in expected:
        got["body_start"] = article.body_text[: len(expected["body_start"])]
        want["body_start"] = expected["body_start"]
    if "body_end" in expected:
        got["body_end"] = article.body_text[-len(expected["body_end"]) :]
        want["body_end"] = expected["body_end"]
    assert got == want, article.provenance


def test_every_unseen_page_has_its_record() -> None:
    assert PAGES, "no fixture pages found"
    for page in PAGES:
        assert "url" in _expected(page), page.name


# --- labelled lines: a value ends at the next label, a widget or its cell -------------


@pytest.mark.parametrize(
    ("line", "values"),
    [
        (
            "时间：2022-08-18 来源：漳州市农业农村局",
            {"date": "2022-08-18", "source": "漳州市农业农村局"},
        ),
        ("来源：人民日报作者：张三", {"source": "人民日报", "author": "张三"}),
        ("来源：人民日报 作者：张三", {"source": "人民日报", "author": "张三"}),
        ("来源：人民网 小字号", {"source": "人民网"}),
        ("来源：人民网 大字号 中字号 小字号", {"source": "人民网"}),
        ("来源：新华网 【字体：大 中 小】", {"source": "新华网"}),
        ("来源：新华网【字体：大 中 小】", {"source": "新华网"}),
        ("来源：本站 打印本页 关闭窗口", {"source": "本站"}),
        ("来源：本站【打印本页】【关闭窗口】", {"source": "本站"}),
        ("来源：本站 [打印] [关闭]", {"source": "本站"}),
        ("来源：中国政府网 分享到：", {"source": "中国政府网"}),
        ("来源：中国政府网 收藏", {"source": "中国政府网"}),
        ("来源：省政府办公厅 访问量： 199", {"source": "省政府办公厅"}),
        ("来源：省政府办公厅 浏览次数：199", {"source": "省政府办公厅"}),
        ("来源：省政府办公厅 点击数：", {"source": "省政府办公厅"}),
        ("来源：省政府办公厅 阅读量：1,024", {"source": "省政府办公厅"}),
        ("访问量： 199", {}),
        ("浏览次数：199", {}),
        ("点击数：", {}),
        ("作者：李明 浏览：35次", {"author": "李明"}),
        ("作者： 点击数：12", {"author": ""}),
        (
            "来源：某某市农业农村局 发文日期： 2023-04-18",
            {"source": "某某市农业农村局", "written": "2023-04-18"},
        ),
        (
            "时间：2023-04-18 发布机构：某某市农业农村局",
            {"date": "2023-04-18", "agency": "某某市农业农村局"},
        ),
        (
            "发布机构： 某某市农业农村局 发文日期： 2023-04-18",
            {"agency": "某某市农业农村局", "written": "2023-04-18"},
        ),
        (
            "来源：\n某某市农业农村局\n发文日期：\n2023-04-18",
            {"source": "某某市农业农村局", "written": "2023-04-18"},
        ),
        ("来源：市政府\n网站首页", {"source": "市政府"}),
        ("来源：\n作者：李明", {"source": "", "author": "李明"}),
        ("日期：2023-04-18【打印】", {"date": "2023-04-18"}),
        ("来源：【人民日报】", {"source": "人民日报"}),
        ("来源：大中小企业网", {"source": "大中小企业网"}),
        ("来源：新华网 大 中 小", {"source": "新华网"}),
        ("会议时间：2023年4月18日", {}),
        ("来源：新华社 图片来源：视觉中国", {"source": "新华社"}),
        (
            "发布时间：2023-04-18 10:20 信息来源：市政府办公室 阅读次数：88",
            {"date": "2023-04-18 10:20", "source": "市政府办公室"},
        ),
        ("来\u3000源：新华社\u3000作\u3000者：王五", {"source": "新华社", "author": "王五"}),
        ("来 源：新华社 作 者：王五", {"source": "新华社", "author": "王五"}),
        ("来源：新华社\xa0\xa0作者：王五", {"source": "新华社", "author": "王五"}),
        ("来源：新华社\u3000\u3000日期：2023-04-18", {"source": "新华社", "date": "2023-04-18"}),
        (
            "来源：新华社 | 作者：王五 | 编辑：赵六",
            {"source": "新华社", "author": "王五", "editor": "赵六"},
        ),
        ("来源：新华社丨作者：王五", {"source": "新华社", "author": "王五"}),
        ("来源：新华社｜作者：王五", {"source": "新华社", "author": "王五"}),
        ("稿源：经济日报 责任编辑：刘七", {"source": "经济日报", "editor": "刘七"}),
        ("文章来源:本网 发布日期:2023-04-18", {"source": "本网", "date": "2023-04-18"}),
        ("来源: 福建日报", {"source": "福建日报"}),
        ("作者：佚名", {"author": "佚名"}),
        # A date after a value ends it, the spaces between them lost to white-space cleaning.
        ("来源：宣教中心 2022-11-14 14:59:48", {"source": "宣教中心"}),
        ("来源：宣教中心2022年11月14日", {"source": "宣教中心"}),
        # A closing bracket the value did not open ends it; an opened one stays.
        (
            "（本文来源：经济日报 作者：研究部部长、研究员徐占忱） 返回首页",
            {"source": "经济日报", "author": "徐占忱"},
        ),
        ("来源：某市文旅局（原市文广新局）", {"source": "某市文旅局（原市文广新局）"}),
        ("来源：教育部 下载", {"source": "教育部"}),
        ("来源：江城晚报 A+ A-", {"source": "江城晚报"}),
        ("来源：江城晚报 A＋A－ 作者：张三", {"source": "江城晚报", "author": "张三"}),
        # A position before the name: the name; a role alone before it stays as written.
        ("作者：政能亮特约评论员 韩涵", {"author": "韩涵"}),
        ("作者：记者 郑晨子", {"author": "记者 郑晨子"}),
    ],
)
def test_parse_labelled(line: str, values: dict[str, str]) -> None:
    assert parse_labelled(line) == values


# --- bylines with no 作者 label, at the top or the end of the text ------------------


@pytest.mark.parametrize(
    ("lines", "author"),
    [
        (["第一段正文，说了一件事。", "第二段，又一件事。", "文/栗思", "编辑/倪家宁"], "栗思"),
        (["<strong>文丨政能亮特约评论员 韩涵</strong>", "正文第一段，说了一件事。"], "韩涵"),
        (["正文第一段，说了一件事。", "作者 <strong>王之言 高孜然</strong>"], "王之言 高孜然"),
        (["正文第一段，说了一件事。", "中青报·中青网记者 魏其濛 来源：中国青年报"], "魏其濛"),
        (["（记者 张三 李四）", "正文第一段，说了一件事。"], "张三 李四"),
        # A photo credit, a line inside the text and a long line are no bylines.
        (["正文第一段，说了一件事。", "图为活动现场。 新华社记者 李梦馨 摄"], None),
        (["一段。", "二段。", "三段。", "记者 张三", "五段。", "六段。", "七段。", "八段。"], None),
    ],
)
def test_byline_without_label(lines: list[str], author: str | None) -> None:
    paragraphs = "".join(f"<p>{line}</p>" for line in lines)
    html = (
        "<html><head><title>某地召开座谈会_某某新闻网</title></head><body>"
        "<h1>某地召开座谈会</h1><div class='info'>时间：2024-05-13 10:00 来源：某某日报</div>"
        f"<div class='content'>{paragraphs}<p>{'座谈会上，与会人员深入交流。' * 8}</p></div>"
        "</body></html>"
    )
    article = extract_article(html.encode(), "http://news.example.cn/2024/0513/1.html")
    assert article.author == author


# --- 原文链接 in any form -------------------------------------------------------------

_PAGE = "http://www.example-portal.cn/news/2023/0418/1.html"


@pytest.mark.parametrize(
    ("html", "url"),
    [
        (
            '<p>原文链接：<a href="http://www.gov.cn/a/1.htm">http://www.gov.cn/a/1.htm</a></p>',
            "http://www.gov.cn/a/1.htm",
        ),
        ("<p>原文链接：http://www.gov.cn/a/1.htm</p>", "http://www.gov.cn/a/1.htm"),
        ("<p>原文链接:http://www.gov.cn/a/1.htm</p>", "http://www.gov.cn/a/1.htm"),
        (
            "<p>原文地址： https://www.gov.cn/a/1.htm?id=7&amp;p=2</p>",
            "https://www.gov.cn/a/1.htm?id=7&p=2",
        ),
        ("<p>来源链接：https://www.gov.cn/a/1.htm</p>", "https://www.gov.cn/a/1.htm"),
        ("<p>原文网址：https://www.gov.cn/a/1.htm</p>", "https://www.gov.cn/a/1.htm"),
        ("<p>【原文链接】https://www.gov.cn/a/1.htm</p>", "https://www.gov.cn/a/1.htm"),
        (
            "<td>正文最后一句话。<br>原文链接：http://nyncj.xm.gov.cn/xxgk/202304/t20230418_1.htm</td>",
            "http://nyncj.xm.gov.cn/xxgk/202304/t20230418_1.htm",
        ),
        (
            "<p>原文链接：http://nyncj.xm.gov.cn/xxgk/<wbr>202304/<wbr>t20230418_1.htm</p>",
            "http://nyncj.xm.gov.cn/xxgk/202304/t20230418_1.htm",
        ),
        (
            "<p><span>原文链接：</span><span>https://www.gov.cn/</span><span>a/1.htm</span></p>",
            "https://www.gov.cn/a/1.htm",
        ),
        (
            "<p>原文链接：https://www.gov.cn/a/1.htm（来源：中国政府网）</p>",
            "https://www.gov.cn/a/1.htm",
        ),
        (
            "<p>原文链接：https://www.gov.cn/a/1.htm 责任编辑：张三</p>",
            "https://www.gov.cn/a/1.htm",
        ),
        ("<p>原文链接：https://www.gov.cn/a/1.htm。</p>", "https://www.gov.cn/a/1.htm"),
    ],
)
def test_find_original_url(html: str, url: str) -> None:
    page = Page.from_bytes(f"<html><body><div>{html}</div></body></html>", _PAGE)
    found = find_original_url(page)
    assert found is not None and found[1] == url


@pytest.mark.parametrize("name", ["original_plaintext_gbk", "original_plaintext_div"])
def test_plain_text_original_line_is_cut_from_the_body(name: str) -> None:
    page = UNSEEN / f"{name}.html"
    article = extract_article(page.read_bytes(), _expected(page)["url"])
    assert article.provenance["declared_original_url"] == "label:原文链接"
    assert "原文" not in article.body_text and "http" not in article.body_text
    assert "原文" not in article.body_html


def test_agency_stands_in_only_outside_a_whole_info_table() -> None:
    xxgk = UNSEEN / "xxgk_table_toolbar.html"
    if not xxgk.exists():
        pytest.skip("fixture of another class not present")
    article = extract_article(xxgk.read_bytes(), _expected(xxgk)["url"])
    assert article.provenance["source_name"] == "cms:xxgk"
    row = UNSEEN / "labels_xxgk_row.html"
    article = extract_article(row.read_bytes(), _expected(row)["url"])
    assert article.provenance["source_name"] == "label:来源"


@pytest.mark.parametrize(
    ("text", "western"),
    [
        ("日期：106-03-10", "日期：2017-03-10"),
        ("發稿日期：112年6月20日", "發稿日期：2023年6月20日"),
        ("民國111年5月17日", "2022年5月17日"),
        ("資料更新：112-06-20 17:35", "資料更新：2023-06-20 17:35"),
        ("2022-05-17", "2022-05-17"),  # a Western year stays
        ("共 12 页 第 3 页", "共 12 页 第 3 页"),  # no date: nothing changes
    ],
)
def test_roc_calendar_years(text: str, western: str) -> None:
    assert western_years(text) == western
