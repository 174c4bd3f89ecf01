"""Regions: the administrative divisions agency names start with, by 6-digit code.

A name is completed (市农业农村局 → 漳州市农业农村局) and checked (广东省漳州市… is
no agency of Zhangzhou) by its region, so the registry parses names into region
prefixes and a rest. A region has a 6-digit code (350600) whose zeros give its
tier: ``xx0000`` a province, ``xxxx00`` a prefecture, anything else a county-level
region (:func:`tier`, :func:`descends`). It is named in full (漳州市) or without
its level (漳州: :func:`region_short_name`), and may have former names and codes
(龙海市, 350681 → 龙海区, 350604). Which regions exist is the registry's data
(the curated file, learned pages); this module holds the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from govnews.link.agencies.records import Origin

# A region code: six digits.
CODE = re.compile(r"\d{6}")
# The characters that end a region's name and give its level.
LEVEL_CHARS = frozenset("省市区县旗")
_REGION_SUFFIXES = ("自治区", "自治州", "自治县", "自治旗", "省", "市", "区", "县", "旗")
# A site named X市人民政府 names the region X市.
GOVERNMENT_OF_REGION = re.compile(r"(.{2,12}[省市区县旗州])人民政府")


def region_short_name(name: str) -> str | None:
    """The region's name without its level (漳州市 → 漳州), or None when too short."""
    for suffix in _REGION_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def tier(code: str) -> int:
    """0 for a province, 1 for a prefecture, 2 for a county-level region."""
    if code.endswith("0000"):
        return 0
    return 1 if code.endswith("00") else 2


def descends(child: str, parent: str) -> bool:
    """Whether region ``child`` is ``parent`` or lies within it (by code)."""
    if child == parent:
        return True
    if parent.endswith("0000"):
        return child[:2] == parent[:2]
    return parent.endswith("00") and child[:4] == parent[:4]


def levels_of_code(code: str) -> frozenset[str]:
    """The level characters a name may use for an unregistered region, by its tier."""
    if code.endswith("0000"):
        return frozenset("省市")
    return frozenset("市") if code.endswith("00") else frozenset("区县市旗")


@dataclass(frozen=True, slots=True)
class Region:
    """An administrative division: 6-digit code, current and former names."""

    code: str
    name: str
    former: tuple[str, ...] = ()
    former_codes: tuple[str, ...] = ()
    origin: Origin = "curated"

    @property
    def levels(self) -> frozenset[str]:
        """The level characters a name may use for the region (市 for 漳州市 …)."""
        return frozenset(name[-1] for name in (self.name, *self.former))
