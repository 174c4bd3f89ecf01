"""大汉 JCMS (Hanweb): its articles and its column lists.

Articles: the ``<!--ContentStart-->`` … ``<!--ContentEnd-->`` comments around the body,
or the field comments ``<!--<$[信息来源]>begin-->…<!--<$[信息来源]>end-->`` (also written
``‹$[…]>``) with ``#zoom``, or an ``/art/YYYY/M/D/art_<column>_<id>.html`` URL with
``#zoom``. The body is the common parent of the content comments when nothing else
shows in it, else a ``div`` the rule wraps around the nodes between them. The field
comments give the title, 发布日期 and 信息来源.

Lists (``pagination.kind = "hanweb"``): a column ``/col/col<N>/index.html`` holds its first
records in ``<script type="text/xml"><datastore>``; its jpage script (``$('#<unit>').jpage({...})``
of jquery.page.js, or ``jpage('<unit>', {...})`` of the older jpage.js that unitbuild pages
load) gives totalRecord (else the datastore's ``<totalrecord>``), perPage and groupSize
(numbers or strings; 15 and 3 when missing), where the page POSTs for the rest
(``proxyUrl`` or ``url``, else the ``<nextgroup>`` link's ``.jsp``, else
``/module/web/jpage/dataproxy.jsp``), and the form it POSTs there, a window of records at
a time. Templates split that form: the values of ``ajaxParam`` win, the missing ones come
from the ``<nextgroup>`` link's query, then ``var param_<unit>``, then an ``<input>`` of that
name; without a columnid the list is a recorded failure. Options of the sites file:
``perpage`` (the perpage of the query) and ``window`` (records per POST); by default what
the page's jpage says (perPage, perPage × groupSize).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement
from parsel import Selector

from govnews.extract.cms import paging
from govnews.extract.cms.paging import Listing, Paging, Problem, Step, WindowAnswer
from govnews.extract.cms.parts import CmsParts, Family, first, nearby_attachments, wrap
from govnews.extract.page import Page, clean_space, is_element, visible_text

# --- articles ------------------------------------------------------------------------------

_HANWEB_URL = re.compile(r"/art/(?:19|20)\d\d/\d{1,2}/\d{1,2}/art_\d+_\d+\.html?$")
_FIELD_COMMENT = re.compile(
    r"^\s*[‹<]?\s*\$\[(?P<field>[^\]]+)\]\s*[>›]?\s*(?P<edge>begin|end)\s*$"
)
_HANWEB_FIELDS = {
    "标题名称": "title",
    "标题": "title",
    "发布日期": "date",
    "发布时间": "date",
    "信息来源": "source",
    "来源": "source",
}


def _comments(page: Page) -> list[etree._Comment]:
    return [node for node in page.root.iter(etree.Comment) if isinstance(node.text, str)]


@dataclass
class _Field:
    value: str
    holder: HtmlElement | None


def _hanweb_fields(page: Page) -> dict[str, _Field]:
    """The values between ``<$[字段]>begin`` and ``<$[字段]>end`` comments, by field."""
    fields: dict[str, _Field] = {}
    for comment in _comments(page):
        match = _FIELD_COMMENT.match(comment.text or "")
        if not match or match["edge"] != "begin":
            continue
        name = _HANWEB_FIELDS.get(match["field"].strip())
        if name is None or name in fields:
            continue
        parts = [comment.tail or ""]
        for sibling in comment.itersiblings():
            end = _FIELD_COMMENT.match(sibling.text or "") if not is_element(sibling) else None
            if end and end["edge"] == "end":
                break
            if is_element(sibling):
                parts.append(visible_text(sibling))
            parts.append(sibling.tail or "")
        value = clean_space("".join(parts))
        if value:
            fields[name] = _Field(value, comment.getparent())
    return fields


def _between_markers(page: Page) -> HtmlElement | None:
    """The element holding what lies between ``<!--ContentStart-->`` and ``<!--ContentEnd-->``."""
    start = end = None
    for comment in _comments(page):
        text = (comment.text or "").strip()
        if start is None and text == "ContentStart":
            start = comment
        elif start is not None and text == "ContentEnd":
            end = comment
            break
    if start is None or end is None:
        return None
    end_line = {id(node) for node in end.iterancestors()}
    common = next((a for a in start.iterancestors() if id(a) in end_line), None)
    if common is None:
        return None
    first_child, last = _child_holding(common, start), _child_holding(common, end)
    children = list(common)
    i, j = children.index(first_child), children.index(last)
    inner = children[i + (first_child is start) : j + (last is not end)]
    lead = (start.tail or "") if first_child is start else ""
    outside = [*children[:i], *children[j + 1 :]]
    stray = (common.text or "") + (last.tail or "") + _shown(outside)
    if not clean_space(stray):
        return common  # nothing else shows in the parent
    elements = [node for node in inner if is_element(node)]
    if len(elements) == 1 and clean_space(lead + _shown(inner)) == visible_text(elements[0]):
        return elements[0]  # one element between the comments (or the div made before)
    return wrap(start if first_child is start else None, inner)


def _shown(nodes: list[HtmlElement]) -> str:
    """The visible text of sibling nodes and their tails, run together."""
    return "".join((visible_text(n) if is_element(n) else "") + (n.tail or "") for n in nodes)


def _child_holding(parent: HtmlElement, node: HtmlElement) -> HtmlElement:
    """``node`` or its ancestor that is a child of ``parent``."""
    return next(a for a in [node, *node.iterancestors()] if a.getparent() is parent)


def match(page: Page) -> CmsParts | None:
    """大汉 JCMS: ContentStart/ContentEnd comments, ``$[字段]`` comments, ``#zoom``, art_ URLs."""
    body = _between_markers(page)
    fields = _hanweb_fields(page)
    if body is None and (fields or _HANWEB_URL.search(page.url.split("?", 1)[0])):
        body = first(page, "//*[@id='zoom']")
    if body is None:
        return None
    title = fields.get("title")
    title_element = None
    if title is not None and title.holder is not None and visible_text(title.holder) == title.value:
        title_element = title.holder
    date, source = fields.get("date"), fields.get("source")
    return CmsParts(
        name="hanweb",
        body=body,
        title=title_element,
        date_text=date.value if date else None,
        source=source.value if source else None,
        attachment_blocks=nearby_attachments(body),
    )


# --- lists: <datastore> records and dataproxy.jsp windows ------------------------------------

_XML_PARSER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
_DEFAULT_PROXY = "/module/web/jpage/dataproxy.jsp"
_DEFAULT_PERPAGE = 15
_DEFAULT_GROUP = 3  # jpage's groupSize: pages per request
_JS_PAIR = re.compile(
    r"""([\w$]+)\s*:\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\{[^{}]*\}|[^,{}\s][^,{}]*)"""
)
#: A jpage call: ``$('#<unit>').jpage({...})`` (or ``jQuery(...)``), the older jpage.js's
#: ``jpage('<unit>', {...})``, or ``jpage({unitid: '<unit>', ...})`` (also ``new jpage``).
_JPAGE_CALL = re.compile(
    r"""(?:(?:\$|jQuery)\(\s*['"]\#(?P<target>[^'"]+)['"]\s*\)\s*\.)?"""
    r"""\bjpage\(\s*(?:['"]\#?(?P<first>[^'"]+)['"]\s*,\s*)?\{(?P<body>.*?)\}\s*\)""",
    re.S | re.I,
)
#: The parameter without which dataproxy.jsp cannot answer: the column.
_REQUIRED = "columnid"


@dataclass(frozen=True)
class Datastore:
    """A JCMS ``<datastore>``: its records (HTML of list items), and what it says of the rest."""

    records: tuple[str, ...]
    total: int | None = None
    nextgroup: str | None = None
    #: The id of the list unit around an in-page datastore (its jpage's ``#id``).
    unit: str | None = None

    @property
    def nextgroup_link(self) -> str:
        """The target of the ``<nextgroup>`` link (dataproxy.jsp and its query), or ""."""
        return Selector(text=self.nextgroup or "<p></p>").css("a::attr(href)").get("").strip()


def parse_datastore(text: str, unit: str | None = None) -> Datastore | None:
    """The ``<datastore>`` in ``text`` (a page's ``<script type="text/xml">`` or a
    dataproxy.jsp answer), or None."""
    start = text.find("<datastore")
    if start < 0:
        return None
    root = etree.fromstring(text[start:].encode("utf-8"), _XML_PARSER)
    if root is None or root.tag != "datastore":
        return None
    total = (root.findtext("totalrecord") or "").strip()
    return Datastore(
        records=tuple(record.text or "" for record in root.iter("record")),
        total=int(total) if total.isdigit() else None,
        nextgroup=root.findtext("nextgroup"),
        unit=unit,
    )


def datastores(listing: Listing) -> list[Datastore]:
    """The datastores of a JCMS page, each with the id of its list unit."""
    stores = []
    for script in listing.selector.xpath("//script[@type='text/xml']"):
        unit = script.xpath("ancestor::*[@id][1]/@id").get()
        store = parse_datastore(script.xpath("string()").get(""), unit)
        if store is not None:
            stores.append(store)
    return stores


def record_links(records: Iterable[str], base: str) -> list[str]:
    """The absolute link targets in datastore records, in order, each once."""
    links: list[str] = []
    for record in records:
        for href in Selector(text=record or "<p></p>").css("a::attr(href)").getall():
            links.append(urljoin(base, href.strip()))
    return list(dict.fromkeys(links))


def js_object(text: str) -> dict[str, str]:
    """The top-level ``key: value`` pairs of a JavaScript object body, values unquoted."""
    values: dict[str, str] = {}
    for key, value in _JS_PAIR.findall(text):
        value = value.strip()
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        values[key] = value
    return values


def jpage_options(scripts: str, unit: str) -> dict[str, str] | None:
    """The options of the list unit's jpage call, or None when the page has no such call.

    ``$('#<unit>').jpage({...})`` or ``jQuery(...)`` (jquery.page.js), ``jpage('<unit>',
    {...})`` or ``jpage({unitid: '<unit>', ...})`` (the older jpage.js of unitbuild pages);
    else the page's one call that names no unit.
    """
    unnamed = []
    for call in _JPAGE_CALL.finditer(scripts):
        options = js_object(call["body"])
        named = call["target"] or call["first"] or options.get("unitid") or options.get("unitId")
        if not named:
            unnamed.append(options)
        elif named.lstrip("#") == unit:
            return options
    return unnamed[0] if len(unnamed) == 1 else None


def _form(text: str) -> dict[str, str] | None:
    """A form written as a JavaScript object (``{col:1, …}``) or a query (``col=1&…``)."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        return js_object(text[1:-1])
    if "=" in text:
        return dict(parse_qsl(text.lstrip("?"), keep_blank_values=True))
    return None


def _js_variable(scripts: str, name: str) -> dict[str, str] | None:
    """The form held by ``var <name> = {...}`` (or a quoted query string), or None."""
    found = re.search(
        rf"""\b(?:var|let|const)\s+{re.escape(name)}\s*=\s*"""
        r"""(\{[^{}]*\}|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""",
        scripts,
    )
    return _form(found[1] if found[1].startswith("{") else found[1][1:-1]) if found else None


def _input(page: Selector | None, name: str) -> dict[str, str] | None:
    """The form held by the value of ``<input name|id="<name>">``, or None."""
    if page is None:
        return None
    value = page.xpath("//input[@name=$n or @id=$n]/@value", n=name).get()
    return _form(value) if value else None


def ajax_params(
    scripts: str,
    store: Datastore,
    options: Mapping[str, str],
    page: Selector | None = None,
) -> dict[str, str]:
    """The form a JCMS list POSTs to dataproxy.jsp (col, appid, webid, columnid, unitid …).

    Pages split it: every place a JCMS page puts it is read, and a value found earlier
    wins. First jpage's ``ajaxParam`` (an object, a query string, or the variable holding
    one), then the query of the ``<nextgroup>`` link (without its ``page``), then the
    ``param_<unit>`` variable, then an ``<input>`` of that name or id (unitbuild pages);
    {} if none.
    """
    unit = f"param_{store.unit}" if store.unit else ""
    explicit = options.get("ajaxParam", "").strip()
    nextgroup = urlsplit(store.nextgroup_link).query
    sources = (
        _form(explicit) or (_js_variable(scripts, explicit) if explicit.isidentifier() else None),
        {k: v for k, v in parse_qsl(nextgroup, keep_blank_values=True) if k != "page"},
        _js_variable(scripts, unit) if unit else None,
        _input(page, unit) if unit else None,
    )
    params: dict[str, str] = {}
    for source in sources:
        for key, value in (source or {}).items():
            params.setdefault(key, value)
    return params


def proxy_url(store: Datastore, options: Mapping[str, str]) -> str:
    """Where the list POSTs its windows: jpage's ``proxyUrl`` (or ``url``), else the path of
    the ``<nextgroup>`` link when it names a ``.jsp``, else ``/module/web/jpage/dataproxy.jsp``.
    Relative to the column page, as the browser resolves it."""
    given = (options.get("proxyUrl") or options.get("url") or "").strip()
    if given:
        return given
    path = urlsplit(store.nextgroup_link).path
    return path if path.endswith(".jsp") else _DEFAULT_PROXY


@dataclass(frozen=True)
class Window:
    """One POST to dataproxy.jsp: records ``start``–``end`` of a JCMS column."""

    column: str
    proxy: str
    params: tuple[tuple[str, str], ...]
    start: int
    end: int
    perpage: int
    total: int
    #: The links the column has given so far (windows may overlap: deduplicated).
    seen: frozenset[str]

    @property
    def url(self) -> str:
        """The proxy (with any query of its own), then startrecord, endrecord, perpage."""
        base, _, own = urljoin(self.column, self.proxy).partition("?")
        query = urlencode(
            {"startrecord": self.start, "endrecord": self.end, "perpage": self.perpage}
        )
        return f"{base}?{own.strip('&')}&{query}" if own.strip("&") else f"{base}?{query}"

    @property
    def where(self) -> str:
        name = urlsplit(self.proxy).path.rsplit("/", 1)[-1] or "dataproxy.jsp"
        return f"{name} records {self.start}-{self.end}"

    def following(self, total: int, seen: frozenset[str]) -> Window:
        size = self.end - self.start + 1
        return replace(self, start=self.end + 1, end=self.end + size, total=total, seen=seen)


def next_pages(listing: Listing, options: Mapping[str, int]) -> Iterator[Step]:
    """A JCMS column: after its in-page records, the first dataproxy.jsp window of each list."""
    stores = datastores(listing)
    if not stores:
        yield Problem("JCMS column without a <datastore> list")
        return
    for store in stores:
        jpage = jpage_options(listing.scripts, store.unit or "")
        if jpage is None and store.total is None:
            yield Problem(f"JCMS list {store.unit} without its jpage(...) pagination script")
            continue
        yield from _first_window(listing, store, jpage or {}, options)


def _first_window(
    listing: Listing,
    store: Datastore,
    jpage: dict[str, str],
    options: Mapping[str, int],
) -> Iterator[Step]:
    """The window after a list's in-page records; nothing when they are all (or a problem).

    The total is jpage's ``totalRecord``, else the datastore's ``<totalrecord>``.
    """
    column = listing.url
    total = jpage.get("totalRecord", "").strip() or str(store.total or "")
    if not total.isdigit():
        reason = f"JCMS list {store.unit}: no totalRecord in its jpage(...) script"
        yield Problem(reason, with_request=False)
        return
    seen = frozenset(record_links(store.records, column))
    if int(total) <= len(store.records):
        return
    params = ajax_params(listing.scripts, store, jpage, listing.selector)
    if _REQUIRED not in params:
        reason = (
            f"JCMS list {store.unit}: no dataproxy.jsp parameters ({_REQUIRED} in none of"
            f" ajaxParam, the <nextgroup> link, param_{store.unit})"
        )
        yield Problem(reason, with_request=False)
        return
    perpage = options.get("perpage") or _int(jpage.get("perPage"), _DEFAULT_PERPAGE)
    size = options.get("window") or perpage * _int(jpage.get("groupSize"), _DEFAULT_GROUP)
    start = len(store.records) + 1
    yield Window(
        column=column,
        proxy=proxy_url(store, jpage),
        params=tuple(params.items()),
        start=start,
        end=start + size - 1,
        perpage=perpage,
        total=int(total),
        seen=seen,
    )


def read_window(window: paging.Window, text: str) -> WindowAnswer | Problem:
    """A dataproxy.jsp answer: the links of its records, and the column's total."""
    store = parse_datastore(text)
    if store is None:
        return Problem("no <datastore> in the answer")
    return WindowAnswer(record_links(store.records, window.column), store.total or window.total)


def listed(listing: Listing) -> list[str]:
    """The links of the page's datastore records (a JCMS page lists them in scripts)."""
    return [
        link for store in datastores(listing) for link in record_links(store.records, listing.url)
    ]


def _int(value: str | None, default: int) -> int:
    """A whole number of jpage's options (``15`` or ``'15'``); ``default`` if missing or 0."""
    value = (value or "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


def detect(listing: Listing) -> bool:
    """A JCMS list: a ``<datastore>`` of records, or a jpage call that pages one."""
    return bool(datastores(listing)) or _JPAGE_CALL.search(listing.scripts) is not None


PAGING = Paging(
    "hanweb",
    next_pages,
    detect,
    options=("perpage", "window"),
    listed=listed,
    read_window=read_window,
)
FAMILY = Family("hanweb", match, PAGING)
