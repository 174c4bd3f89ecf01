"""Every way a run ends has its exit code: the table of docs/faults.md, mode by mode.

Each case is a real ``scrapy`` command in a subprocess, crawling a site served on
127.0.0.1 by a server in this process (reached through the test allowance
``GOVNEWS_OUTBOUND_ALLOW``) or the bundled snapshot through the mirror, and checks the
exit code with the run's ``crawl_runs`` row where there is one. A page can be held:
its request waits, with the crawl in flight, until the test lets it go, so that a
signal, a second run or a lock lands at a known moment without a sleep.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govnews.crawl.health import EXIT_CODES
from govnews.store.database import open_database
from govnews.store.models import ArticleRow, CrawlRun
from tests.conftest import ROOT, SEED_ORIGINAL, SNAPSHOT, snapshot_file

ARTICLE = snapshot_file(SEED_ORIGINAL).read_bytes()
#: The exit status of the full disk's script when no tmpfs can be mounted (not root, say).
NO_TMPFS = 99
#: How long a held page, or the test waiting for one, waits at most (a bound, not a delay).
BOUND = 60


class Server(ThreadingHTTPServer):
    """A site on 127.0.0.1: a home page linking ``articles`` articles; other paths a 404.

    ``dead``: every page answers 500. ``hold``: the path of a page whose request waits
    until :attr:`release` is set; :attr:`held` is set when it arrives.
    """

    def __init__(self, articles: int = 1, *, dead: bool = False, hold: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        links = "".join(f'<a href="/art/{n}.html">{n}</a>' for n in range(1, articles + 1))
        self.pages = {"/": f"<html><body>{links}</body></html>".encode()}
        self.pages |= {f"/art/{n}.html": ARTICLE for n in range(1, articles + 1)}
        self.dead = dead
        self.hold = hold
        self.held = threading.Event()
        self.release = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def __enter__(self) -> Server:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        if self.path == self.server.hold:
            self.server.held.set()
            self.server.release.wait(BOUND)
        body = None if self.server.dead else self.server.pages.get(self.path)
        self.send_response(200 if body else 500 if self.server.dead else 404)
        body = body or b"no page"
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as serving:
        yield serving


def scrapy(tmp_path: Path, *args: str) -> list[str]:
    """The command line of ``scrapy ARGS`` on the database in ``tmp_path``."""
    return [
        sys.executable, "-m", "scrapy", *args,
        "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{tmp_path / 'govnews.db'}",
        "-s", "DOWNLOAD_DELAY=0",
        "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "GOVNEWS_RETRY_BACKOFF=0",
        "-s", "GOVNEWS_EXTRACT_WORKERS=0",
        "-s", "FEEDS={}",
    ]  # fmt: skip


def crawl_site(tmp_path: Path, server: Server, *settings: str) -> list[str]:
    """``scrapy crawl sites`` of one configured site, the one ``server`` serves."""
    sites = tmp_path / "sites.toml"
    sites.write_text(
        f'[[sites]]\nname = "a"\nkind = "gov"\nstart_urls = ["http://127.0.0.1:{server.port}/"]\n'
        "allowed_hosts = [\"127.0.0.1\"]\narticle = ['/art/\\d+\\.html$']\n",
        encoding="utf-8",
    )
    return scrapy(
        tmp_path, "crawl", "sites",
        "-s", f"GOVNEWS_SITES={sites}",
        "-s", f"GOVNEWS_OUTBOUND_ALLOW=127.0.0.1:{server.port}",
        *settings,
    )  # fmt: skip


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def start(command: list[str]) -> subprocess.Popen[str]:
    """A command that runs on while the test does something else."""
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def runs(tmp_path: Path) -> list[CrawlRun]:
    """The ``crawl_runs`` rows of the database, oldest first."""
    with Session(open_database(f"sqlite:///{tmp_path / 'govnews.db'}")) as session:
        return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))


def articles(tmp_path: Path) -> set[str]:
    with Session(open_database(f"sqlite:///{tmp_path / 'govnews.db'}")) as session:
        return set(session.scalars(select(ArticleRow.url)))


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def held(server: Server, process: subprocess.Popen[str]) -> None:
    """Wait until ``process`` is in the middle of its crawl: the held page was asked for."""
    if not server.held.wait(BOUND):
        process.kill()
        raise AssertionError(f"the crawl never asked for {server.hold}: {process.communicate()}")


def test_finished_0(tmp_path: Path, server: Server) -> None:
    done = run(crawl_site(tmp_path, server))
    assert done.returncode == EXIT_CODES["finished"] == 0, done.stderr[-3000:]
    assert [run.status for run in runs(tmp_path)] == ["finished"]
    assert articles(tmp_path) == {f"http://127.0.0.1:{server.port}/art/1.html"}


def test_degraded_2_a_dead_site_on_its_first_run(tmp_path: Path) -> None:
    with Server(dead=True) as dead:
        done = run(crawl_site(tmp_path, dead))
    assert done.returncode == EXIT_CODES["degraded"] == 2, done.stderr[-3000:]
    [degraded] = runs(tmp_path)
    assert degraded.status == "degraded"
    assert "no articles from 127.0.0.1: 1 of its 1 pages failed" in (degraded.finish_reason or "")


def test_locked_3_while_another_run_holds_the_database_then_shutdown_1(tmp_path: Path) -> None:
    """A second run while the first is crawling exits 3 at once and changes nothing; the
    first, stopped by SIGTERM (a shutdown, as Ctrl-C), did not finish: failed, exit 1."""
    with Server(hold="/art/1.html") as server:
        first = start(crawl_site(tmp_path, server))
        held(server, first)
        second = run(crawl_site(tmp_path, server))
        first.send_signal(signal.SIGTERM)
        server.release.set()  # a shutdown lets the pages in flight end
        _, stderr = first.communicate(timeout=BOUND)
    assert second.returncode == EXIT_CODES["locked"] == 3, second.stderr[-3000:]
    assert "another govnews run holds" in last_line(second.stderr)
    assert first.returncode == EXIT_CODES["failed"] == 1, stderr[-3000:]
    [stopped] = runs(tmp_path)  # the second run wrote no row
    assert stopped.status == "failed"
    assert "shutdown" in (stopped.finish_reason or "")


def test_killed_137_then_the_next_run_records_it_and_exits_with_its_own(tmp_path: Path) -> None:
    """``kill -9`` leaves no code of govnews's (the shell's 137 is 128 + SIGKILL); the next
    run records the killed one as ``killed`` and exits 0 when it finishes."""
    with Server(hold="/art/1.html") as server:
        killed = start(crawl_site(tmp_path, server))
        held(server, killed)
        killed.kill()
        killed.communicate(timeout=BOUND)
        server.hold = None
        done = run(crawl_site(tmp_path, server))
    assert killed.returncode == -signal.SIGKILL
    assert done.returncode == EXIT_CODES["finished"], done.stderr[-3000:]
    assert [run.status for run in runs(tmp_path)] == ["killed", "finished"]


def test_failed_1_when_another_connection_keeps_the_database_locked(
    tmp_path: Path, server: Server
) -> None:
    """A write transaction held elsewhere past ``GOVNEWS_DATABASE_WAIT``: the run gives up,
    failed, exit 1, never 0; once the lock is gone the next run finishes."""
    wait = ("-s", "GOVNEWS_DATABASE_WAIT=1", "-s", "GOVNEWS_DATABASE_RETRY_DELAY=0.1")
    assert run(scrapy(tmp_path, "migrate")).returncode == 0
    holder = sqlite3.connect(tmp_path / "govnews.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        done = run(crawl_site(tmp_path, server, *wait))
    finally:
        holder.close()
    assert done.returncode == EXIT_CODES["failed"] == 1, done.stderr[-3000:]
    assert "stayed locked by another connection" in done.stderr
    again = run(crawl_site(tmp_path, server, *wait))
    assert again.returncode == EXIT_CODES["finished"], again.stderr[-3000:]
    assert articles(tmp_path) == {f"http://127.0.0.1:{server.port}/art/1.html"}


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="a full disk is a small tmpfs in a mount namespace of its own: root and unshare",
)
def test_failed_1_when_the_disk_is_full(tmp_path: Path) -> None:
    """The database on a tmpfs that fills up during the crawl: failed, exit 1, never 0."""
    disk = tmp_path / "disk"
    disk.mkdir()
    with Server(articles=20) as server:
        command = crawl_site(tmp_path, server, "-s", f"GOVNEWS_SPOOL_DIR={tmp_path / 'spool'}")
        database = f"GOVNEWS_DATABASE_URL=sqlite:///{disk / 'govnews.db'}"
        migrate = [*scrapy(tmp_path, "migrate"), "-s", database]
        # The schema fits; then all but 16 blocks (64 KiB) is taken, less than 20 articles need.
        quoted = shlex.quote(str(disk))
        script = "\n".join(
            [
                f"mount -t tmpfs -o size=2m tmpfs {quoted} || exit {NO_TMPFS}",
                f"{shlex.join(migrate)} >/dev/null || exit",
                f"dd if=/dev/zero of={quoted}/ballast bs=$(stat -f -c %S {quoted}) "
                f"count=$(( $(stat -f -c %a {quoted}) - 16 )) 2>/dev/null || exit",
                f"exec {shlex.join([*command, '-s', database])}",
            ]
        )
        done = subprocess.run(
            ["unshare", "-m", "sh", "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if done.returncode == NO_TMPFS:
        pytest.skip(f"no tmpfs here: {done.stderr.strip()}")
    assert done.returncode == EXIT_CODES["failed"] == 1, done.stderr[-3000:]
    assert "is full" in done.stderr


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        pytest.param(["crawl", "nosuch"], 1, "no such spider: nosuch", id="unknown-spider"),
        pytest.param(
            ["crawl", "sites", "-s", "GOVNEWS_BATCH_SIZE=many"], 1, "GOVNEWS_BATCH_SIZE",
            id="config-error",
        ),
        pytest.param(
            ["crawl", "sites", "-s", "GOVNEWS_SITES={tmp}/missing.toml"], 1, "missing.toml",
            id="missing-sites-file",
        ),
        pytest.param(["crawlall", "nosuch"], 1, "no such spider: nosuch", id="crawlall-unknown"),
        pytest.param(["extract", "{tmp}/missing.html"], 2, "missing.html", id="extract-bad-input"),
    ],
)  # fmt: skip
def test_bad_settings_and_input_before_anything_is_crawled(
    tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    done = run(scrapy(tmp_path, *(arg.replace("{tmp}", str(tmp_path)) for arg in args)))
    assert done.returncode == code, done.stderr[-3000:]
    assert last_line(done.stderr).startswith("govnews: ")
    assert says in last_line(done.stderr)
    assert "Traceback" not in done.stderr
    assert not runs(tmp_path) if (tmp_path / "govnews.db").exists() else True


def test_crawlall_exits_with_its_worst_run_failed_over_degraded(tmp_path: Path) -> None:
    """``crawlall sites zhangzhou`` on the snapshot: the sites spider's site is not in it
    (every page a 404: a dead site, degraded), the zhangzhou run is closed early by
    ``CLOSESPIDER_ITEMCOUNT`` (it did not finish: failed). A failed run is worse than a
    degraded one, whatever the numbers: exit 1."""
    sites = tmp_path / "sites.toml"
    sites.write_text(
        '[[sites]]\nname = "gone"\nkind = "gov"\nstart_urls = ["http://www.gone.gov.cn/"]\n'
        "allowed_hosts = [\"www.gone.gov.cn\"]\narticle = ['/art/']\n",
        encoding="utf-8",
    )
    crawlall = [
        "crawlall", "sites", "zhangzhou",
        "-s", f"GOVNEWS_MIRROR={SNAPSHOT}",
        "-s", f"GOVNEWS_SITES={sites}",
        "-s", "CLOSESPIDER_ITEMCOUNT=1",
    ]  # fmt: skip
    done = run(scrapy(tmp_path, *crawlall))
    assert [(run.spider, run.status) for run in runs(tmp_path)] == [
        ("sites", "degraded"),
        ("zhangzhou", "failed"),
    ]
    assert done.returncode == EXIT_CODES["failed"] == 1, done.stderr[-3000:]
