"""A site on 127.0.0.1 and crawls of it, for the write faults: a locked database, a full disk.

:class:`Site` is an HTTP server in the test process: ``/`` lists ``/art/1.html`` …
``/art/N.html`` (real government pages of the snapshot) and ``/art/gone.html``, which
answers 404 (a failure to record). Before it answers the first article request it calls
``on_first_article`` in its own thread: the moment a test locks the database or fills the
disk, mid-crawl, with the run started and every article still to be written.
:func:`crawl` runs ``scrapy crawl sites`` (or ``scrapy crawlall sites``) of it in a
subprocess, one item a transaction.

:class:`FullDatabase` (an extension, :func:`full_database` gives its ``-s`` options) makes
the crawl's database full once the first article has arrived: every write transaction
then runs with ``PRAGMA max_page_count`` at the database's size, and SQLite refuses what
needs one more page with its real SQLITE_FULL, as on a full disk.

Run as a script it shows a lock held for minutes (the 5-minute target, with the default
``GOVNEWS_DATABASE_WAIT``); it takes as long as the hold::

    .venv/bin/python -m tests.faults.writesite --hold 300
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from sqlalchemy import Connection, event

from govnews import settings as project_settings
from govnews.crawl.crawldb import crawl_database
from tests.conftest import ROOT, snapshot_file

ZZ = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/"
#: Government pages of the snapshot, served as the site's articles.
PAGES = [
    snapshot_file(ZZ + path).read_bytes()
    for path in (
        "2022-08-18/2101205076.html",
        "2022-09-06/2101207718.html",
        "2022-09-20/2101209055.html",
        "2022-07-22/2101203317.html",
        "2022-06-15/2101200982.html",
    )
]
GONE = "/art/gone.html"


class Site(ThreadingHTTPServer):
    """The site: a listing, its articles, one page gone; ``asked`` the paths requested."""

    def __init__(self, on_first_article: Callable[[], None] | None = None, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.on_first_article = on_first_article
        self.first = threading.Lock()
        self.asked: list[str] = []
        self.articles = {f"/art/{n}.html": page for n, page in enumerate(PAGES, 1)}
        links = "".join(f'<li><a href="{path}">news {path}</a></li>' for path in self.articles)
        self.home = f'<html><body><ul>{links}<li><a href="{GONE}">gone</a></li></ul></body></html>'

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def urls(self) -> list[str]:
        """The URLs of the site's articles."""
        return [f"http://127.0.0.1:{self.port}{path}" for path in self.articles]

    def __enter__(self) -> Site:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Site

    def do_GET(self) -> None:
        self.server.asked.append(self.path)
        if self.path in self.server.articles or self.path == GONE:
            with self.server.first:  # the other article requests wait until it is done
                hook, self.server.on_first_article = self.server.on_first_article, None
                if hook is not None:
                    hook()
        pages = {"/": self.server.home.encode(), **self.server.articles}
        body = pages.get(self.path)
        self.send_response(200 if body is not None else 404)
        body = body if body is not None else b"not found"
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def crawl(
    site: Site,
    database: Path,
    *settings: str,
    command: str = "crawl",
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """``scrapy crawl sites`` (``command="crawlall"``: ``scrapy crawlall sites`` and the
    ``extra`` spiders) of ``site`` into the SQLite file ``database``, one item a
    transaction; ``settings``: more ``-s NAME=VALUE``."""
    sites = database.with_name("sites.toml")
    sites.write_text(
        f'[[sites]]\nname = "local"\nkind = "gov"\nstart_urls = ["http://127.0.0.1:{site.port}/"]\n'
        f"allowed_hosts = [\"127.0.0.1\"]\narticle = ['/art/\\w+\\.html$']\n",
        encoding="utf-8",
    )
    options = {
        "GOVNEWS_SITES": str(sites),
        "GOVNEWS_DATABASE_URL": f"sqlite:///{database}",
        "GOVNEWS_OUTBOUND_ALLOW": f"127.0.0.1:{site.port}",
        "GOVNEWS_BATCH_SIZE": "1",
        "GOVNEWS_DATABASE_RETRY_DELAY": "0.05",
        "GOVNEWS_DATABASE_RETRY_DELAY_MAX": "0.2",
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "GOVNEWS_RETRY_BACKOFF": "0",
        "GOVNEWS_EXTRACT_WORKERS": "0",
        "GOVNEWS_CRAWLALL_RELINK_DAYS": "0",
        "FEEDS": "{}",
        "LOG_LEVEL": "INFO",
    }
    arguments = [item for name, value in options.items() for item in ("-s", f"{name}={value}")]
    for setting in settings:
        arguments += ["-s", setting]
    return subprocess.run(
        [sys.executable, "-m", "scrapy", command, "sites", *extra, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


class LockHolder:
    """Another process's write transaction on a SQLite file: ``BEGIN IMMEDIATE``, held.

    ``take`` begins it (in the site's thread, say), ``release`` commits it; ``released``
    is set then. A test process is "another process" to the crawl in its subprocess.
    """

    def __init__(self, database: Path) -> None:
        self.database = database
        self.connection: sqlite3.Connection | None = None
        self.taken = threading.Event()
        self.released = threading.Event()

    def take(self) -> None:
        self.connection = sqlite3.connect(
            self.database, isolation_level=None, check_same_thread=False
        )
        self.connection.execute("BEGIN IMMEDIATE")
        self.taken.set()

    def release(self) -> None:
        if self.connection is not None and not self.released.is_set():
            with closing(self.connection):
                self.connection.execute("COMMIT")
            self.released.set()

    def release_after(self, seconds: float) -> None:
        """Take the lock now and let it go ``seconds`` later (in a timer thread)."""
        self.take()
        threading.Timer(seconds, self.release).start()


class FullDatabase:
    """Extension: the database is full from the first article's response on (SQLITE_FULL)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.pages: int | None = None
        crawler.signals.connect(self.response_received, signal=signals.response_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("GOVNEWS_TEST_FULL"):
            raise NotConfigured("no GOVNEWS_TEST_FULL")
        return cls(crawler)

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        if self.pages is None and "/art/" in response.url:
            engine = crawl_database(self.crawler).engine
            with engine.connect() as connection:
                self.pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())
            event.listen(engine, "begin", self.begin)
            sys.stderr.write(f"writesite: the database is full at {self.pages} pages\n")

    def begin(self, connection: Connection) -> None:
        connection.exec_driver_sql(f"PRAGMA max_page_count={self.pages}")


def full_database() -> list[str]:
    """The ``-s`` options of a crawl whose database is full once the first article arrives."""
    extensions = {**project_settings.EXTENSIONS, f"{__name__}.FullDatabase": 0}
    return [f"EXTENSIONS={json.dumps(extensions)}", "GOVNEWS_TEST_FULL=True"]


def main() -> None:
    """A crawl of the site while another process holds the database locked for ``--hold`` s."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--hold", type=float, default=300.0, help="seconds the lock is held")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "govnews.db"
        holder = LockHolder(database)
        with Site(lambda: holder.release_after(arguments.hold)) as site:
            done = crawl(site, database, "GOVNEWS_DATABASE_RETRY_DELAY_MAX=15")
        holder.release()
        with closing(sqlite3.connect(database)) as connection:
            stored = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
            status = connection.execute("SELECT status FROM crawl_runs").fetchone()[0]
        print(f"lock held {arguments.hold:g} s: exit {done.returncode}, run {status}, "
              f"{stored} of {len(site.articles)} articles stored")  # fmt: skip
        sys.exit(0 if done.returncode == 0 and stored == len(site.articles) else 1)


if __name__ == "__main__":
    main()
