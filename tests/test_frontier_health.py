"""A shared frontier run is judged as one: by the worker that ends it, over every worker's
pages; the others judge only what is theirs (did they finish, were their records written).

Workers are ``scrapy crawl zhangzhou`` subprocesses on the snapshot's mirror with a real
redis-server and a real PostgreSQL database (each worker its own ``crawl_runs`` row).
"""

from __future__ import annotations

import ast
import re
import shutil
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select

from govnews.store.models import CrawlRun
from tests.conftest import SNAPSHOT
from tests.test_frontier import finish, keys, worker

#: The worker that ends a run says so, with the run's totals.
JUDGES = "This worker judges it over the pages of its"
#: What the other workers' finish reasons say.
NOT_JUDGED = "coverage judged by the run's last worker"


def stats(log: str) -> dict[str, object]:
    """The stats a worker dumped when it closed (Scrapy's ``Dumping Scrapy stats``)."""
    dumped = log[log.index("Dumping Scrapy stats:") :].split("\n", 1)[1]
    text = dumped[: dumped.index("}") + 1]
    text = re.sub(r"datetime\.datetime\([^)]*\)", "None", text)
    return ast.literal_eval(text)


def runs(database: str) -> list[tuple[str, str]]:
    """Every ``crawl_runs`` row's status and finish reason, in order."""
    engine = create_engine(database)
    with engine.connect() as connection:
        rows = connection.execute(
            select(CrawlRun.status, CrawlRun.finish_reason).order_by(CrawlRun.id)
        )
        found = [(status, reason or "") for status, reason in rows]
    engine.dispose()
    return found


def crawl_zhangzhou(
    tmp: Path, name: str, database: str, redis_url: str, prefix: str, mirror: Path = SNAPSHOT
) -> list[int]:
    """Two workers of one ``crawl zhangzhou`` run; their logs ``tmp/<name>0.log`` and
    ``tmp/<name>1.log``; their exit codes, each 0 or 2."""
    command = ("crawl", "zhangzhou")
    started = [
        worker(tmp, f"{name}{n}", database, redis_url, prefix, *command, mirror=mirror)
        for n in range(2)
    ]
    return finish(started, tmp, allowed=(0, 2))


def test_a_healthy_run_exits_0_on_every_worker(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Two workers, a first and an incremental run: each worker exits 0, though a worker's
    own slice may hold no article of a site (per worker, it exited 2). The worker that
    ends the run judges it over totals that are the sum of the workers' pages; each
    worker's ``crawl_runs`` row names the frontier run."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    for name in ("first", "again"):
        assert crawl_zhangzhou(tmp_path, name, postgres_url, redis_url, prefix) == [0, 0]
        logs = [(tmp_path / f"{name}{n}.log").read_text() for n in range(2)]
        judges = [log for log in logs if JUDGES in log]
        assert len(judges) == 1
        totals, own = stats(judges[0]), [stats(log) for log in logs]
        assert {s["frontier/run"] for s in own} == {totals["frontier/run"]}  # one run
        assert totals["frontier/totals/workers"] == 2
        for count in ("requested", "stored", "failed", "listings"):
            assert totals[f"frontier/totals/{count}"] == sum(
                s.get(f"govnews/pages/{count}", 0) for s in own
            )
        assert totals["frontier/totals/requested"] > 0
        assert keys(redis_url, prefix) == []
        last_two = runs(postgres_url)[-2:]
        assert [status for status, _ in last_two] == ["finished", "finished"]
        reasons = sorted(reason for _, reason in last_two)
        run_id = totals["frontier/run"]
        assert reasons == sorted(
            [
                f"finished; frontier run {run_id}: {NOT_JUDGED}",
                f"finished; frontier run {run_id}: judged over 2 worker(s)' pages",
            ]
        )
    assert len(runs(postgres_url)) == 4


def test_a_degraded_run_is_said_by_the_worker_that_ends_it(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """One of the spider's two sites is dead (every page missing from the mirror): the
    worker that ends the run judges the run degraded over every worker's pages and exits
    2; the other exits 0 and leaves the verdict to it."""
    dead = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, dead, ignore=shutil.ignore_patterns("www.zhangzhou.gov.cn"))
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    codes = crawl_zhangzhou(tmp_path, "w", postgres_url, redis_url, prefix, dead)
    logs = [(tmp_path / f"w{n}.log").read_text() for n in range(2)]
    judge = next(n for n, log in enumerate(logs) if JUDGES in log)
    assert codes[judge] == 2 and codes[1 - judge] == 0
    assert keys(redis_url, prefix) == []
    ((degraded, why),) = [row for row in runs(postgres_url) if row[0] != "finished"]
    assert degraded == "degraded"
    assert "judged over 2 worker(s)' pages" in why
    assert re.search(r"no articles from www\.zhangzhou\.gov\.cn: (\d+) of its \1 pages failed", why)
    (other,) = [reason for status, reason in runs(postgres_url) if status == "finished"]
    assert other.endswith(NOT_JUDGED)
