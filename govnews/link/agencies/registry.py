"""The agency registry: the names reposts give in 来源 → the agency's site and region.

A repost names its original's publisher in words, not by URL: 漳州市农业农村局,
漳州农业农村局 (short), 漳州市农业局 (former), 漳州市农业农村局网站 (the site), or
市农业农村局 (no region). :func:`normalise_name` turns each spelling into a key;
:class:`AgencyRegistry` maps keys to a :class:`KnownAgency` (canonical name,
host, region code). It starts from the curated ``data/agencies.toml`` and learns
from the meta tags of crawled government pages (:meth:`AgencyRegistry.learn`).

A name without its region is completed from the page's context
(:class:`ResolveContext`) only when exactly one registered agency fits; anything
else is unknown, kept with its normalised name and counted for reporting
(:func:`unknown_names`), never guessed. The registry is stored in the tables of
``govnews.store.agencies`` (:meth:`AgencyRegistry.save`, :meth:`AgencyRegistry.load`).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import delete, inspect, select
from sqlalchemy.orm import Session

from govnews.store import agencies as tables

NameKind = Literal["full", "short", "former", "site"]
Method = Literal["exact", "alias", "completed"]
Origin = Literal["curated", "page"]
UnknownReason = Literal["empty", "not-a-name", "unregistered", "ambiguous", "no-context"]

DEFAULT_AGENCIES_FILE = Path(__file__).with_name("agencies.toml")

# Longer strings are not names (a whole info line, a paragraph): never stored.
MAX_NAME_LENGTH = 100

# Completions and contexts remembered at most (a cache is emptied when full).
_CACHE_SIZE = 65536
_CONTEXT_CACHE_SIZE = 256

# Which kind of name wins when two agencies claim one key.
_KIND_RANK: dict[str, int] = {"site": 0, "former": 1, "short": 2, "full": 3}

# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SOURCE_LABELS = (
    "信息来源|文章来源|新闻来源|内容来源|稿件来源|来源单位|发布机构|发布单位|"
    "稿源|来源|出处|转载自|转自|摘自|选自"
)
# A source label with its colon anywhere (the whole info line was passed) …
_LABEL_INSIDE = re.compile(rf"(?:{_SOURCE_LABELS})\s*:")
# … or at the start, colon optional (摘自漳州日报).
_LABEL_START = re.compile(rf"^\s*(?:{_SOURCE_LABELS})\s*:?\s*")
# The next field of an info line ends the name: 来源:X 作者:Y 点击:Z.
_NEXT_FIELD = re.compile(
    r"\s*(?:作者|责任编辑|编辑|记者|通讯员|摄影|点击(?:数|量|率)?|浏览(?:次数|量)?|阅读(?:数|量)?"
    r"|发布(?:时间|日期)|更新时间|时间|日期|字号|字体)\s*:"
    r"|\s+\d{4}\s*[-/.年]\s*\d{1,2}"
)
_OPEN = "([【〔〖"
_CLOSE = ")]】〕〗"
_BRACKETED = re.compile(
    rf"[{re.escape(_OPEN)}]([^{re.escape(_OPEN + _CLOSE)}]*)[{re.escape(_CLOSE)}]"
)
_STRAY_BRACKET = re.compile(rf"[{re.escape(_OPEN + _CLOSE)}]")
# Quotes around a name (《闽南日报》) and the dots of a brand (中国·漳州) go.
_QUOTES = dict.fromkeys(map(ord, "《》〈〉「」『』“”‘’\"'·・"), None)
# What 来源 says when it names no publisher: the page itself, nobody, "the internet".
_NOT_A_NAME = re.compile(
    r"本(?:网|站|报|台|刊|单位|机关|部门).*|佚名|未知|不详|无|网络|互联网|综合|原创|转载"
)
_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = ",.;:!?、，。；：！？…·・-—–_|/\\*#~"
# Suffixes that name the site or channel of an agency rather than the agency.
_SITE_SUFFIXES = (
    "微信公众号",
    "官方网站",
    "门户网站",
    "官方微博",
    "公众号",
    "门户网",
    "网站",
    "官网",
    "门户",
)
# 网 names a site only after the name of an agency (漳州市农业农村局网),
# not after a newspaper's or a portal's (漳州新闻网, 农民工法治网).
_AGENCY_CHARS_BEFORE_NET = frozenset("局委厅办府院会部署处室所站心司馆队")
_LEVEL_BEFORE_GOV_NET = frozenset("省市区县旗州民")


@lru_cache(maxsize=131072)
def _normalise_parts(text: str) -> tuple[str, tuple[str, ...]]:
    """The normalised name of ``text`` and the contents of its bracketed annotations."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_QUOTES)
    inside = _LABEL_INSIDE.search(text)
    if inside is not None:
        text = text[inside.start() :]
    text = _LABEL_START.sub("", text, count=1)
    nxt = _NEXT_FIELD.search(text)
    if nxt is not None and nxt.start() > 0:
        text = text[: nxt.start()]
    notes: list[str] = []
    while (match := _BRACKETED.search(text)) is not None:
        notes.append(match.group(1))
        text = f"{text[: match.start()]} {text[match.end() :]}"
    text = _STRAY_BRACKET.sub(" ", text)
    name = _clean(text)
    annotations = tuple(note for note in (_clean(n) for n in notes) if note)
    if not name and annotations:
        # The whole name was bracketed: 【漳州市农业农村局】, （来源：漳州日报）.
        name, annotations = annotations[0], annotations[1:]
    return name, annotations


def _clean(text: str) -> str:
    """Labels, spaces, edge punctuation and site suffixes removed from one name."""
    previous = None
    while text != previous:
        previous = text
        text = _LABEL_START.sub("", text, count=1)
        text = _SPACE.sub("", text).strip(_EDGE_PUNCT)
        text = _strip_site_suffix(text)
    return text


def _strip_site_suffix(name: str) -> str:
    """``name`` without a suffix naming its site (网站, 官网, 门户网站, 政府网, 网 …)."""
    if name.endswith(_SITE_SUFFIXES):
        for suffix in _SITE_SUFFIXES:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                return name[: -len(suffix)]
    if name.endswith("政府网"):
        # 漳州市政府网 → 漳州市政府, but 中国政府网 is the name of a site.
        return name[:-1] if len(name) >= 5 and name[-4] in _LEVEL_BEFORE_GOV_NET else name
    if name.endswith("网") and len(name) >= 3 and name[-2] in _AGENCY_CHARS_BEFORE_NET:
        return name[:-1]
    return name


def normalise_name(text: str) -> str:
    """The lookup key of an agency name as a 来源 line or a meta tag writes it.

    NFKC; 来源/信息来源/稿源 … labels and colons, the fields after the name
    (作者:, 点击: …), bracketed annotations (【转载】, （记者 张三）), quotes,
    spaces (full-width too), edge punctuation and suffixes naming the site
    (网站, 官网, 门户网站, 政府网 → 政府, 局网 → 局) are removed. A name that is
    wholly bracketed keeps its content. Names of newspapers and portals keep
    their 网/报 (漳州新闻网, 漳州日报).
    """
    return _normalise_parts(text)[0]


def _clean_host(value: str | None) -> str | None:
    """A lower-case host name from a host, ``host:port`` or URL; None when empty."""
    if not value:
        return None
    value = value.strip()
    if "://" not in value:
        value = "http://" + value
    try:
        host = urlsplit(value).hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


# ---------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------

_CODE = re.compile(r"\d{6}")
_LEVEL_CHARS = frozenset("省市区县旗")
_REGION_SUFFIXES = ("自治区", "自治州", "自治县", "自治旗", "省", "市", "区", "县", "旗")
_GOVERNMENT_OF_REGION = re.compile(r"(.{2,12}[省市区县旗州])人民政府")
_CONTEXT_FIELDS = ("title", "original_title", "category")
_UNIT_SUFFIXES = ("科", "处", "室", "股", "站", "所", "中心", "队", "办", "组")
_AGENCY_SUFFIXES = (
    "局", "委", "厅", "办", "政府", "院", "会", "部", "署", "处", "室", "所", "站", "中心",
    "司", "馆", "队",
)  # fmt: skip


def region_short_name(name: str) -> str | None:
    """The region's name without its level (漳州市 → 漳州), or None when too short."""
    for suffix in _REGION_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def _tier(code: str) -> int:
    """0 for a province, 1 for a prefecture, 2 for a county-level region."""
    if code.endswith("0000"):
        return 0
    return 1 if code.endswith("00") else 2


def _descends(child: str, parent: str) -> bool:
    """Whether region ``child`` is ``parent`` or lies within it (by code)."""
    if child == parent:
        return True
    if parent.endswith("0000"):
        return child[:2] == parent[:2]
    return parent.endswith("00") and child[:4] == parent[:4]


@dataclass(frozen=True, slots=True)
class Region:
    """An administrative division: 6-digit code, current and former names."""

    code: str
    name: str
    former: tuple[str, ...] = ()
    former_codes: tuple[str, ...] = ()
    origin: Origin = "curated"


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnownAgency:
    """A registered agency: canonical name, site host, region."""

    name: str
    host: str | None
    region_code: str | None
    region_name: str | None
    origin: Origin = "curated"


@dataclass(frozen=True, slots=True)
class ResolveContext:
    """What a page says about where it is, for completing names without a region.

    The page tier: ``regions``, region names or codes seen on the page (漳州,
    芗城区, 350600); ``texts``, short texts searched for region names when a
    name needs completing (title, breadcrumb, column: 漳州 and 芗城 count);
    ``body``, searched for full region names only (芗城区, not 芗城: 华安 is
    in 中华安全); ``agencies``, other agency names on the page, whose regions
    count as the page's. Then ``related_regions`` (regions of related
    articles), then ``default_region`` (a local portal's region). The first
    tier in which an agency fits decides.
    """

    regions: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    related_regions: tuple[str, ...] = ()
    default_region: str | None = None
    texts: tuple[str, ...] = ()
    body: str = ""

    @classmethod
    def of(
        cls,
        article: object,
        *,
        related_regions: Sequence[str] = (),
        default_region: str | None = None,
    ) -> ResolveContext:
        """The context of an article (an ``Article`` item or row): its title, column, body."""
        texts = tuple(
            value
            for value in (getattr(article, name, None) for name in _CONTEXT_FIELDS)
            if isinstance(value, str) and value
        )
        body = getattr(article, "body_text", None)
        return cls(
            related_regions=tuple(related_regions),
            default_region=default_region,
            texts=texts,
            body=body if isinstance(body, str) else "",
        )


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a 来源 name resolved to.

    ``name`` is the normalised name (kept for reporting when unknown);
    ``method`` is ``exact`` (the canonical name), ``alias`` (a short, former or
    site name; ``kind`` says which) or ``completed`` (a name without its
    region, completed from the name's own region or the context). When
    unknown, ``reason`` says why and ``candidates`` names the agencies that fit
    an ambiguous name.
    """

    name: str
    agency: KnownAgency | None = None
    method: Method | None = None
    kind: NameKind | None = None
    reason: UnknownReason | None = None
    candidates: tuple[str, ...] = ()

    @property
    def unknown(self) -> bool:
        """True when no agency was found."""
        return self.agency is None

    @property
    def how(self) -> str:
        """``method`` when resolved, else ``reason``: one word for a report or a column."""
        return self.method or self.reason or "unregistered"

    @property
    def host(self) -> str | None:
        """The agency's site host, if resolved."""
        return self.agency.host if self.agency else None

    @property
    def region_code(self) -> str | None:
        """The agency's region code, if resolved."""
        return self.agency.region_code if self.agency else None


@dataclass(frozen=True, slots=True)
class UnknownName:
    """A normalised name that resolved to no agency, how often, and one raw spelling."""

    name: str
    count: int
    example: str


# The region codes of a context, strongest tier first: page, related articles, default.
_Tiers = tuple[frozenset[str], ...]


@dataclass(slots=True)
class _Seen:
    """Counts of an unknown name."""

    example: str
    seen: int
    first: datetime
    last: datetime


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------


class AgencyRegistry:
    """Agency names → :class:`KnownAgency`; dict lookups, completion from context."""

    def __init__(self) -> None:
        self._agencies: dict[str, KnownAgency] = {}
        self._names: dict[str, tuple[str, NameKind]] = {}
        self._by_host: dict[str, set[str]] = {}
        self._regions: dict[str, Region] = {}
        self._region_names: dict[str, frozenset[str]] = {}
        self._full_region_names: set[str] = set()
        self._code_alias: dict[str, str] = {}
        self._max_region_len = 0
        self._region_first_chars: set[str] = set()
        self._stems: dict[str, set[str]] = {}
        self._stems_dirty = False
        # Bumped by every change of agencies, names or regions.
        self._version = 0
        # Completions by (name, regions of its annotations, context tiers), and the
        # tiers of the latest contexts; both valid for one version.
        self._completions: dict[tuple[str, frozenset[str], _Tiers], Resolution] = {}
        self._tiers: dict[ResolveContext, _Tiers] = {}
        self._cache_version = 0
        self._unknown: dict[str, _Seen] = {}
        self._unknown_pending: Counter[str] = Counter()
        self.conflicts: list[str] = []

    # -- construction -------------------------------------------------------

    @classmethod
    def from_toml(cls, path: str | Path = DEFAULT_AGENCIES_FILE) -> AgencyRegistry:
        """A registry of the curated file (``data/agencies.toml`` by default)."""
        registry = cls()
        registry.read_toml(path)
        return registry

    def read_toml(self, path: str | Path) -> None:
        """Add the ``[[region]]`` and ``[[agency]]`` tables of a curated TOML file."""
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
        for entry in data.get("region", []):
            self.add_region(
                _text(entry, "code", path),
                _text(entry, "name", path),
                former=_texts(entry, "former", path),
                former_codes=_texts(entry, "former_codes", path),
            )
        for entry in data.get("agency", []):
            name = _text(entry, "name", path)
            code = entry.get("region_code")
            region_name = entry.get("region_name")
            if code is not None and region_name is not None:
                known = self._regions.get(self.canonical_code(str(code)) or "")
                if known is None or region_name not in (known.name, *known.former):
                    raise ValueError(f"{path}: {name}: region {code} is not {region_name!r}")
            self.add_agency(
                name,
                host=entry.get("host"),
                region_code=None if code is None else str(code),
                short=_texts(entry, "short", path),
                former=_texts(entry, "former", path),
                site=_texts(entry, "site", path),
            )

    def add_region(
        self,
        code: str,
        name: str,
        *,
        former: Iterable[str] = (),
        former_codes: Iterable[str] = (),
        origin: Origin = "curated",
    ) -> Region:
        """Register a region (a curated one is not changed by a learned one)."""
        if not _CODE.fullmatch(code):
            raise ValueError(f"region code must be 6 digits: {code!r}")
        existing = self._regions.get(code)
        if existing is not None and existing.origin == "curated" and origin == "page":
            return existing
        former_names = tuple(dict.fromkeys((*(existing.former if existing else ()), *former)))
        codes = tuple(dict.fromkeys((*(existing.former_codes if existing else ()), *former_codes)))
        if existing is not None and existing.name != name and existing.name not in former_names:
            former_names = (*former_names, existing.name)
        region = Region(code, name, former_names, codes, origin)
        if region == existing:
            return region
        self._version += 1
        self._regions[code] = region
        for old in codes:
            self._code_alias[old] = code
        for full in (name, *former_names):
            self._add_region_name(full, code, full=True)
            short = region_short_name(full)
            if short:
                self._add_region_name(short, code, full=False)
        for agency in list(self._agencies.values()):
            if agency.region_code == code and agency.region_name != name:
                self._put(replace(agency, region_name=name))
        self._stems_dirty = True
        return region

    def _add_region_name(self, name: str, code: str, *, full: bool) -> None:
        """Index one spelling of a region."""
        self._region_names[name] = self._region_names.get(name, frozenset()) | {code}
        if full:
            self._full_region_names.add(name)
        self._max_region_len = max(self._max_region_len, len(name))
        self._region_first_chars.add(name[0])

    def add_agency(
        self,
        name: str,
        host: str | None = None,
        region_code: str | None = None,
        *,
        short: Iterable[str] = (),
        former: Iterable[str] = (),
        site: Iterable[str] = (),
        origin: Origin = "curated",
    ) -> KnownAgency:
        """Register an agency with its names; an existing one gets missing host and region."""
        canonical = normalise_name(name)
        if not 2 <= len(canonical) <= MAX_NAME_LENGTH:
            raise ValueError(f"not an agency name: {name!r}")
        code = self.canonical_code(region_code) if region_code else None
        if region_code and code is None:
            raise ValueError(f"{name}: region code must be 6 digits: {region_code!r}")
        if code is None:
            code = self._region_in_name(canonical)
        agency = self._agencies.get(canonical)
        if agency is None:
            agency = KnownAgency(
                canonical, _clean_host(host), code, self._region_name(code), origin
            )
            self._put(agency)
        else:
            self._fill(agency, _clean_host(host), code)
        self._add_name(canonical, canonical, "full")
        aliases: tuple[tuple[NameKind, Iterable[str]], ...] = (
            ("short", short),
            ("former", former),
            ("site", site),
        )
        for kind, names in aliases:
            for alias in names:
                self._add_name(normalise_name(alias), canonical, kind)
        return self._agencies[canonical]

    def _put(self, agency: KnownAgency) -> None:
        """Store (or replace) an agency record and index its host."""
        old = self._agencies.get(agency.name)
        if old is not None and old.host and old.host != agency.host:
            self._by_host.get(old.host, set()).discard(agency.name)
        self._agencies[agency.name] = agency
        self._version += 1
        if agency.host:
            self._by_host.setdefault(agency.host, set()).add(agency.name)
        self._stems_dirty = True

    def _fill(self, agency: KnownAgency, host: str | None, code: str | None) -> KnownAgency:
        """Give ``agency`` a host and region it lacks; a different one is noted, not taken."""
        changes: dict[str, Any] = {}
        if host and agency.host is None:
            changes["host"] = host
        elif host and host != agency.host:
            self.conflicts.append(f"{agency.name}: host {host} seen, {agency.host} kept")
        if code and agency.region_code is None:
            changes.update(region_code=code, region_name=self._region_name(code))
        elif code and code != agency.region_code:
            self.conflicts.append(f"{agency.name}: region {code} seen, {agency.region_code} kept")
        if not changes:
            return agency
        updated = replace(agency, **changes)
        self._put(updated)
        return updated

    def _add_name(self, key: str, canonical: str, kind: NameKind) -> None:
        """Map ``key`` to an agency; a full name beats any other kind of another agency."""
        if not 2 <= len(key) <= MAX_NAME_LENGTH:
            return
        old = self._names.get(key)
        if old is not None:
            if old[0] == canonical:
                if _KIND_RANK[kind] > _KIND_RANK[old[1]]:
                    self._names[key] = (canonical, kind)
                    self._version += 1
                return
            if kind != "full" or old[1] == "full":
                self.conflicts.append(f"{key}: name of {old[0]}, not also of {canonical}")
                return
            self.conflicts.append(f"{key}: now the name of {canonical}, no longer of {old[0]}")
        self._names[key] = (canonical, kind)
        self._version += 1
        self._stems_dirty = True

    # -- lookups ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._agencies)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalise_name(name) in self._names

    def __iter__(self) -> Iterator[KnownAgency]:
        return iter(list(self._agencies.values()))

    def agency(self, name: str) -> KnownAgency | None:
        """The agency a full, short, former or site name (any spelling) belongs to."""
        hit = self._names.get(normalise_name(name))
        return self._agencies[hit[0]] if hit else None

    def agencies_at(self, host: str) -> list[KnownAgency]:
        """The agencies whose site is on ``host`` (a county portal may hold several)."""
        key = _clean_host(host) or ""
        return [self._agencies[name] for name in sorted(self._by_host.get(key, ()))]

    def names_of(self, agency: str) -> dict[str, NameKind]:
        """Every name key of an agency (by its canonical name) and its kind."""
        return {key: kind for key, (name, kind) in self._names.items() if name == agency}

    def region(self, code: str) -> Region | None:
        """The region of a code (a former code gives its current region)."""
        canonical = self.canonical_code(code)
        return self._regions.get(canonical) if canonical else None

    def canonical_code(self, code: str) -> str | None:
        """A 6-digit region code, former codes mapped to current; None when malformed."""
        code = code.strip()
        if not _CODE.fullmatch(code):
            return None
        return self._code_alias.get(code, code)

    def region_codes(self, name: str) -> frozenset[str]:
        """The codes of a region name or short name (several when it is ambiguous)."""
        value = unicodedata.normalize("NFKC", name).strip()
        if _CODE.fullmatch(value):
            return frozenset({self._code_alias.get(value, value)})
        return self._region_names.get(_SPACE.sub("", value), frozenset())

    def find_regions(self, text: str, *, short_forms: bool = True) -> tuple[str, ...]:
        """Codes of the regions named in ``text``, in order of first mention.

        Longest names first (漳州市 before 漳州). ``short_forms=False`` ignores
        names without their level (华安, 平和 are ordinary words too), which is
        safer on body text.
        """
        found: dict[str, None] = {}
        names, longest = self._region_names, self._max_region_len
        first_chars = self._region_first_chars
        i, size = 0, len(text)
        while i < size:
            if text[i] not in first_chars:
                i += 1
                continue
            for length in range(min(longest, size - i), 1, -1):
                piece = text[i : i + length]
                codes = names.get(piece)
                if codes and (short_forms or piece in self._full_region_names):
                    found.update(dict.fromkeys(sorted(codes)))
                    i += length
                    break
            else:
                i += 1
        return tuple(found)

    def page_context(
        self,
        *texts: str,
        agencies: Sequence[str] = (),
        related_regions: Sequence[str] = (),
        default_region: str | None = None,
        short_forms: bool = True,
    ) -> ResolveContext:
        """A :class:`ResolveContext` from a page's texts (title, breadcrumb, body …)."""
        regions: dict[str, None] = {}
        for text in texts:
            regions.update(dict.fromkeys(self.find_regions(text, short_forms=short_forms)))
        return ResolveContext(
            regions=tuple(regions),
            agencies=tuple(agencies),
            related_regions=tuple(related_regions),
            default_region=default_region,
        )

    # -- resolving ----------------------------------------------------------

    def resolve(
        self, source_name: str | None, *, context: ResolveContext | None = None, record: bool = True
    ) -> Resolution:
        """Resolve a 来源 name; unknown names are counted unless ``record`` is False."""
        if not source_name:
            return Resolution(name="", reason="empty")
        key, notes = _normalise_parts(source_name)
        if not key:
            return Resolution(name="", reason="empty")
        hit = self.known(source_name)
        if hit is not None:
            return hit
        if _NOT_A_NAME.fullmatch(key):
            return Resolution(name=key, reason="not-a-name")
        note_regions: frozenset[str] = frozenset()
        for note in notes:
            note_regions |= self._region_names.get(note, frozenset())
        if self._cache_version != self._version or len(self._completions) > _CACHE_SIZE:
            self._completions.clear()
            self._tiers.clear()
            self._cache_version = self._version
        tiers = self._context_tiers(context)
        cache_key = (key, note_regions, tiers)
        result = self._completions.get(cache_key)
        if result is None:
            result = self._completions[cache_key] = self._complete(key, tiers, note_regions)
        if result.unknown and record and len(key) <= MAX_NAME_LENGTH:
            self._record_unknown(key, source_name)
        return result

    def known(self, source_name: str) -> Resolution | None:
        """The agency a 来源 name (or its bracketed note) names exactly or by alias, or None.

        What :meth:`resolve` finds without context, cheaply; None means the name
        needs completing from context, or is unknown.
        """
        key, notes = _normalise_parts(source_name)
        for name in (key, *notes):
            hit = self._lookup(name) if name else None
            if hit is not None:
                return hit
        return None

    def _lookup(self, key: str) -> Resolution | None:
        """An exact or alias match of a normalised name."""
        hit = self._names.get(key)
        if hit is None:
            return None
        canonical, kind = hit
        method: Method = "exact" if kind == "full" and key == canonical else "alias"
        return Resolution(name=key, agency=self._agencies[canonical], method=method, kind=kind)

    def _complete(self, key: str, tiers: _Tiers, note_regions: frozenset[str]) -> Resolution:
        """Complete a name without (all of) its region; unknown unless exactly one fits."""
        self._ensure_stems()
        prefixes, rest = self._parse(key)
        named: frozenset[str] | None = None
        if prefixes:
            named = self._narrow(prefixes)
            if not named:
                return Resolution(name=key, reason="unregistered")
            options: list[tuple[str, str | None]] = [(rest, None)]
        else:
            named = note_regions or None
            options = []
            if rest[0] in _LEVEL_CHARS and len(rest) >= 3:
                options.append((rest[1:], rest[0]))
            options.append((rest, None))
        for stem, level in options:
            candidates = self._stems.get(stem)
            if not candidates:
                continue
            fitting = {
                name
                for name in candidates
                if level is None or level in self._levels(self._agencies[name].region_code)
            }
            if named is not None:
                fitting = {n for n in fitting if self._agencies[n].region_code in named}
                if len(fitting) == 1:
                    return self._completed(key, fitting)
            if fitting:
                return self._by_context(key, fitting, level, tiers)
        return Resolution(name=key, reason="unregistered")

    def _by_context(
        self, key: str, fitting: set[str], level: str | None, tiers: _Tiers
    ) -> Resolution:
        """Pick the one agency of ``fitting`` whose region the context names."""
        for codes in tiers:
            matches = {n for n in fitting if self._agencies[n].region_code in codes}
            if len(matches) > 1:
                return Resolution(name=key, reason="ambiguous", candidates=tuple(sorted(matches)))
            if len(matches) == 1:
                region = self._agencies[next(iter(matches))].region_code or ""
                rivals = [
                    code
                    for code in codes
                    if code != region
                    and _tier(code) == _tier(region)
                    and (level is None or level in self._levels(code))
                ]
                if rivals:
                    # Another region of the same level on the page: its agency of
                    # that name may simply not be registered.
                    return Resolution(name=key, reason="ambiguous", candidates=tuple(matches))
                return self._completed(key, matches)
        reason: UnknownReason = "unregistered" if tiers else "no-context"
        return Resolution(name=key, reason=reason, candidates=tuple(sorted(fitting)))

    def _completed(self, key: str, matches: set[str]) -> Resolution:
        """The resolution of a completed name."""
        agency = self._agencies[next(iter(matches))]
        return Resolution(name=key, agency=agency, method="completed")

    def _context_tiers(self, context: ResolveContext | None) -> _Tiers:
        """The region codes of each tier of the context, strongest first (cached)."""
        if context is None:
            return ()
        tiers = self._tiers.get(context)
        if tiers is None:
            if len(self._tiers) >= _CONTEXT_CACHE_SIZE:
                self._tiers.clear()
            tiers = self._tiers[context] = self._read_context(context)
        return tiers

    def _read_context(self, context: ResolveContext) -> _Tiers:
        """The region codes of each tier of the context: page, related, default."""
        page = set(self._codes(context.regions))
        for text in context.texts:
            page.update(self.find_regions(text))
        if context.body:
            page.update(self.find_regions(context.body, short_forms=False))
        for name in context.agencies:
            found = self._lookup(normalise_name(name))
            if found is not None and found.agency and found.agency.region_code:
                page.add(found.agency.region_code)
        tiers = [frozenset(page), frozenset(self._codes(context.related_regions))]
        if context.default_region:
            tiers.append(frozenset(self._codes((context.default_region,))))
        return tuple(tier for tier in tiers if tier)

    def _codes(self, values: Iterable[str]) -> Iterator[str]:
        """Region codes of names or codes."""
        for value in values:
            yield from self.region_codes(value)

    def _parse(self, key: str) -> tuple[list[frozenset[str]], str]:
        """The region names ``key`` starts with (福建省, 漳州市 …) and the rest."""
        prefixes: list[frozenset[str]] = []
        rest = key
        while True:
            for length in range(min(self._max_region_len, len(rest) - 2), 1, -1):
                codes = self._region_names.get(rest[:length])
                if codes:
                    prefixes.append(codes)
                    rest = rest[length:]
                    break
            else:
                return prefixes, rest

    @staticmethod
    def _narrow(prefixes: list[frozenset[str]]) -> frozenset[str]:
        """The codes of the last region prefix that lie within every earlier one."""
        codes = prefixes[-1]
        for outer in prefixes[:-1]:
            codes = frozenset(c for c in codes if any(_descends(c, o) for o in outer))
        return codes

    def _region_in_name(self, name: str) -> str | None:
        """The region a name starts with, when it is one region."""
        prefixes, _ = self._parse(name)
        codes = self._narrow(prefixes) if prefixes else frozenset()
        return next(iter(codes)) if len(codes) == 1 else None

    def _region_name(self, code: str | None) -> str | None:
        """The current name of a region code, if known."""
        region = self._regions.get(code) if code else None
        return region.name if region else None

    def _levels(self, code: str | None) -> frozenset[str]:
        """The level characters a name may use for the region (市 for 漳州市 …)."""
        if not code:
            return frozenset()
        region = self._regions.get(code)
        if region is not None:
            return frozenset(name[-1] for name in (region.name, *region.former))
        if code.endswith("0000"):
            return frozenset("省市")
        return frozenset("市") if code.endswith("00") else frozenset("区县市旗")

    def _ensure_stems(self) -> None:
        """Rebuild the index of names without their region (农业农村局 → agencies)."""
        if not self._stems_dirty:
            return
        stems: dict[str, set[str]] = {}
        for key, (canonical, _kind) in self._names.items():
            prefixes, rest = self._parse(key)
            if not prefixes or len(rest) < 2:
                continue
            region = self._agencies[canonical].region_code
            if region is None or region in self._narrow(prefixes):
                stems.setdefault(rest, set()).add(canonical)
        self._stems = stems
        self._stems_dirty = False

    # -- learning from government pages ------------------------------------

    def learn(
        self,
        site_name: str | None,
        site_domain: str | None,
        site_id_code: str | None,
        content_source: str | None,
        host: str | None,
    ) -> KnownAgency | None:
        """Learn from a government page's SiteName, SiteDomain, SiteIDCode and ContentSource.

        The page's own SiteName maps to its host (the URL's; SiteDomain only
        when the host is missing), the first six digits of SiteIDCode are the
        region. A known name gets a host or region it lacked; a site name that
        is no agency name (中国·漳州) becomes a ``site`` alias of the one agency
        on that host; any other new name becomes an agency of origin ``page``.
        A ContentSource naming a unit of the agency (…局办公室) becomes a
        ``site`` alias. Returns the page's agency, or None.
        """
        page_host = _clean_host(host) or _clean_host(site_domain)
        if page_host is None:
            return None
        code = self._site_region(site_id_code)
        name = normalise_name(site_name) if site_name else ""
        agency: KnownAgency | None = None
        owner = self._owner_of(page_host)
        if 2 <= len(name) <= MAX_NAME_LENGTH and not _NOT_A_NAME.fullmatch(name):
            self._learn_region_name(name, code)
            hit = self._names.get(name)
            if hit is not None:
                agency = self._fill(self._agencies[hit[0]], page_host, code)
            elif owner is not None and not name.endswith(_AGENCY_SUFFIXES):
                # A brand of the site (中国·漳州), not an agency's name.
                agency = owner
                self._add_name(name, agency.name, "site")
            elif not self._lacks_region(name):
                agency = self.add_agency(name, page_host, code, origin="page")
            else:
                agency = owner
        else:
            agency = owner
        if agency is not None and content_source:
            self._learn_unit(agency, normalise_name(content_source))
        return agency

    def learn_from_article(
        self, article: object, session: Session | None = None
    ) -> KnownAgency | None:
        """:meth:`learn` from a government article (an ``Article`` item or row).

        The site meta tags are read from attributes ``site_name``, ``site_domain``
        and ``site_id_code``, or from a ``site_meta`` dict keyed by the tag names
        (SiteName …), whichever the record carries; the host is its ``site``
        (else its URL's), ContentSource its ``source_name``. A portal's article
        teaches nothing. With a ``session``, what was learned is saved at once.
        """
        if getattr(article, "kind", "gov") != "gov":
            return None
        meta = getattr(article, "site_meta", None)
        meta = meta if isinstance(meta, dict) else {}

        def value_of(attribute: str, tag: str) -> str | None:
            value = getattr(article, attribute, None) or meta.get(tag)
            return value if isinstance(value, str) and value.strip() else None

        before = self._version
        agency = self.learn(
            value_of("site_name", "SiteName"),
            value_of("site_domain", "SiteDomain"),
            value_of("site_id_code", "SiteIDCode"),
            value_of("source_name", "ContentSource"),
            value_of("site", "") or value_of("url", ""),
        )
        if session is not None and self._version != before:
            self.save(session)
        return agency

    def _owner_of(self, host: str) -> KnownAgency | None:
        """The one agency whose site ``host`` is; on a shared portal, its 人民政府."""
        names = self._by_host.get(host, set())
        if len(names) > 1:
            names = {name for name in names if name.endswith("人民政府")}
        return self._agencies[next(iter(names))] if len(names) == 1 else None

    def _lacks_region(self, name: str) -> bool:
        """Whether ``name`` is a name without its region (市农业农村局, 农业农村局)."""
        self._ensure_stems()
        return name[0] in _LEVEL_CHARS or name in self._stems or name[1:] in self._stems

    def _site_region(self, site_id_code: str | None) -> str | None:
        """The region code of a SiteIDCode (its first six digits), if it has one."""
        if not site_id_code:
            return None
        head = unicodedata.normalize("NFKC", site_id_code).strip()[:6]
        return self.canonical_code(head)

    def _learn_region_name(self, name: str, code: str | None) -> None:
        """A site named X市人民政府 names its region X市, if the code was unnamed."""
        if code is None or code in self._regions:
            return
        match = _GOVERNMENT_OF_REGION.fullmatch(name)
        if match is not None:
            self.add_region(code, match.group(1), origin="page")

    def _learn_unit(self, agency: KnownAgency, source: str) -> None:
        """Alias a ContentSource that names a unit of the page's agency (…局办公室)."""
        if not source or source in self._names or len(source) > MAX_NAME_LENGTH:
            return
        for key in self.names_of(agency.name):
            unit = source[len(key) :]
            if source.startswith(key) and len(unit) >= 2 and unit.endswith(_UNIT_SUFFIXES):
                self._add_name(source, agency.name, "site")
                return

    # -- unknown names ------------------------------------------------------

    def _record_unknown(self, key: str, raw: str) -> None:
        """Count an unresolved name."""
        now = datetime.now(UTC)
        seen = self._unknown.get(key)
        if seen is None:
            self._unknown[key] = _Seen(raw.strip()[:500], 1, now, now)
        else:
            seen.seen += 1
            seen.last = now
        self._unknown_pending[key] += 1

    def unknown_names(self) -> list[UnknownName]:
        """Names seen but not resolved (and still unknown), most frequent first."""
        rows = [
            UnknownName(key, seen.seen, seen.example)
            for key, seen in self._unknown.items()
            if key not in self._names
        ]
        return sorted(rows, key=lambda row: (-row.count, row.name))

    # -- persistence --------------------------------------------------------

    def save(self, session: Session) -> None:
        """Write the registry into the session's database (the caller commits).

        Agencies, names and regions are upserted (nothing is deleted); unknown
        names add the counts seen since the last save or load, and rows of
        names that are now known are removed.
        """
        tables.create_tables(session.connection())
        rows = {row.name: row for row in session.scalars(select(tables.Agency))}
        for agency in self._agencies.values():
            row = rows.get(agency.name)
            if row is None:
                row = tables.Agency(name=agency.name)
                session.add(row)
                rows[agency.name] = row
            row.host, row.origin = agency.host, agency.origin
            row.region_code, row.region_name = agency.region_code, agency.region_name
        session.flush()
        names = {row.name_key: row for row in session.scalars(select(tables.AgencyName))}
        for key, (canonical, kind) in self._names.items():
            name_row = names.get(key)
            if name_row is None:
                session.add(
                    tables.AgencyName(name_key=key, agency_id=rows[canonical].id, kind=kind)
                )
            else:
                name_row.agency_id, name_row.kind = rows[canonical].id, kind
        regions = {row.name: row for row in session.scalars(select(tables.AgencyRegion))}
        for region in self._regions.values():
            spellings = ((region.name, "current"), *((n, "former") for n in region.former))
            for name, region_kind in spellings:
                region_row = regions.get(name)
                if region_row is None:
                    region_row = tables.AgencyRegion(name=name)
                    session.add(region_row)
                    regions[name] = region_row
                region_row.code, region_row.kind = region.code, region_kind
                region_row.origin = region.origin
        self._save_unknown(session)
        session.flush()

    def _save_unknown(self, session: Session) -> None:
        """Add the pending counts of unknown names; drop rows of names now known."""
        for key, count in self._unknown_pending.items():
            seen = self._unknown[key]
            row = session.get(tables.AgencyUnknownName, key)
            if row is None:
                session.add(
                    tables.AgencyUnknownName(
                        name_key=key,
                        example=seen.example,
                        seen=count,
                        first_seen_at=seen.first,
                        last_seen_at=seen.last,
                    )
                )
            else:
                row.seen += count
                row.last_seen_at = seen.last
        self._unknown_pending.clear()
        session.flush()
        stored = session.scalars(select(tables.AgencyUnknownName.name_key)).all()
        known = [key for key in stored if key in self._names]
        for start in range(0, len(known), 500):
            chunk = known[start : start + 500]
            session.execute(
                delete(tables.AgencyUnknownName).where(tables.AgencyUnknownName.name_key.in_(chunk))
            )

    @classmethod
    def load(
        cls, session: Session, path: str | Path | None = DEFAULT_AGENCIES_FILE
    ) -> AgencyRegistry:
        """The curated file (``path``; None for none) and what the database holds."""
        registry = cls.from_toml(path) if path is not None else cls()
        return registry.merge(session)

    def merge(self, session: Session) -> AgencyRegistry:
        """Add what the database holds; what this registry already has (the curated file) wins.

        A database without the registry's tables adds nothing.
        """
        if not inspect(session.connection()).has_table(tables.Agency.__tablename__):
            return self
        for region_row in session.scalars(
            select(tables.AgencyRegion).order_by(tables.AgencyRegion.kind)
        ):
            origin: Origin = "curated" if region_row.origin == "curated" else "page"
            existing = self._regions.get(region_row.code)
            if region_row.kind == "current":
                if existing is None or existing.origin == "page":
                    self.add_region(region_row.code, region_row.name, origin=origin)
            elif existing is not None and region_row.name not in (existing.name, *existing.former):
                self.add_region(
                    existing.code, existing.name, former=(region_row.name,), origin=existing.origin
                )
        by_id: dict[int, str] = {}
        for row in session.scalars(select(tables.Agency).order_by(tables.Agency.id)):
            by_id[row.id] = row.name
            agency = self._agencies.get(row.name)
            if agency is None:
                origin = "curated" if row.origin == "curated" else "page"
                self._put(KnownAgency(row.name, row.host, row.region_code, row.region_name, origin))
            elif agency.origin == "page":
                self._fill(agency, row.host, row.region_code)
        for name_row in session.scalars(select(tables.AgencyName)):
            canonical = by_id.get(name_row.agency_id)
            if canonical is not None and name_row.name_key not in self._names:
                kind = name_row.kind if name_row.kind in _KIND_RANK else "site"
                self._add_name(name_row.name_key, canonical, kind)  # type: ignore[arg-type]
        for unknown in session.scalars(select(tables.AgencyUnknownName)):
            pending = self._unknown_pending.get(unknown.name_key, 0)
            current = self._unknown.get(unknown.name_key)
            self._unknown[unknown.name_key] = _Seen(
                unknown.example,
                unknown.seen + pending,
                unknown.first_seen_at,
                current.last if current else unknown.last_seen_at,
            )
        self._stems_dirty = True
        return self


def unknown_names(
    source: Session | AgencyRegistry, *, limit: int | None = None
) -> list[UnknownName]:
    """The names seen but not resolved, with counts, most frequent first.

    From a registry: what it has seen (and loaded); from a session: the stored
    ``agency_unknown_names`` rows.
    """
    if isinstance(source, AgencyRegistry):
        rows = source.unknown_names()
        return rows if limit is None else rows[:limit]
    if not inspect(source.connection()).has_table(tables.AgencyUnknownName.__tablename__):
        return []
    query = select(tables.AgencyUnknownName).order_by(
        tables.AgencyUnknownName.seen.desc(), tables.AgencyUnknownName.name_key
    )
    if limit is not None:
        query = query.limit(limit)
    return [UnknownName(row.name_key, row.seen, row.example) for row in source.scalars(query)]


def _text(entry: dict[str, Any], key: str, path: str | Path) -> str:
    """A required string of a TOML table."""
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path}: {key} must be a non-empty string in {entry!r}")
    return value.strip()


def _texts(entry: dict[str, Any], key: str, path: str | Path) -> tuple[str, ...]:
    """An optional list of strings of a TOML table."""
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{path}: {key} must be a list of strings in {entry!r}")
    return tuple(item.strip() for item in value if item.strip())
