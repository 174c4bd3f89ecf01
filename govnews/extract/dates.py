"""Dates as pages write them: 2022-08-18, 2022/8/18, 2022年08月18日 10:20, 2022—08—18, 18/08/2022;
and, on Taiwanese sites, the ROC calendar's 106-03-10 (:func:`western_years`).

Chinese year-first dates are found and built here (no general parser reads
年月日 or em dashes inside running text); day-first Western dates with AM/PM are
handed to dateutil once found. A date without a zone is in Asia/Shanghai.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser

from govnews.core.timezone import SHANGHAI

_DASH = "-/.\u2014\u2013\u2012\u2015\uff0d\uff0f\uff0e"
_TIME = (
    r"(?:(?:\s*|T)(?P<H>[01]?\d|2[0-3])\s*[:：时]\s*(?P<M>[0-5]\d)(?:\s*[:：分]\s*(?P<S>[0-5]\d))?"
    r"(?:\.\d+)?(?P<tz>Z|[+-](?:0\d|1[0-4]):?[0-5]\d)?)?"
)
DATE_PATTERN = re.compile(
    rf"(?<!\d)(?P<y>(?:19|20)\d\d)\s*(?:[{_DASH}]|年)\s*(?P<m>1[0-2]|0?[1-9])\s*(?:[{_DASH}]|月)"
    rf"\s*(?P<d>3[01]|[12]\d|0?[1-9])(?!\d)\s*日?{_TIME}"
)
# 18/08/2022, 7/5/2005 9:23:57 PM, 06/02/2022 - 13:48 (day first when both could be the month).
_DAY_FIRST = re.compile(
    r"(?<![\d/.])(?:[0-3]?\d)[/.](?:[01]?\d)[/.](?:19|20)\d\d(?![\d/.])"
    r"(?:\s*-?\s*[0-2]?\d:[0-5]\d(?::[0-5]\d)?(?:\s*[AaPp]\.?[Mm]\.?)?)?"
)


def parse_date(text: str | None) -> datetime | None:
    """The first date (with its time, if given) in ``text``; Asia/Shanghai unless it says a zone."""
    if not text:
        return None
    found = [(m.start(), _from_match(m)) for m in DATE_PATTERN.finditer(text)]
    found += [(m.start(), _day_first(m.group(0))) for m in _DAY_FIRST.finditer(text)]
    for _, value in sorted(found, key=lambda pair: pair[0]):
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
            tzinfo=_zone(parts["tz"]),
        )
    except ValueError:  # 2022-02-30 and the like
        return None


def _zone(offset: str | None) -> timezone | ZoneInfo:
    if not offset:
        return SHANGHAI
    if offset == "Z":
        return UTC
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _day_first(text: str) -> datetime | None:
    try:
        value = dateutil_parser.parse(text.replace(" - ", " "), dayfirst=True)
    except (ValueError, OverflowError):
        return None
    return value.replace(tzinfo=SHANGHAI)


# A date of the Republic of China's calendar (民國 106年3月10日, 106-03-10: 2017-03-10).
_ROC_DATE = re.compile(
    rf"(?:民國|民国)?\s*(?<!\d)(?P<y>1[0-2]\d|[2-9]\d)(?P<rest>\s*(?:[{_DASH}]|年)\s*"
    rf"(?:1[0-2]|0?[1-9])\s*(?:[{_DASH}]|月)\s*(?:3[01]|[12]\d|0?[1-9])(?!\d))"
)


def western_years(text: str) -> str:
    """``text`` with its dates of the ROC calendar (year 20–129) given Western years.

    For pages of Taiwanese sites (``.tw``, ``.taipei``), whose dates count from 1912:
    ``日期：106-03-10`` → ``日期：2017-03-10``. Four-digit years are left as they are.
    """
    return _ROC_DATE.sub(lambda m: f"{int(m['y']) + 1911}{m['rest']}", text)


def has_time(text: str) -> bool:
    """Whether the first date in ``text`` carries a time of day."""
    year_first, day_first = DATE_PATTERN.search(text), _DAY_FIRST.search(text)
    if year_first and (not day_first or year_first.start() <= day_first.start()):
        return bool(year_first.group("H"))
    return bool(day_first and ":" in day_first.group(0))


_URL_DATE = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<sep>[-/_]?)(?P<m>0[1-9]|1[0-2])(?P=sep)?"
    r"(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"
)
# Hanweb JCMS: /art/2022/8/18/art_1229_2415.html
_ART_DATE = re.compile(
    r"/art/(?P<y>(?:19|20)\d\d)/(?P<m>1[0-2]|0?[1-9])/(?P<d>3[01]|[12]\d|0?[1-9])/"
)
# Newspaper e-paper systems (数字报): /html/2009-04/17/content_118802.htm
_EPAPER_DATE = re.compile(r"/(?P<y>(?:19|20)\d\d)-(?P<m>0[1-9]|1[0-2])/(?P<d>0[1-9]|[12]\d|3[01])/")


def date_from_url(url: str) -> datetime | None:
    """A date written in a URL path (``/2022-08-18/``, ``/20220818/``, ``/t20220818_``,
    ``/art/2022/8/18/``, ``/2009-04/17/``), or None."""
    path = url.split("?", 1)[0]
    dated = (_ART_DATE, _EPAPER_DATE, _URL_DATE)
    for match in [found for pattern in dated for found in pattern.finditer(path)]:
        try:
            return datetime(int(match["y"]), int(match["m"]), int(match["d"]), tzinfo=SHANGHAI)
        except ValueError:
            continue
    return None
