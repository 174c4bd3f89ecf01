"""One page in, one article record out: signals tried in order, each field with its provenance."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

from lxml.etree import _Element

from govnews.extract import body as bodies
from govnews.extract.challenge import check_not_error_page
from govnews.extract.cms import CmsParts, match_cms
from govnews.extract.dates import date_from_url, has_time, parse_date
from govnews.extract.errors import ExtractionError, NotAnArticle
from govnews.extract.labels import (
    ORIGINAL_TITLE_LABEL,
    InfoLine,
    anonymous,
    category_from_breadcrumb,
    find_breadcrumb,
    find_editor,
    find_info_line,
    find_original_url,
)
from govnews.extract.meta import gov_meta
from govnews.extract.page import Page, clean_space, tag_of, visible_lines, visible_text
from govnews.items import Article, Kind

_TITLE_SPLIT = re.compile(r"\s*(?:[_|｜]|--|——| - | – | — )\s*")
_MIN_BODY = 20
_EDITOR_LINE = re.compile(r"^[（(]?\s*(?:责任编辑|编辑|责编)\s*[:：]")


class _Provenance(dict[str, str]):
    """field → signal, filled as values are chosen."""

    def pick(self, name: str, *candidates: tuple[str, object]) -> object:
        for signal, value in candidates:
            if value:
                self[name] = signal
                return value
        return None


def kind_of(url: str) -> Kind:
    """``gov`` for hosts under .gov.cn, otherwise ``portal``."""
    host = (urlsplit(url).hostname or "").lower()
    return "gov" if host == "gov.cn" or host.endswith(".gov.cn") else "portal"


def extract_article(
    body: bytes | str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    kind: Kind | None = None,
    fetched_at: datetime | None = None,
    listing_date: datetime | None = None,
) -> Article:
    """Extract the article on a page; raise an ExtractionError subclass with the reason if none.

    ``listing_date`` is the date shown beside the link on the listing that led here.
    """
    try:
        page = Page.from_bytes(body, url, headers)
    except ValueError as exc:
        raise ExtractionError(str(exc)) from exc
    info = find_info_line(page)
    check_not_error_page(page, info is not None)
    meta = gov_meta(page)
    cms = match_cms(page)
    why = _Provenance()

    title_element, title = _title(page, meta, cms, info, why)
    if not title:
        raise NotAnArticle("no article title found")
    published_at = _published_at(page, meta, cms, info, title_element, listing_date, why)
    if published_at is None:
        raise NotAnArticle("no publication date found")

    original = find_original_url(page)
    breadcrumb = find_breadcrumb(page)
    if breadcrumb and title in breadcrumb[1][-1:]:
        raise NotAnArticle(f"the heading {title!r} names the column (a listing page)")
    values = info.values if info else {}
    container = cms.body if cms else bodies.find_body(page)
    if not cms and bodies.link_density(container) > 0.5:
        raise NotAnArticle("the densest text block is mostly links (a listing page)")
    if bodies.footer_share(visible_lines(container)) > 0.5:
        raise NotAnArticle("the only text block is the site footer")
    why["body_text"] = f"cms:{cms.name}" if cms else "density"
    page_lines = visible_lines(page.body())
    editor = why.pick(
        "editor",
        ("label:责任编辑", values.get("editor")),
        ("label:责任编辑", find_editor(page_lines)),
    )

    bodies.remove_elements(
        container,
        [title_element, info.element if info else None, breadcrumb[0] if breadcrumb else None],
    )
    bodies.cut_boilerplate(container, [original[0]] if original else [])
    original_title = _take_original_title(container)
    bodies.remove_lines(container, _EDITOR_LINE)
    blocks = [*(cms.attachment_blocks if cms else ()), *bodies.attachment_blocks(page)]
    content = bodies.render(page, container, blocks)
    if len(content.text) < _MIN_BODY:
        raise ExtractionError(f"body text too short ({len(content.text)} characters)")

    declared = why.pick(
        "declared_original_url",
        ("label:原文链接", original[1] if original else None),
        ("label:来源链接", _foreign_link(page, info.source_href if info else None)),
    )
    author = values.get("author")
    return Article(
        url=url,
        site=page.host,
        kind=kind or kind_of(url),
        title=title,
        published_at=published_at,
        source_name=why.pick(
            "source_name",
            (f"cms:{cms.name}" if cms else "", cms.source if cms else None),
            ("label:来源", values.get("source")),
            ("meta:ContentSource", meta.get("ContentSource")),
        ),
        author=why.pick("author", ("label:作者", None if anonymous(author) else author)),
        editor=editor,
        original_title=why.pick("original_title", ("label:原标题", original_title)),
        category=why.pick(
            "category",
            ("meta:ColumnName", meta.get("ColumnName")),
            ("breadcrumb", category_from_breadcrumb(breadcrumb[1]) if breadcrumb else None),
        ),
        declared_original_url=declared,
        body_text=content.text,
        body_html=content.html,
        images=content.images,
        attachments=content.attachments,
        fetched_at=fetched_at,
        provenance=dict(why),
    )


def _title(
    page: Page, meta: dict[str, str], cms: CmsParts | None, info: InfoLine | None, why: _Provenance
) -> tuple[_Element | None, str]:
    """The title element and text: CMS markup, then a heading that matches <title> or meta."""
    if cms and cms.title is not None and (text := visible_text(cms.title)):
        why["title"] = f"cms:{cms.name}"
        return cms.title, text
    references = [
        meta.get("ArticleTitle", ""),
        page.head_title,
        *_TITLE_SPLIT.split(page.head_title),
    ]
    references = [ref for ref in references if len(ref) >= 4]
    best: tuple[float, _Element, str] | None = None
    before_info = True
    for element in page.iter_elements():
        if info is not None and element is info.element:
            before_info = False
        if not _looks_like_heading(element):
            continue
        text = visible_text(element)
        if not 4 <= len(text) <= 120:
            continue
        score = max((_overlap(text, ref) for ref in references), default=0.0)
        score += 0.2 if before_info else 0.0
        score += 0.1 if tag_of(element) in ("h1", "h2") else 0.0
        if best is None or score > best[0]:
            best = (score, element, text)
    if best is not None and best[0] >= 0.5:
        why["title"] = "heading"
        return best[1], best[2]
    if meta.get("ArticleTitle"):
        why["title"] = "meta:ArticleTitle"
        return None, meta["ArticleTitle"]
    segments = [ref for ref in _TITLE_SPLIT.split(page.head_title) if len(ref) >= 4]
    if segments:
        why["title"] = "head:title"
        return None, segments[0]
    return None, ""


def _looks_like_heading(element: _Element) -> bool:
    tag = tag_of(element)
    if tag in ("h1", "h2", "h3", "h4"):
        return True
    marks = f"{element.get('class', '')} {element.get('id', '')}".lower()
    return "title" in marks and tag not in ("a", "li", "ul", "img", "input")


def _overlap(text: str, reference: str) -> float:
    """How well a heading matches a reference title: 1.0 equal, else the shared share."""
    if text == reference:
        return 1.0
    if reference in text or text in reference:
        return min(len(text), len(reference)) / max(len(text), len(reference))
    return 0.0


def _published_at(
    page: Page,
    meta: dict[str, str],
    cms: CmsParts | None,
    info: InfoLine | None,
    title_element: _Element | None,
    listing_date: datetime | None,
    why: _Provenance,
) -> datetime | None:
    """The visible date, made precise by a same-day meta PubDate; a meta that disagrees loses."""
    visible_signal, visible_text_ = (
        (f"cms:{cms.name}", cms.date_text)
        if cms and parse_date(cms.date_text)
        else ("label:时间", info.values.get("date") if info else None)
    )
    visible = parse_date(visible_text_)
    meta_text = meta.get("PubDate", "")
    from_meta = parse_date(meta_text)
    from_url = date_from_url(page.url)
    same_day = visible and from_meta and visible.date() == from_meta.date()
    if same_day and has_time(meta_text) and not has_time(visible_text_ or ""):
        why["published_at"] = "meta:PubDate"
        return from_meta
    if visible:
        why["published_at"] = visible_signal
        return visible
    if from_meta and (from_url is None or abs((from_meta - from_url).days) <= 1):
        why["published_at"] = "meta:PubDate"
        return from_meta
    if from_url:
        why["published_at"] = "url"
        return from_url
    if listing_date:
        why["published_at"] = "listing"
        return listing_date
    near_title = _date_near(page, title_element)
    if near_title:
        why["published_at"] = "text"
    return near_title


def _date_near(page: Page, title_element: _Element | None, window: int = 8) -> datetime | None:
    """The first date in the lines just after the title (or at the top of the page)."""
    lines = visible_lines(page.body())
    start = 0
    if title_element is not None:
        title = visible_text(title_element)
        start = next((i for i, line in enumerate(lines) if title in line), 0)
    for line in lines[start : start + window]:
        if found := parse_date(line):
            return found
    return None


def _take_original_title(container: _Element) -> str | None:
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
