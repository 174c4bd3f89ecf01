"""The standard meta tags of Chinese government sites, validated before they are trusted."""

from __future__ import annotations

import re

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
