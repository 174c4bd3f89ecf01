"""A full disk: the run stops failed (exit 1), closes its row, loses nothing, and a rerun recovers.

End to end, ``scrapy crawl sites`` (and ``scrapy crawlall``) in a subprocess of a site on
127.0.0.1 (``tests/faults/writesite.py``), one item a transaction, the disk filling up once
the first article is asked for. Two ways to fill it, both SQLite's real SQLITE_FULL: a
small tmpfs filled by a file (needs root to mount; skipped otherwise), and ``PRAGMA
max_page_count`` at the database's size (always). Before the fix each run exited 0, its
row left ``running``, "Error caught on signal handler" the only trace, the articles lost
until a rerun.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.test_locked_database import spool_files, stored
from tests.faults.writesite import GONE, Site, crawl, full_database


def assert_failed_full(done: subprocess.CompletedProcess[str], database: Path) -> None:
    """Exit 1, one clear line, no traceback; the run's row closed as failed; the articles
    not stored are in the spool."""
    assert done.returncode == 1, done.stderr[-3000:]
    assert "is full (database or disk is full)" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Error caught on signal handler" not in done.stderr
    urls, _, runs = stored(database)
    assert [(run.status, run.finished_at is not None) for run in runs] == [("failed", True)]
    assert "database_full" in (runs[0].finish_reason or "")
    assert spool_files(database)


def assert_recovered(site: Site, database: Path) -> None:
    """A rerun, with room again, stores the spool first: every article, the failure."""
    with Site(port=site.port) as again:
        done = crawl(again, database, "GOVNEWS_MAX_FAILURE_SHARE=1")
    assert done.returncode == 0, done.stderr[-3000:]
    urls, failures, runs = stored(database)
    assert urls == set(site.urls())
    assert [path for path, _ in failures] == [GONE.lstrip("/")]
    assert [run.status for run in runs] == ["failed", "finished"]
    assert spool_files(database) == []


def test_sqlite_full_stops_the_crawl_keeps_its_items_and_a_rerun_recovers(
    tmp_path: Path,
) -> None:
    database = tmp_path / "govnews.db"
    with Site() as site:
        done = crawl(site, database, *full_database())
    assert "writesite: the database is full" in done.stderr
    assert_failed_full(done, database)
    assert_recovered(site, database)


def test_crawlall_stops_at_a_full_database(tmp_path: Path) -> None:
    """``scrapy crawlall`` exits 1 with the run's row closed, and starts no further run
    (``sites`` twice: the second stands for the next spider), which could not even write
    its status."""
    database = tmp_path / "govnews.db"
    with Site() as site:
        done = crawl(site, database, *full_database(), command="crawlall", extra=("sites",))
    assert "crawlall: stopped after sites (database_full): not run: sites" in done.stderr
    assert_failed_full(done, database)
    assert_recovered(site, database)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a tmpfs of 8 MB of its own (mounting needs root)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Fill ``disk`` with one file until the file system refuses (ENOSPC); the file."""
    filler = disk / "filler"
    with filler.open("wb") as file:
        try:
            while True:
                file.write(b"\0" * 65536)
                file.flush()
        except OSError:
            pass
    return filler


def test_a_full_tmpfs_stops_the_crawl_keeps_its_items_and_a_rerun_recovers(
    small_disk: Path,
) -> None:
    database = small_disk / "govnews.db"
    filler: list[Path] = []
    with Site(lambda: filler.append(fill(small_disk))) as site:
        done = crawl(site, database)
    assert filler  # the disk was filled mid-crawl
    assert_failed_full(done, database)
    assert "Removed the spool's reserve" in done.stderr  # the room the spool and status took
    filler[0].unlink()  # room again
    assert_recovered(site, database)


def test_without_a_reserve_what_a_full_disk_refuses_is_lost_loudly_and_refetched(
    small_disk: Path,
) -> None:
    """No reserve (``GOVNEWS_SPOOL_RESERVE=0``): the spool is refused too. The loss is named
    in the log and fails the run (exit 1); the articles are not stored, so a rerun with room
    fetches and stores them, and closes the row the full disk left ``running`` as ``killed``."""
    database = small_disk / "govnews.db"
    filler: list[Path] = []
    with Site(lambda: filler.append(fill(small_disk))) as site:
        done = crawl(site, database, "GOVNEWS_SPOOL_RESERVE=0")
    assert done.returncode == 1, done.stderr[-3000:]
    assert "neither stored nor kept in the spool" in done.stderr
    assert "its status could not be written" in done.stderr
    assert "Traceback" not in done.stderr
    assert spool_files(database) == []
    filler[0].unlink()
    with Site(port=site.port) as again:
        rerun = crawl(again, database, "GOVNEWS_MAX_FAILURE_SHARE=1")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    urls, _, runs = stored(database)
    assert urls == set(site.urls())
    assert [run.status for run in runs] == ["killed", "finished"]
