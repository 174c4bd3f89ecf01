"""What a CMS family declares (:class:`Family`), what its rule finds (:class:`CmsParts`),
and the page helpers several families share.

A rule is a function ``Page -> CmsParts | None``: it recognises its family by markers the
family's templates print and no other family does, and returns None on any other page.

Wrapping nodes in a new ``div`` (:func:`wrap`) is the only change rules make to a page; it
changes no text on it, and asking again finds the same ``div``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import lxml.html
from lxml.html import HtmlElement

from govnews.extract.cms.paging import Paging
from govnews.extract.page import TITLE_SEPARATOR, Page, is_element, squash, tag_of, visible_text


@dataclass
class CmsParts:
    """What a CMS rule located on a page (any part may be missing).

    ``name`` is the family (``cms:<name>`` in the article's provenance). ``remove`` lists
    elements to cut from the body when they lie inside it (the 政府信息公开 table, a title
    element the table replaced). ``source`` is a 来源 the family's markup names;
    ``agency`` the 信息公开 table's 发布机构 (else 发文机关), which stands in for a 来源
    only when the page shows none.
    """

    name: str
    body: HtmlElement
    title: HtmlElement | None = None
    date_text: str | None = None
    source: str | None = None
    agency: str | None = None
    attachment_blocks: list[HtmlElement] = field(default_factory=list)
    remove: list[HtmlElement] = field(default_factory=list)


@dataclass(frozen=True)
class Family:
    """A CMS family, as the registry (:data:`govnews.extract.cms.FAMILIES`) lists it.

    ``match`` is its page rule. ``paging``, when the family's listings page in a way of
    their own, is the sites file's ``pagination.kind`` for them and its listing rules.
    ``info_table``: lay the 政府信息公开 table over what ``match`` found (False only for a
    rule that reads the table itself).
    """

    name: str
    match: Callable[[Page], CmsParts | None]
    paging: Paging | None = None
    info_table: bool = True


def has_class(name: str) -> str:
    """An XPath test: the element's ``class`` attribute holds ``name``."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def first(page: Page, xpath: str) -> HtmlElement | None:
    """The first element ``xpath`` finds on the page, or None."""
    found = page.root.xpath(xpath)
    return found[0] if found else None


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


def title_element(page: Page, xpaths: Iterable[str]) -> HtmlElement | None:
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


def nearby_attachments(body: HtmlElement, levels: int = 3) -> list[HtmlElement]:
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


def wrap(lead: HtmlElement | None, nodes: list[HtmlElement]) -> HtmlElement | None:
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
