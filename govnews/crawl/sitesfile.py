"""Sites added by configuration: the TOML file named by ``GOVNEWS_SITES``, loaded and checked.

Each ``[[sites]]`` table describes one site for the ``sites`` spider: its name, kind,
start URLs and hosts, and, where a user wants to say it rather than let the spider find it
(:mod:`govnews.extract.discovery`), which links lead to its listings and articles and how
its listings page (``links``, ``none``, or the paging kind of a CMS family: ``trs``,
``hanweb``, ``fujian`` …, from :data:`govnews.extract.cms.PAGINGS`); CSS or XPath
selectors that correct the extraction engine's fields
(:class:`govnews.extract.selectors.Selectors`), and its politeness (delay, concurrency).
``data/sites.toml`` documents every key. Every mistake is a :class:`SitesConfigError`
naming the file, the site and the key; a file without sites is no mistake, but a warning.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit

from govnews.core.errors import ConfigError
from govnews.extract.cms import PAGINGS
from govnews.extract.selectors import SELECTOR_FIELDS, BadSelector, Selectors, to_xpath
from govnews.items import Kind

_SITE_KEYS = frozenset(
    {
        "name",
        "kind",
        "start_urls",
        "allowed_hosts",
        "listing",
        "article",
        "pagination",
        "selectors",
        "delay",
        "concurrency",
    }
)
_REQUIRED = ("name", "kind", "start_urls", "allowed_hosts")
#: The keys of ``[sites.pagination]`` by kind: the generic kinds, then the CMS families'.
_PAGINATION_KEYS = {
    "none": frozenset({"kind"}),
    "links": frozenset({"kind", "links"}),
    **{kind: frozenset({"kind", *paging.options}) for kind, paging in PAGINGS.items()},
}
_NAME = re.compile(r"^[\w.-]+$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")

logger = logging.getLogger(__name__)


class SitesConfigError(ConfigError):
    """A sites file that cannot be used; the message names the file, the site and the key."""


@dataclass(frozen=True)
class Pagination:
    """How a listing's further pages are found.

    ``none``: they are not. ``links``: links matching ``links`` (any 下一页 or numbered
    page link when ``links`` is not given). Any other kind is a CMS
    family's (:data:`govnews.extract.cms.PAGINGS`): ``trs``, the ``createPageHTML(count,
    current, name, ext)`` call of TRS WCM lists; ``hanweb``, the records of 大汉 JCMS's
    ``<datastore>``, then POST windows to ``dataproxy.jsp``. ``options`` holds the
    whole-number keys the family's paging takes (hanweb: ``perpage``, ``window``) that the
    file sets.
    """

    kind: str
    links: tuple[re.Pattern[str], ...] = ()
    options: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Site:
    """One configured site.

    ``article``, ``listing`` and ``pagination`` are what the file says; left out, the
    spider finds them on the pages (empty patterns, ``pagination`` None).
    """

    name: str
    kind: Kind
    start_urls: tuple[str, ...]
    allowed_hosts: frozenset[str]
    article: tuple[re.Pattern[str], ...] = ()
    listing: tuple[re.Pattern[str], ...] = ()
    pagination: Pagination | None = None
    selectors: Selectors = Selectors()
    #: Seconds between requests to each of its hosts; None: the crawl's DOWNLOAD_DELAY.
    delay: float | None = None
    #: Requests at once to each of its hosts; None: CONCURRENT_REQUESTS_PER_DOMAIN.
    concurrency: int | None = None

    def allows(self, url: str) -> bool:
        """True when ``url`` is on one of the site's hosts."""
        return _host(url) in self.allowed_hosts

    def is_article(self, url: str) -> bool:
        """True for the site's configured article pages (an ``article`` pattern matches)."""
        return self.allows(url) and any(p.search(url) for p in self.article)

    def is_listing(self, url: str) -> bool:
        """True for the site's configured listing pages (a ``listing`` pattern matches)."""
        return self.allows(url) and any(p.search(url) for p in self.listing)


@dataclass(frozen=True)
class SitesFile:
    """The sites of one configuration file."""

    path: str
    sites: tuple[Site, ...]

    def select(self, names: str | None) -> list[Site]:
        """The sites named in ``names`` (comma-separated), or all of them when it is empty."""
        wanted = [name.strip() for name in (names or "").split(",") if name.strip()]
        if not wanted:
            return list(self.sites)
        by_name = {site.name: site for site in self.sites}
        unknown = [name for name in wanted if name not in by_name]
        if unknown:
            known = ", ".join(by_name) or "none"
            raise SitesConfigError(
                f"{self.path}: no site named {', '.join(map(repr, unknown))} (sites: {known})"
            )
        return [by_name[name] for name in dict.fromkeys(wanted)]

    def site_for(self, url: str) -> Site | None:
        """The site whose hosts include ``url``'s host."""
        host = _host(url)
        return next((site for site in self.sites if host in site.allowed_hosts), None)


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def load_sites(path: str | Path) -> SitesFile:
    """Read and check the sites file at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SitesConfigError(f"{path}: cannot read the sites file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SitesConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_sites(data, str(path))


def parse_sites(data: Mapping[str, Any], path: str) -> SitesFile:
    """Check the parsed TOML of a sites file (``path`` names it in errors)."""
    extra = sorted(set(data) - {"sites"})
    if extra:
        raise SitesConfigError(f"{path}: unknown key {extra[0]!r} (sites go in [[sites]] tables)")
    tables = data.get("sites", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SitesConfigError(f"{path}: 'sites' must be an array of tables ([[sites]])")
    if not tables:
        logger.warning("%s has no [[sites]] tables: the sites spider has nothing to crawl", path)
    sites: list[Site] = []
    owners: dict[str, str] = {}
    for number, table in enumerate(tables, start=1):
        site = _Reader(path, number, table).site()
        if any(other.name == site.name for other in sites):
            raise SitesConfigError(f"{path}: site {site.name!r}: key 'name': duplicate name")
        for host in sorted(site.allowed_hosts):
            if host in owners:
                raise SitesConfigError(
                    f"{path}: site {site.name!r}: key 'allowed_hosts': {host!r} "
                    f"is already a host of site {owners[host]!r}"
                )
            owners[host] = site.name
        sites.append(site)
    return SitesFile(path, tuple(sites))


class _Reader:
    """Reads one ``[[sites]]`` table; every error names the file, the site and the key."""

    def __init__(self, path: str, number: int, table: Mapping[str, Any]) -> None:
        self.path = path
        self.table = table
        name = table.get("name")
        self.where = f"site {name!r}" if isinstance(name, str) and name else f"site #{number}"

    def error(self, key: str, problem: str) -> SitesConfigError:
        return SitesConfigError(f"{self.path}: {self.where}: key {key!r}: {problem}")

    def site(self) -> Site:
        self._keys(self.table, _SITE_KEYS, "")
        for key in _REQUIRED:
            if key not in self.table:
                raise self.error(key, "missing (required)")
        name = self._string("name")
        if not _NAME.match(name):
            raise self.error("name", "use letters, digits, '.', '-' and '_' only")
        kind = self._string("kind")
        if kind not in get_args(Kind):
            raise self.error("kind", f"must be 'gov' or 'portal', not {kind!r}")
        hosts = frozenset(self._hosts())
        start_urls = self._strings("start_urls")
        for url in start_urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or (parts.hostname or "") not in hosts:
                raise self.error("start_urls", f"{url!r} is not an http(s) URL of allowed_hosts")
        return Site(
            name=name,
            kind="gov" if kind == "gov" else "portal",
            start_urls=tuple(start_urls),
            allowed_hosts=hosts,
            article=self._regexes(self.table, "article", required=False),
            listing=self._regexes(self.table, "listing", required=False),
            pagination=self._pagination(),
            selectors=self._selectors(),
            delay=self._number("delay"),
            concurrency=self._positive(self.table, "concurrency"),
        )

    def _keys(self, table: Mapping[str, Any], allowed: Iterable[str], prefix: str) -> None:
        unknown = sorted(set(table) - set(allowed))
        if unknown:
            raise self.error(prefix + unknown[0], f"unknown key (known: {', '.join(allowed)})")

    def _string(self, key: str) -> str:
        value = self.table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, "must be a non-empty string")
        return value.strip()

    def _strings(
        self, key: str, table: Mapping[str, Any] | None = None, label: str | None = None
    ) -> list[str]:
        value = (self.table if table is None else table)[key]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(item, str) and item.strip() for item in value)
        ):
            raise self.error(label or key, "must be a non-empty list of strings")
        return [item.strip() for item in value]

    def _hosts(self) -> list[str]:
        hosts = [host.lower() for host in self._strings("allowed_hosts")]
        for host in hosts:
            if not _HOST.match(host):
                raise self.error("allowed_hosts", f"{host!r} is not a host name (no scheme, path)")
        return hosts

    def _regexes(
        self, table: Mapping[str, Any], key: str, label: str | None = None, required: bool = True
    ) -> tuple[re.Pattern[str], ...]:
        if key not in table and not required:
            return ()
        patterns: list[re.Pattern[str]] = []
        for text in self._strings(key, table, label):
            try:
                patterns.append(re.compile(text))
            except re.error as exc:
                raise self.error(label or key, f"bad regular expression {text!r}: {exc}") from exc
        return tuple(patterns)

    def _number(self, key: str) -> float | None:
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.error(key, f"must be a number of seconds ≥ 0, not {value!r}")
        return float(value)

    def _positive(self, table: Mapping[str, Any], key: str, label: str | None = None) -> int | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(label or key, f"must be a whole number ≥ 1, not {value!r}")
        return value

    def _pagination(self) -> Pagination | None:
        table = self.table.get("pagination")
        if table is None:
            return None
        if not isinstance(table, dict):
            raise self.error("pagination", "must be a table with a 'kind'")
        kind = table.get("kind")
        if kind not in _PAGINATION_KEYS:
            kinds = ", ".join(map(repr, _PAGINATION_KEYS))
            raise self.error("pagination.kind", f"must be one of {kinds}, not {kind!r}")
        self._keys(table, _PAGINATION_KEYS[kind], "pagination.")
        paging = PAGINGS.get(kind)
        options: dict[str, int] = {}
        for key in paging.options if paging else ():
            value = self._positive(table, key, f"pagination.{key}")
            if value is not None:
                options[key] = value
        return Pagination(
            kind=kind,
            links=self._regexes(table, "links", "pagination.links", required=False),
            options=options,
        )

    def _selectors(self) -> Selectors:
        table = self.table.get("selectors")
        if table is None:
            return Selectors()
        if not isinstance(table, dict):
            raise self.error("selectors", "must be a table of field = selector")
        self._keys(table, SELECTOR_FIELDS, "selectors.")
        xpaths: dict[str, str] = {}
        for name, expression in table.items():
            key = f"selectors.{name}"
            if not isinstance(expression, str) or not expression.strip():
                raise self.error(key, "must be a non-empty CSS or XPath string")
            xpaths[name] = self._xpath(key, expression.strip())
        return Selectors(xpaths)

    def _xpath(self, key: str, expression: str) -> str:
        """``expression`` as XPath: kept when it starts with ``/`` or ``(``, else read as CSS."""
        try:
            return to_xpath(expression)
        except BadSelector as exc:
            raise self.error(key, f"bad selector {expression!r}: {exc}") from exc
