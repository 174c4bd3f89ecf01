"""The PostgreSQL store with several writers at once: schema creation, the run lock, and
upserts of one row by two transactions (the second waits on the first's row and then
updates it: nothing fails, no count is lost)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from scrapy.settings import Settings
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from govnews.crawl import runlock
from govnews.link.agencies.registry import AgencyRegistry
from govnews.store import Repository, locks, models, open_database, session_factory
from govnews.store import agencies as agency_tables
from govnews.store.database import _VERSION_TABLE, head_revision
from tests.test_repository import make_article

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


_HOLD_RUN = (
    "import sys; from scrapy.settings import Settings; from govnews.crawl import runlock; "
    "settings = Settings({'GOVNEWS_DATABASE_URL': sys.argv[1], 'GOVNEWS_LOCK_FILE': sys.argv[2]}); "
    "runlock.acquire(settings, 'worker', shared=True); runlock.hold_run(settings, 4242); "
    "print('held', flush=True); sys.stdin.read()"
)


def test_a_run_behind_a_lock_file_is_still_alive_on_the_server(
    postgres_url: str, tmp_path: Any
) -> None:
    """GOVNEWS_LOCK_FILE in front of PostgreSQL replaces the shared run lock by a file, but
    the run still marks itself alive on the server: other machines' workers do not record
    it killed (they did, before)."""
    worker = subprocess.Popen(
        [sys.executable, "-c", _HOLD_RUN, postgres_url, str(tmp_path / "worker.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "held"
        with engine.connect() as connection:
            assert locks.run_is_alive(connection, 4242)
    finally:
        worker.communicate("", timeout=30)
    with engine.connect() as connection:
        assert not locks.run_is_alive(connection, 4242)  # its process ended
    engine.dispose()


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = open_database(postgres_url)
    yield engine
    engine.dispose()


def second_writer_after_first(engine: Engine, write: Callable[[Session], Any]) -> tuple[Any, Any]:
    """Run ``write`` in two transactions, the second while the first still holds its row.

    The first writes and keeps its transaction open; the second, in a thread,
    writes the same row and must wait for it (seen in ``pg_stat_activity``); the
    first commits, then the second. Returns what each ``write`` returned.
    """
    sessions = session_factory(engine)
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with sessions() as session:
                results["second"] = write(session)
                session.commit()
        except BaseException as error:  # reported by the test's thread
            errors.append(error)

    with sessions() as first:
        results["first"] = write(first)
        thread = threading.Thread(target=second)
        thread.start()
        with engine.connect() as watcher:
            waiting = text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            deadline = time.monotonic() + 30
            while not watcher.execute(waiting).scalar_one() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert watcher.execute(waiting).scalar_one() == 1, "the second writer never waited"
        first.commit()
    thread.join(timeout=30)
    assert not errors, errors
    return results["first"], results["second"]


def test_a_second_writer_of_one_article_waits_and_updates_it(engine: Engine) -> None:
    """Two workers storing one URL at once: one row, ``new`` then ``updated``.

    With select-then-insert the second saw no row (the first had not committed)
    and failed on the unique URL key once the first committed.
    """
    titles = iter(["第一稿标题", "第二稿标题"])

    def save(session: Session) -> tuple[str, int]:
        result = Repository(session).save_article(make_article(title=next(titles)))
        return result.status, result.row.id

    (first, first_id), (second, second_id) = second_writer_after_first(engine, save)
    assert (first, second) == ("new", "updated")
    assert first_id == second_id
    with session_factory(engine)() as session:
        rows = session.scalars(select(models.ArticleRow)).all()
        assert [row.title for row in rows] == ["第二稿标题"]
        assert session.scalar(select(func.count()).select_from(models.ArticleUrl)) == 1


def test_two_writers_of_one_failure_count_both_attempts(engine: Engine) -> None:
    def fail(session: Session) -> None:
        Repository(session).record_failure(
            "http://nyncj.zhangzhou.gov.cn/cms/html/x.html",
            spider="zhangzhou",
            stage="http",
            reason="HTTP 503",
        )

    second_writer_after_first(engine, fail)
    with session_factory(engine)() as session:
        failure = session.scalars(select(models.PageFailure)).one()
        assert failure.attempts == 2


def test_two_writers_of_one_unknown_name_add_both_counts(engine: Engine) -> None:
    """The unknown-name counter is added in SQL: 3 sightings + 2 sightings = 5."""
    sightings = iter([3, 2])

    def save(session: Session) -> None:
        registry = AgencyRegistry()
        for _ in range(next(sightings)):
            registry.resolve("某某县乡村振兴服务中心")
        registry.save(session)

    with session_factory(engine)() as session:  # the registry's tables, before the race
        AgencyRegistry().save(session)
        session.commit()
    second_writer_after_first(engine, save)
    with session_factory(engine)() as session:
        row = session.scalars(select(agency_tables.AgencyUnknownName)).one()
        assert row.seen == 5
