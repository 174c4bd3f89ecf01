"""The time zone of Chinese pages and the current time: aware datetimes only.

A page that gives no zone is read in Asia/Shanghai; stored times are in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
