"""Runs for cron: refresh policy, run health and exit codes, the lock, ``scrapy crawlall``."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from govnews.crawl import runlock
from govnews.crawl.health import EXIT_CODES, PageCounts, RunHealth, assess, worst
from govnews.crawl.incremental import RefreshPolicy
from govnews.crawl.retry import RetryBackoffMiddleware
from govnews.store.database import open_database, session_factory
from govnews.store.models import ArticleRow, CrawlRun
from govnews.store.repository import Repository
from tests.conftest import ROOT, SNAPSHOT

Crawl = Callable[..., subprocess.CompletedProcess[str]]
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_stored_articles_are_fetched_again_only_while_young_and_stale() -> None:
    window, after = timedelta(days=3), timedelta(hours=24)
    policy = RefreshPolicy(everything=False, window=window, after=after)
    old, young = NOW - timedelta(days=30), NOW - timedelta(days=1)
    assert policy.is_current(old, fetched=NOW - timedelta(days=29), now=NOW)
    assert policy.is_current(young, fetched=NOW - timedelta(hours=2), now=NOW)
    assert not policy.is_current(young, fetched=NOW - timedelta(hours=30), now=NOW)
    assert not policy.is_current(None, fetched=NOW - timedelta(days=2), now=NOW)
    everything = RefreshPolicy(everything=True, window=window, after=after)
    assert not everything.is_current(old, fetched=NOW, now=NOW)


def test_run_health() -> None:
    """Judged by pages: a site of the spider without articles, the share of failed pages."""
    seen, stored = {"a.gov.cn": 3, "b.gov.cn": 0}, {"a.gov.cn": 10, "b.gov.cn": 0}
    healthy = {"a.gov.cn": PageCounts(requested=10, stored=3, failed=1, listings=6)}

    def judge(
        reason: str, seen: dict[str, int], pages: dict[str, PageCounts] = healthy
    ) -> RunHealth:
        return assess(reason, pages=pages, seen=seen, stored=stored, max_failure_share=0.2)

    ok = judge("finished", seen)
    assert (ok.status, ok.exit_code, ok.problems) == ("finished", 0, [])
    failed = judge("shutdown", seen)
    assert (failed.status, failed.exit_code) == ("failed", 1)
    gone = judge("finished", {"a.gov.cn": 0})
    assert (gone.status, gone.exit_code) == ("degraded", 2)
    assert gone.problems == ["no articles from a.gov.cn, which has 10"]
    # A site with nothing stored yet (a first run) whose pages mostly failed.
    dead = {**healthy, "b.gov.cn": PageCounts(requested=3, failed=2, listings=1)}
    first = judge("finished", seen, dead)
    assert first.problems[0] == "no articles from b.gov.cn: 2 of its 3 pages failed"
    half = {**healthy, "b.gov.cn": PageCounts(requested=4, failed=2, listings=2)}
    assert not any("b.gov.cn" in problem for problem in judge("finished", seen, half).problems)
    failing = judge("finished", seen, {"a.gov.cn": PageCounts(requested=10, stored=7, failed=3)})
    assert failing.status == "degraded" and failing.problems == [
        "3 of 10 pages failed (30%, more than 20%)"
    ]
    assert failing.describe("finished").startswith("finished; 3 of 10")
    lost = judge("finished", seen, {"a.gov.cn": PageCounts(requested=10, stored=3, listings=6)})
    assert lost.problems == [
        "1 of 10 pages not accounted for (neither stored, failed, skipped nor a listing)"
    ]


def test_the_worst_exit_code_of_several_runs() -> None:
    """What crawlall exits with: failed (1) is worse than degraded (2), though smaller."""
    finished, failed, degraded, locked = (
        EXIT_CODES[s] for s in ("finished", "failed", "degraded", "locked")
    )
    assert worst([]) == finished
    assert worst([finished, degraded]) == degraded
    assert worst([degraded, failed, finished]) == failed
    assert worst([failed, locked]) == locked


def test_the_lock_is_reentrant_in_a_process_and_released_at_the_last_hold(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.lock"
    settings = Settings({"GOVNEWS_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"})
    runlock.acquire(settings, "one")
    runlock.acquire(settings, "two")
    runlock.release(settings)
    assert "one, pid" in path.read_text(encoding="utf-8")
    with path.open("a") as other, pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    runlock.release(settings)
    with path.open("a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


def crawlall(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "scrapy", "crawlall", *args,
        "-s", f"GOVNEWS_MIRROR={SNAPSHOT}", "-s", f"GOVNEWS_DATABASE_URL={database}",
    ]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_an_overlapping_run_is_refused(crawl: Crawl, tmp_path: Path) -> None:
    database = crawl.database_url  # type: ignore[attr-defined]
    lock = Path(database.removeprefix("sqlite:///") + ".lock")
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another run is going on
        done = crawl("zhangzhou", check=False)
        assert done.returncode == EXIT_CODES["locked"] == 3
        assert "another govnews run holds" in done.stderr
        assert "Spider opened" not in done.stderr
        together = crawlall(database, "-s", "FEEDS={}")
        assert together.returncode == 3
    assert crawl("zhangzhou").returncode == 0  # the lock went with the other run


def test_a_run_that_finds_no_articles_on_a_site_that_has_them_is_degraded(
    crawl: Crawl, crawl_engine: Engine, tmp_path: Path
) -> None:
    nyncj = ("-a", "hosts=nyncj.zhangzhou.gov.cn")
    crawl("zhangzhou", *nyncj)
    redesigned = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, redesigned)
    home = redesigned / "nyncj.zhangzhou.gov.cn" / "index.html"
    home.write_text(
        "<html><head><title>漳州市农业农村局</title></head><body><p>网站升级维护中</p></body></html>",
        encoding="utf-8",
    )
    done = crawl("zhangzhou", *nyncj, "-s", f"GOVNEWS_MIRROR={redesigned}", check=False)
    assert done.returncode == EXIT_CODES["degraded"] == 2
    with Session(crawl_engine) as session:
        last = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert last is not None and last.status == "degraded"
        assert "no articles from nyncj.zhangzhou.gov.cn" in (last.finish_reason or "")


def test_a_run_that_cannot_start_exits_1(crawl: Crawl) -> None:
    done = crawl("zhangzhou", "-s", "GOVNEWS_DATABASE_URL=nosuch://db", check=False)
    assert done.returncode == EXIT_CODES["failed"] == 1


def test_summary_shows_killed_runs_and_does_not_call_refused_requests_retried(
    tmp_path: Path,
) -> None:
    """A killed run by when it started and who found it; a ``policy`` failure apart.

    The outbound policy's refusals are never requested again: the summary must not
    count them among the failures "retried on the next run".
    """
    database = tmp_path / "govnews.db"
    engine = open_database(f"sqlite:///{database}")
    with session_factory(engine)() as session:
        repository = Repository(session)
        killed = repository.start_run("zhangzhou")
        repository.close_dead_runs(repository.start_run("zhangzhou"))
        repository.record_failure(
            "http://www.nmgfzw.cn/a.html", spider="nmgfzw", stage="http", reason="HTTP 404"
        )
        refused = "http://169.254.169.254/latest/meta-data/"
        repository.record_failure(
            refused, spider="nmgfzw", stage="policy", reason="link-local address 169.254.169.254"
        )
        session.commit()
        started = f"{killed.started_at:%Y-%m-%d %H:%M:%S} UTC"
    engine.dispose()
    where = f"GOVNEWS_DATABASE_URL=sqlite:///{database}"
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "summary", "-s", where],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    retried = lines.index("Open failures (retried on the next run): 1")
    assert lines[retried + 1] == "  http://www.nmgfzw.cn/a.html [http] HTTP 404"
    assert lines[retried + 2 : retried + 4] == [
        "Refused by the outbound policy (never requested again): 1",
        f"  {refused} link-local address 169.254.169.254",
    ]
    assert re.fullmatch(
        rf"  #1 zhangzhou\s+killed\s+started {started}; killed: still running when run 2 "
        r"started \(its process ended without closing it\)",
        lines[-1],
    )


def test_crawlall_runs_every_spider_writes_their_feeds_and_links(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'govnews.db'}"
    feeds = tmp_path / "feeds"
    feed = json.dumps({f"{feeds}/%(name)s/%(time)s.jsonl": {"format": "jsonlines"}})
    done = crawlall(database, "nmgfzw", "zhangzhou", "-s", f"FEEDS={feed}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "crawlall: relinked since" in done.stderr
    written = {path.parent.name: path for path in feeds.glob("*/*.jsonl")}
    assert set(written) == {"nmgfzw", "zhangzhou"}
    engine = create_engine(database)
    with Session(engine) as session:
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
        assert [(run.spider, run.status) for run in runs] == [
            ("nmgfzw", "finished"),
            ("zhangzhou", "finished"),
        ]
        stored = set(session.scalars(select(ArticleRow.url)))
    lines = [json.loads(line) for path in written.values() for line in path.open(encoding="utf-8")]
    assert {record["url"] for record in lines} == stored
    engine.dispose()
    again = crawlall(database, "-s", "FEEDS={}")
    assert again.returncode == 0
    assert "'govnews/skipped_known'" in again.stderr


def test_crawlall_refuses_an_unknown_spider(tmp_path: Path) -> None:
    done = crawlall(f"sqlite:///{tmp_path / 'x.db'}", "nosuch")
    assert done.returncode == 1 and "no such spider: nosuch" in done.stderr
    command = [sys.executable, "-m", "scrapy", "crawl", "nosuch"]
    alone = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert alone.returncode == 1 and "no such spider: nosuch" in alone.stderr


def test_retries_back_off(crawl: Crawl, tmp_path: Path) -> None:
    flaky = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, flaky)
    page = flaky / "nyncj.zhangzhou.gov.cn" / "cms" / "html" / "zzsnyj" / "gzdt" / "index.html"
    page.with_name("index.html.http").write_text(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n", encoding="ascii"
    )
    done = crawl(
        "zhangzhou",
        "-s", f"GOVNEWS_MIRROR={flaky}",
        "-s", "GOVNEWS_RETRY_BACKOFF=0.05",
        "-s", "RETRY_TIMES=3",
        check=False,
    )  # fmt: skip
    assert "'retry/count': 3" in done.stderr
    assert "'govnews/retry_backoff_waits': 3" in done.stderr  # 0.05 s, 0.1 s, 0.2 s
    assert done.returncode in (0, 2)  # one column lost: finished, perhaps degraded


def test_backoff_doubles_up_to_its_limit() -> None:
    crawler = get_crawler(
        settings_dict={"GOVNEWS_RETRY_BACKOFF": 2.0, "GOVNEWS_RETRY_BACKOFF_MAX": 60.0}
    )
    backoff = RetryBackoffMiddleware.from_crawler(crawler)
    assert [backoff.delay(n) for n in range(7)] == [0, 2, 4, 8, 16, 32, 60]
