"""The registry's records: an agency, a page's context, a resolution, an unknown name.

Frozen and slotted: a :class:`KnownAgency` or a :class:`Resolution` is handed
to the linker and cached by the registry, so it must not change under either;
a :class:`ResolveContext` is hashable so that the registry can cache what it
read from one (the region codes of each tier). Nothing here knows the rules of
names or regions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

NameKind = Literal["full", "short", "former", "site"]
Method = Literal["exact", "alias", "completed"]
Origin = Literal["curated", "page"]
UnknownReason = Literal["empty", "not-a-name", "unregistered", "ambiguous", "no-context"]

# The fields of an article whose short texts locate it (searched for region names).
_CONTEXT_FIELDS = ("title", "original_title", "category")


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


@dataclass(slots=True)
class Sightings:
    """Counts of an unknown name (mutable: counted up as the name recurs)."""

    example: str
    seen: int
    first: datetime
    last: datetime
