"""UCAP (开普云): body ``#UCAP-CONTENT`` or ``<ucapcontent>``; title ``<ucaptitle>`` (else the
``h1`` that ``<title>`` names); date ``<publishtime>``; attachments listed below the body.
"""

from __future__ import annotations

from govnews.extract.cms.parts import CmsParts, Family, first, nearby_attachments, title_element
from govnews.extract.page import Page, visible_text


def match(page: Page) -> CmsParts | None:
    """UCAP (开普云): ``#UCAP-CONTENT``/``<ucapcontent>``, ``<ucaptitle>``, ``<publishtime>``."""
    body = first(page, "//*[@id='UCAP-CONTENT']")
    if body is None:
        body = first(page, "//ucapcontent")
    if body is None:
        return None
    title = first(page, "//ucaptitle")
    if title is not None:
        parent = title.getparent()
        if parent is not None and visible_text(parent) == visible_text(title):
            title = parent  # the heading that shows it, so that all of it leaves the body
    else:
        title = title_element(page, ("//h1",))
    date = first(page, "//publishtime")
    return CmsParts(
        name="ucap",
        body=body,
        title=title,
        date_text=visible_text(date) if date is not None else None,
        attachment_blocks=nearby_attachments(body),
    )


FAMILY = Family("ucap", match)
