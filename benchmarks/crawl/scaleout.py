"""Scale-out: 1, 2, 4 crawl workers on one shared frontier (Redis) and one database.

    python -m benchmarks.crawl.scaleout [--articles 600] [--hosts 2] [--workers [0,]1,2,4]
        [--latency 0.25,1] [--database postgres|sqlite] [--workdir DIR]

Generates the crawl benchmark's site (``benchmarks/crawl/site.py``), then for each
latency and each number of workers starts that many ``scrapy crawl zhangzhou``
processes at once, on the snapshot's mirror answering after ``GOVNEWS_MIRROR_LATENCY``
seconds, all with ``GOVNEWS_REDIS_URL`` (a new key prefix each time) and one fresh
database: PostgreSQL (each worker its own lock file) or SQLite. Each worker has
``CONCURRENT_REQUESTS = 8`` and the per-host limit raised to 8, so that politeness
is not the bottleneck (the mirror sets no delay). Redis and PostgreSQL are started
here with ``tests/servers.py``, on 127.0.0.1.

``--workers 0`` is one process without Redis: Scrapy's own scheduler, the baseline
of CPU per page.

Prints per row: pages (every worker's ``downloader/response_count``), wall time from
the first start to the last exit, pages/s, the speed-up over one worker at that
latency, CPU per page in ms (the workers with their extraction processes, the
database server, Redis), and the checks: every generated article stored exactly
once, no key of the run left in Redis. Check the machine is idle first (``uptime``).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import create_engine, func, make_url, select

from benchmarks.crawl.site import Snapshot, generate
from govnews.core.urls import url_key
from govnews.store import models
from tests import servers

ROOT = Path(__file__).resolve().parents[2]
STAT = re.compile(r"'downloader/response_count': (\d+)")
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    pages: int
    seconds: float
    workers_cpu: float
    database_cpu: float
    redis_cpu: float
    problems: list[str]


def cpu_of(pid: int) -> float:
    """CPU seconds of a process and of its children it has waited for (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / TICK


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def new_database(kind: str, server: str, workdir: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / name}.db"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def check(database: str, snapshot: Snapshot, client: redis.Redis, prefix: str) -> list[str]:
    """Every generated article stored once; the run's keys gone."""
    problems = []
    engine = create_engine(database)
    with engine.connect() as connection:
        keys = set(connection.scalars(select(models.ArticleRow.url_key)))
        rows = connection.scalar(select(func.count()).select_from(models.ArticleRow))
    engine.dispose()
    missing = {url_key(a.url) for a in snapshot.articles} - keys
    if missing:
        problems.append(f"{len(missing)} articles not stored")
    if rows != len(keys):
        problems.append(f"{rows - len(keys)} articles stored twice")
    left = [k for k in client.scan_iter(f"{prefix}:*") if b":slot:" not in k]
    if left:
        problems.append(f"{len(left)} Redis keys left")
    return problems


def crawl(
    workers: int, latency: float, snapshot: Snapshot, database: str, redis_url: str,
    postgres_pid: int | None, redis_pid: int, workdir: Path,
) -> Result:  # fmt: skip
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    command = [
        sys.executable, "-m", "scrapy", "crawl", "zhangzhou",
        "-a", f"hosts={','.join(snapshot.hosts)}",
        "-s", f"GOVNEWS_MIRROR={snapshot.root}",
        "-s", f"GOVNEWS_MIRROR_LATENCY={latency}",
        "-s", f"GOVNEWS_DATABASE_URL={database}",
        "-s", f"GOVNEWS_SPOOL_DIR={workdir / 'spool'}",
        *(("-s", f"GOVNEWS_REDIS_URL={redis_url}") if workers else ()),
        "-s", f"GOVNEWS_REDIS_PREFIX={prefix}",
        "-s", "CONCURRENT_REQUESTS=8",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
        "-s", "LOG_LEVEL=INFO",
    ]  # fmt: skip
    database_before = cpu_of(postgres_pid) if postgres_pid else 0.0
    redis_before = cpu_of(redis_pid)
    workers_before = children_cpu()
    started = time.perf_counter()
    running = [
        subprocess.Popen(
            [*command, "-s", f"GOVNEWS_LOCK_FILE={workdir / prefix}-{n}.lock"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for n in range(max(workers, 1))
    ]
    outputs = [process.communicate()[1] for process in running]
    seconds = time.perf_counter() - started
    problems = [
        f"worker exited {process.returncode}: {output[-500:]}"
        for process, output in zip(running, outputs, strict=True)
        if process.returncode not in (0, 2)
    ]
    pages = sum(int(m) for output in outputs for m in STAT.findall(output))
    problems += check(database, snapshot, redis.Redis.from_url(redis_url), prefix)
    return Result(
        pages=pages,
        seconds=seconds,
        workers_cpu=children_cpu() - workers_before,
        database_cpu=(cpu_of(postgres_pid) - database_before) if postgres_pid else 0.0,
        redis_cpu=cpu_of(redis_pid) - redis_before,
        problems=problems,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--workers", default="1,2,4", help="0: one process without Redis")
    parser.add_argument("--latency", default="0.25,1")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="govnews-scaleout-"))
    workdir.mkdir(parents=True, exist_ok=True)
    snapshot = generate(workdir / f"snapshot-{args.articles}", args.articles, args.hosts)
    redis_url, redis_pidfile = servers.start_redis(workdir / "redis")
    redis_pid = int(redis_pidfile.read_text())
    postgres_url, postgres_data, postgres_pid = "", None, None
    if args.database == "postgres":
        postgres_url, postgres_data = servers.start_postgres()
        postgres_pid = int((postgres_data / "postmaster.pid").read_text().split()[0])
    print(f"{len(snapshot.articles)} articles, {len(snapshot.urls)} pages; {args.database}\n")
    print("| latency | workers | pages | s | pages/s | speed-up | CPU ms/page: workers "
          "| database | Redis | checks |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    try:
        for latency in [float(x) for x in args.latency.split(",")]:
            single = None
            for workers in [int(x) for x in args.workers.split(",")]:
                name = f"scaleout_{uuid.uuid4().hex[:8]}"
                database = new_database(args.database, postgres_url, workdir, name)
                result = crawl(
                    workers, latency, snapshot, database, redis_url,
                    postgres_pid, redis_pid, workdir,
                )  # fmt: skip
                rate = result.pages / result.seconds
                single = single or rate
                per_page = [
                    1000 * cpu / max(result.pages, 1)
                    for cpu in (result.workers_cpu, result.database_cpu, result.redis_cpu)
                ]
                print(
                    f"| {latency * 1000:.0f} ms | {workers or '1, no Redis'} | {result.pages} | "
                    f"{result.seconds:.1f} | {rate:.1f} | {rate / single:.2f}× | "
                    + " | ".join(f"{v:.1f}" for v in per_page)
                    + f" | {'; '.join(result.problems) or 'ok'} |",
                    flush=True,
                )
    finally:
        servers.stop_redis(redis_pidfile)
        if postgres_data is not None:
            servers.stop_postgres(postgres_data)


if __name__ == "__main__":
    main()
