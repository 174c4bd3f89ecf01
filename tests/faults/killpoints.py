"""Kill points: a crawl that SIGKILLs its own process at a chosen moment (tests only).

    scrapy crawl SPIDER … $(armed("stored:URL URL", hold=r"page=3"))
    scrapy crawl SPIDER -s EXTENSIONS='{…, "tests.faults.killpoints.KillPoints": 0}'
        -s GOVNEWS_KILL_AT=SPEC [-s GOVNEWS_KILL_HOLD=REGEX]
    python -m tests.faults.killpoints sql:REGEX COMMAND [OPTIONS…]

:func:`armed` gives the ``-s`` options that arm a kill point (the project's
extensions and downloader middlewares with these added). ``GOVNEWS_KILL_AT=SPEC``
is one of:

``items:N``
    at the N-th item scraped (stored and linked) by the crawl, before the crawl's
    database counts it towards its batch: the item is written, not committed.
``commit:N``
    just after the N-th commit of the crawl's session (the first is the run's start).
``stored:URL URL …``
    just after the commit by which the database holds an article for every one of
    these URLs (whitespace-separated): "page 2's articles are committed".
``response:REGEX``
    when a response whose URL matches REGEX has arrived, before any callback reads it.
``sql:REGEX``
    just after the first SQL statement matching REGEX has run, on any engine of the
    process, inside its transaction: ``^INSERT INTO reposts`` (the link pipeline writes a
    link), ``^UPDATE alembic_version`` (an upgrade has applied its first revision).

``GOVNEWS_KILL_HOLD=REGEX`` (:class:`HoldRequests`, a downloader middleware) keeps
the requests for matching URLs from being downloaded: they wait for the kill. With
it a moment is certain, not a race: hold page 3 of a listing, kill once page 2's
articles are stored, and page 3 was never read.

:class:`KillPoints` must come first in ``EXTENSIONS`` (priority 0): then its handlers
run before those of the crawl's database, and a ``sql:`` point is armed before the
database is opened (and upgraded). Counts are per crawler (``scrapy crawlall`` runs
several); a ``sql:`` point holds for the whole process, crawlall's final relink too.
The third form arms a ``sql:`` point and runs any scrapy command (``migrate``), for
commands that start no crawl. The process writes one line naming the kill point to
stderr (``killpoints: SIGKILL at …``), then kills itself: nothing is flushed, closed
or committed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from typing import Any, NoReturn, Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from sqlalchemy import Engine, bindparam, event, select
from sqlalchemy.orm import Session
from twisted.internet.defer import Deferred

from govnews import settings as project_settings
from govnews.core.urls import url_key
from govnews.crawl.crawldb import crawl_database
from govnews.store.models import ArticleUrl

KINDS = ("items", "commit", "stored", "response", "sql")


def parse(spec: str) -> tuple[str, str]:
    """``(kind, argument)`` of a kill point; ValueError naming what is wrong."""
    kind, _, argument = spec.partition(":")
    if kind not in KINDS or not argument.strip():
        kinds = ", ".join(KINDS)
        raise ValueError(f"GOVNEWS_KILL_AT={spec!r}: use one of {kinds} as KIND:ARGUMENT")
    if kind in ("items", "commit") and not argument.isdigit():
        raise ValueError(f"GOVNEWS_KILL_AT={spec!r}: {kind} takes a count")
    if kind in ("response", "sql"):
        re.compile(argument)
    if kind == "stored":
        for url in argument.split():
            url_key(url)  # a ValueError names the URL
    return kind, argument


def armed(kill_at: str, hold: str | None = None) -> list[str]:
    """The ``-s`` options of a ``scrapy crawl`` that kills itself at ``kill_at``.

    ``hold``: a pattern of URLs that are not downloaded before the kill.
    """
    parse(kill_at)
    extensions = {**project_settings.EXTENSIONS, f"{__name__}.KillPoints": 0}
    options = ["-s", f"EXTENSIONS={json.dumps(extensions)}", "-s", f"GOVNEWS_KILL_AT={kill_at}"]
    if hold is not None:
        middlewares = {**project_settings.DOWNLOADER_MIDDLEWARES, f"{__name__}.HoldRequests": 1}
        options += ["-s", f"DOWNLOADER_MIDDLEWARES={json.dumps(middlewares)}"]
        options += ["-s", f"GOVNEWS_KILL_HOLD={hold}"]
    return options


def kill(why: str) -> NoReturn:
    """Say where, then SIGKILL this process."""
    sys.stderr.write(f"killpoints: SIGKILL at {why}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    raise SystemExit("unreachable")  # pragma: no cover


def arm_sql(pattern: str) -> None:
    """Kill the process just after the first SQL statement matching ``pattern`` has run."""
    matcher = re.compile(pattern)

    def after_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if matcher.search(statement):
            kill(f"sql {statement[:120]!r}")

    event.listen(Engine, "after_cursor_execute", after_execute)


class KillPoints:
    """Kill the crawl's process at the moment ``GOVNEWS_KILL_AT`` names."""

    def __init__(self, crawler: Crawler, kind: str, argument: str) -> None:
        self.crawler = crawler
        self.kind = kind
        self.argument = argument
        self.count = 0
        if kind == "items":
            crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        elif kind in ("commit", "stored"):
            crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        elif kind == "response":
            self.pattern = re.compile(argument)
            crawler.signals.connect(self.response_received, signal=signals.response_received)
        else:
            arm_sql(argument)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        spec = crawler.settings.get("GOVNEWS_KILL_AT")
        if not spec:
            raise NotConfigured("no GOVNEWS_KILL_AT")
        return cls(crawler, *parse(spec))

    def item_scraped(self, item: Any, spider: Spider) -> None:
        self.count += 1
        if self.count == int(self.argument):
            session = crawl_database(self.crawler).session
            pending = session is not None and session.in_transaction()
            state = "uncommitted" if pending else "committed"
            kill(f"item {self.count} of {spider.name} ({state})")

    def spider_opened(self, spider: Spider) -> None:
        session = crawl_database(self.crawler).session
        assert session is not None
        event.listen(session, "after_commit", self.after_commit)

    def after_commit(self, session: Session) -> None:
        self.count += 1
        if self.kind == "commit" and self.count == int(self.argument):
            kill(f"commit {self.count}")
        if self.kind == "stored" and self.all_stored():
            kill(f"commit {self.count}, every URL of {self.argument!r} stored")

    def all_stored(self) -> bool:
        """True when every URL of a ``stored:`` point is an article's (on a connection of its own:
        the committed session may not run SQL in its after_commit)."""
        keys = {url_key(url) for url in self.argument.split()}
        query = select(ArticleUrl.url_key).where(
            ArticleUrl.url_key.in_(bindparam("keys", expanding=True))
        )
        with crawl_database(self.crawler).engine.connect() as connection:
            found = set(connection.scalars(query, {"keys": list(keys)}))
        return found == keys

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        if self.pattern.search(response.url):
            kill(f"response {response.url}")


class HoldRequests:
    """Downloader middleware: requests for URLs matching ``GOVNEWS_KILL_HOLD`` wait for the kill.

    They are never downloaded: the crawl goes on with everything else until a kill
    point ends it (a crawl that is never killed waits for ever: run it with a timeout).
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)
        #: What the held requests wait for (kept, or the garbage collector ends the wait).
        self.held: list[Deferred[None]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pattern = crawler.settings.get("GOVNEWS_KILL_HOLD")
        if not pattern:
            raise NotConfigured("no GOVNEWS_KILL_HOLD")
        return cls(pattern)

    async def process_request(self, request: Request) -> None:
        if self.pattern.search(request.url):
            sys.stderr.write(f"killpoints: holding {request.url}\n")
            self.held.append(Deferred())
            await maybe_deferred_to_future(self.held[-1])


def main(argv: list[str]) -> None:
    """``python -m tests.faults.killpoints sql:REGEX COMMAND …``: a scrapy command, armed."""
    from scrapy.cmdline import execute

    if len(argv) < 2:
        sys.exit("usage: python -m tests.faults.killpoints sql:REGEX COMMAND [OPTIONS…]")
    kind, argument = parse(argv[0])
    if kind != "sql":
        sys.exit(f"{argv[0]}: outside a crawl only sql: kill points can be armed")
    arm_sql(argument)
    execute(["scrapy", *argv[1:]])


if __name__ == "__main__":
    main(sys.argv[1:])
