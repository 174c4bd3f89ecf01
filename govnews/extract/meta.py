"""The standard meta tags of Chinese government sites, validated before they are trusted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from govnews.core.text import clean_space
from govnews.extract.page import Page

GOV_META = (
    "ArticleTitle",
    "PubDate",
    "ContentSource",
    "Author",
    "SiteName",
    "SiteDomain",
    "SiteIDCode",
    "ColumnName",
    "Keywords",
    "Description",
    "Url",
)

_TEMPLATE_LEFTOVER = re.compile(r"[‹›<>{}]|\$!?\{|\$\[|<%|%>|\{\{")
_NOT_A_SOURCE = frozenset({"本网", "本站", "本网站", "网站", "原创", "未知", "无"})


def usable(value: str) -> bool:
    """False for empty values and CMS template leftovers such as ``‹CMS…`` or ``$!{x}``."""
    return bool(value) and not _TEMPLATE_LEFTOVER.search(value)


def gov_meta(page: Page) -> dict[str, str]:
    """The government meta tags whose values are usable, keyed by their standard names."""
    found = {name: page.meta(name) for name in GOV_META}
    values = {name: value for name, value in found.items() if usable(value)}
    if values.get("ContentSource") in _NOT_A_SOURCE:
        del values["ContentSource"]
    return values


#: schema.org types whose ``author`` is the article's author.
_ARTICLE_TYPES = frozenset({"Article", "NewsArticle", "BlogPosting", "ReportageNews", "Report"})


def structured_author(page: Page) -> str | None:
    """The author a page declares in schema.org JSON-LD (``NewsArticle.author.name``).

    Platforms (头条号, 企鹅号, blogs) name the publishing account there and nowhere as
    a labelled line. Several authors are joined by a space; malformed JSON is ignored.
    """
    for item in _json_ld(page):
        types = item.get("@type")
        types = types if isinstance(types, list) else [types]
        if not _ARTICLE_TYPES.intersection(t for t in types if isinstance(t, str)):
            continue
        authors = item.get("author")
        authors = authors if isinstance(authors, list) else [authors]
        names = [
            clean_space(a.get("name", "") if isinstance(a, dict) else a)
            for a in authors
            if isinstance(a, dict | str)
        ]
        names = [name for name in names if name and usable(name)]
        if names:
            return " ".join(names)
    return None


# The parsed page has no scripts left: JSON-LD blocks are read from the HTML text.
_JSON_LD = re.compile(
    r"<script[^>]*type\s*=\s*[\"']?application/ld\+json[^>]*>(.*?)</script>",
    re.IGNORECASE | re.DOTALL,
)


def _json_ld(page: Page) -> Iterator[dict[str, Any]]:
    for block in _JSON_LD.findall(page.html):
        try:
            data = json.loads(block)
        except ValueError:
            continue
        items = data if isinstance(data, list) else [data]
        for item in items:
            if isinstance(item, dict):
                graph = item.get("@graph")
                yield from (
                    (g for g in graph if isinstance(g, dict)) if isinstance(graph, list) else [item]
                )
