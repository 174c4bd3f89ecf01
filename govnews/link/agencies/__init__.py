"""The agency registry: 来源 names → agencies (site host, region), curated and learned.

``names`` normalises a name into its lookup key; ``regions`` holds the rules of
region codes and names; ``records`` the frozen records handed out;
``registry`` the in-memory :class:`AgencyRegistry` (resolving, completing,
learning); ``persistence`` stores it in the tables of ``govnews.store.agencies``;
``curated`` reads the curated TOML file (the setting ``GOVNEWS_AGENCIES_FILE``;
bundled: ``agencies.toml`` here, package data). Import from this package.
"""

from govnews.link.agencies.curated import BUNDLED_AGENCIES_FILE
from govnews.link.agencies.names import MAX_NAME_LENGTH, normalise_name
from govnews.link.agencies.persistence import unknown_names
from govnews.link.agencies.records import (
    KnownAgency,
    Method,
    NameKind,
    Origin,
    Resolution,
    ResolveContext,
    UnknownName,
    UnknownReason,
)
from govnews.link.agencies.regions import Region, region_short_name
from govnews.link.agencies.registry import AgencyRegistry

__all__ = [
    "BUNDLED_AGENCIES_FILE",
    "MAX_NAME_LENGTH",
    "AgencyRegistry",
    "KnownAgency",
    "Method",
    "NameKind",
    "Origin",
    "Region",
    "ResolveContext",
    "Resolution",
    "UnknownName",
    "UnknownReason",
    "normalise_name",
    "region_short_name",
    "unknown_names",
]
