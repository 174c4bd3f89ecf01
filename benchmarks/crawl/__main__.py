"""Crawl speed against a bare Scrapy spider, and the requests of an incremental re-run.

    python -m benchmarks.crawl [--articles 5000] [--hosts 2] [--rounds 3] [--seed 0]
        [--latency SECONDS[,SECONDS…]] [--workdir DIR]

Generates a snapshot of ``--articles`` article pages with their listings on
``--hosts`` sites of the Fujian CMS (``benchmarks/crawl/site.py``), then, each
round, in subprocesses against the snapshot's mirror:

1. ``scrapy crawl zhangzhou`` into a fresh SQLite database: extraction, storage,
   linking, as a user runs it;
2. ``scrapy runspider benchmarks/crawl/bare.py``: the same pages downloaded by the
   same link following and settings, nothing else (1 and 2 alternate in order
   from round to round);
3. ``scrapy crawl zhangzhou`` again on the same database and unchanged snapshot.

``--latency`` makes the mirror wait that long before each answer, as a network
and a government server do (default 0: both crawls are bound by the CPU alone);
several comma-separated values run the rounds at each, to show where the crawl
stops being bound by the CPU.

Crawl time is Scrapy's ``elapsed_time_seconds`` (spider opened to closed);
process time, with start-up, is shown beside it. Pages are
``downloader/response_count``. Each round checks that both crawls fetched every
page and that the database holds every generated article. Prints a Markdown
table: per latency, each round, then the median with the range.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, select

from benchmarks.crawl.site import Snapshot, generate
from govnews.core.urls import url_key
from govnews.store import models

ROOT = Path(__file__).resolve().parents[2]
BARE = Path(__file__).with_name("bare.py")
# A numeric line of the stats Scrapy dumps when the spider closes.
STAT = re.compile(r"^[{ ]'([^']+)': (\d+(?:\.\d+)?)[,}]?$", re.MULTILINE)


@dataclass
class Run:
    """One crawl's figures."""

    requests: int
    pages: int
    seconds: float
    process: float

    @property
    def rate(self) -> float:
        """Pages per second of crawl time."""
        return self.pages / self.seconds


def crawl(command: list[str], snapshot: Snapshot, database: Path, latency: float) -> Run:
    """Run ``scrapy COMMAND…`` on the snapshot's hosts through its mirror."""
    command = [
        sys.executable, "-m", "scrapy", *command,
        "-a", f"hosts={','.join(snapshot.hosts)}",
        "-s", f"GOVNEWS_MIRROR={snapshot.root}",
        "-s", f"GOVNEWS_MIRROR_LATENCY={latency}",
        "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{database}",
        "-s", "LOG_LEVEL=INFO",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    process = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    dumped = done.stderr[done.stderr.rindex("Dumping Scrapy stats") :]
    stats = {name: float(value) for name, value in STAT.findall(dumped)}
    return Run(
        requests=int(stats["downloader/request_count"]),
        pages=int(stats["downloader/response_count"]),
        seconds=stats["elapsed_time_seconds"],
        process=process,
    )


def stored(database: Path) -> set[str]:
    """The URL keys of the articles in a crawl's database."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            return set(connection.scalars(select(models.ArticleRow.url_key)))
    finally:
        engine.dispose()


def one_round(
    number: int, snapshot: Snapshot, workdir: Path, latency: float
) -> tuple[dict[str, Run], list[str]]:
    """The three crawls of round ``number`` and what their checks found wrong."""
    database = workdir / f"govnews-{number}.db"
    bare_database = workdir / f"bare-{number}.db"  # must stay absent
    for path in (database, bare_database):
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".lock").unlink(missing_ok=True)
    runs: dict[str, Run] = {}
    order = ("govnews", "bare") if number % 2 else ("bare", "govnews")
    for name in order:
        if name == "govnews":
            runs[name] = crawl(["crawl", "zhangzhou"], snapshot, database, latency)
        else:
            runs[name] = crawl(["runspider", str(BARE)], snapshot, bare_database, latency)
    runs["rerun"] = crawl(["crawl", "zhangzhou"], snapshot, database, latency)
    problems = []
    pages = len(snapshot.urls) + len(snapshot.hosts)  # and each host's robots.txt
    for name in ("govnews", "bare"):
        if runs[name].pages != pages:
            problems.append(f"{name} fetched {runs[name].pages} pages of {pages}")
    missing = {url_key(a.url) for a in snapshot.articles} - stored(database)
    if missing:
        problems.append(f"{len(missing)} of {len(snapshot.articles)} articles not stored")
    if bare_database.exists():
        problems.append("the bare spider opened a database")
    return runs, problems


def row(label: str, values: list[str]) -> str:
    """A Markdown table row."""
    return f"| {label} | " + " | ".join(values) + " |"


def figures(rounds: list[dict[str, Run]]) -> dict[str, list[float]]:
    """Per figure, its value in each round."""
    return {
        "pages": [r["govnews"].pages for r in rounds],
        "govnews s": [r["govnews"].seconds for r in rounds],
        "govnews process s": [r["govnews"].process for r in rounds],
        "govnews pages/s": [r["govnews"].rate for r in rounds],
        "bare s": [r["bare"].seconds for r in rounds],
        "bare process s": [r["bare"].process for r in rounds],
        "bare pages/s": [r["bare"].rate for r in rounds],
        "ratio": [r["govnews"].rate / r["bare"].rate for r in rounds],
        "re-run requests": [r["rerun"].requests for r in rounds],
        "re-run share": [r["rerun"].requests / r["govnews"].requests for r in rounds],
    }


def show(name: str, value: float) -> str:
    """A figure as the table shows it."""
    if name == "re-run share":
        return f"{value:.2%}"
    if name == "ratio":
        return f"{value:.2f}"
    if name in ("pages", "re-run requests"):
        return f"{value:,.0f}"
    return f"{value:.1f}"


def report(latency: float, rounds: list[dict[str, Run]], header: bool) -> None:
    """Rows of the Markdown table for one latency: each round, then the median and range."""
    table = figures(rounds)
    if header:
        print(row("latency | round", list(table)))
        print(row("---: | ---", ["---:"] * len(table)))
    label = f"{latency * 1000:.0f} ms"
    for number in range(len(rounds)):
        values = [show(name, table[name][number]) for name in table]
        print(row(f"{label} | {number + 1}", values))
    medians = [show(name, statistics.median(v)) for name, v in table.items()]
    print(row(f"{label} | median", medians))
    spread = [f"{show(n, min(v))}–{show(n, max(v))}" for n, v in table.items()]
    print(row(f"{label} | range", spread))


def run(
    articles: int,
    hosts: int,
    rounds: int,
    seed: int,
    workdir: Path,
    latencies: Sequence[float] = (0.0,),
) -> None:
    """Generate the snapshot into ``workdir``, crawl it ``rounds`` times per latency, report."""
    started = time.perf_counter()
    snapshot = generate(workdir / f"snapshot-{articles}-{hosts}-{seed}", articles, hosts, seed)
    print(
        f"snapshot: {len(snapshot.articles):,} articles, {len(snapshot.urls):,} pages on "
        f"{', '.join(snapshot.hosts)}; generated in {time.perf_counter() - started:.1f} s\n"
    )
    failed = False
    for index, latency in enumerate(latencies):
        results = []
        for number in range(1, rounds + 1):
            runs, problems = one_round(number, snapshot, workdir, latency)
            results.append(runs)
            for problem in problems:
                print(f"{latency * 1000:.0f} ms, round {number}: {problem}", file=sys.stderr)
            failed = failed or bool(problems)
        report(latency, results, header=index == 0)
    if failed:
        sys.exit(1)
    print(f"\nEvery round: every page fetched by both, all {articles:,} articles stored.")


def latencies(text: str) -> tuple[float, ...]:
    """``--latency`` values: seconds, comma-separated, none negative."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not seconds: {text!r}") from None
    if any(value < 0 for value in values):
        raise argparse.ArgumentTypeError(f"a latency is negative: {text!r}")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=2, help="generated sites")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--latency", type=latencies, default=(0.0,), help="seconds per answer, comma-separated"
    )
    parser.add_argument("--workdir", type=Path, help="keep the snapshot and databases here")
    args = parser.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run(args.articles, args.hosts, args.rounds, args.seed, args.workdir, args.latency)
        return
    with tempfile.TemporaryDirectory(prefix="govnews-crawl-") as workdir:
        run(args.articles, args.hosts, args.rounds, args.seed, Path(workdir), args.latency)


if __name__ == "__main__":
    main()
