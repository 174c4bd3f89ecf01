"""Rules for the CMS families government sites run: each finds a page's parts by markup.

A rule is a function ``Page -> CmsParts | None``: it recognises its family by markers the
family's templates print and no other family does, and returns None on any other page.
``CMS_RULES`` lists them from the most to the least specific marker; the first that
recognises a page wins:

``fujian``
    The Fujian government CMS (漳州 and sibling sites): ``#Content`` under ``div.content-title``.
``ucap``
    UCAP (开普云): body ``#UCAP-CONTENT`` or ``<ucapcontent>``; title ``<ucaptitle>`` (else the
    ``h1`` that ``<title>`` names); date ``<publishtime>``.
``hanweb``
    大汉 JCMS: the ``<!--ContentStart-->`` … ``<!--ContentEnd-->`` comments around the body,
    or the field comments ``<!--<$[信息来源]>begin-->…<!--<$[信息来源]>end-->`` (also written
    ``‹$[…]>``) with ``#zoom``, or an ``/art/YYYY/M/D/art_<column>_<id>.html`` URL with
    ``#zoom``. The body is the common parent of the content comments when nothing else
    shows in it, else a ``div`` the rule wraps around the nodes between them. The field
    comments give the title, 发布日期 and 信息来源.
``trs``
    TRS WCM: the editor's own wrapper ``div.TRS_Editor`` (``TRS_UEDITOR``, ``TRS_PreAppend``);
    or, failing it, a ``TRS`` generator meta or a ``/YYYYMM/tYYYYMMDD_<id>.html`` URL together
    with a container TRS templates use (``#zoom``, ``div.view``, ``.article-con``). Title from
    ``.article-title`` or ``h1``; the info line is left to the generic labels.
``xxgk``
    A 政府信息公开 page of a CMS none of the above knows: the body is the document below
    the key/value table.

Wrapping nodes in a new ``div`` is the only change rules make to a page; it changes
no text on it, and asking again finds the same ``div``.

The 政府信息公开 key/value table (索引号, 发布机构, 发文字号, 成文日期, 发布日期, 名称 …) is
printed by every family, so it is not a rule of its own but a layer: :func:`match_cms` reads
it once with :func:`info_table` and lays it over what the family rule found
(:func:`with_info_table`). The table is the page's formal record, so its values win:
名称/标题 → title, 发布机构 (else 发文机关) → source, 发布日期 (else 成文日期) → date_text
(a same-day date of the family rule that adds the time of day is kept). When the family's
body holds the table, the body becomes the document below it (the one element holding most
of it, else a ``div`` wrapped around it); a table below the document, and a title element
the table's 名称 replaced, go into ``CmsParts.remove``. The parts are then named
``<family>+xxgk`` (``trs+xxgk``, ``hanweb+xxgk``), so the provenance says both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from govnews.extract.dates import has_time, parse_date
from govnews.extract.page import (
    TITLE_SEPARATOR,
    Page,
    clean_space,
    is_element,
    squash,
    tag_of,
    visible_lines,
    visible_text,
)


@dataclass
class CmsParts:
    """What a CMS rule located on a page (any part may be missing).

    ``remove`` lists elements to cut from the body when they lie inside it (the
    政府信息公开 table, a title element the table replaced).
    """

    name: str
    body: HtmlElement
    title: HtmlElement | None = None
    date_text: str | None = None
    source: str | None = None
    attachment_blocks: list[HtmlElement] = field(default_factory=list)
    remove: list[HtmlElement] = field(default_factory=list)


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _has_class_ci(name: str) -> str:
    """Like :func:`_has_class`, ignoring case (``TRS_Editor``, ``trs_editor``)."""
    upper, lower = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
    classes = f"translate(normalize-space(@class), '{upper}', '{lower}')"
    return f"contains(concat(' ', {classes}, ' '), ' {name.lower()} ')"


def _first(page: Page, xpath: str) -> HtmlElement | None:
    found = page.root.xpath(xpath)
    return found[0] if found else None


def _after_label(text: str) -> str:
    return clean_space(text.split(":", 1)[-1].split("：", 1)[-1])


def _outermost(elements: Iterable[HtmlElement]) -> list[HtmlElement]:
    """The elements not inside another of ``elements``."""
    chosen = list(elements)
    members = set(chosen)
    return [e for e in chosen if not any(a in members for a in e.iterancestors())]


def _largest(elements: Iterable[HtmlElement]) -> HtmlElement | None:
    """The element with the most visible text (the first of equals), or None."""
    best: tuple[int, HtmlElement] | None = None
    for element in elements:
        size = len(visible_text(element))
        if best is None or size > best[0]:
            best = (size, element)
    return best[1] if best else None




def _names_the_page(text: str, page: Page) -> bool:
    """True when ``text`` is the meta ArticleTitle or the longest part of <title>.

    (Not any part: <title> also names the site, which a logo ``h1`` shows.)
    """
    squashed = squash(text)
    meta = page.meta("ArticleTitle")
    if meta and squashed == squash(meta):
        return True
    longest = max(TITLE_SEPARATOR.split(page.head_title), key=len, default="")
    return bool(longest) and squashed == squash(longest)


def _title_element(page: Page, xpaths: Iterable[str]) -> HtmlElement | None:
    """The first element the xpaths find that shows the page's title (per meta or <title>).

    Else the first title-sized element a class xpath (``.article-title``) finds; else None,
    and the generic heading search decides.
    """
    fallback: HtmlElement | None = None
    for xpath in xpaths:
        for element in page.root.xpath(xpath):
            text = visible_text(element)
            if not 4 <= len(text) <= 150:
                continue
            if _names_the_page(text, page):
                return element
            if fallback is None and "@class" in xpath:
                fallback = element
    return fallback


_FILE_LINK = re.compile(
    r"\.(?:pdf|docx?|xlsx?|et|wps|pptx?|zip|rar|7z|txt|ofd|csv)(?:$|\?)", re.IGNORECASE
)
_ATTACHMENT_LINE = re.compile(r"^(?:相关)?附件")


def _nearby_attachments(body: HtmlElement, levels: int = 3) -> list[HtmlElement]:
    """Blocks after the body (and after its parents) that list 附件: ``附件：…`` lines, file links.

    Templates print a document's attachments just below the editor's output, outside it.
    """
    blocks: list[HtmlElement] = []
    node: HtmlElement | None = body
    for _ in range(levels):
        if node is None or tag_of(node) in ("body", "html", ""):
            break
        for sibling in node.itersiblings():
            if not is_element(sibling):
                continue
            text = visible_text(sibling)
            has_files = any(_FILE_LINK.search(a.get("href") or "") for a in sibling.iter("a"))
            if has_files and (_ATTACHMENT_LINE.match(text) or len(text) < 400):
                blocks.append(sibling)
        node = node.getparent()
    return blocks


# --- Fujian ------------------------------------------------------------------------


def fujian(page: Page) -> CmsParts | None:
    """The Fujian government CMS (漳州 and sibling sites): ``#Content``, ``div.content-title``."""
    body = _first(page, "//*[@id='Content']")
    title = _first(page, f"//div[{_has_class('content-title')} or {_has_class('top-title1')}]")
    if body is None or title is None:
        return None
    date = _first(page, f"//span[{_has_class('rq')}]")
    source = _first(page, f"//span[{_has_class('ly')}]")
    blocks = page.root.xpath(f"//div[{_has_class('attachment')}] | //span[@id='attachments']")
    return CmsParts(
        name="fujian",
        body=body,
        title=title,
        date_text=visible_text(date) if date is not None else None,
        source=_after_label(visible_text(source)) if source is not None else None,
        attachment_blocks=list(blocks),
    )


# --- UCAP --------------------------------------------------------------------------


def ucap(page: Page) -> CmsParts | None:
    """UCAP (开普云): ``#UCAP-CONTENT``/``<ucapcontent>``, ``<ucaptitle>``, ``<publishtime>``."""
    body = _first(page, "//*[@id='UCAP-CONTENT']")
    if body is None:
        body = _first(page, "//ucapcontent")
    if body is None:
        return None
    title = _first(page, "//ucaptitle")
    if title is not None:
        parent = title.getparent()
        if parent is not None and visible_text(parent) == visible_text(title):
            title = parent  # the heading that shows it, so that all of it leaves the body
    else:
        title = _title_element(page, ("//h1",))
    date = _first(page, "//publishtime")
    return CmsParts(
        name="ucap",
        body=body,
        title=title,
        date_text=visible_text(date) if date is not None else None,
        attachment_blocks=_nearby_attachments(body),
    )


# --- Hanweb (大汉 JCMS) --------------------------------------------------------------

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
    first, last = _child_holding(common, start), _child_holding(common, end)
    children = list(common)
    i, j = children.index(first), children.index(last)
    inner = children[i + (first is start) : j + (last is not end)]
    lead = (start.tail or "") if first is start else ""
    outside = [*children[:i], *children[j + 1 :]]
    stray = (common.text or "") + (last.tail or "") + _shown(outside)
    if not clean_space(stray):
        return common  # nothing else shows in the parent
    elements = [node for node in inner if is_element(node)]
    if len(elements) == 1 and clean_space(lead + _shown(inner)) == visible_text(elements[0]):
        return elements[0]  # one element between the comments (or the div made before)
    return _wrap(start if first is start else None, inner)


def _shown(nodes: list[HtmlElement]) -> str:
    """The visible text of sibling nodes and their tails, run together."""
    return "".join((visible_text(n) if is_element(n) else "") + (n.tail or "") for n in nodes)


def _child_holding(parent: HtmlElement, node: HtmlElement) -> HtmlElement:
    """``node`` or its ancestor that is a child of ``parent``."""
    return next(a for a in [node, *node.iterancestors()] if a.getparent() is parent)


def _wrap(lead: HtmlElement | None, nodes: list[HtmlElement]) -> HtmlElement | None:
    """Move ``nodes`` (siblings, in order) into a new ``div`` that takes their place.

    The text after ``lead`` (the node just before them) goes into the ``div`` too.
    """
    anchor = nodes[0] if nodes else lead
    parent = anchor.getparent() if anchor is not None else None
    if anchor is None or parent is None:
        return None
    wrapper = lxml.html.Element("div")
    parent.insert(parent.index(anchor) + (anchor is lead), wrapper)
    if lead is not None:
        wrapper.text, lead.tail = lead.tail, None
    for node in nodes:
        wrapper.append(node)
    return wrapper


def hanweb(page: Page) -> CmsParts | None:
    """大汉 JCMS: ContentStart/ContentEnd comments, ``$[字段]`` comments, ``#zoom``, art_ URLs."""
    body = _between_markers(page)
    fields = _hanweb_fields(page)
    if body is None and (fields or _HANWEB_URL.search(page.url.split("?", 1)[0])):
        body = _first(page, "//*[@id='zoom']")
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
        attachment_blocks=_nearby_attachments(body),
    )


# --- TRS WCM -----------------------------------------------------------------------

_TRS_URL = re.compile(r"/(?:19|20)\d{4}/t(?:19|20)\d{6}_\d+\.s?html?$")
_TRS_EDITOR = " | ".join(
    f"//*[{_has_class_ci(name)}]" for name in ("TRS_Editor", "TRS_UEDITOR", "TRS_PreAppend")
)
_TRS_MARK = re.compile(r"TRS_(?:Editor|UEDITOR|PreAppend)", re.IGNORECASE)
_TRS_CONTAINERS = (
    "//*[@id='zoom']",
    f"//div[{_has_class('view')}]",
    f"//*[{_has_class('article-con')}]",
)
_TRS_TITLES = (
    f"//*[{_has_class('article-title')}]",
    "//h1",
)


def trs(page: Page) -> CmsParts | None:
    """TRS WCM: ``div.TRS_Editor`` (or a TRS URL / generator with a known container)."""
    marked = _TRS_MARK.search(page.html) is not None  # cheap test before the XPath scan
    body = _largest(_outermost(page.root.xpath(_TRS_EDITOR))) if marked else None
    if body is None and (
        page.meta("generator").upper().startswith("TRS")
        or _TRS_URL.search(page.url.split("?", 1)[0])
    ):
        body = next(
            (found for xpath in _TRS_CONTAINERS if (found := _first(page, xpath)) is not None),
            None,
        )
    if body is None:
        return None
    return CmsParts(
        name="trs",
        body=body,
        title=_title_element(page, _TRS_TITLES),
        attachment_blocks=_nearby_attachments(body),
    )


# --- 政府信息公开 tables -------------------------------------------------------------

_TABLE_FIELDS: dict[str, str] = {
    "索引号": "index",
    "名称": "title",
    "标题": "title",
    "文件名称": "title",
    "信息名称": "title",
    "发布机构": "agency",
    "发布单位": "agency",
    "发文机关": "issuer",
    "发文单位": "issuer",
    "发文字号": "number",
    "文号": "number",
    "成文日期": "written",
    "成文时间": "written",
    "发布日期": "published",
    "发布时间": "published",
    "公开日期": "published",
    # Fields that end the value before them and carry nothing we keep.
    "主题分类": "other",
    "信息分类": "other",
    "组配分类": "other",
    "体裁分类": "other",
    "服务对象分类": "other",
    "主题词": "other",
    "关键词": "other",
    "有效性": "other",
    "生效日期": "other",
    "废止日期": "other",
    "时效": "other",
    "公开方式": "other",
    "公开范围": "other",
    "内容概述": "other",
    "统一编号": "other",
}
# Only these tables print them: a table needs one, and three labels in all.
_DISTINCTIVE = frozenset({"index", "number", "written"})
_MIN_FIELDS = 3
_CHARS_PER_FIELD = 60  # a table is dense in labels; an article that mentions them is not
_LABEL_ALTERNATIVES = "|".join(
    r"[^\S\n]*".join(map(re.escape, label))
    for label in sorted(_TABLE_FIELDS, key=len, reverse=True)
)
# A label starts a line or follows a space; a colon follows, or the line ends (a label cell).
TABLE_LABEL = re.compile(
    rf"(?:^|(?<=\s))(?P<label>{_LABEL_ALTERNATIVES})[^\S\n]*(?:[:：]|(?=\n)|$)", re.MULTILINE
)
_STARTS_WITH_LABEL = re.compile(rf"^\s*(?:{_LABEL_ALTERNATIVES})\s*(?:[:：]|$)")
_SPACES = re.compile(r"\s+")


@dataclass
class InfoTable:
    """A 政府信息公开 key/value table: its element and its values by field."""

    element: HtmlElement
    values: dict[str, str]
    title: HtmlElement | None = None


def _table_fields(element: HtmlElement) -> tuple[dict[str, str], set[str], int, int]:
    """What an element's lines give: values by field, the labels seen, their count, text size."""
    lines = visible_lines(element)
    text = "\n".join(lines)
    matches = list(TABLE_LABEL.finditer(text))
    values: dict[str, str] = {}
    labels: set[str] = set()
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        label = _SPACES.sub("", match["label"])
        labels.add(label)
        values.setdefault(_TABLE_FIELDS[label], clean_space(text[match.end() : end]))
    return values, labels, len(matches), sum(len(line) for line in lines)


def info_table(page: Page) -> InfoTable | None:
    """The 政府信息公开 key/value table above the document (索引号, 发文字号 …), or None.

    Climbs from each element that starts with a field label through the elements whose
    text is mostly labels and values (at most 60 characters a label); of those with three
    labels or more, one of them 索引号, a 文号 or 成文日期, the one with the most labels wins,
    the smallest of equals.
    """
    best: tuple[int, int, HtmlElement, dict[str, str]] | None = None
    seen: set[int] = set()
    for element in page.iter_elements():
        if not _STARTS_WITH_LABEL.match(element.text or ""):
            continue
        for candidate in [element, *element.iterancestors()]:
            if tag_of(candidate) in ("body", "html") or id(candidate) in seen:
                break
            seen.add(id(candidate))
            values, labels, count, size = _table_fields(candidate)
            if size > _CHARS_PER_FIELD * max(count, 1):
                if size > _CHARS_PER_FIELD * 50:
                    break  # the ancestors only grow
                continue
            if len(labels) < _MIN_FIELDS or not set(values) & _DISTINCTIVE:
                continue
            key = (len(labels), -size)
            if best is None or key > best[:2]:
                best = (*key, candidate, values)
    if best is None:
        return None
    element, values = best[2], {k: v for k, v in best[3].items() if v and k != "other"}
    title = values.get("title")
    return InfoTable(element, values, _showing(element, title) if title else None)


def _showing(table: HtmlElement, value: str) -> HtmlElement:
    """The deepest element of the table whose text is ``value``; else a detached one showing it."""
    shown = _deepest_showing(table, value)
    if shown is None:
        shown = lxml.html.Element("span")
        shown.text = value
    return shown


def _deepest_showing(container: HtmlElement, value: str) -> HtmlElement | None:
    """The deepest element inside ``container`` whose whole visible text is ``value``."""
    for element in reversed(list(container.iter())):
        if is_element(element) and element is not container and visible_text(element) == value:
            return element
    return None


def _same_day_finer(table_date: str, other: str | None) -> str:
    """``other`` when it names the table's day and adds the time of day; else the table's date."""
    mine, theirs = parse_date(table_date), parse_date(other)
    if mine and theirs and other and mine.date() == theirs.date() and has_time(other):
        return other
    return table_date


def with_info_table(parts: CmsParts, table: InfoTable) -> CmsParts:
    """``parts`` with the table's values laid over them and a body without the table."""
    values = table.values
    body, remove = parts.body, list(parts.remove)
    if any(ancestor is body for ancestor in table.element.iterancestors()):
        below = _document_after(table.element, within=body)
        if below is not None:
            body = below
        else:  # the document is not below the table: only cut the table out
            remove.append(table.element)
    title = parts.title
    if table.title is not None:
        # The heading that shows the same title must leave the body too.
        shown = _deepest_showing(body, visible_text(table.title))
        for element in (parts.title, shown):
            if element is not None and element is not table.title and element not in remove:
                remove.append(element)
        title = table.title
    published = values.get("published")
    date = (
        _same_day_finer(published, parts.date_text)
        if published
        else parts.date_text or values.get("written")
    )
    return CmsParts(
        name=parts.name if parts.name.endswith("xxgk") else f"{parts.name}+xxgk",
        body=body,
        title=title,
        date_text=date,
        source=values.get("agency") or values.get("issuer") or parts.source,
        attachment_blocks=parts.attachment_blocks,
        remove=remove,
    )


def _document_after(
    table: HtmlElement, within: HtmlElement | None = None, min_text: int = 50
) -> HtmlElement | None:
    """The element holding the document below ``table`` (inside ``within``), or None.

    Climbs from the table to the first level with text after it: the one sibling there
    that holds most of that text, else a ``div`` wrapped around all that follows the
    table at that level (asking again finds that ``div``).
    """
    node = table
    while (parent := node.getparent()) is not None and tag_of(parent) not in ("html", ""):
        following = [s for s in node.itersiblings() if is_element(s)]
        sizes = [len(visible_text(s)) for s in following]
        total = len(clean_space(node.tail or "")) + sum(sizes)
        if total >= min_text:
            if max(sizes, default=0) >= 0.7 * total:
                return following[sizes.index(max(sizes))]
            return _wrap(node, list(node.itersiblings()))
        if parent is within or tag_of(parent) == "body":
            return None
        node = parent
    return None


def xxgk(page: Page) -> CmsParts | None:
    """A 政府信息公开 page of an unknown CMS: the document below its key/value table."""
    table = info_table(page)
    if table is None:
        return None
    body = _document_after(table.element)
    if body is None:
        return None
    parts = CmsParts(name="xxgk", body=body, attachment_blocks=_nearby_attachments(body))
    return with_info_table(parts, table)


CMS_RULES: tuple[Callable[[Page], CmsParts | None], ...] = (fujian, ucap, hanweb, trs, xxgk)


def match_cms(page: Page) -> CmsParts | None:
    """The parts found by the first CMS rule that recognises the page, with its info table."""
    for rule in CMS_RULES:
        parts = rule(page)
        if parts is None:
            continue
        if rule is not xxgk and (table := info_table(page)) is not None:
            parts = with_info_table(parts, table)
        return parts
    return None
