"""A locked database: another process holds a write transaction mid-crawl, nothing is lost.

End to end, ``scrapy crawl sites`` in a subprocess of a site on 127.0.0.1
(``tests/faults/writesite.py``), one item a transaction. When the site is first asked for
an article, the test process takes the database's write lock (``BEGIN IMMEDIATE``), so that
every article and the failure of the gone page meet the lock. Before the fix each item was
refused at once ("database is locked": a plain ``BEGIN`` that read, then wrote), dropped,
its failure record refused too, and the run exited 0.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from govnews.store.database import open_database
from govnews.store.models import ArticleRow, CrawlRun, PageFailure
from tests.faults.writesite import GONE, LockHolder, Site, crawl


def stored(database: Path) -> tuple[set[str], list[tuple[str, int]], list[CrawlRun]]:
    """The stored articles' URLs, the failures (URL path, attempts), the runs."""
    engine = open_database(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            urls = set(session.scalars(select(ArticleRow.url)))
            failures = [
                (failure.url.split("/", 3)[3], failure.attempts)
                for failure in session.scalars(select(PageFailure))
            ]
            runs = list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    finally:
        engine.dispose()
    return urls, failures, runs


def spool_files(database: Path) -> list[Path]:
    return sorted(database.with_name(database.name + ".spool").glob("*.jsonl"))


def test_a_lock_held_shorter_than_the_wait_is_waited_out(tmp_path: Path) -> None:
    database = tmp_path / "govnews.db"
    holder = LockHolder(database)
    with Site(lambda: holder.release_after(1.5)) as site:
        done = crawl(site, database, "GOVNEWS_DATABASE_WAIT=60")
    urls, failures, runs = stored(database)
    assert urls == set(site.urls()), done.stderr[-3000:]  # before: none, refused at once
    assert holder.released.is_set()  # the crawl outlasted the lock
    assert done.returncode == 0, done.stderr[-3000:]
    assert "is locked by another connection: waiting up to 60 s" in done.stderr
    assert "writable again after" in done.stderr
    assert "Traceback" not in done.stderr
    assert failures == [(GONE.lstrip("/"), 1)]
    [run] = runs
    assert (run.status, run.items_new, run.failures) == ("finished", len(site.urls()), 1)
    assert spool_files(database) == []


def test_a_lock_held_longer_than_the_wait_spools_fails_and_the_next_run_recovers(
    tmp_path: Path,
) -> None:
    """The run gives up after the wait, keeps what it could not write, is failed (exit 1) and
    writes its run row once the lock is gone; the next run stores the spool first."""
    database = tmp_path / "govnews.db"
    holder = LockHolder(database)
    spooled = threading.Event()

    def release_once_spooled() -> None:
        while not spool_files(database) and not spooled.wait(0.02):
            pass
        holder.release()

    def lock() -> None:
        holder.take()
        threading.Thread(target=release_once_spooled, daemon=True).start()

    with Site(lock) as site:
        done = crawl(site, database, "GOVNEWS_DATABASE_WAIT=2")
    spooled.set()
    assert holder.released.is_set()
    assert done.returncode == 1, done.stderr[-3000:]
    assert "stayed locked by another connection for 2 s (GOVNEWS_DATABASE_WAIT)" in done.stderr
    assert "Traceback" not in done.stderr
    urls, failures, runs = stored(database)
    [run] = runs
    assert run.status == "failed" and "stayed locked" in (run.finish_reason or "")
    assert run.finished_at is not None
    kept = [line for path in spool_files(database) for line in path.read_text().splitlines()]
    assert len(kept) + len(urls) + len(failures) >= len(site.urls()) + 1
    assert urls != set(site.urls())  # some articles waited in the spool

    with Site(port=site.port) as site_again:  # the site again, unlocked
        again = crawl(site_again, database, "GOVNEWS_MAX_FAILURE_SHARE=1")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "from the spool" in again.stderr or "of the spool file" in again.stderr
    urls, failures, runs = stored(database)
    assert urls == set(site.urls())
    assert [path for path, _ in failures] == [GONE.lstrip("/")]
    assert [run.status for run in runs] == ["failed", "finished"]
    assert spool_files(database) == []


def test_a_lock_that_outlasts_the_run_keeps_its_status_for_the_next_run(tmp_path: Path) -> None:
    """The lock is held until the crawl has exited: even the run's status goes to the spool,
    and the next run writes it (the row is ``failed``, not ``running`` or ``killed``)."""
    database = tmp_path / "govnews.db"
    holder = LockHolder(database)
    with Site(holder.take) as site:
        done = crawl(site, database, "GOVNEWS_DATABASE_WAIT=0.5")
    holder.release()
    assert done.returncode == 1, done.stderr[-3000:]
    assert "its status could not be written" in done.stderr
    assert "Traceback" not in done.stderr
    with closing(sqlite3.connect(database)) as connection:
        assert connection.execute("SELECT status FROM crawl_runs").fetchall() == [("running",)]
        assert connection.execute("SELECT count(*) FROM articles").fetchone() == (0,)

    with Site(port=site.port) as site_again:
        again = crawl(site_again, database, "GOVNEWS_MAX_FAILURE_SHARE=1")
    assert [path for path in site_again.asked if path.startswith("/art/")] == [GONE]
    assert again.returncode == 0, again.stderr[-3000:]
    urls, failures, runs = stored(database)
    assert urls == set(site.urls())
    assert [path for path, _ in failures] == [GONE.lstrip("/")]
    assert [run.status for run in runs] == ["failed", "finished"]
    assert "written from the spool by the next run" in (runs[0].finish_reason or "")
    assert spool_files(database) == []
