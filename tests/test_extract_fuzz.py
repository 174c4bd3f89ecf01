"""No input makes extraction fail with anything but an ExtractionError; no silent mojibake.

Property-based (hypothesis) over random and damaged pages, plus hand-made
pathological pages. Every case must give a valid Article or raise
ExtractionError (or a subclass); any other exception is an engine bug.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govnews.extract import ExtractionError, extract_article
from govnews.extract.encoding import decode_html, garbled
from govnews.items import Article
from tests.conftest import SEED_REPOST, SNAPSHOT, snapshot_file

PAGES = sorted(path for path in SNAPSHOT.rglob("*") if path.is_file() and path.suffix != ".http")
SEED = snapshot_file(SEED_REPOST).read_bytes()
SEED_TITLE = "漳州召开2022年度全国文明城市创建工作动员会"
GBK_URL = "http://www.nmgfzw.cn/fzdt/20220810/24786.html"
GBK_PAGE = snapshot_file(GBK_URL).read_bytes()  # declared gb2312 in its <meta>
GBK_TITLE = "一起工伤认定纠纷的调解始末"
VARIANT_GBK = Path(__file__).parent / "fixtures" / "seed_variants" / "table_gbk.html"
URL = "http://www.nmgfzw.cn/shgz/20220818/24915.html"
GOV_URL = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
LATIN1 = "text/html; charset=iso-8859-1"
UTF8_META = b'<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />'
# Latin-1 / cp1252 readings of UTF-8 or GBK Chinese: runs of accented Latin letters.
LATIN_MOJIBAKE = re.compile(r"[\u00c0-\u00ff][\u0080-\u00ff]")

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def outcome(
    body: bytes | str, url: str = URL, headers: dict[str, str] | None = None
) -> Article | ExtractionError:
    """The Article, or the ExtractionError raised; any other exception propagates."""
    try:
        article = extract_article(body, url, headers=headers)
    except ExtractionError as exc:
        assert exc.reason, "an ExtractionError carries a reason"
        return exc
    check_article(article, url)
    return article


def check_article(article: Article, url: str) -> None:
    """What every returned record must be."""
    assert isinstance(article, Article)
    assert article.url == url
    assert article.kind in ("gov", "portal")
    assert isinstance(article.title, str) and article.title.strip()
    assert isinstance(article.body_text, str) and article.body_text.strip()
    if article.published_at is not None:  # optional: the spider decides
        assert isinstance(article.published_at, datetime)
        assert article.published_at.utcoffset() is not None
    assert len(article.fingerprint) == 64


def assert_not_mojibake(result: Article | ExtractionError) -> None:
    """A record's text is not full of U+FFFD or of Latin-1 readings of Chinese bytes."""
    if isinstance(result, ExtractionError):
        return
    for text in (result.title, result.body_text):
        assert not garbled(text), text[:80]
        assert text.count("\ufffd") <= 2, text[:80]
        assert len(LATIN_MOJIBAKE.findall(text)) <= 2, text[:80]


# --- random input -------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(body: bytes) -> None:
    outcome(body)


@FUZZ
@given(st.text(max_size=2048), st.sampled_from(["utf-8", "gb18030", "utf-16", None]))
def test_random_text(text: str, encoding: str | None) -> None:
    body = text if encoding is None else text.encode(encoding, "surrogatepass")
    outcome(body)


TAGS = ["div", "p", "span", "h1", "table", "td", "tr", "b", "font", "a", "br", "title", "meta"]
WORDS = [
    "漳州召开工作动员会",
    "来源:",
    "来源：漳州市农业农村局",
    "发布时间:2022-08-18",
    "2022年8月18日 10:30",
    "作者:林一鸣",
    "责任编辑:",
    "原文链接:",
    "原标题:",
    "您当前所在位置:首页 > 社会关注",
    "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html",
    "2022-13-45",
    "9999年99月99日",
    "\u3000",
    "&nbsp;",
    "<!-- c -->",
    "<script>var a='<p>'</script>",
    "下一篇",
    "版权所有",
    "\ufffd",
]


@st.composite
def tag_soup(draw: st.DrawFn) -> str:
    """Random, often unbalanced markup made of the tags and labels article pages use."""
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 60))):
        choice = draw(st.integers(0, 3))
        tag = draw(st.sampled_from(TAGS))
        if choice == 0:
            attrs = draw(
                st.sampled_from(["", ' class="title"', ' id="content"', ' href="/a.html"'])
            )
            parts.append(f"<{tag}{attrs}>")
        elif choice == 1:
            parts.append(f"</{tag}>")
        elif choice == 2:
            parts.append(draw(st.sampled_from(WORDS)))
        else:
            parts.append(draw(st.text(max_size=30)))
    return "".join(parts)


@FUZZ
@given(tag_soup(), st.sampled_from([URL, GOV_URL, "file:///tmp/page.html", "not a url"]))
def test_random_tag_soup(html: str, url: str) -> None:
    outcome(html, url)
    outcome(html.encode("utf-8", "surrogatepass"), url)


# --- damaged real pages -------------------------------------------------------------


@FUZZ
@given(st.sampled_from(PAGES), st.floats(0, 1))
def test_truncated_pages(path: Path, fraction: float) -> None:
    """Cut anywhere, also inside a multi-byte UTF-8 or GBK character."""
    body = path.read_bytes()
    outcome(body[: int(len(body) * fraction)])


@pytest.mark.parametrize("page", [SEED, GBK_PAGE], ids=["utf-8", "gbk"])
def test_cut_inside_a_multibyte_character(page: bytes) -> None:
    start = page.index(b"<body")
    cuts = [i for i in range(start, len(page)) if page[i] >= 0x80 and page[i - 1] >= 0x80]
    for cut in cuts[:: max(1, len(cuts) // 40)]:
        assert_not_mojibake(outcome(page[:cut]))


@FUZZ
@given(st.sampled_from(PAGES), st.floats(0, 1), st.floats(0, 1), st.binary(max_size=64))
def test_spliced_pages(path: Path, start: float, length: float, junk: bytes) -> None:
    """A piece of a real page cut out and replaced with random bytes."""
    body = path.read_bytes()
    begin = int(len(body) * start)
    end = begin + int((len(body) - begin) * length * 0.2)
    outcome(body[:begin] + junk + body[end:])


@FUZZ
@given(st.sampled_from(PAGES), st.data())
def test_pages_with_lines_dropped_repeated_or_moved(path: Path, data: st.DataObject) -> None:
    """Real markup (CMS comments, info lines, breadcrumbs) in a broken order."""
    lines = path.read_bytes().splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 12))):
        i = data.draw(st.integers(0, len(lines) - 1))
        j = data.draw(st.integers(0, len(lines) - 1))
        operation = data.draw(st.sampled_from(["drop", "repeat", "move"]))
        if operation == "drop" and len(lines) > 1:
            del lines[i]
        elif operation == "repeat":
            lines.insert(j, lines[i])
        else:
            lines.insert(j, lines.pop(i))
    outcome(b"".join(lines), path_url(path))


def path_url(path: Path) -> str:
    """The URL a snapshot file answers (its query string kept)."""
    return "http://" + path.relative_to(SNAPSHOT).as_posix()


INFO_LINE = "时间:2022-08-18 来源:漳州市农业农村局 作者:佚名".encode()
DATE_LIKE = st.from_regex(
    r"\A(?:\d{1,5}|19\d\d|20\d\d)\s?[-/.年—－]\s?\d{1,3}\s?[-/.月—－]\s?\d{1,3}日?"
    r"(?:[ T]\d{1,2}[:：时]\d{1,2}(?:[:：分]\d{1,2})?(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?(?: ?[AaPp]\.?[Mm]\.?)?\Z"
)


@FUZZ
@given(
    st.lists(
        st.one_of(
            DATE_LIKE,
            st.sampled_from(["时间:", "来源:", "作者:", "发布时间：", "丨", "︱", " ", "<br>"]),
            st.text(max_size=8),
        ),
        max_size=8,
    ),
    st.one_of(st.just(""), DATE_LIKE),
)
def test_random_info_lines_and_meta_dates(parts: list[str], meta_date: str) -> None:
    """The seed's 时间/来源 line and a meta PubDate replaced by random date-like text."""
    info = "".join(parts).replace("<", "&lt;").encode("utf-8", "surrogatepass")
    meta = f'<meta name="PubDate" content="{meta_date}" />'.encode()
    body = SEED.replace(INFO_LINE, info).replace(b"<head>", b"<head>" + meta, 1)
    outcome(body)


@FUZZ
@given(
    st.one_of(
        st.text(max_size=80),
        st.from_regex(r"\Ahttps?://[\[\]a-z0-9.:%@-]{0,30}/[^\s]{0,30}\Z"),
    )
)
def test_random_page_urls(url: str) -> None:
    """site, kind, URL dates and links all come from the URL: any string must do."""
    outcome(SEED, url)


BAD_LINKS = {
    "page URL with an unclosed IPv6 bracket": (SEED, "http://[::1/x.html"),
    "image": (SEED.replace(b'src="/uploads', b'src="http://[bad/uploads', 1), URL),
    "attachment": (
        SEED.replace(b"<p>", '<p><a href="http://[bad/x.doc">附件1.doc</a>'.encode(), 1),
        URL,
    ),
    "declared original": (SEED.replace(b'href="http://nyncj', b'href="http://[nyncj', 1), URL),
    "base": (SEED.replace(b"<head>", b'<head><base href="http://[bad/">', 1), URL),
}


@pytest.mark.parametrize(("body", "url"), list(BAD_LINKS.values()), ids=list(BAD_LINKS))
def test_malformed_links(body: bytes, url: str) -> None:
    """urljoin raises ValueError on "http://[bad": such a link is skipped, not fatal."""
    result = outcome(body, url)
    if url == URL:
        assert isinstance(result, Article) and result.title == SEED_TITLE


# --- pathological pages -------------------------------------------------------------


def nested(tag: str, depth: int) -> bytes:
    text = "漳州召开2022年度全国文明城市创建工作动员会。" * 20
    return (
        f"<html><head><title>{SEED_TITLE}</title></head><body>"
        f"{f'<{tag}>' * depth}<h1>{SEED_TITLE}</h1><p>2022-08-18</p><p>{text}</p>"
        f"{f'</{tag}>' * depth}</body></html>"
    ).encode()


PATHOLOGICAL: dict[str, tuple[bytes, dict[str, str] | None]] = {
    "empty": (b"", None),
    "white space": (b" \n\t\r\n", None),
    "nul bytes": (b"\x00" * 1000, None),
    "nul bytes in a page": (SEED.replace(b"<p>", b"<p>\x00", 5), None),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01" + bytes(range(256)), None),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), None),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", None),
    "frameset only": (
        b"<html><head><title>t</title></head><frameset cols='50%,50%'>"
        b"<frame src='a.html'><frame src='b.html'></frameset></html>",
        None,
    ),
    "5000 nested divs": (nested("div", 5000), None),
    "100000 nested b": (nested("b", 100_000), None),
    "300 nested font before the article": (
        SEED.replace(b"<body>", b"<body>" + b"<font>" * 300, 1),
        None,
    ),
    "unknown charset in the header": (SEED, {"Content-Type": "text/html; charset=x-unknown"}),
    "unknown charset in the meta": (SEED.replace(b"charset=utf-8", b"charset=x-unknown"), None),
    "malformed http-equiv": (
        SEED.replace(
            UTF8_META,
            b'<meta http-equiv="Content-Type" content="text/html; charset=gbk"charset="utf-8">',
        ),
        None,
    ),
    "utf-7 declared": (SEED.replace(b"charset=utf-8", b"charset=utf-7"), None),
    "empty content type": (SEED, {"Content-Type": ""}),
    "utf-16 BOM on a utf-8 page": (b"\xff\xfe" + SEED, None),
    "utf-8 BOM on a gbk page": (b"\xef\xbb\xbf" + GBK_PAGE, None),
    "utf-32 BOM only": (b"\x00\x00\xfe\xff", None),
    "xml declaration and xhtml": (
        b'<?xml version="1.0" encoding="utf-8"?>\n' + SEED,
        None,
    ),
    "xml declaration naming gbk on a gbk page": (
        b'<?xml version="1.0" encoding="gbk"?>\n' + GBK_PAGE,
        None,
    ),
    "xml only": (b'<?xml version="1.0"?><rss><channel><item>x</item></channel></rss>', None),
    "only a doctype": (b"<!DOCTYPE html>", None),
    "only comments": (b"<!-- a --><!-- b -->", None),
    "unclosed comment": (b"<html><body><!-- " + SEED, None),
    "unclosed script": (SEED.replace(b"<body>", b"<body><script>", 1), None),
    "cdata": (b"<html><body><![CDATA[x]]></body></html>", None),
    "processing instruction in body": (SEED.replace(b"<body>", b"<body><?php echo 1; ?>", 1), None),
    "huge attribute": (SEED.replace(b"<body>", b'<body class="' + b"x" * 1_000_000 + b'">'), None),
    "control characters": (SEED.replace(b"<p>", b"<p>\x01\x02\x0b\x0c\x1b\x7f", 5), None),
    "lone surrogate escapes": (SEED.replace(b"<p>", b"<p>&#xD800;&#55296;&#x110000;", 5), None),
    "entity bomb": (SEED.replace(b"<p>", b"<p>" + b"&amp;" * 10000, 1), None),
}


@pytest.mark.parametrize(("body", "headers"), list(PATHOLOGICAL.values()), ids=list(PATHOLOGICAL))
def test_pathological_pages(body: bytes, headers: dict[str, str] | None) -> None:
    outcome(body, headers=headers)


@pytest.mark.parametrize(
    "name",
    [
        "unknown charset in the header",
        "unknown charset in the meta",
        "malformed http-equiv",
        "utf-16 BOM on a utf-8 page",
        "xml declaration and xhtml",
        "nul bytes in a page",
    ],
)
def test_damaged_declarations_still_give_the_seed_article(name: str) -> None:
    body, headers = PATHOLOGICAL[name]
    result = outcome(body, headers=headers)
    assert isinstance(result, Article), result
    assert result.title == SEED_TITLE


def test_title_that_is_also_the_breadcrumb() -> None:
    """The heading is found as title and as breadcrumb: it is cut from the body once."""
    outcome("</div><h1>您当前所在位置:首页 > 社会关注", URL)


def test_control_characters_in_text() -> None:
    """lxml keeps C0 controls when parsing but refuses them as text (drop_tree moves tails)."""
    html = "<div><p>漳州召开工作动员会</p>\x1f\x0b<div><h1>漳州召开工作动员会</h1>\ud800\uffff"
    outcome(html, URL)
    outcome(html.encode("utf-8", "surrogatepass"), URL)


def test_xml_declared_gbk_page() -> None:
    result = outcome(PATHOLOGICAL["xml declaration naming gbk on a gbk page"][0], GBK_URL)
    assert isinstance(result, Article) and result.title == GBK_TITLE


def test_deep_nesting_after_the_article_keeps_it() -> None:
    """libxml2 stops at depth 256; what comes before is kept."""
    body = SEED.replace(b"</body>", b"<b>" * 100_000 + b"</body>")
    result = outcome(body)
    assert isinstance(result, Article) and result.title == SEED_TITLE


def test_five_megabyte_page_is_fast() -> None:
    paragraph = ("<p>" + "这是一段用来把页面撑大的正文内容，反复出现。" * 10 + "</p>\n").encode()
    mark = b'<div class="content" id="article_content">'
    start = SEED.index(mark) + len(mark)
    body = SEED[:start] + paragraph * (5_000_000 // len(paragraph)) + SEED[start:]
    assert len(body) > 5_000_000
    began = time.perf_counter()
    result = outcome(body)
    elapsed = time.perf_counter() - began
    assert isinstance(result, Article) and result.title == SEED_TITLE
    assert len(result.body_text) > 1_000_000
    assert elapsed < 3, f"5 MB page took {elapsed:.1f} s"


# --- wrong charsets and mojibake ----------------------------------------------------

WRONG_HEADERS = [
    "text/html; charset=utf-8",
    "text/html; charset=UTF8",
    "text/html; charset=iso-8859-1",
    "text/html; charset=windows-1252",
    "text/html; charset=us-ascii",
    "text/html; charset=koi8-r",
    "text/html; charset=iso-8859-2",
    "text/html; charset=big5",
    "text/html; charset=shift_jis",
    "text/html; charset=euc-kr",
]


@pytest.mark.parametrize("content_type", WRONG_HEADERS)
@pytest.mark.parametrize(
    ("body", "url", "title"),
    [(GBK_PAGE, GBK_URL, GBK_TITLE), (VARIANT_GBK.read_bytes(), URL, SEED_TITLE)],
    ids=["gbk-snapshot", "gbk-variant"],
)
def test_gbk_page_with_a_wrong_header_is_not_mojibake(
    body: bytes, url: str, title: str, content_type: str
) -> None:
    result = outcome(body, url, {"Content-Type": content_type})
    assert_not_mojibake(result)
    if isinstance(result, Article):
        assert result.title == title


@pytest.mark.parametrize("content_type", ["text/html; charset=gb2312", "text/html; charset=gbk"])
def test_utf8_page_declared_gb2312_in_the_header(content_type: str) -> None:
    result = outcome(SEED, headers={"Content-Type": content_type})
    assert_not_mojibake(result)
    assert isinstance(result, Article) and result.title == SEED_TITLE


@pytest.mark.parametrize("meta", [b"charset=gb2312", b"charset=iso-8859-1", b"charset=big5"])
def test_utf8_page_with_a_wrong_meta(meta: bytes) -> None:
    result = outcome(SEED.replace(b"charset=utf-8", meta))
    assert_not_mojibake(result)
    assert isinstance(result, Article) and result.title == SEED_TITLE


def test_utf8_bom_on_a_gbk_page() -> None:
    """The BOM says UTF-8, the bytes are GBK: detection wins over the BOM."""
    result = outcome(b"\xef\xbb\xbf" + GBK_PAGE, GBK_URL)
    assert_not_mojibake(result)
    assert isinstance(result, Article) and result.title == GBK_TITLE


def test_gbk_bytes_in_a_utf8_declared_page() -> None:
    """The page says utf-8 in its <meta> but the CMS wrote GBK bytes."""
    body = SEED.decode("utf-8").encode("gb18030")
    result = outcome(body)
    assert_not_mojibake(result)
    assert isinstance(result, Article) and result.title == SEED_TITLE


@FUZZ
@given(
    st.sampled_from(PAGES),
    st.sampled_from(
        ["utf-8", "gb2312", "iso-8859-1", "koi8-r", "big5", "shift_jis", "euc-kr", "x-unknown"]
    ),
    st.floats(0.5, 1),
)
def test_any_page_with_any_header_is_not_mojibake(path: Path, charset: str, cut: float) -> None:
    body = path.read_bytes()
    result = outcome(
        body[: int(len(body) * cut)], headers={"Content-Type": f"text/html; charset={charset}"}
    )
    assert_not_mojibake(result)


# --- decode_html --------------------------------------------------------------------


def test_decode_trusts_a_declaration_the_bytes_agree_with() -> None:
    assert decode_html(SEED, "text/html; charset=utf-8")[1] == "utf-8"
    assert decode_html(GBK_PAGE)[1] == "gb18030"


def test_decode_latin1_declared_page_in_latin1_is_kept() -> None:
    """A real Latin-1 page (which gb18030 could also read) stays Latin-1."""
    text = "<html><body><p>" + "Élan, café, déjà vu, naïveté, Ørsted, Ålesund. " * 20 + "</p>"
    decoded, encoding = decode_html(text.encode("latin-1"), "text/html; charset=iso-8859-1")
    assert decoded == text and encoding == "cp1252"


def test_decode_short_gbk_text_keeps_its_declaration() -> None:
    """A couple of GBK characters that happen to be valid UTF-8 do not override gbk."""
    body = "<meta charset=gbk><p>中文</p>".encode("gbk")
    decoded, _ = decode_html(body)
    assert "中文" in decoded


def test_decode_refuses_garbled_text_nothing_reads() -> None:
    """Random high bytes declared utf-8: no charset reads them, so no text is made up."""
    body = b"<html><body><p>" + bytes(range(0x80, 0x100)) * 4 + b"</p></body></html>"
    try:
        decoded, _ = decode_html(body, "text/html; charset=utf-8")
    except ValueError as exc:
        assert "undecodable" in str(exc)
    else:
        assert not garbled(decoded)


def test_decode_keeps_a_utf8_page_with_a_few_stray_bytes() -> None:
    """A few bad bytes are not mojibake: the page stays UTF-8, not refused or re-read."""
    text = (
        "<meta charset=utf-8><p>" + "漳州市农业农村局召开全市农业农村工作会议，部署秋冬种工作。" * 5
    )
    body = text.encode().replace("部署".encode(), "部署".encode() + b"\xff", 3)
    decoded, encoding = decode_html(body)
    assert encoding == "utf-8" and decoded.count("\ufffd") == 3


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html; charset=utf-8", GBK_PAGE),
        ("text/html; charset=iso-8859-1", GBK_PAGE),
        ("text/html; charset=koi8-r", GBK_PAGE),
        ("text/html; charset=big5", GBK_PAGE),
        ("text/html; charset=gb2312", SEED),
        ("text/html; charset=big5", SEED),
    ],
)
def test_decode_overrides_a_declaration_the_bytes_contradict(
    content_type: str, body: bytes
) -> None:
    decoded, encoding = decode_html(body, content_type)
    title = GBK_TITLE if body is GBK_PAGE else SEED_TITLE
    assert title in decoded
    assert encoding == ("gb18030" if body is GBK_PAGE else "utf-8")


def test_decode_detects_a_small_page_cut_inside_a_character() -> None:
    """charset-normalizer refuses a sample ending inside a character; the tail is left out."""
    text = "<html><body><p>" + "漳州市农业农村局召开全市农业农村工作会议，部署秋冬种工作。" * 4
    body = text.encode("gbk")[:-1]
    decoded, encoding = decode_html(body)
    assert encoding == "gb18030" and "部署秋冬种工作" in decoded


def test_cut_gbk_page_with_a_latin1_header() -> None:
    """Found by hypothesis: a cut GB18030 page sent as iso-8859-1 came out as Latin-1."""
    url = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-09-30/2101210517.html"
    body = snapshot_file(url).read_bytes()
    result = outcome(body[: int(len(body) * 0.87890625)], url, {"Content-Type": LATIN1})
    assert_not_mojibake(result)
    assert isinstance(result, Article)
    assert result.title == "关于做好2022年国庆节期间农业安全生产工作的通知"


@pytest.mark.parametrize("name", ["5000 nested divs", "100000 nested b"])
def test_too_deep_markup_is_named_as_the_reason(name: str) -> None:
    result = outcome(PATHOLOGICAL[name][0])
    assert isinstance(result, ExtractionError) and "nested deeper" in result.reason
