"""CMS rules on whole pages of each family: the exact record, the rule named, no false matches.

Each page in tests/fixtures/cms/ is stored as its server sends it (GBK pages declare
gb2312); next to it ``<name>.json`` holds the hand-written record. Its name starts with
the family that reads it (``xxgk_<family>_…`` when the 政府信息公开 table is laid over it).
Every family of the registry (``FAMILIES``) is run on every page: a new family must say
here which pages it recognises, and is checked against all the others' pages.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from parsel import Selector
from w3lib.encoding import html_to_unicode

from govnews.extract import extract_article
from govnews.extract.cms import FAMILIES, PAGINGS, Family, match_cms
from govnews.extract.cms import hanweb as hanweb_family
from govnews.extract.cms import trs as trs_family
from govnews.extract.cms.hanweb import (
    Window,
    ajax_params,
    jpage_options,
    listed,
    next_pages,
    parse_datastore,
)
from govnews.extract.cms.paging import Listing, Problem
from govnews.extract.cms.trs import trs_pages
from govnews.extract.cms.xxgk import info_table
from govnews.extract.page import Page, visible_text
from tests.conftest import SEED_ORIGINAL, SEED_REPOST, snapshot_file

FIXTURES = Path(__file__).parent / "fixtures" / "cms"
# List pages (``<family>_list_<variant>``, JCMS columns) are read by the paging rules only.
LIST_PAGES = sorted(path.stem for path in FIXTURES.glob("*_list_*.html"))
PAGES = sorted(path.stem for path in FIXTURES.glob("*.html") if path.stem not in LIST_PAGES)
FIELDS = (
    "title",
    "published_at",
    "source_name",
    "author",
    "editor",
    "category",
    "declared_original_url",
    "body_text",
    "images",
    "attachments",
)
# The rule each page must be read by, as provenance names it.
RULE_OF = {
    "trs_nynct_fujian": "cms:trs",
    "trs_jxt_sichuan": "cms:trs",
    "hanweb_rlsbt_zj": "cms:hanweb",
    "hanweb_nyncj_zibo": "cms:hanweb",
    "ucap_gxzf": "cms:ucap",
    "ucap_sthjt_shaanxi": "cms:ucap",
    "xxgk_trs_agri_hunan": "cms:trs+xxgk",
    "xxgk_hanweb_wuxi": "cms:hanweb+xxgk",
    "xxgk_plain_xinjin": "cms:xxgk",
}
# Per family of the registry, every page its rule may recognise on its own (others: None).
RECOGNISES = {
    "fujian": {"snapshot_fujian"},
    "trs": {"trs_nynct_fujian", "trs_jxt_sichuan", "xxgk_trs_agri_hunan"},
    "hanweb": {"hanweb_rlsbt_zj", "hanweb_nyncj_zibo", "xxgk_hanweb_wuxi"},
    "ucap": {"ucap_gxzf", "ucap_sthjt_shaanxi"},
    "xxgk": {"xxgk_trs_agri_hunan", "xxgk_hanweb_wuxi", "xxgk_plain_xinjin"},
}
SNAPSHOTS = {"snapshot_fujian": SEED_ORIGINAL, "snapshot_nocms": SEED_REPOST}
# What each rule itself reads off its pages: the title shown, the date text, the source.
PARTS = {
    "trs_nynct_fujian": ("福建省农业农村厅部署秋季农业生产和防灾减灾工作", None, None),
    "trs_jxt_sichuan": ("全省中小企业数字化转型现场推进会在绵阳召开", None, None),
    "hanweb_rlsbt_zj": (
        "浙江启动2022年高校毕业生就业服务“百日冲刺”行动",
        "2022-08-18",
        "省人力社保厅",
    ),
    "hanweb_nyncj_zibo": (
        "淄博市全面推进玉米大豆带状复合种植病虫害统防统治",
        "2022-08-18 15:26",
        "淄博市农业农村局",
    ),
    "ucap_gxzf": ("广西加快推进糖料蔗“双高”基地建设", None, None),
    "ucap_sthjt_shaanxi": (
        "关于开展2022年全省生态环境保护执法大练兵现场比武活动的通知",
        "2022-08-18",
        None,
    ),
    "xxgk_trs_agri_hunan": (
        "湖南省农业农村厅关于做好2022年秋冬季动物疫病防控工作的通知",
        "2022-08-18",
        "湖南省农业农村厅",
    ),
    "xxgk_hanweb_wuxi": (
        "无锡市人民政府办公室关于印发无锡市加快发展保障性租赁住房实施方案的通知",
        "2022-08-18",
        "无锡市人民政府办公室",
    ),
    "xxgk_plain_xinjin": (
        "成都市新津区农业农村局关于做好2022年秋季秸秆禁烧和综合利用工作的通知",
        "2022年08月18日",
        "成都市新津区农业农村局",
    ),
}
GOV_META = re.compile(r'<meta name="(?:ArticleTitle|PubDate|ContentSource|ColumnName)"[^>]*>')


def expected(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def page_bytes(name: str) -> tuple[bytes, str]:
    if name in SNAPSHOTS:
        return snapshot_file(SNAPSHOTS[name]).read_bytes(), SNAPSHOTS[name]
    return (FIXTURES / f"{name}.html").read_bytes(), expected(name)["url"]


def as_record(article) -> dict:
    record = {name: getattr(article, name) for name in FIELDS}
    record["published_at"] = article.published_at.isoformat() if article.published_at else None
    return record


def test_every_page_has_its_record_and_rule() -> None:
    assert set(PAGES) == set(RULE_OF)
    assert all((FIXTURES / f"{name}.json").exists() for name in PAGES)
    assert set(RECOGNISES) == {family.name for family in FAMILIES}
    assert all(RECOGNISES[family.name] for family in FAMILIES)  # each reads a page of its own
    names = {family.name for family in FAMILIES}
    assert all(name.split("_")[0] in names for name in PAGES)  # pages named by their family


@pytest.mark.parametrize("name", PAGES)
def test_page_gives_its_record(name: str) -> None:
    body, url = page_bytes(name)
    article = extract_article(body, url)
    truth = expected(name)
    truth["published_at"] = datetime.fromisoformat(truth["published_at"]).isoformat()
    assert as_record(article) == {field: truth[field] for field in FIELDS}
    assert article.provenance["body_text"] == RULE_OF[name]


@pytest.mark.parametrize("name", PAGES)
def test_rule_reads_title_date_and_source(name: str) -> None:
    body, url = page_bytes(name)
    parts = match_cms(Page.from_bytes(body, url))
    assert parts is not None
    title = visible_text(parts.title) if parts.title is not None else None
    # A 信息公开 table's 发布机构 is the agency, standing in for a 来源 the page does not show.
    assert (title, parts.date_text, parts.source or parts.agency) == PARTS[name]


@pytest.mark.parametrize("name", PAGES)
def test_same_record_without_the_gov_meta_tags(name: str) -> None:
    """The rules and the page's labels alone give the record; meta PubDate only adds a time."""
    body, url = page_bytes(name)
    page = Page.from_bytes(body, url)
    stripped = GOV_META.sub("", page.html)
    assert stripped != page.html
    article = extract_article(stripped, url)
    truth = expected(name)
    fields = [field for field in FIELDS if field != "published_at"]
    assert {field: getattr(article, field) for field in fields} == {f: truth[f] for f in fields}
    assert article.published_at.date() == datetime.fromisoformat(truth["published_at"]).date()


@pytest.mark.parametrize("name", [*PAGES, *SNAPSHOTS])
@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.name)
def test_rule_recognises_only_its_family(family: Family, name: str) -> None:
    body, url = page_bytes(name)
    parts = family.match(Page.from_bytes(body, url))
    assert (parts is not None) == (name in RECOGNISES[family.name])
    assert parts is None or parts.name == family.name  # provenance: cms:<family>


def test_snapshot_pages_keep_their_rules() -> None:
    for name, rule in (("snapshot_fujian", "fujian"), ("snapshot_nocms", None)):
        body, url = page_bytes(name)
        parts = match_cms(Page.from_bytes(body, url))
        assert (parts.name if parts else None) == rule


def test_gbk_pages_are_stored_as_served() -> None:
    raw = (FIXTURES / "trs_nynct_fujian.html").read_bytes()
    assert b'charset=gb2312"' in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "农业农村厅".encode("gbk") in raw


def test_info_table_values_and_element() -> None:
    body, url = page_bytes("xxgk_trs_agri_hunan")
    table = info_table(Page.from_bytes(body, url))
    assert table is not None and table.element.tag == "table"
    assert table.values == {
        "index": "430000/2022-00123",
        "agency": "湖南省农业农村厅",
        "number": "湘农发〔2022〕58号",
        "written": "2022-08-15",
        "published": "2022-08-18",
        "title": "湖南省农业农村厅关于做好2022年秋冬季动物疫病防控工作的通知",
    }


def test_info_table_with_labels_in_cells_of_their_own_values() -> None:
    body, url = page_bytes("xxgk_hanweb_wuxi")
    table = info_table(Page.from_bytes(body, url))
    assert table is not None
    assert table.values["issuer"] == "无锡市人民政府办公室"
    assert table.values["number"] == "锡政办发〔2022〕35号"
    assert table.values["title"].startswith("无锡市人民政府办公室关于印发")
    # 标　　题：<value> shares its cell with the label: the title shown is the value alone.
    assert table.title is not None and visible_text(table.title) == table.values["title"]


def test_info_table_is_cut_from_a_body_that_holds_it() -> None:
    body, url = page_bytes("xxgk_hanweb_wuxi")
    article = extract_article(body, url)
    for chrome in ("索引号", "索 引 号", "发文字号", "主题分类", "打印", "分享到"):
        assert chrome not in article.body_text
    assert not article.body_text.startswith(article.title)


def test_hanweb_markers_alone_give_the_body_between_them() -> None:
    body, url = page_bytes("hanweb_nyncj_zibo")
    page = Page.from_bytes(body, url)
    parts = hanweb_family.match(page)
    assert parts is not None and parts.source == "淄博市农业农村局"
    assert parts.date_text == "2022-08-18 15:26"
    text = visible_text(parts.body)
    assert text.startswith("8月中旬以来") and "分享到" not in text and "发布日期" not in text
    assert hanweb_family.match(page).body is parts.body  # asking again finds the same element


def test_no_rule_on_a_page_without_cms_markup() -> None:
    html = "<html><body><div id='zoom'><p>索引号：1</p><p>普通文章正文。</p></div></body></html>"
    page = Page.from_bytes(html.encode(), "http://example.gov.cn/a/1.html")
    assert match_cms(page) is None


DOCUMENT = (
    "<p>各县（市、区）农业农村局：</p>"
    "<p>为做好秋季农业生产工作，现将有关事项通知如下，请结合实际认真贯彻落实。</p>"
    "<p>一、抓好田间管理，落实关键技术措施。</p>"
)
TABLE = (
    "<table><tr><td>索引号：</td><td>001/2022-0001</td><td>发布机构：</td><td>某市农业农村局</td></tr>"
    "<tr><td>发文字号：</td><td>农发〔2022〕1号</td><td>发布日期：</td><td>2022-08-18</td></tr></table>"
)


def trs_page(editor: str) -> Page:
    html = (
        "<html><head><title>关于做好秋季农业生产工作的通知</title></head><body>"
        "<h1>关于做好秋季农业生产工作的通知</h1>"
        f"<div class='TRS_Editor'>{editor}</div><div>【打印本页】</div></body></html>"
    )
    return Page.from_bytes(html.encode(), "http://nyj.example.gov.cn/tzgg/202208/t20220818_1.html")


def test_table_at_the_top_of_the_editor_output_is_left_out_of_the_body() -> None:
    page = trs_page(TABLE + DOCUMENT)
    parts = match_cms(page)
    assert parts is not None and parts.name == "trs+xxgk"
    assert parts.agency == "某市农业农村局" and parts.date_text == "2022-08-18"
    assert visible_text(parts.body).startswith("各县（市、区）农业农村局：")
    assert "索引号" not in visible_text(parts.body)
    assert match_cms(page).body is parts.body  # the div made around the document is found again


def test_table_below_the_document_is_cut_from_the_body() -> None:
    page = trs_page(DOCUMENT + TABLE)
    article = extract_article(page.html, page.url)
    assert article.provenance["body_text"] == "cms:trs+xxgk"
    assert article.body_text.endswith("一、抓好田间管理，落实关键技术措施。")
    assert "索引号" not in article.body_text


def test_trs_by_its_url_and_container_without_the_editor_class() -> None:
    html = "<html><body><h1>标题一二三四</h1><div id='zoom'>" + DOCUMENT + "</div></body></html>"
    trs_url = "http://nyj.example.gov.cn/gzdt/202208/t20220818_5978123.htm"
    page = Page.from_bytes(html.encode(), trs_url)
    parts = trs_family.match(page)
    assert parts is not None and parts.body.get("id") == "zoom"
    elsewhere = Page.from_bytes(html.encode(), "http://nyj.example.gov.cn/gzdt/1.htm")
    assert trs_family.match(elsewhere) is None
    assert hanweb_family.match(Page.from_bytes(html.encode(), trs_url)) is None


# --- listing rules: what the sites spider pages by (pagination.kind) ---------------------------


def test_paging_kinds_are_named_once() -> None:
    pagings = [family.paging for family in FAMILIES if family.paging is not None]
    assert set(PAGINGS) == {paging.kind for paging in pagings} == {"trs", "hanweb", "fujian"}
    for paging in pagings:  # a variant may share its family's paging, not take its name
        assert PAGINGS[paging.kind] is paging
    assert not {"none", "links"} & set(PAGINGS)  # the sites file's generic kinds


@pytest.mark.parametrize(
    ("scripts", "pages"),
    [
        ('createPageHTML(2, 0, "index", "htm");', (2, 0, "index", "htm")),
        (
            "function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){}\n"
            "var countPage = 5//共多少页\nvar currentPage = 3;\n"
            "createPageHTML(countPage, currentPage, 'index', 'html');",
            (5, 3, "index", "html"),
        ),
        (
            "createPageHTML('page-div', 38, 1, 'index', 'shtml', 20, 742);",
            (38, 1, "index", "shtml"),
        ),
        ("function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){}", None),
    ],
)
def test_trs_page_count(scripts: str, pages: tuple[int, int, str, str] | None) -> None:
    found = trs_pages(scripts)
    read = (found.count, found.current, found.name, found.ext) if found else None
    assert read == pages


def test_dataproxy_form_from_every_place_a_jcms_page_puts_it() -> None:
    store = parse_datastore(
        '<datastore><nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&appid=1'
        '&webid=9&path=/&columnid=33718&unitid=212860&permissiontype=0"></a>]]></nextgroup>'
        "<recordset><record><![CDATA[<li><a href='/art/2022/8/1/art_33718_1.html'>a</a></li>]]>"
        "</record></recordset></datastore>",
        unit="212860",
    )
    assert store is not None and store.total is None and len(store.records) == 1
    inline = "$('#212860').jpage({totalRecord:40,perPage:15,ajaxParam:{col:1,columnid:33718}});"
    options = jpage_options(inline, "212860")
    assert options is not None and options["totalRecord"] == "40"
    assert jpage_options(inline, "999") is None  # another unit's call
    assert jpage_options("new jpage({totalRecord:'40'});", "212860") == {"totalRecord": "40"}
    assert ajax_params(inline, store, options) == {
        "col": "1",
        "columnid": "33718",
        "appid": "1",
        "webid": "9",
        "path": "/",
        "unitid": "212860",
        "permissiontype": "0",
    }  # ajaxParam's values first; the ones it lacks from the <nextgroup> link
    variable = (
        "var p = {col:1,webid:9,columnid:33718,webname:'江苏省人民政府'};\n"
        "$('#212860').jpage({ajaxParam:p});"
    )
    assert ajax_params(variable, store, {"ajaxParam": "p"})["webname"] == "江苏省人民政府"
    as_query = "var p = 'col=1&columnid=33718&webname=%E6%B1%9F';"
    assert ajax_params(as_query, store, {"ajaxParam": "p"})["webname"] == "江"
    assert ajax_params("", store, {"ajaxParam": "col=2&webid=10"})["webid"] == "10"
    by_unit = "var param_212860 = {col:1,columnid:33718,sourceContentType:1};"
    assert ajax_params(by_unit, store, {})["sourceContentType"] == "1"
    assert ajax_params("", store, {}) == {
        "appid": "1",
        "webid": "9",
        "path": "/",
        "columnid": "33718",
        "unitid": "212860",
        "permissiontype": "0",
    }  # the <nextgroup> link's query


# The column pages of tests/fixtures/cms/hanweb_list_<variant>.html, as the server sends them
# (GBK stays GBK), and the first window each gives: the URL it POSTs to, the form, in order.
# The <nextgroup> link gives webname encoded twice: the form sends it encoded once.
WEBNAME_FGW = quote("清溪市发展和改革委员会")
WEBNAME_KJJ = quote("清溪市科学技术局")
LISTS = {
    # ajaxParam {col, sourceContentType} only: the column and unit from the <nextgroup> link.
    "hanweb_list_nextgroup": (
        "http://fgw.example.gov.cn/col/col1229631201/index.html",
        10,
        "http://fgw.example.gov.cn/module/web/jpage/dataproxy.jsp"
        "?startrecord=11&endrecord=20&perpage=5",
        "col=1&sourceContentType=1&appid=1&webid=2904&path=/&columnid=1229631201"
        f"&unitid=7390215&webname={WEBNAME_FGW}&permissiontype=0",
    ),
    # ajaxParam part of it, the <nextgroup> link the rest, var param_<unit> one more;
    # perPage a string, groupSize missing (3); GBK.
    "hanweb_list_partial": (
        "http://kjj.example.gov.cn/col/col1229587310/index.html",
        10,
        "http://kjj.example.gov.cn/module/web/jpage/dataproxy.jsp"
        "?startrecord=11&endrecord=40&perpage=10",
        "col=1&webid=2751&columnid=1229587310&sourceContentType=1&unitid=6120384&appid=1"
        f"&path=/&webname={WEBNAME_KJJ}&permissiontype=0&keyWordCount=30",
    ),
    # an older JCMS: jQuery("#<unit>").jpage, proxyUrl /module/jpage/dataproxy.jsp.
    "hanweb_list_proxy": (
        "http://zjj.example.gov.cn/col/col1389975/index.html",
        6,
        "http://zjj.example.gov.cn/module/jpage/dataproxy.jsp?startrecord=7&endrecord=24&perpage=6",
        "col=1&appid=1&webid=1934&path=/&columnid=1389975&sourceContentType=1&unitid=4455560"
        "&webname=清溪市住房和城乡建设局&permissiontype=0",
    ),
    # unitbuild: jpage.js's jpage('<unit>', {...}), the form in <input id="param_<unit>">,
    # the total in <totalrecord>, POSTs to unitbuild.jsp; GBK.
    "hanweb_list_unitbuild": (
        "http://sthjj.example.gov.cn/col/col1229402117/index.html",
        8,
        "http://sthjj.example.gov.cn/module/web/jpage/unitbuild.jsp"
        "?startrecord=9&endrecord=24&perpage=8",
        "col=1&appid=1&webid=2588&path=/&columnid=1229402117&sourceContentType=1&unitid=3984127"
        "&webname=清溪市生态环境局&permissiontype=0",
    ),
}


def list_page(name: str, replace: tuple[tuple[str, str], ...] = ()) -> Listing:
    """A fixture column page as the spider reads it (decoded as Scrapy does), edited."""
    raw = (FIXTURES / f"{name}.html").read_bytes()
    _, text = html_to_unicode(None, raw)
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new)
    return Listing(LISTS[name][0], Selector(text=text))


def first_window(listing: Listing) -> Window:
    [step] = next_pages(listing, {})
    assert isinstance(step, Window), step
    return step


def form(query: str) -> tuple[tuple[str, str], ...]:
    """``a=1&b=2`` as the pairs of a window's form, in order (values as written)."""
    return tuple((key, value) for key, _, value in (p.partition("=") for p in query.split("&")))


def test_every_list_page_has_its_window() -> None:
    assert set(LIST_PAGES) == set(LISTS)


@pytest.mark.parametrize("name", sorted(LISTS))
def test_jcms_list_gives_the_window_its_page_posts(name: str) -> None:
    _, records, url, query = LISTS[name]
    listing = list_page(name)
    assert len(listed(listing)) == records
    window = first_window(listing)
    assert window.url == url
    assert window.params == form(query)
    assert window.total > records and window.start == records + 1


def test_gbk_list_pages_are_stored_as_served() -> None:
    for name in ("hanweb_list_partial", "hanweb_list_unitbuild"):
        raw = (FIXTURES / f"{name}.html").read_bytes()
        assert b"charset=gb2312" in raw and "清溪市".encode("gbk") in raw


def test_jcms_form_values_of_ajax_param_win() -> None:
    """ajaxParam first, the <nextgroup> link next, then var param_<unit>, then the input."""
    edited = list_page(
        "hanweb_list_partial",
        (
            ("sourceContentType:1,unitid", "sourceContentType:2,unitid"),
            ("keyWordCount:30", "appid:9,path:'/kjj/',keyWordCount:30"),
        ),
    )
    params = dict(first_window(edited).params)
    assert params["sourceContentType"] == "2"  # ajaxParam's own
    assert (params["appid"], params["path"]) == ("1", "/")  # the link's, before the variable's
    assert params["keyWordCount"] == "30"  # the variable's: nothing before gives it


def test_jcms_proxy_from_the_jpage_call_the_nextgroup_link_or_the_default() -> None:
    name, proxy = "hanweb_list_proxy", "proxyUrl:'/module/jpage/dataproxy.jsp',"
    query = "startrecord=7&endrecord=24&perpage=6"
    absolute = "url:'https://zjj.example.gov.cn/module/jpage/dataproxy.jsp?tpl=2',"
    window = first_window(list_page(name, ((proxy, absolute),)))
    assert window.url == f"https://zjj.example.gov.cn/module/jpage/dataproxy.jsp?tpl=2&{query}"
    window = first_window(list_page(name, ((proxy, ""),)))  # the <nextgroup> link's path
    assert window.url == f"http://zjj.example.gov.cn/module/jpage/dataproxy.jsp?{query}"
    link = "/module/jpage/dataproxy.jsp?page=1&appid=1&appid=1"
    window = first_window(list_page(name, ((proxy, ""), (link, "?page=1&appid=1"))))
    assert window.url == f"http://zjj.example.gov.cn/module/web/jpage/dataproxy.jsp?{query}"
    assert window.where == "dataproxy.jsp records 7-24"


def test_jcms_unitbuild_form_in_a_variable_and_defaults() -> None:
    name = "hanweb_list_unitbuild"
    query = LISTS[name][3]
    variable = f"<script>var param_3984127 = '{query}';</script>"
    as_variable = list_page(
        name, ((query.replace("&", "&amp;"), ""), ("</body>", variable + "</body>"))
    )
    window = first_window(as_variable)
    assert window.params == form(query)
    assert window.where == "unitbuild.jsp records 9-24"
    bare = first_window(list_page(name, ((" perPage:'8', groupSize:'2',", ""),)))
    assert (bare.start, bare.end, bare.perpage, bare.total) == (9, 53, 15, 53)  # 15 × 3
    no_call = first_window(list_page(name, (("jpage('3984127'", "paging('3984127'"),)))
    assert no_call.url == (  # the total from <totalrecord>; nowhere named: the default proxy
        "http://sthjj.example.gov.cn/module/web/jpage/dataproxy.jsp"
        "?startrecord=9&endrecord=53&perpage=15"
    )


def test_jcms_list_without_what_it_needs_is_a_problem() -> None:
    no_column = list_page(
        "hanweb_list_nextgroup", (("&columnid=1229631201&unitid=7390215", "&unitid=7390215"),)
    )
    assert list(next_pages(no_column, {})) == [
        Problem(
            "JCMS list 7390215: no dataproxy.jsp parameters"
            " (columnid in none of ajaxParam, the <nextgroup> link, param_7390215)",
            with_request=False,
        )
    ]
    no_total = list_page(
        "hanweb_list_unitbuild",
        (("jpage('3984127'", "paging('3984127'"), ("<totalrecord>53</totalrecord>", "")),
    )
    assert list(next_pages(no_total, {})) == [
        Problem("JCMS list 3984127 without its jpage(...) pagination script")
    ]
