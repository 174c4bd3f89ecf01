"""The curated agencies file: ``[[region]]`` and ``[[agency]]`` tables in TOML.

The registry starts from this file and learns the rest from crawled government
pages; what the file says wins over what was learned (a page's meta tags are
often stale or wrong). The file the crawl reads is the setting
``GOVNEWS_AGENCIES_FILE``; its default is the file bundled as package data,
:data:`BUNDLED_AGENCIES_FILE` (``govnews/link/agencies/agencies.toml``, the
Zhangzhou agencies), which library code and tests use when given no file.
An entry whose ``region_name`` is not the name of its ``region_code`` is an
error of the file, reported with the file's path.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govnews.link.agencies.registry import AgencyRegistry

# The curated file shipped with govnews (package data of govnews.link.agencies).
BUNDLED_AGENCIES_FILE = Path(__file__).with_name("agencies.toml")


def read_agencies_file(registry: AgencyRegistry, path: str | Path) -> None:
    """Add the ``[[region]]`` and ``[[agency]]`` tables of a curated TOML file."""
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    for entry in data.get("region", []):
        registry.add_region(
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
            known = registry.region(str(code))
            if known is None or region_name not in (known.name, *known.former):
                raise ValueError(f"{path}: {name}: region {code} is not {region_name!r}")
        registry.add_agency(
            name,
            host=entry.get("host"),
            region_code=None if code is None else str(code),
            short=_texts(entry, "short", path),
            former=_texts(entry, "former", path),
            site=_texts(entry, "site", path),
        )


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
