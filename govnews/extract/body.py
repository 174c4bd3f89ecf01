"""The article body: found by text density, cut at the chrome, rendered as text and HTML."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import lxml.html
from lxml.html import HtmlElement

from govnews.extract.page import (
    BLOCK_TAGS,
    INVISIBLE_TAGS,
    Page,
    clean_space,
    is_element,
    tag_of,
    visible_lines,
    visible_text,
)
from govnews.items import Attachment

# A line that starts with one of these ends the article: what follows is chrome.
TERMINATOR = re.compile(
    r"^[\[【〔(（]?\s*(?:免责声明|版权声明|原文链接|原文地址|上一篇|下一篇|上一条|下一条|"
    r"打印本页|打印此页|打印本文|关闭窗口|返回顶部|返回页首|分享到|扫一扫|发送给朋友|"
    r"长按以下内容复制|复制链接|"
    r"发表评论|我要评论|网友评论|纠错|我要纠错|【打印】|【关闭】)"
)
# The heading of a box of links to other articles, which may stand inside the text.
RELATED = re.compile(
    r"^[\[【〔(（]?\s*(?:相关阅读|相关文章|相关新闻|相关报道|相关链接|延伸阅读|推荐阅读|热点推荐|猜你喜欢)"
)
# Lines of a site footer: who runs the site, licences, contacts.
FOOTER = re.compile(
    r"版权所有|ICP备|ICP证|公网安备|主办单位|承办单位|技术支持|网站标识码|网站地图|联系电话|联系我们|"
    r"Copyright|©|主办\s*[|｜]|建议使用.*浏览器|分辨率|邮编|邮政编码|"
    # The reporting line every Chinese site must show.
    r"不良信息举报|举报电话|举报邮箱|"
    # A portal's standing notice: what it reposts is not its view, and is removed on request.
    r"不代表本[网站]观点|本[网站]将.{0,12}删除|不愿本[网站]转载|"
    # A site's own standing statements: what it shows is for reference, it speaks IPv6.
    r"本(?:网站|站).{0,24}仅供参考|(?:本网站|本站)?支持\s*IPv6",
    re.IGNORECASE,
)
# Blocks that never hold article text.
_CHROME_TAGS = frozenset({"nav", "aside", "form", "select", "button", "input", "textarea", "label"})
_LINK_BLOCK_TAGS = frozenset(
    {"div", "ul", "ol", "dl", "table", "tbody", "tr", "td", "section", "p", "span", "font"}
)
_WORD = re.compile(r"[\w\u3400-\u9fff]")
_ATTACHMENT_MARK = re.compile(r"attach|fujian", re.IGNORECASE)
_FOOTER_LINE = 100
_PUNCTUATION = re.compile(r"[，。、；：！？,.;:!?“”]")
_UNIT_MIN = 10
_FILE_EXTENSIONS = frozenset(
    {".pdf", ".doc", ".docx", ".xls", ".xlsx", ".et", ".wps", ".ppt", ".pptx", ".zip", ".rar"}
    | {".7z", ".txt", ".ofd", ".csv"}
)
_DROP_TAGS = frozenset(
    {"script", "style", "noscript", "iframe", "object", "embed", "form", "input", "button"}
    | {"select", "textarea", "link", "meta"}
)


@dataclass
class Body:
    """The cleaned body of an article."""

    text: str
    html: str
    images: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


def _own_inline_text(element: HtmlElement) -> tuple[str, int]:
    """Text of ``element`` outside its block children (<br> is inline), and its link text length."""
    parts = [element.text or ""]
    link = len(clean_space(element.text or "")) if tag_of(element) == "a" else 0
    for child in element:
        tag = tag_of(child)
        if tag and tag not in INVISIBLE_TAGS and (tag == "br" or tag not in BLOCK_TAGS):
            text = visible_text(child)
            parts.append(text)
            if tag == "a":
                link += len(text)
            else:
                link += sum(len(clean_space(a.text_content())) for a in child.iter("a"))
        parts.append(child.tail or "")
    return clean_space("".join(parts)), link


def find_body(page: Page) -> HtmlElement:
    """The element that holds most of the page's running text (punctuation-weighted density)."""
    scores: dict[HtmlElement, float] = {}
    for element in page.iter_elements():
        tag = tag_of(element)
        if tag not in BLOCK_TAGS or tag in ("body", "html", "br"):
            continue
        text, link = _own_inline_text(element)
        if len(text) < _UNIT_MIN or link > len(text) / 2:
            continue
        if len(text) < _FOOTER_LINE and FOOTER.search(text):
            continue
        score = 1 + len(_PUNCTUATION.findall(text)) + min(len(text) / 50, 3)
        holder = element if tag in ("div", "td", "section", "article", "main") else None
        parent = element.getparent()
        if holder is None:
            holder, parent = parent, parent.getparent() if parent is not None else None
        for target, weight in ((holder, 1.0), (parent, 0.5)):
            if target is not None and tag_of(target) not in ("html", ""):
                scores[target] = scores.get(target, 0.0) + score * weight
    if not scores:
        return page.body()
    best = max(scores, key=lambda node: scores[node] * (1 - page.link_density(node)))
    return _first_post(page, best)


_POSTS = 3
_POST_MIN = 200


def _first_post(page: Page, best: HtmlElement) -> HtmlElement:
    """On a page of several posts in one template (a blog or column front page), the first.

    The densest block is then only the longest post; a reader starts at the top.
    """
    mark = best.get("class")
    if not mark:
        return best
    posts = [
        node
        for node in page.root.iter(best.tag)
        if node.get("class") == mark
        and page.text_sizes.get(node, (0, 0))[0] >= _POST_MIN
        and page.link_density(node) < 0.5
    ]
    return posts[0] if len(posts) >= _POSTS else best


# A listing's item: one link that is most of a short line (a date or a count may follow).
_ITEM_TEXT = 80
_ITEM_LINK_SHARE = 0.5
_MIN_ITEMS = 5


def listing_evidence(page: Page, container: HtmlElement) -> str | None:
    """Why ``container`` is a list of links to other pages, or None when it is not.

    A listing repeats one item structure: at least five items (``li``, ``tr``, ``dd``,
    ``p``, ``div`` …) of the same tag and class, each a short line that is mostly ONE
    link, together holding most of the text. An article with many inline links (a
    travel guide linking every sight) has links inside sentences, several to a line,
    and is no listing however high its link share: a refusal needs this evidence.
    """
    total = page.text_sizes.get(container, (0, 0))[0]
    groups: dict[tuple[str, str], list[int]] = {}
    for node in container.iter():
        if node is not container and (size := _link_item(page, node)):
            groups.setdefault((tag_of(node), node.get("class") or ""), []).append(size)
    items = max(groups.values(), key=sum, default=[])
    if len(items) >= _MIN_ITEMS and sum(items) >= 0.5 * total:
        return f"a list of {len(items)} links"
    return None


_ITEM_TAGS = frozenset({"li", "tr", "dd", "dt", "p", "div", "span", "td"})
# A short text block beside a list this many times its size: the page is the list.
_LIST_OVER_TEXT = 3
_SHORT_BODY = 60


def page_listing_evidence(page: Page, container: HtmlElement) -> str | None:
    """Why the page is a list of links whose only running text is short, or None.

    On a news list or ranking page every headline is a link, so the densest text
    block is some short leftover (a credits line, a widget): a list of links with
    three times its text is the page's content. An article outweighs its sidebars.
    """
    size = page.text_sizes.get(container, (0, 0))[0]
    if size >= _SHORT_BODY:
        return None
    lists: dict[HtmlElement, int] = {}
    counts: dict[HtmlElement, int] = {}
    for node in page.iter_elements():
        parent = node.getparent()
        if parent is None or _is_inside(container, node):
            continue
        if text := _link_item(page, node):
            lists[parent] = lists.get(parent, 0) + text
            counts[parent] = counts.get(parent, 0) + 1
    found = [(lists[p], counts[p]) for p in lists if counts[p] >= _MIN_ITEMS]
    listed = sum(text for text, _ in found)
    if found and listed >= _LIST_OVER_TEXT * max(size, 1):
        items = sum(count for _, count in found)
        return f"a page of {items} links beside {size} characters of text"
    return None


def _link_item(page: Page, node: HtmlElement) -> int:
    """``node``'s text size when it is a list item (a short line, mostly one link), else 0."""
    if tag_of(node) not in _ITEM_TAGS:
        return 0
    size = page.text_sizes.get(node, (0, 0))[0]
    links = [a for a in node.iter("a") if page.text_sizes.get(a, (0, 0))[0]]
    if not 0 < size <= _ITEM_TEXT or len(links) != 1:
        return 0
    return size if page.text_sizes[links[0]][0] >= _ITEM_LINK_SHARE * size else 0


def _is_inside(container: HtmlElement, node: HtmlElement) -> bool:
    return node is container or any(ancestor is container for ancestor in node.iterancestors())


# "[详细]", "阅读全文>>": the link from a teaser to the article it announces.
_MORE_LINK = re.compile(r"^[\[【(（]?\s*(?:详细|详情|全文|阅读全文|查看全文|查看详情|阅读更多)")
_TEASER_TEXT = 600


# A pager's words: 共 3 页 当前第 1 页 首页 上一页 1 2 3 下一页 尾页 跳转到 GO.
_PAGER = re.compile(
    r"共\s*\d+\s*[页条]|当前第\s*\d+\s*页|第\s*\d+\s*页|首页|尾页|末页|上一?页|下一?页|"
    r"跳转到?|转到|GO|Go|\d+|[/|<>«»…\s]"
)
_PAGER_REST = 6


def pager_evidence(container: HtmlElement) -> str | None:
    """ "a pager" when ``container`` holds nothing but a pager (a listing whose items are links)."""
    text = visible_text(container)
    if re.search(r"页", text) and len(_WORD.findall(_PAGER.sub("", text))) <= _PAGER_REST:
        return "a pager"
    return None


def teaser_evidence(page: Page, container: HtmlElement) -> str | None:
    """Why ``container`` announces an article of another page (a home page's headline), or None.

    A short block whose first line is a link to another page, or that ends in a
    "[详细]" link to one, is a teaser: the article is where the link goes.
    """
    lines = visible_lines(container)
    if not lines or page.text_sizes.get(container, (0, 0))[0] > _TEASER_TEXT:
        return None
    here = page.url.split("#", 1)[0]
    for link in container.iter("a"):
        target = page.absolute(link.get("href"))
        if not target or target.split("#", 1)[0] == here or target.startswith("javascript"):
            continue
        text = visible_text(link)
        if _MORE_LINK.match(text):
            return f"a teaser whose {text!r} links to {target}"
        if len(text) >= 8 and text == lines[0]:
            return f"a teaser whose headline links to {target}"
    return None


def footer_share(lines: list[str]) -> float:
    """Share of ``lines`` that read like a site footer."""
    footer = sum(1 for line in lines if len(line) < _FOOTER_LINE and FOOTER.search(line))
    return footer / len(lines) if lines else 0.0


def _cut_from(container: HtmlElement, node: HtmlElement, keep_node: bool) -> None:
    """Remove ``node`` (only its tail with ``keep_node``) and all after it inside ``container``."""
    current = node
    while current is not container and current.getparent() is not None:
        for sibling in list(current.itersiblings()):
            current.getparent().remove(sibling)
        current = current.getparent()
    if keep_node:
        node.tail = None
    elif node is not container and node.getparent() is not None:
        node.getparent().remove(node)


# Text before a chrome line below which the line is a toolbar above the text, not its end.
_LEAD = 30
_MAX_LEADING_LINES = 3


def cut_boilerplate(container: HtmlElement, extra_starts: Iterable[HtmlElement] = ()) -> None:
    """Cut the container at the first line that starts the page's chrome (免责声明, 上一篇 …).

    A chrome line above the text (【打印本页】【关闭窗口】 over a 信息公开 notice in a
    table layout) does not end it: that line alone is dropped, and the cut is looked
    for again below it.
    """
    starts = set(extra_starts)
    for _ in range(_MAX_LEADING_LINES + 1):
        if not _cut_once(container, starts):
            return


def _cut_once(container: HtmlElement, starts: set[HtmlElement]) -> bool:
    """Cut at the first chrome line, or drop it when it leads: True when it dropped a line."""
    for node in container.iter():
        if not is_element(node) or node is container:
            continue
        if node in starts or (
            tag_of(node) not in INVISIBLE_TAGS
            and TERMINATOR.match(visible_text(node))
            and not _starts_mid_line(node)
        ):
            if node not in starts and _text_before(container, node) < _LEAD:
                if len(visible_lines(node)) > 1:
                    continue  # the line is further down, inside this element
                node.drop_tree()
                return True
            _cut_from(container, node, keep_node=False)
            return False
        if node.tail and TERMINATOR.match(clean_space(node.tail)) and tag_of(node) == "br":
            _cut_from(container, node, keep_node=True)
            return False
    return False


def _text_before(container: HtmlElement, node: HtmlElement) -> int:
    """Characters of visible text in ``container`` before ``node`` starts.

    In document order an element's tail follows its subtree, so every element met
    before ``node`` adds its text, and its tail unless it holds ``node``.
    """
    holders = set(node.iterancestors())
    size = 0
    for element in container.iter():
        if element is node:
            break
        if is_element(element) and tag_of(element) not in INVISIBLE_TAGS:
            size += len(clean_space(element.text or ""))
        if element is not container and element not in holders:
            size += len(clean_space(element.tail or ""))
    return size


def _starts_mid_line(node: HtmlElement) -> bool:
    """True when inline text before ``node`` shares its line (so it does not start a line)."""
    previous = node.getprevious()
    if tag_of(node) in BLOCK_TAGS:
        return False
    if previous is not None:
        return tag_of(previous) not in BLOCK_TAGS and bool(clean_space(previous.tail or ""))
    parent = node.getparent()
    return parent is not None and bool(clean_space(parent.text or ""))


def drop_chrome(page: Page, container: HtmlElement) -> None:
    """Drop navigation, forms and link lists (今日推荐, 相关报道) nested in the body."""
    for node in list(container.iter()):
        if node is container or not is_element(node) or node.getparent() is None:
            continue
        if tag_of(node) in _CHROME_TAGS:
            node.drop_tree()
    link_lists = [
        node
        for node in container.iter()
        if node is not container and tag_of(node) in _LINK_BLOCK_TAGS and _is_link_list(page, node)
    ]
    for node in link_lists:  # outermost first: a box of links goes with its heading
        if node.getparent() is not None and not any(
            ancestor in link_lists for ancestor in node.iterancestors()
        ):
            node.drop_tree()


def _is_link_list(page: Page, element: HtmlElement) -> bool:
    """Three links or more, one to a line, making most of the text.

    Links inside one line of text (第一天：九曲溪 → 玉女峰 → 武夷宫, a travel guide's
    itinerary) are the article's own words, however much of the line they make.
    """
    if page.link_density(element) <= 0.5:
        return False
    links = sum(1 for a in element.iter("a") if page.text_sizes.get(a, (0, 0))[0])
    return links >= _LIST_LINKS and len(visible_lines(element)) >= _LIST_LINKS


_LIST_LINKS = 3


def remove_elements(container: HtmlElement, elements: Iterable[HtmlElement | None]) -> None:
    """Drop the given elements (keeping their tail text) where they lie inside ``container``."""
    inside = set(container.iter())
    for element in elements:
        if element is not None and element is not container and element in inside:
            inside.difference_update(element.iter())  # listed twice, or inside one dropped
            element.drop_tree()


def remove_lines(container: HtmlElement, pattern: re.Pattern[str]) -> None:
    """Drop the smallest elements whose whole visible text matches ``pattern``."""
    for node in list(container.iter()):
        if is_element(node) and node is not container and node.getparent() is not None:
            text = visible_text(node)
            if (
                text
                and pattern.match(text)
                and not any(
                    is_element(child) and pattern.match(visible_text(child)) for child in node
                )
            ):
                node.drop_tree()


def render(
    page: Page, container: HtmlElement, attachment_blocks: Iterable[HtmlElement] = ()
) -> Body:
    """Paragraph text, sanitised HTML, images and attachments of a cleaned container."""
    paragraphs = [line for line in visible_lines(container) if _WORD.search(line)]
    images = _images(page, container)
    attachments = _attachments(page, [container, *attachment_blocks])
    return Body(
        text="\n\n".join(paragraphs),
        html=_sanitised_html(page, container),
        images=images,
        attachments=attachments,
    )


def attachment_blocks(page: Page) -> list[HtmlElement]:
    """Blocks marked as attachments (附件) by class or id, wherever the template puts them."""
    if not _ATTACHMENT_MARK.search(page.html):  # cheap test before the XPath scan
        return []
    return page.root.xpath(
        "//*[contains(translate(@class, 'ATCH', 'atch'), 'attach')"
        " or contains(translate(@id, 'ATCH', 'atch'), 'attach')"
        " or contains(@class, 'fujian') or contains(@id, 'fujian')]"
    )


def _images(page: Page, container: HtmlElement) -> list[str]:
    found: list[str] = []
    for img in container.iter("img"):
        src = page.absolute(img.get("src") or img.get("data-src") or img.get("original"))
        if src and src not in found:
            found.append(src)
    return found


def _attachments(page: Page, blocks: Iterable[HtmlElement]) -> list[Attachment]:
    found: list[Attachment] = []
    seen: set[str] = set()
    for block in blocks:
        for link in block.iter("a"):
            url = page.absolute(link.get("href"))
            if not url or url in seen:
                continue
            path = urlsplit(url).path.lower()
            if any(path.endswith(ext) for ext in _FILE_EXTENSIONS):
                seen.add(url)
                name = clean_space(link.text_content()) or path.rsplit("/", 1)[-1]
                found.append({"name": name, "url": url})
    return found


def _sanitised_html(page: Page, container: HtmlElement) -> str:
    markup = lxml.html.tostring(container, encoding="unicode", with_tail=False)
    fragment: HtmlElement = lxml.html.fromstring(markup)
    for node in list(fragment.iter()):
        if not is_element(node):
            if node.getparent() is not None:
                node.drop_tree()
            continue
        if tag_of(node) in _DROP_TAGS and node is not fragment:
            node.drop_tree()
            continue
        for name in list(node.attrib):
            value = str(node.attrib[name]).strip().lower()
            if name.lower().startswith("on") or value.startswith("javascript:"):
                del node.attrib[name]
    fragment.make_links_absolute(page.url, resolve_base_href=False, handle_failures="ignore")
    return lxml.html.tostring(fragment, encoding="unicode").strip()
