"""A site's structure read from its pages: which links are articles, which pages list them.

A site added by its address alone (``start_urls`` and ``allowed_hosts``) has no URL
patterns; the ``sites`` spider asks this module instead, page by page. Scrapy-free:

* **article URLs** by shape: the dated paths Chinese CMSs print (:data:`ARTICLE_SHAPES`:
  TRS ``/YYYYMM/tYYYYMMDD_id.htm``, 大汉 ``/art/YYYY/M/D/art_…html``, the Fujian CMS
  ``/cms/html/<site>/YYYY-MM-DD/id.html``, ``/YYYYMMDD/id.html``, ``/YYYY/MMDD/id.html``,
  ``/YYYY-MM/DD/content_id.htm`` …);
* **listings** by what they show: a run of links of one URL shape with title-length
  anchors, most with a date beside them (:func:`read_listing`); the shape of those links
  is then an article shape of the site, even where no catalogue knows it;
* **further pages** of a listing: a CMS family's paging when the page carries its marks
  (:func:`paging_kind`, the families' ``Paging.detect``), else the 下一页/next link or
  the next numbered page (:func:`next_page_link`);
* **column links** worth following from a home or navigation page (:func:`column_links`).

Whether a page is an article is still the extraction engine's call: a URL of an article
shape whose page holds no article is read as a navigation page.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from govnews.extract.cms import PAGINGS
from govnews.extract.cms.paging import Listing
from govnews.extract.dates import DATE_PATTERN
from govnews.extract.page import Page, tag_of, visible_text

#: Article URL paths of the CMSs and portals found on Chinese government and news sites.
ARTICLE_SHAPES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        r"/(?:19|20)\d{4}/t(?:19|20)\d{6}_\d+\.s?html?$",  # TRS WCM
        r"/art/(?:19|20)\d\d/\d{1,2}/\d{1,2}/art_\d+_\d+\.html$",  # 大汉 JCMS
        r"/cms/html/[^/]+/(?:19|20)\d\d-\d\d-\d\d/\d+\.html$",  # the Fujian CMS
        r"/(?:19|20)\d{6}/\d+\.s?html?$",  # /shgz/20221104/25301.html
        r"/(?:19|20)\d\d/\d{4}/\d+\.s?html?$",  # /2023/0506/91234.html
        r"/(?:19|20)\d\d-\d\d/\d\d/(?:content|c)_\d+\.s?html?$",  # /2023-05/06/content_1.htm
        r"/(?:19|20)\d\d(?:-|/)?\d\d/(?:19|20)?\d*[a-z]*_?\d{5,}\.s?html?$",  # /202305/123456.html
        r"/content/post_\d+\.html$",  # the 广东 government platform
        r"/(?:19|20)\d\d/\d\d/\d\d/[\w-]+\.s?html?$",  # /2023/05/06/abc.html
    )
)
#: Where a listing's link runs are: a link's anchor of at least this many characters.
_TITLE_MIN = 6
#: Links of one shape that make a listing (fewer: a box of related links).
_RUN_MIN = 3
_DIGITS = re.compile(r"\d+")
# The links of a pager: numbers and the words around them.
_PAGER = re.compile(
    r"^\s*(?:\d{1,4}|下一页|上一页|下页|上页|后一页|前一页|首页|尾页|末页|最后一页|"
    r"next|prev|previous|last|first|[<>«»‹›]+)\s*$",
    re.IGNORECASE,
)
_NEXT = re.compile(r"^\s*(?:下一页|下页|后一页|next|›|>|»)\s*$", re.IGNORECASE)
# A list's further page by its URL: index_2.html, list_12_2.html, ?page=2, &PageNo=2.
_FURTHER_PAGE = re.compile(
    r"/(?:index|default|list_\d+)_\d{1,4}\.s?html?$"
    r"|[?&](?:page|pageno|pageindex|pn|curpage)=(?:[2-9]|\d{2,4})(?:&|$)",
    re.IGNORECASE,
)
_FILE = re.compile(r"\.(?:pdf|docx?|xlsx?|pptx?|zip|rar|7z|jpe?g|png|gif|mp4|wps|ofd)$", re.I)
# Links that lead to no listing: scripts, mail, search, accounts, feeds, site maps, forms.
_NOT_COLUMN = re.compile(
    r"javascript:|mailto:|search|login|logout|register|/user/|/member/|/english/|/en/"
    r"|/rss|\.xml(?:\?|$)|sitemap|\.(?:jsp|do|action)(?:\?|$)",
    re.IGNORECASE,
)


def is_article_url(url: str) -> bool:
    """True when the URL's path has the shape of an article page of a known kind."""
    path = urlsplit(url).path
    return any(shape.search(path) for shape in ARTICLE_SHAPES)


def url_shape(url: str) -> str:
    """A pattern for URLs like ``url``: its host and path, each digit run any digits.

    ``http://a.gov.cn/ldbz/20221028/25262.html`` → ``^https?://a\\.gov\\.cn/ldbz/\\d+/\\d+\\.html$``:
    the links of one list share it, whatever their dates and ids.
    """
    parts = urlsplit(url)
    where = parts.path or "/"
    if parts.query:  # show.php?itemid=12: the query names the article
        where += "?" + parts.query
    pattern = _DIGITS.sub(r"\\d+", re.escape(where))
    return rf"^https?://{re.escape((parts.hostname or '').lower())}{pattern}$"


@dataclass
class ListingRead:
    """What a listing page shows: its article links, their shape, and how many are dated."""

    articles: list[str] = field(default_factory=list)
    shapes: set[str] = field(default_factory=set)
    dated: int = 0

    @property
    def is_listing(self) -> bool:
        """Two article links or more, or one with its date: a list (its paging is read)."""
        return len(self.articles) >= 2 or self.dated >= 1


def read_listing(page: Page, hosts: Iterable[str], listed: Iterable[str] = ()) -> ListingRead:
    """The article links a page lists: runs of one URL shape with title-length anchors.

    A link counts when its anchor has a title's length and its URL has an article
    shape (:data:`ARTICLE_SHAPES`) or shares an unknown shape with at least
    :data:`_RUN_MIN` - 1 others that carry a number (an id or a date); a run whose
    items mostly show a date beside them is a list of articles even with few items.
    Navigation (the same column links on every page) has short anchors and no dates.
    ``listed``: the links a family's listing rules read outside ``<a>`` elements.
    """
    allowed = {host.lower() for host in hosts}
    by_shape: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    known: list[tuple[str, bool]] = []
    for link in page.body().iter("a"):
        url = page.absolute(link.get("href"))
        if not url or (urlsplit(url).hostname or "").lower() not in allowed or _FILE.search(url):
            continue
        title = visible_text(link) or (link.get("title") or "").strip()
        if len(title) < _TITLE_MIN:
            continue
        url = url.split("#", 1)[0]
        item = (url, _dated(link))
        if is_article_url(url):
            known.append(item)
        elif _DIGITS.search(url.split("://", 1)[-1].split("/", 1)[-1]):
            by_shape[url_shape(url)].append(item)
    # Records a CMS family lists outside <a> (大汉 <datastore>) are dated list items.
    known.extend((url, True) for url in listed if is_article_url(url))
    found = ListingRead()
    runs = [items for items in by_shape.values() if _is_run(items)]
    for url, dated in [*known, *(item for run in runs for item in run)]:
        if url not in found.articles:
            found.articles.append(url)
            found.dated += dated
            found.shapes.add(url_shape(url))
    return found


def _is_run(items: list[tuple[str, bool]]) -> bool:
    distinct = {url for url, _ in items}
    dated = sum(1 for _, has_date in items if has_date)
    return len(distinct) >= _RUN_MIN and dated * 2 >= len(items)


def _dated(link: HtmlElement) -> bool:
    """True when a date stands beside the link: in its list item, row or parent block."""
    holder: HtmlElement | None = link
    for _ in range(3):
        holder = holder.getparent() if holder is not None else None
        if holder is None:
            return False
        if tag_of(holder) in ("li", "tr", "dd", "dl", "p", "div", "td", "span"):
            text = visible_text(holder)
            if len(text) > 200:
                return False
            if DATE_PATTERN.search(text) or re.search(r"(?<!\d)\d{1,2}-\d{1,2}(?!\d)", text):
                return True
    return False


def paging_kind(listing: Listing, page: Page, hosts: Iterable[str]) -> str:
    """How a listing pages: the first CMS family whose marks it carries, else ``links``
    when it shows a 下一页 link or numbered pages, else ``none``."""
    for kind, paging in PAGINGS.items():
        if paging.detect(listing):
            return kind
    return "links" if next_page_link(page, hosts) else "none"


def next_page_link(page: Page, hosts: Iterable[str]) -> str | None:
    """The page after this one of a list, as its pager links it.

    The 下一页/next link; else, among numbered links (1 2 3 …), the number after the
    current page's, which a pager shows unlinked (the smallest number with no link).
    Only the next page: each page asks for its own next, so that an incremental run
    stops where the stored articles begin.
    """
    allowed = {host.lower() for host in hosts}
    numbered: dict[int, str] = {}
    for link in page.body().iter("a"):
        url = page.absolute(link.get("href"))
        if not url or url == page.url or (urlsplit(url).hostname or "").lower() not in allowed:
            continue
        text = visible_text(link)
        if _NEXT.match(text):
            return url
        if text.isdigit() and 0 < int(text) < 10000:
            numbered.setdefault(int(text), url)
    if not numbered:
        return None
    current = next(number for number in range(1, len(numbered) + 2) if number not in numbered)
    return numbered.get(current + 1)


def is_further_page(url: str) -> bool:
    """A page after a list's first, by its URL: a family's (``index_1.htm``,
    ``sitemanage/index.shtml?…&page=2``) or a numbered one (``list_12_2.html``, ``?page=2``)."""
    return bool(_FURTHER_PAGE.search(url)) or any(
        paging.is_further_page(url) for paging in PAGINGS.values()
    )


def column_links(page: Page, hosts: Iterable[str], articles: Iterable[str] = ()) -> list[str]:
    """On-site links that may lead to listings: everything but articles, files and forms."""
    allowed = {host.lower() for host in hosts}
    skip = set(articles)
    found: list[str] = []
    for link in page.body().iter("a"):
        url = page.absolute(link.get("href"))
        if not url or (urlsplit(url).hostname or "").lower() not in allowed:
            continue
        url = url.split("#", 1)[0]
        if url in skip or url == page.url or _FILE.search(url) or _NOT_COLUMN.search(url):
            continue
        if is_article_url(url) or is_further_page(url) or url in found:
            continue
        if _PAGER.match(visible_text(link)):  # a list's other pages: paged, not explored
            continue
        found.append(url)
    return found


def common_shapes(shapes: Iterable[str], least: int = 1) -> list[str]:
    """The shapes seen at least ``least`` times, most frequent first."""
    counts = Counter(shapes)
    return [shape for shape, count in counts.most_common() if count >= least]
