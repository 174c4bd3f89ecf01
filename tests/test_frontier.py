"""The shared frontier: N workers on one Redis queue crawl what one process crawls.

Workers are ``scrapy crawl``/``crawlall`` subprocesses on the snapshot's mirror, with
a real redis-server (the ``redis_url`` fixture) and a real PostgreSQL or SQLite
database; each test keeps to its own key prefix. A small mirror latency spreads the
pages over the workers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from scrapy.utils.test import get_crawler
from sqlalchemy import create_engine, select
from sqlalchemy.orm import aliased

from govnews import settings as project
from govnews.crawl.frontier.registry import Frontier
from govnews.store import models
from tests.conftest import ROOT, SNAPSHOT

#: Worker settings of the tests: a short heartbeat, so a killed worker is found in 2 s.
FAST = ["-s", "GOVNEWS_FRONTIER_HEARTBEAT=0.2", "-s", "GOVNEWS_FRONTIER_TIMEOUT=2"]
#: The project's settings, as a worker reads them.
PROJECT = {
    **{name: getattr(project, name) for name in dir(project) if name.isupper()},
    "GOVNEWS_DATABASE_URL": "sqlite://",  # the crawlers built here touch no file
}
#: Columns that say when, not what: they differ from run to run.
WHEN = {"id", "first_seen_at", "updated_at", "fetched_at"}


def worker(
    tmp: Path,
    name: str,
    database: str,
    redis_url: str,
    prefix: str,
    *command: str,
    mirror: Path = SNAPSHOT,
) -> subprocess.Popen[str]:
    """Start one worker: ``scrapy COMMAND`` on the snapshot (or ``mirror``), its log in
    ``tmp/<name>.log``. On SQLite each worker has a lock file of its own (one shared file
    would let one worker at a time in); on PostgreSQL they share the advisory lock, which
    also tells their live runs from killed ones."""
    log = (tmp / f"{name}.log").open("w")
    alone = ["-s", f"GOVNEWS_LOCK_FILE={tmp / name}.lock"] if database.startswith("sqlite") else []
    return subprocess.Popen(
        [
            sys.executable, "-m", "scrapy", *command,
            "-s", f"GOVNEWS_MIRROR={mirror}",
            "-s", "GOVNEWS_MIRROR_LATENCY=0.05",
            "-s", f"GOVNEWS_DATABASE_URL={database}",
            *alone,
            "-s", f"GOVNEWS_SPOOL_DIR={tmp / 'spool'}",
            "-s", f"GOVNEWS_REDIS_URL={redis_url}",
            "-s", f"GOVNEWS_REDIS_PREFIX={prefix}",
            "-s", "FEEDS={}",
            "-s", "LOG_LEVEL=INFO",
            *FAST,
        ],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def finish(
    workers: list[subprocess.Popen[str]], tmp: Path, allowed: tuple[int, ...] = (0,)
) -> list[int]:
    """Wait for every worker; their exit codes, each one of ``allowed``, else the test
    fails with the logs. A run is judged as one, by the worker that ends it, over every
    worker's pages: each worker of a healthy run exits 0."""
    codes = [process.wait(timeout=240) for process in workers]
    if any(code not in allowed for code in codes):
        logs = "\n".join(path.read_text()[-3000:] for path in sorted(tmp.glob("*.log")))
        raise AssertionError(f"workers exited {codes}:\n{logs}")
    return codes


def contents(url: str) -> tuple[set[tuple[Any, ...]], set[tuple[str, str | None, str]]]:
    """Every stored article's fields (not its timestamps), and every link (repost,
    original, how)."""
    engine = create_engine(url)
    columns = [c for c in models.ArticleRow.__table__.columns if c.name not in WHEN]
    original = aliased(models.ArticleRow)
    with engine.connect() as connection:
        articles = {
            tuple(json.dumps(v, sort_keys=True) if isinstance(v, list | dict) else v for v in row)
            for row in connection.execute(select(*columns))
        }
        links = {
            (row[0], row[1], row[2])
            for row in connection.execute(
                select(models.ArticleRow.url, original.url, models.Repost.method)
                .join(models.Repost, models.Repost.repost_id == models.ArticleRow.id)
                .outerjoin(original, original.id == models.Repost.original_id)
            )
        }
    engine.dispose()
    return articles, links


def keys(redis_url: str, prefix: str) -> list[bytes]:
    """The Redis keys of a test's prefix, host tokens apart."""
    client = redis.Redis.from_url(redis_url)
    return [key for key in client.scan_iter(f"{prefix}:*") if b":slot:" not in key]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[Any], set[Any]]:
    """What ``scrapy crawlall`` stores over the snapshot in one process, without Redis."""
    tmp = tmp_path_factory.mktemp("one")
    database = f"sqlite:///{tmp / 'govnews.db'}"
    subprocess.run(
        [
            sys.executable, "-m", "scrapy", "crawlall",
            "-s", f"GOVNEWS_MIRROR={SNAPSHOT}", "-s", f"GOVNEWS_DATABASE_URL={database}",
            "-s", "FEEDS={}",
        ],
        cwd=ROOT, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return contents(database)


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_store_what_one_process_stores(
    workers: int,
    one_process: tuple[set[Any], set[Any]],
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """N ``crawlall`` workers on one PostgreSQL database and one queue: the same articles,
    field for field, and the same links; then the incremental re-run adds nothing and
    every run's keys are gone."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    started = [
        worker(tmp_path, f"w{n}", postgres_url, redis_url, prefix, "crawlall")
        for n in range(workers)
    ]
    finish(started, tmp_path)
    articles, links = contents(postgres_url)
    assert len(articles) == len(one_process[0])
    assert articles == one_process[0]
    assert links == one_process[1]
    logs = [path.read_text() for path in sorted(tmp_path.glob("w*.log"))]
    assert sum("joined run" in log for log in logs) >= 1  # they did share runs
    assert keys(redis_url, prefix) == []

    again = [
        worker(tmp_path, f"again{n}", postgres_url, redis_url, prefix, "crawlall")
        for n in range(workers)
    ]
    finish(again, tmp_path)
    assert contents(postgres_url) == (articles, links)
    assert keys(redis_url, prefix) == []


def test_a_worker_killed_mid_run_loses_nothing(
    one_process: tuple[set[Any], set[Any]], redis_url: str, tmp_path: Path
) -> None:
    """SIGKILL one of two workers while it holds leases: the other puts its requests
    back and finishes the run; with the next run the database holds every article."""
    database = f"sqlite:///{tmp_path / 'govnews.db'}"
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    # Slow pages, two at a time: the run lasts some 10 s, the victim joins it.
    slow = ("-s", "GOVNEWS_MIRROR_LATENCY=0.5", "-s", "CONCURRENT_REQUESTS=2")
    survivor = worker(tmp_path, "survivor", database, redis_url, prefix, "crawl", "nmgfzw", *slow)
    victim = worker(tmp_path, "victim", database, redis_url, prefix, "crawl", "nmgfzw", *slow)
    victim_leases = f"{prefix}:nmgfzw:*:leases:*:{victim.pid}:*"
    while not any(client.hlen(key) for key in client.scan_iter(victim_leases)):
        assert victim.poll() is None, "the victim ended before it leased anything"
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    finish([survivor], tmp_path)
    log = (tmp_path / "survivor.log").read_text()
    assert "request(s) of dead workers put back" in log
    victim_log = (tmp_path / "victim.log").read_text()
    assert ("joined run" in victim_log) != ("joined run" in log)  # one run, shared
    assert keys(redis_url, prefix) == []

    finish([worker(tmp_path, "next", database, redis_url, prefix, "crawl", "nmgfzw")], tmp_path)
    stored = {row[1] for row in contents(database)[0]}  # url
    expected = {row[1] for row in one_process[0] if "nmgfzw" in row[1]}
    assert expected and expected <= stored


def test_each_host_gives_its_robots_txt_once_a_run(redis_url: str, tmp_path: Path) -> None:
    """Two ``scrapy crawl`` workers of one run fetch the portal's robots.txt once between
    them (alone, each fetched it); the one that did not fetch it read it from the run."""
    database = f"sqlite:///{tmp_path / 'govnews.db'}"
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    slow = ("-s", "GOVNEWS_MIRROR_LATENCY=0.3", "-s", "CONCURRENT_REQUESTS=2")
    started = [
        worker(tmp_path, f"w{n}", database, redis_url, prefix, "crawl", "nmgfzw", *slow)
        for n in range(2)
    ]
    finish(started, tmp_path)
    logs = [path.read_text() for path in sorted(tmp_path.glob("w*.log"))]
    assert sum("joined run" in log for log in logs) == 1
    fetched = [stat(log, "robotstxt/response_count") for log in logs]
    read = [stat(log, "robotstxt/shared") for log in logs]
    assert sum(fetched) == 1  # www.nmgfzw.cn's (other hosts are offsite: never requested)
    assert sum(read) >= 1
    assert keys(redis_url, prefix) == []


def stat(log: str, name: str) -> int:
    """A counter of a worker's closing stats (0 when it never counted)."""
    found = re.search(rf"'{re.escape(name)}': (\d+)", log)
    return int(found[1]) if found else 0


def test_a_bad_redis_url_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "scrapy", "crawl", "nmgfzw",
            "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{tmp_path / 'db'}",
            "-s", "GOVNEWS_REDIS_URL=nonsense://nowhere",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "govnews: GOVNEWS_REDIS_URL='nonsense://nowhere' is no Redis URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_frontier_is_off_without_a_redis_url() -> None:
    crawler = get_crawler(settings_dict=PROJECT)
    crawler._apply_settings()  # noqa: SLF001
    assert crawler.get_extension(Frontier) is None
    assert crawler.settings["SCHEDULER"] == "scrapy.core.scheduler.Scheduler"
