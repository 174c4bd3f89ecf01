"""The Fujian government CMS (漳州 and sibling sites, the seed sites): ``#Content`` under
``div.content-title``; date ``span.rq``, source ``span.ly``; attachments ``div.attachment``.

Lists (``pagination.kind = "fujian"``): a column ``/cms/html/<site>/<column>/index.html``
says ``共 N 页`` and carries its site id in ``<meta name="siteIdMeta">``; page ``n`` is
``/cms/sitemanage/index.shtml?siteId=<id>&page=<n>``, linked from the pager or built only
by its script (``window.location.href = … "&page=" + p``). The page count is the larger
of ``共 N 页`` and the pages linked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from urllib.parse import urlencode, urljoin

from govnews.extract.cms.paging import Listing, NextPage, Paging, Problem, Step
from govnews.extract.cms.parts import CmsParts, Family, first, has_class
from govnews.extract.page import Page, clean_space, visible_text

PAGE_COUNT = re.compile(r"共\s*(\d+)\s*页")
PAGE_NUMBER = re.compile(r"[?&]page=(\d+)")
_FURTHER_PAGE = re.compile(r"/cms/sitemanage/index\.shtml\?(?:[^#]*&)?page=\d+")


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


def _site_id(listing: Listing) -> str:
    return (listing.selector.css('meta[name="siteIdMeta"]::attr(content)').get() or "").strip()


def page_count(listing: Listing) -> int:
    """How many pages the column has: ``共 N 页``, or the highest page it links."""
    text = " ".join(listing.selector.css("body ::text").getall())
    hrefs = " ".join(listing.selector.css("a::attr(href)").getall())
    pages = [int(n) for n in PAGE_NUMBER.findall(hrefs)]
    pages += [int(n) for n in PAGE_COUNT.findall(text)]
    return max(pages, default=1)


def next_pages(listing: Listing, options: Mapping[str, int]) -> Iterator[Step]:
    """The column's next page, ``/cms/sitemanage/index.shtml?siteId=…&page=n+1``."""
    found = PAGE_NUMBER.search(listing.url) if _FURTHER_PAGE.search(listing.url) else None
    current = int(found.group(1)) if found else 1
    if current >= page_count(listing):
        return
    site_id = _site_id(listing)
    if not site_id:
        yield Problem("Fujian CMS column of several pages without its siteIdMeta")
        return
    query = urlencode({"siteId": site_id, "page": current + 1})
    yield NextPage(urljoin(listing.url, f"/cms/sitemanage/index.shtml?{query}"))


def is_further_page(url: str) -> bool:
    """``/cms/sitemanage/index.shtml?siteId=…&page=n``: a page after a column's first."""
    return bool(_FURTHER_PAGE.search(url))


def detect(listing: Listing) -> bool:
    """A Fujian CMS column: ``siteIdMeta`` and a ``共 N 页`` pager or its sitemanage URLs."""
    if not _site_id(listing):
        return False
    text = " ".join(listing.selector.css("body ::text").getall())
    return bool(PAGE_COUNT.search(text)) or "/cms/sitemanage/index.shtml" in listing.scripts


PAGING = Paging("fujian", next_pages, detect, is_further_page=is_further_page)
FAMILY = Family("fujian", match, PAGING)
