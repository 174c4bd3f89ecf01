"""The 政府信息公开 key/value table (索引号, 发布机构, 发文字号, 成文日期, 发布日期, 名称 …).

Every family prints it, so it is not only a rule of its own but a layer:
:func:`govnews.extract.cms.match_cms` reads it once with :func:`info_table` and lays it over
what the family rule found (:func:`with_info_table`). The table is the page's formal
record, so its values win: 名称/标题 → title, 发布机构 (else 发文机关) → agency (the
source when the page shows no 来源), 发布日期
(else 成文日期) → date_text (a same-day date of the family rule that adds the time of day
is kept). When the family's body holds the table, the body becomes the document below it
(the one element holding most of it, else a ``div`` wrapped around it); a table below the
document, and a title element the table's 名称 replaced, go into ``CmsParts.remove``. The
parts are then named ``<family>+xxgk`` (``trs+xxgk``, ``hanweb+xxgk``), so the provenance
says both.

As a rule (:func:`match`, the last of the registry): a 政府信息公开 page of a CMS none of
the others knows; the body is the document below the key/value table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.html
from lxml.html import HtmlElement

from govnews.extract.cms.parts import CmsParts, Family, nearby_attachments, wrap
from govnews.extract.dates import has_time, parse_date
from govnews.extract.page import Page, clean_space, is_element, tag_of, visible_lines, visible_text

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
    "发文日期": "written",
    "发文时间": "written",
    "发布日期": "published",
    "发布时间": "published",
    "公开日期": "published",
    # Fields that end the value before them and carry nothing we keep.
    "分类": "other",
    "所属分类": "other",
    "信息类别": "other",
    "文种": "other",
    "生成日期": "other",
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
        source=parts.source,
        agency=values.get("agency") or values.get("issuer"),
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
            return wrap(node, list(node.itersiblings()))
        if parent is within or tag_of(parent) == "body":
            return None
        node = parent
    return None


def match(page: Page) -> CmsParts | None:
    """A 政府信息公开 page of an unknown CMS: the document below its key/value table."""
    table = info_table(page)
    if table is None:
        return None
    body = _document_after(table.element)
    if body is None:
        return None
    parts = CmsParts(name="xxgk", body=body, attachment_blocks=nearby_attachments(body))
    return with_info_table(parts, table)


# Its rule reads the table itself: match_cms lays no table over it.
FAMILY = Family("xxgk", match, info_table=False)
