"""Scale-out: 1, 2, 4 crawl workers on one shared frontier (Redis) and one database.

    python -m benchmarks.crawl.scaleout [--articles 600] [--hosts 2] [--reposts 0.1]
        [--workers [0,]1,2,4] [--latency 0.25,1] [--database postgres|sqlite]
        [--workdir DIR] [--timeline]

Generates the crawl benchmark's site (``benchmarks/crawl/site.py``), then for each
latency and each number of workers starts that many ``scrapy crawl zhangzhou``
processes at once, on the snapshot's mirror answering after ``GOVNEWS_MIRROR_LATENCY``
seconds, all with ``GOVNEWS_REDIS_URL`` (a new key prefix each time) and one fresh
database: PostgreSQL (the workers share its run lock) or SQLite (each worker its own lock
file: one file would let one worker at a time in). Each worker has
``CONCURRENT_REQUESTS = 8`` and the per-host limit raised to 8 per worker (with
``GOVNEWS_SHARED_CONCURRENCY`` it is the whole run's), so that politeness is not the
bottleneck (the mirror sets no delay). Redis and PostgreSQL are started
here with ``tests/servers.py``, on 127.0.0.1.

``--workers 0`` is one process without Redis: Scrapy's own scheduler, the baseline
of CPU per page.

Each worker runs with ``SCRAPY_SETTINGS_MODULE=benchmarks.crawl.timeline`` (govnews's
settings plus a timeline extension, ``benchmarks/crawl/timeline.py``), which records
when it loaded, started, sent and received each page, went idle and closed.

Prints per row: pages (every worker's ``downloader/response_count``); wall time from
the first start to the last exit, pages/s and the speed-up over one worker at that
latency on it (the issue's figure, start-up and closing included); *active* time,
from the first request sent to the last response, and the speed-up on it; the
*ideal* time and speed-up (:func:`ideal_rounds`: the site's paging chain and the
pages over ``8 × workers`` requests in flight, no start-up, no CPU); CPU per page in
ms (the workers with their extraction processes, the database server, Redis); the
CPU seconds the rest of the machine used meanwhile (other users: noise) and the load
average at the start; the checks: every generated article stored exactly once, every
repost linked to its original and no other link (``--reposts``, a tenth of the
articles by default: reposts of another host's article, half of them declaring its
URL in a 原文链接 line, the others found by 来源, title and date), no key of the run
left in Redis. ``--timeline`` adds per worker the times of its
events, the requests in flight each second, and the paging chain of the longest
column (when each list page was sent and answered). Check the machine is idle first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import redis
from sqlalchemy import create_engine, func, make_url, select
from sqlalchemy.orm import aliased

from benchmarks.crawl.site import EMPTY_COLUMNS, PER_PAGE, Snapshot, generate
from govnews.core.urls import url_key
from govnews.mirror import snapshot_path
from govnews.store import models
from tests import servers

ROOT = Path(__file__).resolve().parents[2]
STAT = re.compile(r"'downloader/response_count': (\d+)")
TICK = os.sysconf("SC_CLK_TCK")
LIST_PAGE_N = re.compile(r"siteId=(\d+)&page=(\d+)")
ARTICLE_LINK = re.compile(r'href="([^"]*/cms/html/[^"/]+/\d{4}-\d{2}-\d{2}/\d+\.html)"')


@dataclass
class Worker:
    """One worker process: when it was started and exited, and its timeline's events."""

    started: float
    exited: float = 0.0
    events: dict[str, Any] = field(default_factory=dict)

    def sent(self) -> list[tuple[float, float, str]]:
        """Each response as (sent, received, the URL if a list page, else "")."""
        responses = self.events.get("responses", [])
        return [(t - latency, t, listing) for t, latency, listing in responses]


@dataclass
class Result:
    pages: int
    seconds: float
    workers_cpu: float
    database_cpu: float
    redis_cpu: float
    problems: list[str]
    workers: list[Worker]
    #: CPU seconds the rest of the machine used meanwhile (other users' tests: noise).
    others_cpu: float = 0.0

    def active(self) -> float:
        """Seconds from the first request sent (by any worker) to the last response."""
        sent = [s for w in self.workers for s in w.sent()]
        return max(r for _, r, _ in sent) - min(s for s, _, _ in sent) if sent else 0.0


def cpu_of(pid: int) -> float:
    """CPU seconds of a process and of its children it has waited for (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / TICK


def machine_cpu() -> float:
    """CPU seconds every core of the machine has been busy since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


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
    """Every generated article stored once; every repost linked to its original; the run's
    keys gone."""
    problems = []
    engine = create_engine(database)
    repost, original = aliased(models.ArticleRow), aliased(models.ArticleRow)
    with engine.connect() as connection:
        keys = set(connection.scalars(select(models.ArticleRow.url_key)))
        rows = connection.scalar(select(func.count()).select_from(models.ArticleRow))
        links = [
            (url, linked)
            for url, linked in connection.execute(
                select(repost.url, original.url)
                .join(models.Repost, models.Repost.repost_id == repost.id)
                .join(original, models.Repost.original_id == original.id)
            )
        ]
    engine.dispose()
    missing = {url_key(a.url) for a in snapshot.articles} - keys
    if missing:
        problems.append(f"{len(missing)} articles not stored")
    if rows != len(keys):
        problems.append(f"{rows - len(keys)} articles stored twice")
    if dict(links) != snapshot.links or len(links) != len(snapshot.links):
        made = set(links) & set(snapshot.links.items())
        problems.append(
            f"{len(made)} of {len(snapshot.links)} links made, {len(links) - len(made)} wrong"
        )
    left = [k for k in client.scan_iter(f"{prefix}:*") if b":slot:" not in k]
    if left:
        problems.append(f"{len(left)} Redis keys left")
    return problems


def crawl(
    workers: int, latency: float, snapshot: Snapshot, database: str, redis_url: str,
    postgres_pid: int | None, redis_pid: int, workdir: Path,
) -> Result:  # fmt: skip
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    sqlite = database.startswith("sqlite")
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
        # The per-host limit is the whole run's on the shared frontier: 8 per worker.
        "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={8 * max(workers, 1)}",
        "-s", "LOG_LEVEL=INFO",
    ]  # fmt: skip
    database_before = cpu_of(postgres_pid) if postgres_pid else 0.0
    redis_before = cpu_of(redis_pid)
    workers_before = children_cpu()
    machine_before = machine_cpu()
    environment = {**os.environ, "SCRAPY_SETTINGS_MODULE": "benchmarks.crawl.timeline"}
    files = [workdir / f"{prefix}-{n}.timeline.json" for n in range(max(workers, 1))]
    outputs = [""] * len(files)
    started = time.time()
    running = [
        subprocess.Popen(
            [
                *command,
                *(("-s", f"GOVNEWS_LOCK_FILE={workdir / prefix}-{n}.lock") if sqlite else ()),
                "-s",
                f"BENCHMARK_TIMELINE={file}",
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for n, file in enumerate(files)
    ]
    timed = [Worker(started) for _ in running]

    def wait(n: int) -> None:
        outputs[n] = running[n].communicate()[1]
        timed[n].exited = time.time()
        files[n].with_suffix(".log").write_text(outputs[n], encoding="utf-8")

    waiting = [threading.Thread(target=wait, args=(n,)) for n in range(len(running))]
    for thread in waiting:
        thread.start()
    for thread in waiting:
        thread.join()
    seconds = max(w.exited for w in timed) - started
    machine = machine_cpu() - machine_before
    for worker, file in zip(timed, files, strict=True):
        if file.exists():
            worker.events = json.loads(file.read_text(encoding="utf-8"))
    problems = [
        f"worker exited {process.returncode}: {output[-500:]}"
        for process, output in zip(running, outputs, strict=True)
        if process.returncode not in (0, 2)
    ]
    pages = sum(int(m) for output in outputs for m in STAT.findall(output))
    problems += check(database, snapshot, redis.Redis.from_url(redis_url), prefix)
    result = Result(
        pages=pages,
        seconds=seconds,
        workers_cpu=children_cpu() - workers_before,
        database_cpu=(cpu_of(postgres_pid) - database_before) if postgres_pid else 0.0,
        redis_cpu=cpu_of(redis_pid) - redis_before,
        problems=problems,
        workers=timed,
    )
    result.others_cpu = machine - result.workers_cpu - result.database_cpu - result.redis_cpu
    return result


def print_timeline(result: Result, latency: float) -> None:
    """Per worker, seconds from the first start: settings loaded, engine started, first
    request, last response, idle after it, spider closed, exit. Then the requests in
    flight (every worker's) in each second, and the paging chain: each list page 2..N
    (their URLs carry the column's siteId), when it was sent and answered, and how long
    after a page's answer the next page was sent (latency excluded: the frontier's and
    the engine's own delay)."""
    zero = min(w.started for w in result.workers)
    print("\n| worker | pages | loaded | engine started | first request | last response "
          "| idle at | closed | exited |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    flight: defaultdict[int, float] = defaultdict(float)
    chains: defaultdict[str, dict[int, tuple[float, float]]] = defaultdict(dict)
    for number, worker in enumerate(result.workers, start=1):
        events, sent = worker.events, worker.sent()
        first = min((s for s, _, _ in sent), default=math.nan)
        last = max((r for _, r, _ in sent), default=math.nan)
        idle = [t for t in events.get("idle", []) if t >= last]
        cells = [events.get("loaded"), events.get("engine_started"), first, last,
                 idle[0] if idle else None, events.get("spider_closed"), worker.exited]  # fmt: skip
        times = " | ".join("–" if c is None else f"{c - zero:.1f}" for c in cells)
        print(f"| {number} | {len(sent)} | {times} |")
        for begin, end, listing in sent:
            for second in range(int(begin - zero), int(end - zero) + 1):
                overlap = min(end - zero, second + 1) - max(begin - zero, second)
                flight[second] += max(overlap, 0.0)
            if found := LIST_PAGE_N.search(listing):
                chains[found.group(1)][int(found.group(2))] = (begin - zero, end - zero)
    seconds = range(max(flight, default=-1) + 1)
    print("\nrequests in flight, each second from the first start: "
          + " ".join(f"{flight[s]:.0f}" for s in seconds))  # fmt: skip
    gaps = sorted(
        pages[n + 1][0] - pages[n][1] for pages in chains.values() for n in pages if n + 1 in pages
    )
    if gaps:
        longest = max(chains.values(), key=len)
        print("longest column, pages 2..N sent→answered: "
              + ", ".join(f"{a:.1f}→{b:.1f}" for _, (a, b) in sorted(longest.items())))  # fmt: skip
        print(f"next list page sent after the previous one's answer: median"
              f" {gaps[len(gaps) // 2]:.2f} s, max {gaps[-1]:.2f} s")  # fmt: skip
    print(f"latency {latency:g} s\n", flush=True)


def ideal_rounds(snapshot: Snapshot, concurrency: int) -> int:
    """Latencies a crawl of the site needs at best, with ``concurrency`` requests in flight.

    Every request takes one latency; each round sends as many queued requests as the
    concurrency allows, list pages first (the spider's order). robots.txt, the home
    page, a column's first list page, then its pages 2..N one after another (the
    spider asks for page N+1 from page N): the critical path is N + 3 latencies,
    plus one for the last page's articles; the pages over the concurrency bound the
    rest. No start-up, no CPU, no wait between rounds: a lower bound.
    """
    columns: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for article in sorted(snapshot.articles, key=lambda a: a.number, reverse=True):
        columns[(article.host, article.column)].append(article.url)
    empty = len(EMPTY_COLUMNS)
    # A list page: (host, column, page) -> its articles, and whether a next page follows.
    lists: dict[tuple[str, str, int], list[str]] = {}
    for (host, column), urls in columns.items():
        for page in range(math.ceil(len(urls) / PER_PAGE)):
            lists[(host, column, page + 1)] = urls[page * PER_PAGE : (page + 1) * PER_PAGE]
    home = {
        urljoin(f"http://{host}/", href)
        for host in snapshot.hosts
        for href in ARTICLE_LINK.findall(
            snapshot_path(snapshot.root, f"http://{host}/").read_text(encoding="utf-8")
        )
    }
    rounds = 2  # robots.txt, then the home pages
    listings = [key for key in lists if key[2] == 1] + [("", "", 0)] * empty * len(snapshot.hosts)
    seen = set(home)
    articles = len(seen)
    while listings or articles:
        batch, listings = listings[:concurrency], listings[concurrency:]
        articles -= min(articles, concurrency - len(batch))
        rounds += 1
        for host, column, page in batch:
            if not page:
                continue
            new = [u for u in lists[(host, column, page)] if u not in seen]
            seen.update(new)
            articles += len(new)
            if (host, column, page + 1) in lists:
                listings.append((host, column, page + 1))
    return rounds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--reposts", type=float, default=0.1, help="share of reposts")
    parser.add_argument("--workers", default="1,2,4", help="0: one process without Redis")
    parser.add_argument("--latency", default="0.25,1")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--timeline", action="store_true", help="per worker, after each row")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="govnews-scaleout-"))
    workdir.mkdir(parents=True, exist_ok=True)
    snapshot = generate(
        workdir / f"snapshot-{args.articles}", args.articles, args.hosts, reposts=args.reposts
    )
    redis_url, redis_pidfile = servers.start_redis(workdir / "redis")
    redis_pid = int(redis_pidfile.read_text())
    postgres_url, postgres_data, postgres_pid = "", None, None
    if args.database == "postgres":
        postgres_url, postgres_data = servers.start_postgres()
        postgres_pid = int((postgres_data / "postmaster.pid").read_text().split()[0])
    print(
        f"{len(snapshot.articles)} articles ({len(snapshot.links)} reposts), "
        f"{len(snapshot.urls)} pages; {args.database}\n"
    )
    header = (
        "| latency | workers | pages | s | pages/s | speed-up | active s | active speed-up "
        "| ideal s | ideal speed-up | CPU ms/page: workers | database | Redis "
        "| others' CPU s | load | checks |"
    )
    print(header)
    print("|---:" * 15 + "|---|")
    try:
        for latency in [float(x) for x in args.latency.split(",")]:
            single: tuple[float, float, int] | None = None
            for workers in [int(x) for x in args.workers.split(",")]:
                name = f"scaleout_{uuid.uuid4().hex[:8]}"
                database = new_database(args.database, postgres_url, workdir, name)
                load = os.getloadavg()[0]
                result = crawl(
                    workers, latency, snapshot, database, redis_url,
                    postgres_pid, redis_pid, workdir,
                )  # fmt: skip
                rate, active = result.pages / result.seconds, result.pages / result.active()
                rounds = ideal_rounds(snapshot, 8 * max(workers, 1))
                single = single or (rate, active, rounds)
                per_page = [
                    1000 * cpu / max(result.pages, 1)
                    for cpu in (result.workers_cpu, result.database_cpu, result.redis_cpu)
                ]
                print(
                    f"| {latency * 1000:.0f} ms | {workers or '1, no Redis'} | {result.pages} | "
                    f"{result.seconds:.1f} | {rate:.1f} | {rate / single[0]:.2f}× | "
                    f"{result.active():.1f} | {active / single[1]:.2f}× | "
                    f"{rounds * latency:.1f} | {single[2] / rounds:.2f}× | "
                    + " | ".join(f"{v:.1f}" for v in per_page)
                    + f" | {result.others_cpu:.1f} | {load:.2f}"
                    + f" | {'; '.join(result.problems) or 'ok'} |",
                    flush=True,
                )
                if args.timeline:
                    print_timeline(result, latency)
    finally:
        servers.stop_redis(redis_pidfile)
        if postgres_data is not None:
            servers.stop_postgres(postgres_data)


if __name__ == "__main__":
    main()
