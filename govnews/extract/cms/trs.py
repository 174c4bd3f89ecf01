"""TRS WCM: its articles and its lists.

Articles: the editor's own wrapper ``div.TRS_Editor`` (``TRS_UEDITOR``, ``TRS_PreAppend``);
or, failing it, a ``TRS`` generator meta or a ``/YYYYMM/tYYYYMMDD_<id>.html`` URL together
with a container TRS templates use (``#zoom``, ``div.view``, ``.article-con``). Title from
``.article-title`` or ``h1``; the info line is left to the generic labels.

Lists (``pagination.kind = "trs"``): ``index.htm`` then ``index_1.htm`` … as the list's
``createPageHTML(count, current, "index", "htm")`` call says; the further pages are reached
through that count, not followed as listings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml.html import HtmlElement

from govnews.extract.cms.paging import Listing, NextPage, Paging, Problem, Step
from govnews.extract.cms.parts import (
    CmsParts,
    Family,
    first,
    has_class,
    nearby_attachments,
    title_element,
)
from govnews.extract.page import Page, visible_text

# --- articles ------------------------------------------------------------------------------


def _has_class_ci(name: str) -> str:
    """Like :func:`has_class`, ignoring case (``TRS_Editor``, ``trs_editor``)."""
    upper, lower = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
    classes = f"translate(normalize-space(@class), '{upper}', '{lower}')"
    return f"contains(concat(' ', {classes}, ' '), ' {name.lower()} ')"


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


_TRS_URL = re.compile(r"/(?:19|20)\d{4}/t(?:19|20)\d{6}_\d+\.s?html?$")
_TRS_EDITOR = " | ".join(
    f"//*[{_has_class_ci(name)}]" for name in ("TRS_Editor", "TRS_UEDITOR", "TRS_PreAppend")
)
_TRS_MARK = re.compile(r"TRS_(?:Editor|UEDITOR|PreAppend)", re.IGNORECASE)
_TRS_CONTAINERS = (
    "//*[@id='zoom']",
    f"//div[{has_class('view')}]",
    f"//*[{has_class('article-con')}]",
)
_TRS_TITLES = (
    f"//*[{has_class('article-title')}]",
    "//h1",
)


def match(page: Page) -> CmsParts | None:
    """TRS WCM: ``div.TRS_Editor`` (or a TRS URL / generator with a known container)."""
    marked = _TRS_MARK.search(page.html) is not None  # cheap test before the XPath scan
    body = _largest(_outermost(page.root.xpath(_TRS_EDITOR))) if marked else None
    if body is None and (
        page.meta("generator").upper().startswith("TRS")
        or _TRS_URL.search(page.url.split("?", 1)[0])
    ):
        body = next(
            (found for xpath in _TRS_CONTAINERS if (found := first(page, xpath)) is not None),
            None,
        )
    if body is None:
        return None
    return CmsParts(
        name="trs",
        body=body,
        title=title_element(page, _TRS_TITLES),
        attachment_blocks=nearby_attachments(body),
    )


# --- lists: createPageHTML(count, current, "index", "htm") -----------------------------------

_PAGE_CALL = re.compile(r"(function\s+)?\bcreatePageHTML\s*\(([^()]*)\)")
# Further pages of a TRS list are reached through the page count, not followed as listings.
_TRS_FURTHER_PAGE = re.compile(r"/index_\d+\.s?html?$")


@dataclass(frozen=True)
class TrsPages:
    """What a TRS list's ``createPageHTML`` call says: page count, this page, file names."""

    count: int
    current: int
    name: str
    ext: str

    def url(self, base: str, index: int) -> str:
        """Page ``index`` (0 is the first, ``name.ext``) of the list at ``base``."""
        return urljoin(
            base, f"{self.name}_{index}.{self.ext}" if index else f"{self.name}.{self.ext}"
        )


def trs_pages(scripts: str) -> TrsPages | None:
    """The pagination of a TRS list from its scripts; None when there is no call.

    Arguments may be numbers or variables (``var countPage = 5``); the newer call with a
    container id first (``createPageHTML('page-div', 38, 1, 'index', 'htm', 20, 742)``)
    is read too. Raises ValueError for a call that cannot be read.
    """
    calls = [m[2] for m in _PAGE_CALL.finditer(scripts) if not m[1]]
    if not calls:
        return None
    args = [arg.strip() for arg in calls[0].split(",")]
    if len(args) >= 5 and _quoted(args[0]) is not None:
        args = args[1:]
    if len(args) < 4:
        raise ValueError(f"createPageHTML({calls[0]}): expected count, current, name, ext")
    name, ext = _quoted(args[2]), _quoted(args[3])
    if not name or not ext:
        raise ValueError(f"createPageHTML({calls[0]}): name and extension must be strings")
    count, current = _number(args[0], scripts), _number(args[1], scripts)
    if count < 1 or not 0 <= current < count:
        raise ValueError(f"createPageHTML({calls[0]}): page {current} of {count}")
    return TrsPages(count, current, name, ext)


def _quoted(arg: str) -> str | None:
    match = re.fullmatch(r"""(['"])(.*)\1""", arg)
    return match[2] if match else None


def _number(arg: str, scripts: str) -> int:
    """A number argument, or the number a variable of that name is set to in ``scripts``."""
    if arg.isdigit():
        return int(arg)
    if re.fullmatch(r"[A-Za-z_$][\w$]*", arg):
        set_to = re.findall(rf"(?<![\w$.]){re.escape(arg)}\s*=\s*(\d+)", scripts)
        if set_to:
            return int(set_to[-1])
    raise ValueError(f"createPageHTML: cannot read the number {arg!r}")


def next_pages(listing: Listing, options: Mapping[str, int]) -> Iterator[Step]:
    """The next page of a TRS list (``index_1.htm`` after ``index.htm`` …)."""
    try:
        pages = trs_pages(listing.scripts)
    except ValueError as exc:
        yield Problem(str(exc))
        return
    if pages is None:
        yield Problem("TRS list without a createPageHTML(...) pagination call")
        return
    following = pages.current + 1
    if following < pages.count:
        yield NextPage(pages.url(listing.url, following))


def is_further_page(url: str) -> bool:
    """``index_<n>.htm``: a page after a list's first."""
    return bool(_TRS_FURTHER_PAGE.search(url))


def detect(listing: Listing) -> bool:
    """A TRS list: its script calls ``createPageHTML``."""
    return any(not found.group(1) for found in _PAGE_CALL.finditer(listing.scripts))


PAGING = Paging("trs", next_pages, detect, is_further_page=is_further_page)
FAMILY = Family("trs", match, PAGING)
