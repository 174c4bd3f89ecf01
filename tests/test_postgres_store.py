"""The PostgreSQL store with several processes at once: schema creation, the run lock."""

from __future__ import annotations

import subprocess
import sys

import pytest
from scrapy.settings import Settings
from sqlalchemy import create_engine, select

from govnews.crawl import runlock
from govnews.store.database import _VERSION_TABLE, head_revision

_OPEN = "import sys; from govnews.store.database import open_database; open_database(sys.argv[1])"


def test_three_processes_opening_an_empty_database_at_once_all_succeed(postgres_url: str) -> None:
    """Before the migration lock two of three failed (duplicate key on pg_type)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, postgres_url], stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], errors
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(select(_VERSION_TABLE.c.version_num)).scalars().all() == [
            head_revision()
        ]
    engine.dispose()


_HOLD = (
    "import sys; from scrapy.settings import Settings; from govnews.crawl import runlock; "
    "runlock.acquire(Settings({'GOVNEWS_DATABASE_URL': sys.argv[1]}), 'worker', shared=True); "
    "print('held', flush=True); sys.stdin.read()"
)


def test_crawl_workers_share_the_lock_and_keep_migrate_and_relink_out(postgres_url: str) -> None:
    settings = Settings({"GOVNEWS_DATABASE_URL": postgres_url})
    worker = subprocess.Popen(
        [sys.executable, "-c", _HOLD, postgres_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "held"
        runlock.acquire(settings, "second worker", shared=True)  # workers run side by side
        runlock.release(settings)
        with pytest.raises(runlock.RunLocked, match="crawl workers are running"):
            runlock.acquire(settings, "relink")
    finally:
        worker.communicate("", timeout=30)
    runlock.acquire(settings, "relink")  # the worker's process ended: its lock went with it
    try:
        other = subprocess.run(
            [sys.executable, "-c", _HOLD, postgres_url],
            input="",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.returncode != 0 and "a migrate or relink is running" in other.stderr
    finally:
        runlock.release(settings)
