"""Rules for the CMS families government sites run: each finds a page's parts by markup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lxml.html import HtmlElement

from govnews.extract.page import Page, clean_space, visible_text


@dataclass
class CmsParts:
    """What a CMS rule located on a page (any part may be missing)."""

    name: str
    body: HtmlElement
    title: HtmlElement | None = None
    date_text: str | None = None
    source: str | None = None
    attachment_blocks: list[HtmlElement] = field(default_factory=list)


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _first(page: Page, xpath: str) -> HtmlElement | None:
    found = page.root.xpath(xpath)
    return found[0] if found else None


def _after_label(text: str) -> str:
    return clean_space(text.split(":", 1)[-1].split("：", 1)[-1])


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


CMS_RULES: tuple[Callable[[Page], CmsParts | None], ...] = (fujian,)


def match_cms(page: Page) -> CmsParts | None:
    """The parts found by the first CMS rule that recognises the page."""
    for rule in CMS_RULES:
        parts = rule(page)
        if parts is not None:
            return parts
    return None
