"""Labelled lines a reader sees: the info line, 责任编辑, 原文链接, 原标题, the breadcrumb."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml.html import HtmlElement

from govnews.core.text import clean_space
from govnews.extract.dates import DATE_PATTERN
from govnews.extract.page import Page, spaced_text, visible_text

COLON = r"\s*[:：丨︱]\s*"
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "date": ("发布时间", "发布日期", "发表时间", "更新时间", "时间", "日期"),
    "source": ("信息来源", "文章来源", "本文来源", "来源", "稿源", "转自", "摘自", "出处"),
    "author": ("作者", "撰稿", "撰文"),
    "editor": ("责任编辑", "编辑", "责编"),
    # Labels that end the value before them and carry nothing we keep.
    "other": (
        "浏览次数",
        "浏览量",
        "阅读次数",
        "点击数",
        "点击",
        "浏览",
        "阅读",
        "字号",
        "字体",
        "分享到",
    ),
}
_LABEL_OF = {label: name for name, labels in FIELD_LABELS.items() for label in labels}
_ALL = sorted(_LABEL_OF, key=len, reverse=True)
LABEL_PATTERN = re.compile(rf"(?<![\u4e00-\u9fff])(?P<label>{'|'.join(_ALL)}){COLON}")
_VALUE_END = re.compile(r"[【\[|｜]|(?:\s{2,})")
ANONYMOUS = frozenset({"佚名", "匿名", "未知", "无", "暂无", "-", "—"})

ORIGINAL_URL_LABEL = re.compile(rf"^(?:原文链接|原文地址|原文网址|原始链接){COLON}")
ORIGINAL_TITLE_LABEL = re.compile(rf"^原标题{COLON}")
# 责任编辑：林晓, alone or in brackets: (…), （…）, 【…】, […].
EDITOR_LINE = re.compile(
    rf"^[（(【[]?(?:责任编辑|编辑|责编){COLON}(?P<value>[^）)】\]]{{1,30}})[）)】\]]?$"
)
_URL = re.compile(r"https?://[\x21-\x7e]+")
BREADCRUMB_LABEL = re.compile(
    rf"^(?:您当前所在位置|您当前的位置|您的位置|当前位置|所在位置|位置){COLON}"
)
_CRUMB_SPLIT = re.compile(r"\s*(?:>>|>|»|＞|→|/|›)\s*")
_NOT_A_CATEGORY = frozenset(
    {"首页", "正文", "详情", "内容", "文章", "阅读", "正文内容", "详细内容"}
)


@dataclass
class InfoLine:
    """The line under a title that says when, from where and by whom."""

    element: HtmlElement
    values: dict[str, str] = field(default_factory=dict)
    source_href: str | None = None


def parse_labelled(text: str) -> dict[str, str]:
    """Split ``时间:… 来源:… 作者:…`` into field → value (first occurrence of each field)."""
    values: dict[str, str] = {}
    matches = list(LABEL_PATTERN.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        raw = text[match.end() : end]
        if (name := _LABEL_OF[match["label"]]) != "date":
            cut = _VALUE_END.search(raw)
            raw = raw[: cut.start()] if cut else raw
        value = clean_space(raw).strip("|｜ ")
        values.setdefault(name, value)
    values.pop("other", None)
    return values


def find_info_line(page: Page) -> InfoLine | None:
    """The smallest element whose text holds a date label with a date, or two field labels."""
    best: InfoLine | None = None
    for element, text in page.short_texts(300):
        if not LABEL_PATTERN.search(text):
            continue
        values = parse_labelled(spaced_text(element))
        unlabelled = DATE_PATTERN.search(text)  # as in "2022.01.20 16:31 来源：河南日报"
        if "date" not in values and "source" in values and unlabelled:
            values["date"] = unlabelled.group(0)
        fields = set(values) - {"editor"}
        if len(fields) >= 2 or ("date" in fields and re.search(r"\d{4}", values["date"])):
            best = InfoLine(element=element, values=values)  # later = deeper in document order
            if len(fields) >= 2 and _is_smallest(element, fields):
                break
    if best is not None:
        best.source_href = _source_href(page, best)
    return best


def _is_smallest(element: HtmlElement, fields: set[str]) -> bool:
    return not any(
        len(set(parse_labelled(spaced_text(child))) - {"editor"}) >= len(fields)
        for child in element
        if isinstance(child.tag, str)
    )


def _source_href(page: Page, info: InfoLine) -> str | None:
    source = info.values.get("source")
    if not source:
        return None
    for link in info.element.iter("a"):
        if clean_space(link.text_content()) == source:
            return page.absolute(link.get("href"))
    return None


_LINE_LABELS = "|".join(FIELD_LABELS["source"] + FIELD_LABELS["author"] + FIELD_LABELS["editor"])
_FIELD_LINE = re.compile(rf"^[（(【\[]?\s*(?:{_LINE_LABELS}){COLON}")
_FIELD_LINE_MAX = 60


def labelled_lines(container: HtmlElement) -> dict[HtmlElement, dict[str, str]]:
    """Short lines in the body that only say 来源 / 作者 / 编辑 (metadata, not article text)."""
    found: dict[HtmlElement, dict[str, str]] = {}
    for element in container.iter():
        if element is container or not isinstance(element.tag, str):
            continue
        text = visible_text(element)
        if len(text) > _FIELD_LINE_MAX or not _FIELD_LINE.match(text):
            continue
        values = parse_labelled(spaced_text(element).strip("（()）【】[] "))
        if values:
            for ancestor in element.iterancestors():  # keep the deepest line only
                found.pop(ancestor, None)
            found[element] = values
    return found


def anonymous(value: str | None) -> bool:
    """True for empty author values and 佚名-style placeholders."""
    return not value or value.strip() in ANONYMOUS


def find_original_url(page: Page) -> tuple[HtmlElement, str] | None:
    """The element of a 原文链接 line and the URL it declares."""
    for element, text in page.short_texts(400):
        if not ORIGINAL_URL_LABEL.match(text):
            continue
        for link in element.iter("a"):
            href = page.absolute(link.get("href"))
            if href and href.startswith("http"):
                return _deepest_line(element, ORIGINAL_URL_LABEL), href
        match = _URL.search(text)
        if match:
            return _deepest_line(element, ORIGINAL_URL_LABEL), match.group(0)
    return None


def _deepest_line(element: HtmlElement, pattern: re.Pattern[str]) -> HtmlElement:
    for child in element:
        if isinstance(child.tag, str) and pattern.match(visible_text(child)):
            return _deepest_line(child, pattern)
    return element


def find_editor(lines: list[str]) -> str | None:
    """A 责任编辑 line among ``lines`` (an editor, never the author)."""
    for line in lines:
        match = EDITOR_LINE.match(line)
        if match:
            return clean_space(match["value"]) or None
    return None


def find_breadcrumb(page: Page) -> tuple[HtmlElement, list[str]] | None:
    """The breadcrumb after 您当前所在位置 (or a breadcrumb-classed element) and its items."""
    for element, text in page.short_texts(200):
        label = BREADCRUMB_LABEL.match(text)
        classes = f"{element.get('class', '')} {element.get('id', '')}".lower()
        if label or (
            any(key in classes for key in ("breadcrumb", "crumb", "location", "position"))
            and _CRUMB_SPLIT.search(text)
        ):
            rest = text[label.end() :] if label else text
            items = [item for item in _CRUMB_SPLIT.split(rest) if item]
            if items:
                return _deepest_line(element, BREADCRUMB_LABEL) if label else element, items
    return None


def category_from_breadcrumb(items: list[str]) -> str | None:
    """The last breadcrumb item that names a column (not 首页 or 正文)."""
    for item in reversed(items):
        if item not in _NOT_A_CATEGORY:
            return item
    return None
