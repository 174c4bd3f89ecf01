"""The kill -9 matrix: a run killed at any moment loses nothing the next run does not recover.

    python -m benchmarks.faults.kill_matrix [--random 30] [--seed 0] [--chosen all|none|NAME,…]
        [--batch-size 5] [--jobs N] [--workdir DIR]

First a clean run of the main job, ``scrapy crawlall nmgfzw sites zhangzhou`` over the
bundled snapshot (``data/snapshot``) into a fresh SQLite database, exported with
``scrapy export``: the reference. Then, for each kill, on a database of its own:

1. the job is started as a subprocess and killed with SIGKILL: at a random moment
   (a delay drawn uniformly within the clean run's measured duration, ``--random``)
   or at a chosen one (:data:`CHOSEN`: a kill point of ``tests/faults/killpoints.py``
   makes the process kill itself there);
2. the job is run again until a run finishes (exits 0 or 2), at most 3 times;
3. the database is exported and compared with the reference's (:func:`compare`).

What is compared: the articles (URL and content hash), the links (every repost row:
its original, declared URL, method, confidence), the open failures (URL, spider,
stage, reason, callback), no row twice (by URL, and no content hash more often than
in the reference), and the export, byte for byte once normalised
(:func:`normalise_export`: the times of fetching and storing, ``fetched_at``,
``first_seen_at`` and ``updated_at``, are dropped and the records sorted by URL,
since the export orders articles of one publication time by row id, which is the
order of arrival). Run ids, run counters, failure attempts and times differ between
runs by nature and are not compared; no run may be left ``running``.

The job runs with ``GOVNEWS_BATCH_SIZE=5`` (``--batch-size``), so that a run commits
several batches and a kill finds some committed and one open (the default, 100, is
more than the snapshot's articles: every kill would land in the first batch), and
``GOVNEWS_CRAWLALL_RELINK_DAYS=36500``, so that crawlall's final relink covers the
snapshot's articles (of 2021 and 2022) as it covers the last month's in production.
Feeds are off (``FEEDS={}``): a killed run's feed is not part of the promise.

Prints one line per kill and then the figures: kills done, moments, items lost,
duplicated, extra, changed, exports that differ, runs left ``running``, time. The kills
run ``--jobs`` at a time (default: one per core), each job in its own process group.
``--workdir`` keeps every database, export and log for a look afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from govnews.store.models import ArticleRow, CrawlRun, PageFailure, Repost
from tests.faults.killpoints import armed
from tests.test_migrations import V1_ROWS, build, ddl

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "data" / "snapshot"
#: The main job, what cron runs: crawlall of the snapshot's spiders, named (in crawlall's
#: own order) so that a spider that does not crawl the snapshot never joins the job.
JOB = ("crawlall", "nmgfzw", "sites", "zhangzhou")
#: Exit codes of a run that went to its end (finished, degraded).
FINISHED = (0, 2)
RERUNS = 3
#: Seconds any one process may take; a run armed with a kill point, before it is killed.
TIMEOUT = 300
CHOSEN_TIMEOUT = 120
#: Fields of the export that say when this run fetched or stored a row, not what it holds.
VOLATILE = ("fetched_at", "first_seen_at", "updated_at")


@dataclass(frozen=True)
class Moment:
    """A chosen moment: the command killed there and its kill point (``GOVNEWS_KILL_AT``)."""

    name: str
    kill_at: str
    what: str
    #: URLs (a pattern) never downloaded before the kill (``GOVNEWS_KILL_HOLD``).
    hold: str | None = None
    #: The command that is killed; the reruns are always the job.
    command: tuple[str, ...] = JOB
    #: Start from a database of the first release (upgraded when opened), not an empty one.
    old_schema: bool = False


ZZ = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/"
#: The articles page 1 of 工作动态 lists (its pages 2 and 3 list more).
GZDT_PAGE_1 = (
    "2022-11-03/2101213870.html",
    "2022-10-25/2101212604.html",
    "2022-10-12/2101211342.html",
    "2022-09-20/2101209055.html",
)
FJ = "http://nynct.fujian.gov.cn/xxgk/gzdt/"
#: The articles the first pages of two TRS WCM listings give (their index_1.htm more).
TRS_PAGE_1 = (
    "sxdt/202210/t20221013_6029876.htm",
    "nyyw/202211/t20221108_6051234.htm",
    "nyyw/202210/t20221019_6032587.htm",
)

#: The chosen moments (see docs/faults.md, "The kill -9 matrix").
CHOSEN = (
    Moment(
        "mid-batch",
        "items:7",
        "7 items stored and linked, the last 2 not committed (batches of 5)",
    ),
    Moment("after-commit", "commit:3", "just after the 3rd commit of the crawl's session"),
    Moment(
        "between-listing-pages",
        "stored:" + " ".join(ZZ + page for page in GZDT_PAGE_1),
        "the Fujian CMS's column page 1: its articles committed, page 2 never read",
        hold=r"[?&]page=2\b",
    ),
    Moment(
        "between-trs-pages",
        "stored:" + " ".join(FJ + page for page in TRS_PAGE_1),
        "TRS WCM listings: page 1's articles committed, page 2 (index_1.htm) never read",
        hold=r"/index_1\.htm$",
    ),
    Moment(
        "repost-before-original",
        "stored:http://www.nmgfzw.cn/shgz/20211108/21436.html",
        "a repost committed, the government original it declares (no listing shows it) never read",
        hold=r"/2021-11-05/1986541203\.html$",
    ),
    Moment(
        "during-linking",
        r"sql:^INSERT INTO reposts\b",
        "the link pipeline writes its first link (a repost row), uncommitted",
    ),
    Moment(
        "during-relink",
        r"sql:^DELETE FROM link_suggestions WHERE link_suggestions\.repost_id IN",
        "crawlall's final relink writes its decisions, before its commit",
    ),
    Moment(
        "upgrade-on-open",
        r"sql:^UPDATE alembic_version\b",
        "the crawl upgrades a first-release database: the first revision applied, not the next",
        old_schema=True,
    ),
    Moment(
        "scrapy-migrate",
        r"sql:^UPDATE alembic_version\b",
        "scrapy migrate on a first-release database: the first revision applied, not the next",
        command=("migrate",),
        old_schema=True,
    ),
)


@dataclass
class State:
    """What a database holds, keyed for comparison; each key maps to its values as found."""

    articles: dict[str, list[str]]  # URL -> content hashes
    links: dict[str, list[tuple[Any, ...]]]  # repost URL -> (original URL, declared, method, …)
    failures: dict[str, list[tuple[Any, ...]]]  # URL -> (spider, stage, reason, callback)
    records: dict[str, list[str]]  # URL -> normalised export lines
    hashes: Counter[str]  # content hash -> articles
    runs: Counter[str]  # run status -> runs
    export: bytes  # the normalised export


@dataclass
class Verdict:
    """How a database differs from the reference."""

    lost: int = 0
    duplicated: int = 0
    extra: int = 0
    changed: int = 0
    export_equal: bool = True
    running: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return (
            not (self.lost or self.duplicated or self.extra or self.changed or self.running)
            and self.export_equal
        )


@dataclass
class Outcome:
    """One kill: where it landed, the reruns' exit codes, and the verdict on the result."""

    moment: str
    killed: bool
    delay: float | None
    reruns: list[int]
    verdict: Verdict
    runs: Counter[str]
    seconds: float
    workdir: Path
    #: The schema revision the kill left (None: no ``alembic_version``, as a first release).
    revision: str | None

    def line(self) -> str:
        v = self.verdict
        when = f"{self.delay:5.2f} s" if self.delay is not None else "chosen"
        statuses = ", ".join(f"{status} {n}" for status, n in sorted(self.runs.items()))
        return (
            f"{self.moment:22} {when:>8}  killed={'yes' if self.killed else 'NO '}"
            f"  reruns={self.reruns}  lost={v.lost} duplicated={v.duplicated} extra={v.extra}"
            f" changed={v.changed} export={'same' if v.export_equal else 'DIFFERS'}"
            f"  runs: {statuses}  {self.seconds:.1f} s"
        )


def job_settings(
    database: Path, batch_size: int, extra: Mapping[str, str] | None = None
) -> list[str]:
    """The ``-s`` options of every run: the snapshot, the database, no feeds, no delays.

    ``extra``: more settings, such as ``GOVNEWS_EXTRACT_WORKERS``.
    """
    values = {
        "GOVNEWS_MIRROR": str(SNAPSHOT),
        "GOVNEWS_DATABASE_URL": f"sqlite:///{database}",
        "GOVNEWS_BATCH_SIZE": str(batch_size),
        "GOVNEWS_CRAWLALL_RELINK_DAYS": "36500",
        "FEEDS": "{}",
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "LOG_LEVEL": "INFO",
        **(extra or {}),
    }
    return [option for name, value in values.items() for option in ("-s", f"{name}={value}")]


def scrapy(
    command: Sequence[str],
    options: Sequence[str],
    kill_at: str | None = None,
    hold: str | None = None,
) -> list[str]:
    """The argv of a govnews command; armed with a kill point if ``kill_at`` is given.

    A ``sql:`` point is armed by ``python -m tests.faults.killpoints`` before the
    command starts, so that it also catches what a command does before its crawls
    (crawlall opens, and upgrades, the database first); the others by the
    KillPoints extension (:func:`tests.faults.killpoints.armed`).
    """
    if kill_at is None:
        return [sys.executable, "-m", "scrapy", *command, *options]
    if kill_at.startswith("sql:"):
        return [sys.executable, "-m", "tests.faults.killpoints", kill_at, *command, *options]
    return [sys.executable, "-m", "scrapy", *command, *options, *armed(kill_at, hold)]


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` in the checkout, in a process group of its own, output into ``log``."""
    with log.open("ab") as output:
        output.write(f"$ {' '.join(argv)}\n".encode())
        output.flush()
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def finish(process: subprocess.Popen[bytes], timeout: float = TIMEOUT) -> int:
    """Wait for ``process`` (killed after ``timeout``), then kill what it left in its group."""
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        code = process.wait()
    # An extraction worker may outlive a killed crawl by a moment (it ends when its pipe closes).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return code


def run(argv: list[str], log: Path) -> int:
    """Run ``argv`` to its end; its exit code."""
    return finish(start(argv, log))


def export(database: Path, target: Path, log: Path) -> bytes:
    """``scrapy export`` of ``database`` as JSON lines into ``target``; its bytes."""
    options = ["-s", f"GOVNEWS_DATABASE_URL=sqlite:///{database}"]
    code = run(scrapy(("export", "--format", "jsonl", "-o", str(target)), options), log)
    if code != 0:
        raise RuntimeError(f"scrapy export of {database} exited {code}: see {log}")
    return target.read_bytes()


def normalise_export(data: bytes) -> list[tuple[str, str]]:
    """(URL, line) of every exported record without :data:`VOLATILE`, sorted by URL."""
    records = []
    for line in data.splitlines():
        if line.strip():
            record = json.loads(line)
            for name in VOLATILE:
                record.pop(name, None)
            records.append((record["url"], json.dumps(record, ensure_ascii=False)))
    return sorted(records)


def read_state(database: Path, exported: bytes) -> State:
    """The articles, links, open failures, runs and normalised export of ``database``."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            url_of = {
                row.id: row.url for row in session.execute(select(ArticleRow.id, ArticleRow.url))
            }
            articles = _grouped(session.execute(select(ArticleRow.url, ArticleRow.fingerprint)))
            links = _grouped(
                (
                    url_of[link.repost_id],
                    (
                        url_of.get(link.original_id) if link.original_id is not None else None,
                        link.declared_url,
                        link.method,
                        round(link.confidence, 6),
                    ),
                )
                for link in session.scalars(select(Repost))
            )
            failures = _grouped(
                (failure.url, (failure.spider, failure.stage, failure.reason, failure.callback))
                for failure in session.scalars(
                    select(PageFailure).where(PageFailure.resolved_at.is_(None))
                )
            )
            hashes = Counter(session.scalars(select(ArticleRow.fingerprint)))
            runs = Counter(session.scalars(select(CrawlRun.status)))
    finally:
        engine.dispose()
    records = normalise_export(exported)
    return State(
        articles=articles,
        links=links,
        failures=failures,
        records=_grouped(records),
        hashes=hashes,
        runs=runs,
        export=("\n".join(line for _, line in records) + "\n").encode("utf-8"),
    )


def _grouped(pairs: Iterable[Any]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def compare(reference: State, got: State) -> Verdict:
    """How ``got`` differs from ``reference``: rows lost, twice, extra or changed.

    Articles, links and failures are counted (the export's records repeat the
    articles: they decide only whether the export is the same); an article is
    also duplicated when its content hash is held more often than in the reference.
    """
    verdict = Verdict(export_equal=got.export == reference.export, running=got.runs["running"])
    kinds: list[tuple[str, dict[Any, list[Any]], dict[Any, list[Any]]]] = [
        ("article", reference.articles, got.articles),
        ("link", reference.links, got.links),
        ("failure", reference.failures, got.failures),
    ]
    for kind, expected, found in kinds:
        for key, values in expected.items():
            if key not in found:
                verdict.lost += 1
                verdict.details.append(f"{kind} lost: {key} {values[0]}")
            elif found[key][:1] != values[:1]:
                verdict.changed += 1
                verdict.details.append(f"{kind} changed: {key} {values[0]} -> {found[key][0]}")
        for key, values in found.items():
            if key not in expected:
                verdict.extra += 1
                verdict.details.append(f"{kind} extra: {key} {values[0]}")
            if len(values) > 1:
                verdict.duplicated += len(values) - 1
                verdict.details.append(f"{kind} {len(values)} times: {key}")
    for content, count in got.hashes.items():
        if count > reference.hashes[content]:
            verdict.duplicated += count - reference.hashes[content]
            verdict.details.append(f"content {content[:12]} held {count} times")
    for url, lines in got.records.items():
        if url in reference.records and lines != reference.records[url]:
            verdict.details.append(f"export record differs: {url}")
    if verdict.running:
        verdict.details.append(f"{verdict.running} run(s) left running")
    return verdict


def schema_revision(database: Path) -> str | None:
    """The revision stamped in ``database`` (plain sqlite3: opening it with govnews upgrades it)."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        stamped = connection.execute(
            "SELECT name FROM sqlite_master WHERE name = 'alembic_version'"
        ).fetchone()
        if stamped is None:
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


class KillMatrix:
    """The reference runs, and kills compared with them, all under ``workdir``."""

    def __init__(
        self, workdir: Path, batch_size: int = 5, settings: Mapping[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.batch_size = batch_size
        #: Settings of every run beyond :func:`job_settings`'s.
        self.settings = dict(settings or {})
        self._references: dict[bool, tuple[State, float]] = {}
        self._numbers = itertools.count(1)

    def reference(self, old_schema: bool = False) -> tuple[State, float]:
        """The state after a clean run of the job (on a first-release database), and its seconds."""
        if old_schema not in self._references:
            where = self._place("reference-old" if old_schema else "reference")
            database = self._database(where, old_schema)
            began = time.monotonic()
            code = run(self._job(database), where / "run.log")
            seconds = time.monotonic() - began
            if code not in FINISHED:
                raise RuntimeError(f"the clean run exited {code}: see {where / 'run.log'}")
            state = self._state(database, where)
            self._references[old_schema] = (state, seconds)
        return self._references[old_schema]

    def kill_at_random(self, delay: float) -> Outcome:
        """The job killed ``delay`` seconds after its start (or left alone, if it ends sooner)."""
        where = self._place("random")
        database = self._database(where, old_schema=False)
        began = time.monotonic()
        process = start(self._job(database), where / "run.log")
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
        killed = finish(process) == -signal.SIGKILL
        return self._recover("random", delay, database, where, began, killed)

    def kill_at(self, moment: Moment) -> Outcome:
        """``moment.command`` killed by its own kill point, then the job rerun."""
        where = self._place(moment.name)
        database = self._database(where, moment.old_schema)
        began = time.monotonic()
        argv = scrapy(moment.command, self._options(database), moment.kill_at, moment.hold)
        # A kill point that never fires leaves a held request waiting: bounded.
        killed = finish(start(argv, where / "run.log"), CHOSEN_TIMEOUT) == -signal.SIGKILL
        return self._recover(moment.name, None, database, where, began, killed, moment.old_schema)

    def prepare(self, moments: Sequence[Moment], jobs: int = 1) -> float:
        """Make the references ``moments`` need, ``jobs`` at a time; the clean run's seconds."""
        schemas = {False} | {moment.old_schema for moment in moments}
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            list(pool.map(self.reference, sorted(schemas)))
        return self.reference()[1]

    def run_all(
        self,
        moments: Sequence[Moment],
        delays: Sequence[float],
        jobs: int = 1,
        done: Callable[[Outcome], None] = lambda outcome: None,
    ) -> list[Outcome]:
        """Every chosen moment, then a random kill per delay, ``jobs`` at a time; in that order.

        The references are made first (:meth:`prepare`). ``done`` is called with each
        outcome as it comes.
        """
        self.prepare(moments, jobs)
        tasks: list[Callable[[], Outcome]] = [partial(self.kill_at, m) for m in moments]
        tasks += [partial(self.kill_at_random, delay) for delay in delays]
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            futures = [pool.submit(task) for task in tasks]
            for future in as_completed(futures):
                done(future.result())
            return [future.result() for future in futures]

    def _recover(
        self,
        moment: str,
        delay: float | None,
        database: Path,
        where: Path,
        began: float,
        killed: bool,
        old_schema: bool = False,
    ) -> Outcome:
        """Rerun the job until a run finishes, then compare with the reference."""
        revision = schema_revision(database)
        codes: list[int] = []
        while len(codes) < RERUNS and (not codes or codes[-1] not in FINISHED):
            codes.append(run(self._job(database), where / f"rerun-{len(codes) + 1}.log"))
        state = self._state(database, where)
        verdict = compare(self.reference(old_schema)[0], state)
        if codes[-1] not in FINISHED:
            verdict.details.append(f"no rerun finished: exit codes {codes}")
        seconds = time.monotonic() - began
        return Outcome(moment, killed, delay, codes, verdict, state.runs, seconds, where, revision)

    def _place(self, name: str) -> Path:
        where = self.workdir / f"{next(self._numbers):03d}-{name}"
        where.mkdir(parents=True)
        return where

    def _database(self, where: Path, old_schema: bool) -> Path:
        database = where / "govnews.db"
        if old_schema:
            build(database, ddl("v1.sql"), V1_ROWS)
        return database

    def _options(self, database: Path) -> list[str]:
        return job_settings(database, self.batch_size, self.settings)

    def _job(self, database: Path) -> list[str]:
        return scrapy(JOB, self._options(database))

    def _state(self, database: Path, where: Path) -> State:
        exported = export(database, where / "export.jsonl", where / "export.log")
        state = read_state(database, exported)
        (where / "export.normalised.jsonl").write_bytes(state.export)
        return state


@dataclass
class Figures:
    """The totals the benchmark prints."""

    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @staticmethod
    def echo(outcome: Outcome) -> None:
        """Print an outcome's line and what differs."""
        print(outcome.line(), flush=True)
        for detail in outcome.verdict.details[:20]:
            print(f"    {detail}", flush=True)

    def summary(self) -> list[str]:
        killed = [o for o in self.outcomes if o.killed]
        random_kills = sum(o.delay is not None for o in killed)
        total = Counter[str]()
        for o in self.outcomes:
            v = o.verdict
            total.update(
                lost=v.lost,
                duplicated=v.duplicated,
                extra=v.extra,
                changed=v.changed,
                differs=int(not v.export_equal),
                running=v.running,
                unrecovered=int(not v.clean),
            )
        moments = sorted({o.moment for o in killed})
        # A kill before the first crawl's start or after the last one's end leaves no run row.
        interrupted = sum(o.runs["killed"] > 0 for o in killed if o.delay is not None)
        return [
            f"kills done: {len(killed)} ({random_kills} at random moments, "
            f"{len(killed) - random_kills} at chosen ones; {len(self.outcomes) - len(killed)} "
            "runs ended before their kill)",
            f"random kills that interrupted a crawl (its run closed as killed): {interrupted}",
            f"moments: {', '.join(moments)}",
            f"lost: {total['lost']}  duplicated: {total['duplicated']}  extra: {total['extra']}"
            f"  changed: {total['changed']}",
            f"exports that differ: {total['differs']}  runs left running: {total['running']}",
            f"kills not recovered: {total['unrecovered']} of {len(self.outcomes)}",
            f"time: {self.seconds:.0f} s",
        ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random", type=int, default=30, help="kills at random moments")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random moments")
    parser.add_argument(
        "--chosen", default="all", help="chosen moments: all, none, or names separated by commas"
    )
    parser.add_argument("--batch-size", type=int, default=5, help="GOVNEWS_BATCH_SIZE of the job")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="kills run at once (default: one per core; 1: each run has the machine)",
    )
    parser.add_argument("--workdir", type=Path, help="keep databases, exports and logs here")
    args = parser.parse_args(argv)
    names = {moment.name: moment for moment in CHOSEN}
    if args.chosen == "all":
        chosen = list(CHOSEN)
    elif args.chosen == "none":
        chosen = []
    else:
        unknown = [name for name in args.chosen.split(",") if name not in names]
        if unknown:
            parser.error(f"unknown moments {unknown}; the moments are {', '.join(names)}")
        chosen = [names[name] for name in args.chosen.split(",")]

    with tempfile.TemporaryDirectory(prefix="govnews-kill-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        matrix = KillMatrix(workdir, batch_size=args.batch_size)
        _, duration = matrix.reference()
        print(f"clean run: {duration:.2f} s ({workdir})", flush=True)
        figures = Figures()
        rng = random.Random(args.seed)
        delays = [rng.uniform(0, duration) for _ in range(args.random)]
        figures.outcomes += matrix.run_all(chosen, delays, args.jobs, figures.echo)
        # A run that ends before its delay was not killed: draw again, as often at most.
        for _ in range(args.random):
            missing = args.random - sum(o.killed for o in figures.outcomes if o.delay is not None)
            if missing <= 0:
                break
            again = [rng.uniform(0, duration) for _ in range(missing)]
            figures.outcomes += matrix.run_all([], again, args.jobs, figures.echo)
        figures.seconds = time.monotonic() - began
        print()
        print("\n".join(figures.summary()))
        missed = [o for o in figures.outcomes if o.delay is None and not o.killed]
        return 1 if missed or not all(o.verdict.clean for o in figures.outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
