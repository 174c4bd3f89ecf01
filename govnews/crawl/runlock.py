"""One run at a time per database: an exclusive lock on a file beside it.

The lock is an ``flock`` on ``GOVNEWS_LOCK_FILE`` (default: the SQLite file's
path with ``.lock`` added, or ``data/govnews.lock`` for other databases). The
operating system releases it when the process ends, however it ends, so a
killed run never leaves a stale lock behind. Within one process the lock is
re-entrant: ``scrapy crawlall`` holds it across the crawls it runs.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from scrapy.settings import BaseSettings
from sqlalchemy import make_url

DEFAULT_LOCK_FILE = Path("data/govnews.lock")

_HELD: dict[Path, tuple[IO[str], int]] = {}


class RunLocked(RuntimeError):
    """Another run holds the database's lock."""


def lock_path(settings: BaseSettings) -> Path | None:
    """Where the lock of the run's database is; None for a database in memory (no sharing)."""
    configured = settings.get("GOVNEWS_LOCK_FILE")
    if configured:
        return Path(configured)
    url = make_url(settings.get("GOVNEWS_DATABASE_URL"))
    if url.get_backend_name() != "sqlite":
        return DEFAULT_LOCK_FILE
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return None
    return Path(database).expanduser().with_name(Path(database).name + ".lock")


def acquire(path: Path | None, holder: str) -> None:
    """Take the lock at ``path`` for ``holder`` (a spider or command name), or raise RunLocked."""
    if path is None:
        return
    path = path.resolve()
    if path in _HELD:
        handle, count = _HELD[path]
        _HELD[path] = (handle, count + 1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        who = handle.read().strip() or "another process"
        handle.close()
        raise RunLocked(f"another govnews run holds {path} ({who}); not starting") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{holder}, pid {os.getpid()}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    handle.flush()
    _HELD[path] = (handle, 1)


def release(path: Path | None) -> None:
    """Give back one hold of the lock at ``path``; the last one unlocks it."""
    if path is None:
        return
    path = path.resolve()
    if path not in _HELD:
        return
    handle, count = _HELD.pop(path)
    if count > 1:
        _HELD[path] = (handle, count - 1)
        return
    handle.seek(0)
    handle.truncate()
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()
