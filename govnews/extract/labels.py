"""Labelled lines a reader sees: the info line, 责任编辑, 原文链接, 原标题, the breadcrumb."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import lxml.html
from lxml.html import HtmlElement

from govnews.core.text import clean_space
from govnews.extract.dates import DATE_PATTERN
from govnews.extract.page import (
    BLOCK_TAGS,
    INVISIBLE_TAGS,
    Page,
    squash,
    tag_of,
    visible_lines,
    visible_text,
)

COLON = r"\s*[:：丨︱]\s*"
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "date": (
        "发布时间",
        "发布日期",
        "发表时间",
        "发表日期",
        "发稿时间",
        "更新时间",
        "時間",
        "时间",
        "日期",
        # Traditional characters (Hong Kong, Taiwan): 發布日期, 發稿日期 …
        "發布時間",
        "發布日期",
        "發佈日期",
        "發稿日期",
        "發表日期",
    ),
    "source": (
        "信息来源",
        "文章来源",
        "本文来源",
        "新闻来源",
        "稿件来源",
        "内容来源",
        "来源",
        "來源",
        "稿源",
        "转自",
        "摘自",
        "出处",
    ),
    "author": ("作者", "撰稿", "撰文"),
    "editor": ("责任编辑", "编辑", "责编"),
    # The agency and the date of a 信息公开 table: they stand in for 来源 and 时间 on an
    # info line without them (see :func:`find_info_line`).
    "agency": ("发布机构", "发布单位", "发文机关"),
    "written": ("发文日期", "成文日期"),
    # Labels that end the value before them and carry nothing we keep: page counters,
    # widgets, the other labels of a 信息公开 table.
    "other": (
        "生成日期",
        "图片来源",
        "图片作者",
        "视频来源",
        "数据来源",
        "摄影",
        "索引号",
        "文号",
        "发文字号",
        "浏览次数",
        "浏览量",
        "浏览人次",
        "访问次数",
        "访问人次",
        "访问量",
        "阅读次数",
        "阅读量",
        "阅读数",
        "点击次数",
        "点击数",
        "点击量",
        "点击率",
        "人气",
        "点击",
        "浏览",
        "阅读",
        "访问",
        "字号",
        "字体",
        "分享到",
        "分享",
        "打印",
        "关闭",
        "收藏",
    ),
}


def _spaced(label: str) -> str:
    """``label`` as a pattern that allows spaces between its characters (来　源)."""
    return r"[^\S\n]*".join(map(re.escape, label))


_LABEL_OF = {label: name for name, labels in FIELD_LABELS.items() for label in labels}
_ALL = "|".join(_spaced(label) for label in sorted(_LABEL_OF, key=len, reverse=True))
# Han characters but 丨 (a separator: 2022-08-18丨来源：…).
_HAN = "\u4e00-\u4e27\u4e29-\u9fff"
# A label that starts a line or follows a space, a digit or a separator.
LABEL_PATTERN = re.compile(rf"(?<![{_HAN}])(?P<label>{_ALL}){COLON}")
# A label anywhere, glued to the value before it (来源：人民日报作者：张三); it ends that
# value, so it counts only after a label that starts a value (see :func:`_label_matches`).
_ANY_LABEL = re.compile(rf"(?P<label>{_ALL}){COLON}")
# Words that make a glued label another thing: 图片来源, 视频作者, 数据来源.
_NOT_GLUED = re.compile(r"(?:图片|照片|视频|数据|封面|音频)[^\S\n]*$")
# What ends a value besides the next label: a bracket or a bar after it (【字体：大 中 小】,
# | 作者), two spaces in a raw line.
_VALUE_END = re.compile(r"[【\[〔|｜丨︱]|(?:[^\S\n]{2,})")
# Widgets and counters shown after a value without a label of their own.
_WIDGET = re.compile(
    r"[【\[〔(（]?\s*(?:"
    r"(?:大|中|小|默认)字号|打印本页|打印此页|打印本文|打印文章|关闭窗口|关闭本页|加入收藏|收藏本页|"
    r"我要纠错|返回顶部|视力保护色|繁體|大\s*中\s*小(?![\u4e00-\u9fff])|"
    r"(?<!\S)A\s*[+＋]\s*A\s*[-－]|"
    r"(?:浏览|阅读|点击|访问)(?:次数|量|数|人次)?\s*[(（]?\s*\d+\s*次?|"
    r"(?<![^\s【\[〔(（])(?:字号|字体|打印|关闭|分享|收藏|纠错|返回|下载)(?=$|\s|[】\]〕)）:：])"
    r")"
)
_PADDED = re.compile(rf"^[{_HAN}](?: [{_HAN}])+$")
# A closing bracket whose opening one is not in the value: （本文来源：经济日报 作者：张三）.
_UNOPENED_BRACKET = re.compile(r"^[^（(]*?(?P<close>[）)])")
# One to six personal names: two to four Han characters (· in transliterations) each.
_NAMES = rf"[{_HAN}·]{{2,4}}(?:[\s、，,]+[{_HAN}·]{{2,4}}){{0,5}}"
_ROLES = r"(?:特约|首席|本报|本台)?(?:记者|通讯员|评论员|研究员|撰稿人)"
_ROLE_THEN_NAMES = re.compile(rf"{_ROLES}\s*(?P<names>{_NAMES})$")
# A byline with no 作者 label, alone on its line at the top or the end of the text:
# 文/栗思, 文丨政能亮特约评论员 韩涵, 作者 王之言 高孜然, 中青报·中青网记者 魏其濛.
_BYLINE = re.compile(
    rf"^[（(]?\s*(?:"
    rf"(?:文|文字|撰文|作者)\s*[/／丨|｜]\s*(?:[^\s，。；]{{0,16}}?{_ROLES}\s*)?(?P<signed>{_NAMES})"
    rf"|作者\s+(?P<plain>{_NAMES})"
    rf"|[^\s，。；：:]{{0,16}}?(?:记者|通讯员)\s*(?P<reporter>{_NAMES})(?:\s*报道)?"
    rf")(?<!摄)\s*[）)]?$"
)
_SEPARATORS = "|｜丨︱/·• "
_BRACKETS = "【】[]〔〕"
_LINE_BREAK = re.compile(r"\s*\n\s*")
_SPACES = re.compile(r"[^\S\n]+")
ANONYMOUS = frozenset({"佚名", "匿名", "未知", "无", "暂无", "-", "—"})

_ORIGINAL_LABELS = "原文链接|原文地址|原文网址|原始链接|来源链接"
_OPEN = r"[【\[〔(（]?\s*"
_CLOSE = r"\s*[】\]〕)）]?"
# 原文链接：… (or 原文地址, 来源链接 …), in brackets or not; a colon, a URL or nothing after.
ORIGINAL_URL_LABEL = re.compile(
    rf"^{_OPEN}(?:{_ORIGINAL_LABELS}){_CLOSE}(?:\s*[:：]\s*|\s*(?=https?://)|\s*$)"
)
_ORIGINAL_IN_TEXT = re.compile(
    rf"{_OPEN}(?:{_ORIGINAL_LABELS}){_CLOSE}(?:\s*[:：]\s*|\s*(?=https?://)|\s*$)"
)
# In the source, a label may be split by a tag (原文<span>链接</span>): its first word.
_ORIGINAL_WORD = re.compile(r"原文|原始|来源链")
ORIGINAL_TITLE_LABEL = re.compile(rf"^原标题{COLON}")
# 责任编辑：林晓, alone or in brackets: (…), （…）, 【…】, […].
EDITOR_LINE = re.compile(
    rf"^[（(【[]?(?:责任编辑|编辑|责编)(?:{COLON}|\s*[/／]\s*)(?P<value>[^）)】\]]{{1,30}})[）)】\]]?$"
)
# A URL ends at white space, at anything not ASCII (a Han character, full-width
# punctuation) and at a quote or an angle bracket.
_URL = re.compile(r"https?://[\x21-\x7e]+")
_URL_TRAILING = ".,;:!?'\"<>)]}"
# Characters a page puts inside a URL that is not part of it.
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\xad]")
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


def labelled_text(element: HtmlElement) -> str:
    """The visible text of ``element`` for reading labels: a space at every inline boundary
    (CSS spaces ``<span>来源：…</span><span>作者：…</span>``), a line break at every block
    or table cell, so that a value ends with its cell.
    """
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        block = tag_of(node) in BLOCK_TAGS
        parts.append("\n" if block else " ")
        parts.append(node.text or "")
        for child in node:
            if tag_of(child) and tag_of(child) not in INVISIBLE_TAGS:
                walk(child)
            parts.append(child.tail or "")
        parts.append("\n" if block else " ")

    walk(element)
    text = _LINE_BREAK.sub("\n", clean_lines("".join(parts)))
    return text.strip()


def clean_lines(text: str) -> str:
    """White space as in :func:`clean_space`, but line breaks kept (one per run)."""
    return "\n".join(clean_space(line) for line in text.split("\n"))


def _label_matches(text: str) -> list[re.Match[str]]:
    """The labels of ``text``: those that start a value, and those glued to one before them."""
    matches: list[re.Match[str]] = []
    position = 0
    while found := _ANY_LABEL.search(text, position):
        start = found.start()
        before = text[:start]
        glued = bool(before) and re.match(rf"[{_HAN}]", before[-1]) is not None
        if not glued or (matches and not _NOT_GLUED.search(before)):
            matches.append(found)
            position = found.end()
        else:
            position = start + 1
    return matches


def _field_value(raw: str, name: str) -> str:
    """The value a label's text gives: up to the end of its cell, a widget or a separator."""
    raw = raw.lstrip()  # a label alone in its cell: the value is in the next one
    raw = raw.split("\n", 1)[0]
    if widget := _WIDGET.search(raw):
        raw = raw[: widget.start()]
    if name != "date":
        for end in (_VALUE_END, DATE_PATTERN):  # 宣教中心 2022-11-14 ends before the date
            if cut := end.search(raw, 1):
                raw = raw[: cut.start()]
        if unopened := _UNOPENED_BRACKET.match(raw):  # （本文来源：经济日报 作者：张三）
            raw = raw[: unopened.start("close")]
    value = clean_space(raw).strip(_SEPARATORS)
    if value[:1] in _BRACKETS and value[-1:] in _BRACKETS:
        value = value[1:-1].strip()
    if _PADDED.match(value):  # 陈　静: a two-character name padded to the width of three
        value = squash(value)
    if name == "author":
        value = person_of(value)
    return value


def person_of(value: str) -> str:
    """The names in an author value that puts a position before them.

    ``研究部部长、研究员徐占忱`` → ``徐占忱``; ``政能亮特约评论员 韩涵`` → ``韩涵``.
    A value without a role word is kept whole (``记者 郑晨子`` stays as the page says it
    when nothing precedes the role).
    """
    found = _ROLE_THEN_NAMES.search(value)
    if found and found.start() > 0:
        return found["names"]
    return value


def parse_labelled(text: str) -> dict[str, str]:
    """Split ``时间:… 来源:… 作者:…`` into field → value (first occurrence of each field).

    A value ends at the next label (glued to it or not), at a widget or a counter
    (小字号, 【打印本页】, 访问量：199), at a bracket or a bar, and at the end of its line
    or table cell (see :func:`labelled_text`). Counters and widgets end values but give
    no field; 发布机构 and 发文日期 give ``agency`` and ``written``.
    """
    values: dict[str, str] = {}
    matches = _label_matches(text)
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name = _LABEL_OF[squash(match["label"])]
        values.setdefault(name, _field_value(text[match.end() : end], name))
    values.pop("other", None)
    return values


def find_info_line(page: Page) -> InfoLine | None:
    """The smallest element whose text holds a date label with a date, or two field labels.

    The 发布机构 and 发文日期 of a 信息公开 table stand in for 来源 and 时间 on the line
    found without them, and are read as those on a page where no line holds 时间 or 来源.
    """
    best = _info_line(page, stand_in=False) or _info_line(page, stand_in=True)
    if best is not None:
        best.values = _with_stand_ins(best.values)
        best.source_href = _source_href(page, best)
    return best


_STAND_INS = {"agency": "source", "written": "date"}


def _with_stand_ins(values: dict[str, str]) -> dict[str, str]:
    """``values`` with 发布机构 as the source and 发文日期 as the date where those are missing."""
    found = {name: value for name, value in values.items() if name not in _STAND_INS}
    for name, instead in _STAND_INS.items():
        if values.get(name) and not found.get(instead):
            found[instead] = values[name]
    return found


def _info_line(page: Page, *, stand_in: bool) -> InfoLine | None:
    best: InfoLine | None = None
    for element, text in page.short_texts(300):
        if not LABEL_PATTERN.search(text):
            continue
        if stand_in and _in_info_table(element):
            continue  # a whole 信息公开 table is read by its own rule (cms/xxgk.py)
        values = parse_labelled(labelled_text(element))
        if stand_in:
            values = _with_stand_ins(values)
        unlabelled = DATE_PATTERN.search(text)  # as in "2022.01.20 16:31 来源：河南日报"
        if "date" not in values and "source" in values and unlabelled:
            values["date"] = unlabelled.group(0)
        fields = _fields(values)
        if len(fields) >= 2 or ("date" in fields and re.search(r"\d{4}", values["date"])):
            best = InfoLine(element=element, values=values)  # later = deeper in document order
            if len(fields) >= 2 and _is_smallest(element, fields, stand_in=stand_in):
                break
    return best


_INFO_TABLE = re.compile(r"索\s*引\s*号|文\s*号\s*[:：]?")


def _in_info_table(element: HtmlElement) -> bool:
    """True inside a 信息公开 table that has a 索引号 or a 文号 (the xxgk rule's table)."""
    table = next(
        (node for node in [element, *element.iterancestors()] if tag_of(node) == "table"), None
    )
    return table is not None and _INFO_TABLE.search(visible_text(table)) is not None


def _fields(values: dict[str, str]) -> set[str]:
    """The fields of an info line: not the editor, nor what only stands in for one."""
    return set(values) - {"editor", *_STAND_INS}


def _is_smallest(element: HtmlElement, fields: set[str], *, stand_in: bool) -> bool:
    for child in element:
        if isinstance(child.tag, str):
            values = parse_labelled(labelled_text(child))
            if len(_fields(_with_stand_ins(values) if stand_in else values)) >= len(fields):
                return False
    return True


def _source_href(page: Page, info: InfoLine) -> str | None:
    source = info.values.get("source")
    if not source:
        return None
    for link in info.element.iter("a"):
        if clean_space(link.text_content()) == source:
            return page.absolute(link.get("href"))
    return None


_LINE_LABELS = "|".join(
    _spaced(label)
    for label in FIELD_LABELS["source"] + FIELD_LABELS["author"] + FIELD_LABELS["editor"]
)
FIELD_LINE = re.compile(rf"^[（(【\[]?\s*(?:{_LINE_LABELS}){COLON}")
FIELD_LINE_MAX = 60
# A line's label with a slash for its colon (编辑/王晓, 来源／新华社): a line of its own only.
_SLASH_LABEL = re.compile(rf"^([（(【\[]?\s*(?:{_LINE_LABELS}))\s*[/／]\s*(?=\S)")


# The characters such a line can start with: a label's first, or a bracket.
_FIELD_FIRST = frozenset(
    "（(【["
    + "".join(
        label[0]
        for label in FIELD_LABELS["source"] + FIELD_LABELS["author"] + FIELD_LABELS["editor"]
    )
)


def _field_line(text: str) -> str | None:
    """``text`` when it is a line that starts with a field label, its slash made a colon."""
    if text.lstrip()[:1] not in _FIELD_FIRST:  # most lines: no regex needed
        return None
    text = _SLASH_LABEL.sub(r"\1：", text, count=1)
    return text if FIELD_LINE.match(text) else None


def labelled_lines(container: HtmlElement) -> dict[HtmlElement, dict[str, str]]:
    """Short lines in the body that only say 来源 / 作者 / 编辑 (metadata, not article text).

    A byline with no label (文/栗思, 记者 魏其濛) counts among the first three and the
    last five lines of the text, as ``byline``: an explicit 作者 outranks it.
    """
    found: dict[HtmlElement, dict[str, str]] = {}
    lines = visible_lines(container)
    edges = set(lines[:3] + lines[-5:])
    for element in container.iter():
        if element is container or not isinstance(element.tag, str):
            continue
        text = visible_text(element)
        if len(text) > FIELD_LINE_MAX:
            continue
        if _field_line(text):
            line = _field_line(labelled_text(element)) or labelled_text(element)
            values = parse_labelled(line.strip("（()）【】[] "))
        elif text in edges and (byline := _byline(labelled_text(element))):
            values = byline
        else:
            continue
        if values:
            for ancestor in element.iterancestors():  # keep the deepest line only
                found.pop(ancestor, None)
            found[element] = values
    return found


def page_labelled_lines(page: Page) -> dict[str, str]:
    """Fields of the short lines anywhere on the page that start with 来源 / 作者 / 编辑.

    The last resort for a field no line near the title gives: sites put 来源 under the
    comments (``<span>来 源：湘潭日报</span>``) or 作者 beside the date with no other label.
    Lines inside links (lists of other articles) do not count; the first value wins.
    """
    merged: dict[str, str] = {}
    for element, text in page.short_texts(FIELD_LINE_MAX):
        if _field_line(text) and not any(
            tag_of(node) == "a" for node in (element, *element.iterancestors())
        ):
            line = _field_line(labelled_text(element)) or labelled_text(element)
            values = parse_labelled(line.strip("（()）【】[] "))
            for name, value in values.items():
                merged.setdefault(name, value)
    return merged


def _byline(text: str) -> dict[str, str]:
    """The names of a byline line, and the fields labelled after them on that line."""
    label = LABEL_PATTERN.search(text)
    head = (text[: label.start()] if label else text).strip()
    found = _BYLINE.match(head)
    if not found:
        return {}
    names = found["signed"] or found["plain"] or found["reporter"]
    rest = parse_labelled(text[label.start() :]) if label else {}
    return {"byline": clean_space(names.replace("\n", " ")), **rest}


def anonymous(value: str | None) -> bool:
    """True for empty author values and 佚名-style placeholders."""
    return not value or value.strip() in ANONYMOUS


def find_original_url(page: Page) -> tuple[HtmlElement, str] | None:
    """The element of a 原文链接 line and the URL it declares.

    A line of its own (``<p>原文链接：<a href=…>…</a></p>``, ``<p>原文地址：https://…</p>``)
    is that line's element; a label inside a text (after a ``<br>`` in a table cell, at
    the end of the body's last paragraph) is wrapped, up to the next line break, in a
    ``span`` that is returned, so that the line can be cut from the body like the others.
    """
    if not _ORIGINAL_WORD.search(page.html):
        return None  # most pages: a scan of the source instead of every text node
    for element, text in page.short_texts(400):
        if not ORIGINAL_URL_LABEL.match(text):
            continue
        url = _declared_url(page, [element], _raw_text(element))
        if url:
            return _deepest_line(element, ORIGINAL_URL_LABEL), url
    for owner, in_tail, text in _text_slots(page.body()):
        label = _ORIGINAL_IN_TEXT.search(text)
        if label is None:
            continue
        run = _inline_run(owner, in_tail)
        raw = text[label.start() :] + "".join(_raw_text(node) + (node.tail or "") for node in run)
        url = _declared_url(page, run, _INVISIBLE.sub("", raw))
        if url:
            return _wrap_line(owner, in_tail, label.start(), run), url
    return None


def _raw_text(element: HtmlElement) -> str:
    """The text of ``element`` as written (no white space collapsed), zero-width marks removed."""
    if not tag_of(element) or tag_of(element) in INVISIBLE_TAGS:  # a comment, an iframe
        return ""
    return _INVISIBLE.sub("", element.text_content())


def _declared_url(page: Page, elements: list[HtmlElement], text: str) -> str | None:
    """The URL a 原文链接 label at the start of ``text`` declares.

    A URL written after the label wins, unless a link shows it (its href is whole where
    its text may be cut short); else the first link of ``elements``.
    """
    label = _ORIGINAL_IN_TEXT.search(text)
    written = _url_at(text[label.end() :]) if label else None
    for element in elements:
        for link in element.iter("a"):
            href = page.absolute(link.get("href"))
            if not href or not href.startswith("http"):
                continue
            if written is None or visible_text(link).startswith(("http", "www.")):
                return href
    return written


def _url_at(text: str) -> str | None:
    """The URL at the start of ``text``: up to white space, a non-ASCII character or ``<``."""
    match = _URL.match(text.lstrip())
    if match is None:
        return None
    url = match.group(0).rstrip(_URL_TRAILING)
    while url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1].rstrip(_URL_TRAILING)
    return url if len(url) > len("https://") else None


def _text_slots(root: HtmlElement) -> Iterator[tuple[HtmlElement, bool, str]]:
    """The visible text nodes under ``root``: (element, True for its tail, the text)."""
    for element in root.iter():
        tag = tag_of(element)
        if (
            not tag
            or tag in INVISIBLE_TAGS
            or any(tag_of(a) in INVISIBLE_TAGS for a in element.iterancestors())
        ):
            continue
        if element.text:
            yield element, False, element.text
        for child in element:
            if child.tail:
                yield child, True, child.tail


def _inline_run(owner: HtmlElement, in_tail: bool) -> list[HtmlElement]:
    """The inline elements after a text node, up to the next line break or block."""
    following = owner.itersiblings() if in_tail else iter(owner)
    run = []
    for node in following:
        if tag_of(node) in BLOCK_TAGS:
            break
        run.append(node)
    return run


def _wrap_line(
    owner: HtmlElement, in_tail: bool, start: int, run: list[HtmlElement]
) -> HtmlElement:
    """Wrap a text node from ``start`` and the inline ``run`` after it in a new ``span``."""
    line = lxml.html.Element("span")
    if in_tail:
        text = owner.tail or ""
        owner.tail = text[:start]
        parent = owner.getparent()
        assert parent is not None  # a tail has a parent
        parent.insert(parent.index(owner) + 1, line)
    else:
        text = owner.text or ""
        owner.text = text[:start]
        owner.insert(0, line)
    line.text = text[start:]
    for node in run:
        line.append(node)
    return line


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
