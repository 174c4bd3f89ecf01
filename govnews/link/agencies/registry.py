"""The agency registry: the names reposts give in 来源 → the agency's site and region.

A repost names its original's publisher in words, not by URL: 漳州市农业农村局,
漳州农业农村局 (short), 漳州市农业局 (former), 漳州市农业农村局网站 (the site), or
市农业农村局 (no region). :func:`~govnews.link.agencies.names.normalise_name` turns
each spelling into a key; :class:`AgencyRegistry` maps keys to a
:class:`~govnews.link.agencies.records.KnownAgency` (canonical name, host, region
code). It starts from the curated agencies file (the setting
``GOVNEWS_AGENCIES_FILE``, by default the bundled
``govnews/link/agencies/agencies.toml``: :mod:`~govnews.link.agencies.curated`)
and learns from the meta tags of crawled government pages (:meth:`AgencyRegistry.learn`).

A name without its region is completed from the page's context
(:class:`~govnews.link.agencies.records.ResolveContext`) only when exactly one
registered agency fits; anything else is unknown, kept with its normalised name
and counted for reporting (:meth:`AgencyRegistry.unknown_names`), never guessed.
Everything is in memory and resolving is dict lookups plus two caches (100,000
names, exact, alias, suffixed, completed and unknown, well under a second per
10,000: ``tests/test_registry.py``). The registry is stored in the tables of
``govnews.store.agencies`` by :mod:`~govnews.link.agencies.persistence`
(:meth:`AgencyRegistry.save`, :meth:`AgencyRegistry.load` delegate to it).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from govnews.link.agencies import persistence
from govnews.link.agencies.curated import BUNDLED_AGENCIES_FILE, read_agencies_file
from govnews.link.agencies.names import (
    MAX_NAME_LENGTH,
    NOT_A_NAME,
    SPACE,
    clean_host,
    normalise_name,
    normalise_parts,
)
from govnews.link.agencies.records import (
    KnownAgency,
    Method,
    NameKind,
    Origin,
    Resolution,
    ResolveContext,
    Sightings,
    UnknownName,
    UnknownReason,
)
from govnews.link.agencies.regions import (
    CODE,
    GOVERNMENT_OF_REGION,
    LEVEL_CHARS,
    Region,
    descends,
    levels_of_code,
    region_short_name,
    tier,
)

# Completions and contexts remembered at most (a cache is emptied when full).
_CACHE_SIZE = 65536
_CONTEXT_CACHE_SIZE = 256

# Which kind of name wins when two agencies claim one key.
_KIND_RANK: dict[NameKind, int] = {"site": 0, "former": 1, "short": 2, "full": 3}
# A stored kind of name; anything else is read as a site name.
_KINDS: dict[str, NameKind] = {kind: kind for kind in _KIND_RANK}

# A ContentSource ending so names a unit of the page's agency (…局办公室) …
_UNIT_SUFFIXES = ("科", "处", "室", "股", "站", "所", "中心", "队", "办", "组")
# … and a SiteName ending so an agency, not a brand of its site (中国·漳州).
_AGENCY_SUFFIXES = (
    "局", "委", "厅", "办", "政府", "院", "会", "部", "署", "处", "室", "所", "站", "中心",
    "司", "馆", "队",
)  # fmt: skip

# The region codes of a context, strongest tier first: page, related articles, default.
_Tiers = tuple[frozenset[str], ...]


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
        self._unknown: dict[str, Sightings] = {}
        self._unknown_pending: Counter[str] = Counter()
        self.conflicts: list[str] = []

    # -- construction -------------------------------------------------------

    @classmethod
    def from_toml(cls, path: str | Path = BUNDLED_AGENCIES_FILE) -> AgencyRegistry:
        """A registry of a curated agencies file (the bundled one by default)."""
        registry = cls()
        registry.read_toml(path)
        return registry

    def read_toml(self, path: str | Path) -> None:
        """Add the ``[[region]]`` and ``[[agency]]`` tables of a curated TOML file."""
        read_agencies_file(self, path)

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
        if not CODE.fullmatch(code):
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
            agency = KnownAgency(canonical, clean_host(host), code, self._region_name(code), origin)
            self._put(agency)
        else:
            self._fill(agency, clean_host(host), code)
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
        key = clean_host(host) or ""
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
        if not CODE.fullmatch(code):
            return None
        return self._code_alias.get(code, code)

    def region_codes(self, name: str) -> frozenset[str]:
        """The codes of a region name or short name (several when it is ambiguous)."""
        value = unicodedata.normalize("NFKC", name).strip()
        if CODE.fullmatch(value):
            return frozenset({self._code_alias.get(value, value)})
        return self._region_names.get(SPACE.sub("", value), frozenset())

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
        key, notes = normalise_parts(source_name)
        if not key:
            return Resolution(name="", reason="empty")
        hit = self.known(source_name)
        if hit is not None:
            return hit
        if NOT_A_NAME.fullmatch(key):
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
        key, notes = normalise_parts(source_name)
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
            if rest[0] in LEVEL_CHARS and len(rest) >= 3:
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
                    and tier(code) == tier(region)
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
        return tuple(codes for codes in tiers if codes)

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
            codes = frozenset(c for c in codes if any(descends(c, o) for o in outer))
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
        return region.levels if region is not None else levels_of_code(code)

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
        page_host = clean_host(host) or clean_host(site_domain)
        if page_host is None:
            return None
        code = self._site_region(site_id_code)
        name = normalise_name(site_name) if site_name else ""
        agency: KnownAgency | None = None
        owner = self._owner_of(page_host)
        if 2 <= len(name) <= MAX_NAME_LENGTH and not NOT_A_NAME.fullmatch(name):
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
        return name[0] in LEVEL_CHARS or name in self._stems or name[1:] in self._stems

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
        match = GOVERNMENT_OF_REGION.fullmatch(name)
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
            self._unknown[key] = Sightings(raw.strip()[:500], 1, now, now)
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

    # -- persistence (the SQL is in govnews.link.agencies.persistence) --------

    def save(self, session: Session) -> None:
        """Write the registry into the session's database (the caller commits).

        Agencies, names and regions are upserted (nothing is deleted); unknown
        names add the counts seen since the last save or load, and rows of
        names that are now known are removed.
        """
        persistence.save(self, session)

    @classmethod
    def load(
        cls, session: Session, path: str | Path | None = BUNDLED_AGENCIES_FILE
    ) -> AgencyRegistry:
        """The curated file (``path``; None for none) and what the database holds.

        The crawl and the commands pass the file of the setting
        ``GOVNEWS_AGENCIES_FILE``; the default, the bundled file, is for
        library use and tests.
        """
        registry = cls.from_toml(path) if path is not None else cls()
        return registry.merge(session)

    def merge(self, session: Session) -> AgencyRegistry:
        """Add what the database holds; what this registry already has (the curated file) wins.

        A database without the registry's tables adds nothing.
        """
        return persistence.merge(self, session)

    # What persistence reads …

    def name_keys(self) -> Iterator[tuple[str, str, NameKind]]:
        """Every name key with its agency's canonical name and its kind."""
        for key, (canonical, kind) in list(self._names.items()):
            yield key, canonical, kind

    def knows_key(self, key: str) -> bool:
        """Whether a normalised name is a name of a registered agency."""
        return key in self._names

    def regions(self) -> list[Region]:
        """The registered regions."""
        return list(self._regions.values())

    def take_unknown_counts(self) -> list[tuple[str, int, Sightings]]:
        """The unknown names counted since the last call (or load), their counts, sightings."""
        counts = [(key, count, self._unknown[key]) for key, count in self._unknown_pending.items()]
        self._unknown_pending.clear()
        return counts

    # … and how what it stored joins a registry: what the registry has wins.

    def merge_region(self, code: str, name: str, *, current: bool, origin: Origin) -> None:
        """A stored spelling of a region (a curated region keeps its current name).

        A current name registers the region unless this registry has it curated;
        a former name is added to a region this registry has.
        """
        existing = self._regions.get(code)
        if current:
            if existing is None or existing.origin == "page":
                self.add_region(code, name, origin=origin)
        elif existing is not None and name not in (existing.name, *existing.former):
            self.add_region(existing.code, existing.name, former=(name,), origin=existing.origin)

    def merge_agency(self, stored: KnownAgency) -> None:
        """A stored agency: new, or filling what a learned one lacks (a curated one wins)."""
        agency = self._agencies.get(stored.name)
        if agency is None:
            self._put(stored)
        elif agency.origin == "page":
            self._fill(agency, stored.host, stored.region_code)

    def merge_name(self, key: str, canonical: str, kind: str) -> None:
        """A stored name key of a registered agency, unless the key is already a name."""
        if key not in self._names:
            self._add_name(key, canonical, _KINDS.get(kind, "site"))

    def merge_unknown(self, key: str, stored: Sightings) -> None:
        """Stored counts of an unknown name, plus those counted here and not yet saved."""
        pending = self._unknown_pending.get(key, 0)
        current = self._unknown.get(key)
        self._unknown[key] = Sightings(
            stored.example,
            stored.seen + pending,
            stored.first,
            current.last if current else stored.last,
        )
