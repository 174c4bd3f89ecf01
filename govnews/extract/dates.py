"""Dates as Chinese pages write them: 2022-08-18, 2022/8/18, 2022年08月18日 10:20, 2022—08—18."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_DASH = "-/.\u2014\u2013\u2012\u2015\uff0d\uff0f\uff0e"
DATE_PATTERN = re.compile(
    rf"(?<!\d)(?P<y>(?:19|20)\d\d)\s*(?:[{_DASH}]|年)\s*(?P<m>1[0-2]|0?[1-9])\s*(?:[{_DASH}]|月)"
    r"\s*(?P<d>3[01]|[12]\d|0?[1-9])(?!\d)\s*日?"
    r"(?:\s*(?P<H>[01]?\d|2[0-3])\s*[:：时]\s*(?P<M>[0-5]\d)(?:\s*[:：分]\s*(?P<S>[0-5]\d))?)?"
)


def parse_date(text: str | None) -> datetime | None:
    """The first date (with its time, if given) in ``text``, in Asia/Shanghai, or None."""
    if not text:
        return None
    for match in DATE_PATTERN.finditer(text):
        value = _from_match(match)
        if value is not None:
            return value
    return None


def _from_match(match: re.Match[str]) -> datetime | None:
    parts = match.groupdict()
    try:
        return datetime(
            int(parts["y"]),
            int(parts["m"]),
            int(parts["d"]),
            int(parts["H"] or 0),
            int(parts["M"] or 0),
            int(parts["S"] or 0),
            tzinfo=SHANGHAI,
        )
    except ValueError:  # 2022-02-30 and the like
        return None


def has_time(text: str) -> bool:
    """Whether the first date in ``text`` carries a time of day."""
    match = DATE_PATTERN.search(text)
    return bool(match and match.group("H"))


_URL_DATE = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<sep>[-/_]?)(?P<m>0[1-9]|1[0-2])(?P=sep)?(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"
)


def date_from_url(url: str) -> datetime | None:
    """A date written in a URL path (``/2022-08-18/``, ``/20220818/``, ``/t20220818_``), or None."""
    path = url.split("?", 1)[0]
    for match in _URL_DATE.finditer(path):
        try:
            return datetime(int(match["y"]), int(match["m"]), int(match["d"]), tzinfo=SHANGHAI)
        except ValueError:
            continue
    return None
