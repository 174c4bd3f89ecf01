"""One page in, one article record out: a page object whose fields each record their signal."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import TypeVar
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from govnews.core.urls import is_gov_url
from govnews.extract import body as bodies
from govnews.extract.challenge import check_not_error_page, check_status
from govnews.extract.cms import CmsParts, match_cms
from govnews.extract.dates import date_from_url, has_time, parse_date, western_years
from govnews.extract.errors import ExtractionError, NotAnArticle
from govnews.extract.labels import (
    FIELD_LINE,
    ORIGINAL_TITLE_LABEL,
    InfoLine,
    anonymous,
    category_from_breadcrumb,
    find_breadcrumb,
    find_editor,
    find_info_line,
    find_original_url,
    labelled_lines,
    page_labelled_lines,
)
from govnews.extract.meta import gov_meta, structured_author
from govnews.extract.page import (
    TITLE_SEPARATOR,
    Page,
    clean_space,
    squash,
    tag_of,
    visible_lines,
    visible_text,
)
from govnews.items import Article, Kind

# "…！-新华网", "… - 漳州市人民政府": a site name glued to the end of a title.
_SITE_SUFFIX = re.compile(
    r"\s*[-_|｜–—]+\s*[^-_|｜–—\s]{1,12}(?:网|网站|门户|政府|官网|频道|日报|客户端)\s*$"
)
_MIN_BODY = 20
# An article's text has a line of at least this many characters; controls (条数 10条 40条)
# and menus have none, even when a control bar's short items make one long line. A
# picture story (images in the body of a page with an info line or a CMS's article
# structure) is an article with little or no text: neither bound applies.
_MIN_LINE = 10
# <title> parts split at any dash or bar: a headline shown alone may be any one of them
# (太原市人民政府门户网站-晋祠博物馆-董寿平美术馆), but never the one naming the site.
_HEAD_PARTS = re.compile(r"\s*[-_|｜–—]+\s*")
_SITE_NAME = re.compile(r"(?:网|网站|门户|政府|官网|频道|客户端)$|^$")
# What <title> puts between the headline and the site's name (white space is squashed).
_TITLE_TAIL_START = frozenset("-_|｜–—:：·()（）[]【】<>《》")
T = TypeVar("T")
_HAN = re.compile("[\u4e00-\u9fff]")
_PARTS = re.compile(r"[\s_|｜]+")
# Dates and URLs in a line: no words of text.
_NOT_WORDS = re.compile(
    r"https?://\S+|[(（\[]?\d{2,4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:\s*\d{1,2}:\d\d(?::\d\d)?)?[)）\]]?"
)
# Words that say a date on the same line is when the page was published.
_PUBLISHED = re.compile(
    r"发表于|发布于|发表时间|发布时间|发布日期|发文日期|成文日期|posted|published", re.IGNORECASE
)


def _phrase_length(line: str) -> int:
    """The length of ``line`` as text: Chinese text runs without spaces, so a line of
    Han characters counts by its longest part between spaces, bars and underscores
    (条数：10条 40条 … is 6; 泰国_标签_网易出品 is 4); a line with none (English) counts
    whole. A site's footer line (版权所有, ICP备 …), a widget's (分享到, 长按以下内容复制 …)
    and what is only a date or a URL are no text.
    """
    if bodies.FOOTER.search(line) or bodies.TERMINATOR.match(line):
        return 0
    line = _NOT_WORDS.sub(" ", line)
    if not _HAN.search(line):
        return len(line.strip())
    return max(map(len, _PARTS.split(line)), default=0)


def kind_of(url: str) -> Kind:
    """``gov`` for hosts under .gov.cn, read as the downloader reads them; otherwise ``portal``."""
    return "gov" if is_gov_url(url) else "portal"


def extract_article(
    body: bytes | str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    kind: Kind | None = None,
    fetched_at: datetime | None = None,
    listing_date: datetime | None = None,
    status: int = 200,
) -> Article:
    """Extract the article on a page; raise an ExtractionError subclass with the reason if none.

    ``listing_date`` is the date shown beside the link on the listing that led here;
    ``status`` the HTTP status the page came with.
    """
    check_status(status)
    try:
        page = Page.from_bytes(body, url, headers)
    except ValueError as exc:
        raise ExtractionError(str(exc)) from exc
    return ArticlePage(page, listing_date=listing_date).to_article(kind=kind, fetched_at=fetched_at)


class ArticlePage:
    """The article fields of one page, each found by the first signal that gives a usable value.

    ``provenance`` maps each field found to its signal. Fields are computed on
    first use; :meth:`to_article` asks for them in a safe order, since cutting the
    body out of the page must come after the title and info line were read.
    """

    def __init__(self, page: Page, *, listing_date: datetime | None = None) -> None:
        self.page = page
        self.listing_date = listing_date
        self.provenance: dict[str, str] = {}

    def _pick(self, name: str, *candidates: tuple[str, T | None]) -> T | None:
        """The first non-empty candidate value; its signal goes into ``provenance``."""
        for signal, value in candidates:
            if value:
                self.provenance[name] = signal
                return value
        return None

    # --- what the page offers ------------------------------------------------------

    @cached_property
    def info(self) -> InfoLine | None:
        return find_info_line(self.page)

    @cached_property
    def labels(self) -> dict[str, str]:
        return self.info.values if self.info else {}

    @cached_property
    def meta(self) -> dict[str, str]:
        return gov_meta(self.page)

    @cached_property
    def cms(self) -> CmsParts | None:
        return match_cms(self.page)

    @cached_property
    def breadcrumb(self) -> tuple[HtmlElement, list[str]] | None:
        return find_breadcrumb(self.page)

    @cached_property
    def original_link(self) -> tuple[HtmlElement, str] | None:
        return find_original_url(self.page)

    # --- fields ----------------------------------------------------------------

    @cached_property
    def title_and_element(self) -> tuple[str, HtmlElement | None]:
        """The title, and the element that shows it (to be cut from the body)."""
        meta_title = self.meta.get("ArticleTitle", "")
        heading = self.cms.title if self.cms else None
        if heading is None or (meta_title and not _same_text(meta_title, visible_text(heading))):
            # A family's title class that shows another line (the column) does not win
            # over the heading that shows meta ArticleTitle.
            found = self._heading()
            heading = found if found is not None else heading
        shown = visible_text(heading) if heading is not None else ""
        if meta_title and _same_text(meta_title, shown or self.page.head_title):
            self.provenance["title"] = "meta:ArticleTitle"
            return _SITE_SUFFIX.sub("", meta_title), heading
        if shown:
            self.provenance["title"] = f"cms:{self.cms.name}" if self.cms else "heading"
            return _SITE_SUFFIX.sub("", shown), heading
        above = self._line_above_info()
        if above is not None:
            self.provenance["title"] = "heading"
            return visible_text(above), above
        segments = [ref for ref in TITLE_SEPARATOR.split(self.page.head_title) if len(ref) >= 2]
        if segments:
            self.provenance["title"] = "head:title"
            return segments[0], None
        first = self._first_heading()
        if first is None:
            first = self._emphasised_line_above_body()
        if first is not None:
            self.provenance["title"] = "heading"
            return visible_text(first), first
        above_date = self._line_above_date()
        self.provenance["title"] = "text" if above_date else "head:title"
        return above_date or self.page.head_title, None

    def _line_above_date(self, top: int = 40) -> str:
        """A title-sized line just above the first dated line near the top, or ''."""
        lines = self.page.lines[:top]
        for index, line in enumerate(lines[1:], start=1):
            if self._date(line) and 5 <= len(lines[index - 1]) <= 80:
                return lines[index - 1]
        return ""

    def _first_heading(self) -> HtmlElement | None:
        """The first h1–h3 with a title-sized text, when nothing names the title."""
        for element in self.page.iter_elements():
            if tag_of(element) in ("h1", "h2", "h3") and 4 <= len(visible_text(element)) <= 120:
                return element
        return None

    @cached_property
    def _body_start(self) -> int | None:
        """Where the body's first line stands in the page's lines (read before the cut)."""
        first = next(iter(visible_lines(self.container)), "")
        return next((i for i, line in enumerate(self.page.lines) if first and line == first), None)

    def _line_above_info(self) -> HtmlElement | None:
        """The title-sized element just above the info line (时间/来源 …), when it is a line.

        With no info line above the text, a line that starts with 来源/作者 right above
        the text is taken as one.

        Where <title> names only the site (or a column) and no heading tag marks the
        headline, the line over the info line is the headline.
        """
        lines, start = self.page.lines, self._body_start
        at = None
        if self.info is not None:
            info_line = visible_text(self.info.element)
            at = next((i for i, line in enumerate(lines) if info_line.startswith(line)), None)
        if (at is None or start is not None and start < at) and start and start >= 2:
            # No info line above the text: a 来源/作者 line right above it serves as one.
            at = start - 1 if FIELD_LINE.match(lines[start - 1]) else None
        if not at or start is None or start < at:  # an info line inside the text: no
            return None
        line = lines[at - 1]
        if not 4 <= len(line) <= 80 or ">" in line or "›" in line or self._date(line):
            return None
        for element, text in self.page.short_texts(limit=80):
            if text == line and not _in_link(self.page, element):
                return element
        return None

    def _emphasised_line_above_body(self, window: int = 6) -> HtmlElement | None:
        """A bold or large title-sized line just above the body, when no heading says so.

        Newspaper pages (数字报) put the headline in a ``td`` with a style, between a
        kicker and a subtitle, under an empty <title>: the emphasised one is the headline.
        """
        lines, start = self.page.lines, self._body_start
        if start is None:
            return None
        shown: dict[str, list[HtmlElement]] = {}
        for element, text in self.page.short_texts(limit=80):
            shown.setdefault(text, []).append(element)
        for line in reversed(lines[max(0, start - window) : start]):
            if 4 <= len(line) <= 80:
                for element in shown.get(line, []):
                    if _emphasised(element) and not _in_link(self.page, element):
                        return element
        return None

    @property
    def title(self) -> str:
        return self.title_and_element[0]

    def _date(self, text: str | None) -> datetime | None:
        """The first date in ``text``, in the ROC calendar on a Taiwanese site."""
        return parse_date(western_years(text) if text and self._roc else text)

    @cached_property
    def _roc(self) -> bool:
        """A Taiwanese site (.tw, .taipei): its dates may count from 1912 (106-03-10)."""
        return self.page.host.endswith((".tw", ".taipei"))

    def _heading(self) -> HtmlElement | None:
        """The heading that best matches <title> or meta ArticleTitle, best above the info line."""
        head = self.page.head_title
        segments = [
            segment
            for segment in {*TITLE_SEPARATOR.split(head), *_HEAD_PARTS.split(head)}
            if not _SITE_NAME.search(segment)
        ]
        references = [self.meta.get("ArticleTitle", ""), head, *segments]
        references = [ref for ref in references if len(ref) >= 4]
        start = squash(head)
        # The headline is <title>'s longest part: a site named first (站名-栏目-标题) is shorter.
        longest = max((len(squash(part)) for part in _HEAD_PARTS.split(head)), default=0)
        best: tuple[float, HtmlElement] | None = None
        before_info = True
        prefixes = self._head_prefixes()
        named = squash(self.meta.get("ArticleTitle", ""))
        prefixes |= {
            element
            for element, text in self.page.short_texts(limit=120)
            if named and squash(text) == named and not _in_link(self.page, element)
        }
        for element in self.page.iter_elements():
            if self.info is not None and element is self.info.element:
                before_info = False
            if not (_looks_like_heading(element) or element in prefixes):
                continue
            text = visible_text(element)
            if not 4 <= len(text) <= 120:
                continue
            score = max((_overlap(text, ref) for ref in references), default=0.0)
            score += 0.2 if before_info else 0.0
            # <title> starts with the headline and ends with the blog's or column's name,
            # or names the site first and the headline last: its longest part either way.
            shown = squash(text)
            headline = len(shown) >= longest and (start.startswith(shown) or shown in start)
            score += 0.15 if headline else 0.0
            # meta ArticleTitle names the article; a <title> segment may name its column.
            score += 0.3 if named and squash(text) == named else 0.0
            score += 0.1 if tag_of(element) in ("h1", "h2") else 0.0
            if best is None or score > best[0]:
                best = (score, element)
        return best[1] if best is not None and best[0] >= 0.5 else None

    def _head_prefixes(self) -> set[HtmlElement]:
        """Elements of any tag showing the start of <title>, up to where <title> adds a name.

        The visible headline is the one that matches a prefix of <title>, whatever its
        tag: old table layouts put it in a bare ``td`` or ``font``, and <title> adds the
        site (``标题-农民工法治网``, ``标题 _ 中国某市``) with separators that may also
        stand inside the headline (``主标题——副标题``), so <title> cannot be split alone.
        """
        head = squash(self.page.head_title)
        found = set()
        for element, text in self.page.short_texts(limit=120):
            shown = squash(text)
            if len(shown) < 4 or not head.startswith(shown) or _in_link(self.page, element):
                continue
            rest = head[len(shown) :]
            if not rest or rest[0] in _TITLE_TAIL_START:
                found.add(element)
        return found

    @cached_property
    def published_at(self) -> datetime | None:
        """The visible date, made precise by a same-day meta PubDate; a contrary meta loses."""
        cms_date = self.cms.date_text if self.cms else None
        visible_signal, shown = (
            (f"cms:{self.cms.name}", cms_date)
            if self.cms and self._date(cms_date)
            else ("label:时间", self.labels.get("date"))
        )
        visible = self._date(shown)
        meta_text = self.meta.get("PubDate", "")
        from_meta = parse_date(meta_text)
        from_url = date_from_url(self.page.url)
        same_day = visible and from_meta and visible.date() == from_meta.date()
        if same_day and has_time(meta_text) and not has_time(shown or ""):
            return self._pick("published_at", ("meta:PubDate", from_meta))
        meta_agrees = from_meta and (from_url is None or abs((from_meta - from_url).days) <= 1)
        # An info line inside the text (a notice's closing 2005年8月25日（来源：…）) dates
        # the document; the URL, where it has a date, says when the page was published.
        signed = visible_signal == "label:时间" and self._info_in_text
        # A URL gives the day only: an unlabelled date and time by the title on that day
        # (<span id="pubtime">2024-05-21 06:10</span>) makes it precise.
        near = self._date_near_title() if from_url else None
        timed = (
            near is not None
            and from_url is not None
            and near.date() == from_url.date()
            and (near.hour, near.minute) != (0, 0)
        )
        return self._pick(
            "published_at",
            (visible_signal, None if signed and from_url else visible),
            ("meta:PubDate", from_meta if meta_agrees else None),
            ("text", near if timed else None),
            ("url", from_url),
            (visible_signal, visible),
            ("listing", self.listing_date),
            ("text", self._date_near_title()),
            ("text", self._date_above_body()),
            ("text", self._labelled_date()),
        )

    @cached_property
    def _info_in_text(self) -> bool:
        """True when the info line stands inside the body's container (read before the cut)."""
        if self.info is None:
            return False
        container = self.container
        return any(node is container for node in self.info.element.iterancestors())

    def _date_near_title(self, window: int = 8) -> datetime | None:
        """The first date in the lines just after the title (or at the top of the page)."""
        lines = self.page.lines
        title = self.title
        start = next((i for i, line in enumerate(lines) if title and title in line), 0)
        for line in lines[start : start + window]:
            if found := self._date(line):
                return found
        return None

    def _date_above_body(self, window: int = 3) -> datetime | None:
        """A date on one of the lines just above the body (a byline)."""
        lines, start = self.page.lines, self._body_start
        if start is None:
            return None
        for line in reversed(lines[max(0, start - window) : start]):
            if found := self._date(line):
                return found
        return None

    def _labelled_date(self) -> datetime | None:
        """A date anywhere on the page on a line that says it is a publication date."""
        for line in self.page.lines:
            if _PUBLISHED.search(line) and (found := self._date(line)):
                return found
        return None

    @cached_property
    def source_name(self) -> str | None:
        """来源: what the page shows; the meta tag only confirms it (a hidden value is none).

        A 信息公开 table's 发布机构 stands in when no 来源 is shown: an info line's 来源
        (新闻办) names the source, the table the agency that published the page.
        """
        cms = f"cms:{self.cms.name}" if self.cms else ""
        shown = (self.cms.source if self.cms else None) or self.labels.get("source")
        shown = shown or (self.cms.agency if self.cms else None)
        meta = self.meta.get("ContentSource")
        return self._pick(
            "source_name",
            ("meta:ContentSource", meta if meta and meta == shown else None),
            (cms, self.cms.source if self.cms else None),
            ("label:来源", self.labels.get("source")),
            (cms, self.cms.agency if self.cms else None),
            ("body:来源", self.body_labels.get("source")),
            ("page:来源", self.page_labels.get("source")),
        )

    @cached_property
    def author(self) -> str | None:
        def named(value: str | None) -> str | None:
            return None if anonymous(value) else value

        return self._pick(
            "author",
            ("label:作者", named(self.labels.get("author") or self.body_labels.get("author"))),
            ("page:作者", named(self.page_labels.get("author"))),
            ("ld+json:author", named(structured_author(self.page))),
            ("byline", self.body_labels.get("byline")),
        )

    @cached_property
    def editor(self) -> str | None:
        return self._pick(
            "editor",
            ("label:责任编辑", self.labels.get("editor") or self.body_labels.get("editor")),
            ("label:责任编辑", find_editor(self.page.lines)),
            ("page:编辑", self.page_labels.get("editor")),
        )

    @cached_property
    def category(self) -> str | None:
        crumbs = self.breadcrumb[1] if self.breadcrumb else []
        return self._pick(
            "category",
            ("meta:ColumnName", self.meta.get("ColumnName")),
            ("breadcrumb", category_from_breadcrumb(crumbs)),
        )

    @cached_property
    def declared_original_url(self) -> str | None:
        source_href = self.info.source_href if self.info else None
        return self._pick(
            "declared_original_url",
            ("label:原文链接", self.original_link[1] if self.original_link else None),
            ("label:来源链接", _foreign_link(self.page, source_href)),
        )

    @cached_property
    def metadata_lines(self) -> dict[HtmlElement, dict[str, str]]:
        """Lines inside the body that only carry fields (来源：新华网 under the text)."""
        return labelled_lines(self.container)

    @cached_property
    def page_labels(self) -> dict[str, str]:
        """Fields of label lines anywhere on the page: the last resort (read before the cut)."""
        return page_labelled_lines(self.page)

    @cached_property
    def body_labels(self) -> dict[str, str]:
        """The fields of :attr:`metadata_lines`, first value of each."""
        merged: dict[str, str] = {}
        for values in self.metadata_lines.values():
            for name, value in values.items():
                merged.setdefault(name, value)
        return merged

    @cached_property
    def container(self) -> HtmlElement:
        """The element holding the body: the CMS's, or the densest text block."""
        self.provenance["body_text"] = f"cms:{self.cms.name}" if self.cms else "density"
        return self.cms.body if self.cms else bodies.find_body(self.page)

    @cached_property
    def body(self) -> tuple[bodies.Body, str | None]:
        """The cleaned body and the 原标题 it gave. Cuts the page's tree: call last."""
        container = self.container
        _, title_element = self.title_and_element
        bodies.remove_elements(
            container,
            [
                title_element,
                self.info.element if self.info else None,
                self.breadcrumb[0] if self.breadcrumb else None,
                *(self.cms.remove if self.cms else ()),
            ],
        )
        bodies.cut_boilerplate(container, [self.original_link[0]] if self.original_link else [])
        bodies.drop_chrome(self.page, container)
        bodies.remove_lines(container, bodies.RELATED)
        original_title = _take_original_title(container)
        bodies.remove_elements(container, self.metadata_lines)
        blocks = [
            *(self.cms.attachment_blocks if self.cms else ()),
            *bodies.attachment_blocks(self.page),
        ]
        return bodies.render(self.page, container, blocks), original_title

    # --- the record ----------------------------------------------------------------

    def check_is_article(self) -> None:
        """Raise ErrorPage or NotAnArticle when the page holds no article."""
        check_not_error_page(self.page, self.info is not None)
        if not self.title:
            raise NotAnArticle("no article title found")
        if not self.cms:
            self._check_not_a_listing()
        if bodies.footer_share(visible_lines(self.container)) > 0.5:
            raise NotAnArticle("the only text block is the site footer")

    def _check_not_a_listing(self) -> None:
        """Raise NotAnArticle on positive evidence of a list, a pager or a teaser.

        A breadcrumb ending in the title, or a block heavy with links, is also what
        many articles show (a story under its own name, a travel guide linking every
        sight): neither refuses a page alone.
        """
        container = self.container
        pager = bodies.pager_evidence(container)
        listing = pager or bodies.listing_evidence(self.page, container)
        if self.breadcrumb and self.title in self.breadcrumb[1][-1:]:
            if listing:
                raise NotAnArticle(f"the heading {self.title!r} names the column over {listing}")
            if self.info is None:  # a column's own page (关于我们): no date, no source
                raise NotAnArticle(f"the heading {self.title!r} names the column, no info line")
        if pager or (listing and self.page.link_density(container) > 0.5):
            raise NotAnArticle(f"the densest text block is {listing} (a listing page)")
        # No 时间/来源 line, and a short leftover beside a page of links.
        listed = self.info is None and bodies.page_listing_evidence(self.page, container)
        if listed:
            raise NotAnArticle(f"{listed} (a listing page)")
        if teaser := bodies.teaser_evidence(self.page, container):
            raise NotAnArticle(f"the text block is {teaser} (a home or column page)")

    def to_article(
        self, *, kind: Kind | None = None, fetched_at: datetime | None = None
    ) -> Article:
        """The article record; raises an ExtractionError subclass when there is none."""
        self.check_is_article()
        # Read all that looks at the whole page before the body is cut out of it.
        published_at, source, author = self.published_at, self.source_name, self.author
        editor, category, declared = self.editor, self.category, self.declared_original_url
        content, original_title = self.body
        pictures = bool(content.images) and (self.cms is not None or self.info is not None)
        if len(content.text) < _MIN_BODY and not pictures:
            raise ExtractionError(f"body text too short ({len(content.text)} characters)")
        longest = max(map(_phrase_length, content.text.splitlines()), default=0)
        if longest < _MIN_LINE and not pictures:
            raise NotAnArticle(
                f"no line of text in the block, only short labels of at most {longest} "
                "characters (controls or a menu)"
            )
        self._pick("original_title", ("label:原标题", original_title))
        return Article(
            url=self.page.url,
            site=self.page.host,
            kind=kind or kind_of(self.page.url),
            title=self.title,
            published_at=published_at,
            original_title=original_title,
            body_text=content.text,
            body_html=content.html,
            images=content.images,
            attachments=content.attachments,
            fetched_at=fetched_at,
            source_name=source,
            author=author,
            editor=editor,
            category=category,
            declared_original_url=declared,
            site_meta={
                name: self.meta[name]
                for name in ("SiteName", "SiteDomain", "SiteIDCode")
                if name in self.meta
            },
            provenance=dict(self.provenance),
        )


def _same_text(a: str, b: str) -> bool:
    """Equal but for white space, or one contains the other (<title> adds the site name)."""
    a, b = squash(a), squash(b)
    return bool(a and b) and (a in b or b in a)


def _looks_like_heading(element: HtmlElement) -> bool:
    tag = tag_of(element)
    if tag in ("h1", "h2", "h3", "h4"):
        return True
    marks = f"{element.get('class', '')} {element.get('id', '')}".lower()
    return "title" in marks and tag not in ("a", "li", "ul", "img", "input")


_BOLD = re.compile(r"font-weight\s*:\s*(?:bold|[6-9]00)", re.IGNORECASE)
_FONT_SIZE = re.compile(r"font-size\s*:\s*(\d+(?:\.\d+)?)px", re.IGNORECASE)
_LARGE_PX = 18


def _emphasised(element: HtmlElement) -> bool:
    """Bold or large: a heading tag, ``b``/``strong``, a bold or >= 18px style, font size >= 4."""
    for node in element.iter():
        if not isinstance(node.tag, str) or visible_text(node) != visible_text(element):
            continue
        if tag_of(node) in ("b", "strong", "big", "h1", "h2", "h3", "h4", "h5", "h6"):
            return True
        style = node.get("style", "")
        size = _FONT_SIZE.search(style)
        if _BOLD.search(style) or (size and float(size.group(1)) >= _LARGE_PX):
            return True
        if tag_of(node) == "font" and (node.get("size") or "").strip() in ("4", "5", "6", "7"):
            return True
    return False


def _in_link(page: Page, element: HtmlElement) -> bool:
    """True inside an ``<a>`` to another page: a link to an article (a breadcrumb, a list)
    is no headline; a link to the page itself (a blog's permalink headline) is one.
    """
    for node in (element, *element.iterancestors()):
        if tag_of(node) == "a":
            href = page.absolute(node.get("href"))
            return not href or href.split("#", 1)[0] not in (page.url, page.canonical_url)
    return False


def _overlap(text: str, reference: str) -> float:
    """How well a heading matches a reference title: 1.0 equal, else the shared share."""
    if text == reference:
        return 1.0
    if reference in text or text in reference:
        return min(len(text), len(reference)) / max(len(text), len(reference))
    return 0.0


def _take_original_title(container: HtmlElement) -> str | None:
    """Remove a ``原标题:…`` line from the body and return the title it gives."""
    for node in container.iter():
        text = visible_text(node) if isinstance(node.tag, str) else ""
        match = ORIGINAL_TITLE_LABEL.match(text)
        if match and node is not container and len(text) < 120:
            node.drop_tree()
            return clean_space(text[match.end() :]) or None
    return None


def _foreign_link(page: Page, href: str | None) -> str | None:
    """A 来源 link counts as a declared original when it leads to an article on another site."""
    if not href or not href.startswith("http"):
        return None
    parts = urlsplit(href)
    if (parts.hostname or "").lower() == page.host or parts.path in ("", "/"):
        return None
    return href
