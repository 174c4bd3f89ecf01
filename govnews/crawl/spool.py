"""The spool: what a crawl could not write to its database, kept on disk for the next run.

When the database stays locked longer than ``GOVNEWS_DATABASE_WAIT``, or refuses
writes (a full disk: SQLITE_FULL, an I/O error), the crawl database
(:mod:`govnews.crawl.crawldb`) keeps the articles and failure records it could
not commit here instead of dropping them, and the next run stores them before
it crawls. Each spooling is one file, ``<directory>/<time>-<pid>-<n>.jsonl``,
one JSON object a line:

* ``{"kind": "article", "item": {...}}``: an :class:`~govnews.items.Article`,
  its dates in ISO 8601;
* ``{"kind": "failure", "url": ..., "spider": ..., "stage": ..., "reason": ...,
  "callback": ...}``: a failed page, as ``Repository.record_failure`` takes it;
* ``{"kind": "run", "id": ..., "status": ..., "finish_reason": ..., "finished_at": ...,
  "counts": {...}}``: the end of a run whose ``crawl_runs`` row could not be
  written, as ``Repository.finish_run`` takes it.

A file is written whole or not at all: into a temporary file beside it, flushed
to disk (``fsync``), then renamed, and the directory flushed too; a crash
leaves at most a ``.tmp`` file, which is never read. The next run removes a
file only after the transaction that stored its entries has been committed, so
an entry is stored at least once; storing one twice changes nothing (articles
are upserted by URL; a failure's attempt count goes up by one).

On a full disk the spool would be refused as well, and so would the run's
status: the directory also holds ``reserve``, a file of
``GOVNEWS_SPOOL_RESERVE`` bytes made by a run when it is missing and removed
only when the database refuses writes, which frees that much room on the disk
(by default the database's own) for the spool and the status.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.settings import BaseSettings
from sqlalchemy import make_url

from govnews.items import Article

#: Where the spool is for a database that is no SQLite file (a server's).
DEFAULT_SPOOL_DIR = Path("data/spool")

#: The kinds of entry a spool file holds.
KINDS = ("article", "failure", "run")
#: The Article fields that are datetimes (written as ISO 8601 strings).
_DATES = ("published_at", "fetched_at")
_SERIAL = count(1)


def spool_dir(settings: BaseSettings) -> Path | None:
    """The spool directory of the run's database; None for a database in memory.

    ``GOVNEWS_SPOOL_DIR``, else beside the SQLite file (``<database>.spool``),
    else ``data/spool``. A database in memory has no next run to store a spool.
    """
    configured = settings.get("GOVNEWS_SPOOL_DIR")
    if configured:
        return Path(configured)
    url = make_url(settings.get("GOVNEWS_DATABASE_URL"))
    if url.get_backend_name() != "sqlite":
        return DEFAULT_SPOOL_DIR
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return None
    path = Path(database.removeprefix("file:").split("?")[0]).expanduser()
    return path.with_name(path.name + ".spool")


def article_entry(item: Any) -> dict[str, Any]:
    """The spool entry of an article item (the item itself until it is written)."""
    return {"kind": "article", "item": item}


def entry_url(entry: dict[str, Any]) -> str | None:
    """The URL of an ``article`` entry's page (None for other entries)."""
    if entry["kind"] != "article":
        return None
    url = ItemAdapter(entry["item"]).get("url")
    return str(url) if url else None


def _line(entry: dict[str, Any]) -> str:
    """One line of a spool file: the entry as JSON, an article's item as plain fields."""
    if entry["kind"] == "article":
        fields = ItemAdapter(entry["item"]).asdict()
        for name in _DATES:
            if isinstance(fields.get(name), datetime):
                fields[name] = fields[name].isoformat()
        entry = {"kind": "article", "item": fields}
    return json.dumps(entry, ensure_ascii=False) + "\n"


def failure_entry(
    url: str, *, spider: str, stage: str, reason: str, callback: str | None
) -> dict[str, Any]:
    """The spool entry of a failed page."""
    return {
        "kind": "failure",
        "url": url,
        "spider": spider,
        "stage": stage,
        "reason": reason,
        "callback": callback,
    }


def run_entry(
    run_id: int, *, status: str, finish_reason: str, counts: dict[str, int]
) -> dict[str, Any]:
    """The spool entry of a run's end, finished now."""
    return {
        "kind": "run",
        "id": run_id,
        "status": status,
        "finish_reason": finish_reason,
        "finished_at": datetime.now(UTC).isoformat(),
        "counts": counts,
    }


def article_of(entry: dict[str, Any]) -> Article:
    """The Article an ``article`` entry holds; ValueError when it holds none."""
    fields = dict(entry["item"])
    for name in _DATES:
        if isinstance(fields.get(name), str):
            fields[name] = datetime.fromisoformat(fields[name])
    try:
        return Article(**fields)
    except TypeError as error:
        raise ValueError(f"not an article: {error}") from error


class Spool:
    """The spool files of one database, in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, entries: Iterable[dict[str, Any]]) -> Path:
        """Keep ``entries`` in a new spool file, durably; OSError when the disk refuses."""
        lines = "".join(_line(entry) for entry in entries)
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{os.getpid()}-{next(_SERIAL)}.jsonl"
        temporary = path.with_name(path.name + ".tmp")
        try:
            with temporary.open("w", encoding="utf-8") as file:
                file.write(lines)
                file.flush()
                os.fsync(file.fileno())
            temporary.rename(path)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_directory(self.directory)
        return path

    @property
    def reserve_path(self) -> Path:
        return self.directory / "reserve"

    def reserve(self, size: int) -> bool:
        """Make the reserve file of ``size`` bytes, allocated on disk, unless it exists;
        True when it was made. OSError when the disk refuses."""
        if size <= 0 or self.reserve_path.exists():
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.reserve_path.with_name("reserve.tmp")
        try:
            with temporary.open("wb") as file:
                os.posix_fallocate(file.fileno(), 0, size)
                os.fsync(file.fileno())
            temporary.rename(self.reserve_path)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
        return True

    def release(self) -> bool:
        """Remove the reserve file, freeing its room; True when there was one."""
        try:
            self.reserve_path.unlink()
        except FileNotFoundError:
            return False
        return True

    def files(self) -> list[Path]:
        """The spool files, oldest first (none when the directory does not exist)."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*.jsonl"))

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """The entries of a spool file; ValueError when a line is no entry."""
        entries = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error})") from None
            if not isinstance(entry, dict) or entry.get("kind") not in KINDS:
                raise ValueError(f"{path}:{number}: not a spool entry")
            entries.append(entry)
        return entries

    def remove(self, path: Path) -> None:
        """Remove a spool file whose entries are committed."""
        path.unlink(missing_ok=True)
        _fsync_directory(self.directory)


def _fsync_directory(directory: Path) -> None:
    """Flush a directory's entries (a rename, an unlink) to disk."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
