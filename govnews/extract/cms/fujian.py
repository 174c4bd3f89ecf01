"""The Fujian government CMS (漳州 and sibling sites, the seed sites): ``#Content`` under
``div.content-title``; date ``span.rq``, source ``span.ly``; attachments ``div.attachment``.

Its listings page by plain links (the sites file's generic ``links`` kind): no paging rules.
"""

from __future__ import annotations

from govnews.extract.cms.parts import CmsParts, Family, first, has_class
from govnews.extract.page import Page, clean_space, visible_text


def _after_label(text: str) -> str:
    return clean_space(text.split(":", 1)[-1].split("：", 1)[-1])


def match(page: Page) -> CmsParts | None:
    """The Fujian government CMS (漳州 and sibling sites): ``#Content``, ``div.content-title``."""
    body = first(page, "//*[@id='Content']")
    title = first(page, f"//div[{has_class('content-title')} or {has_class('top-title1')}]")
    if body is None or title is None:
        return None
    date = first(page, f"//span[{has_class('rq')}]")
    source = first(page, f"//span[{has_class('ly')}]")
    blocks = page.root.xpath(f"//div[{has_class('attachment')}] | //span[@id='attachments']")
    return CmsParts(
        name="fujian",
        body=body,
        title=title,
        date_text=visible_text(date) if date is not None else None,
        source=_after_label(visible_text(source)) if source is not None else None,
        attachment_blocks=list(blocks),
    )


FAMILY = Family("fujian", match)
