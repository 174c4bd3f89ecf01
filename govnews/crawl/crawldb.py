"""The database of one crawl: opened with the spider, committed in batches, closed with it.

:class:`CrawlDatabase` is a Scrapy extension (``EXTENSIONS``): the pipelines,
middlewares and spiders of a crawler reach the one instance through
:func:`crawl_database` (``crawler.get_extension``). It owns the
session, commits after ``GOVNEWS_BATCH_SIZE`` items (and when the spider
closes), records failed pages, and keeps the run's ``crawl_runs`` row: it closes
rows left ``running`` by killed runs as ``killed`` and, when the run finishes,
advances the paging watermarks (:mod:`govnews.crawl.incremental`). An item's
article and its links are written in the same transaction, so a run killed at
any moment leaves only whole items behind.

Each batch is one write transaction, begun with ``BEGIN IMMEDIATE`` on SQLite
(:func:`~govnews.store.database.write_options`), so that waiting for another
connection's write lock happens where SQLite waits, at the start. While the lock
is held elsewhere, items wait for it without blocking the crawl
(:meth:`CrawlDatabase.writable`), trying again after doubling pauses for up to
``GOVNEWS_DATABASE_WAIT``; failure records wait in memory. When the wait runs
out, or the database refuses a write (a full disk), the run gives the database
up: it keeps the batch and everything after it in the spool
(:mod:`govnews.crawl.spool`), stops the spider and is ``failed``; the next run
stores the spool before it crawls. What even the spool refuses is counted lost
and also fails the run. The exit code stays 1 until the run's status is written.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Self

from itemadapter import ItemAdapter
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction
from twisted.internet.defer import DeferredLock
from twisted.internet.task import deferLater

from govnews.core.urls import site_of
from govnews.crawl import runlock
from govnews.crawl.accounting import PageAccounting
from govnews.crawl.health import EXIT_CODES, PageCounts, RunHealth, assess
from govnews.crawl.signals import page_failed
from govnews.crawl.spool import (
    Spool,
    article_entry,
    article_of,
    entry_url,
    failure_entry,
    run_entry,
    spool_dir,
)
from govnews.link import outbox
from govnews.link.agencies import AgencyRegistry
from govnews.link.linker import Linker
from govnews.store.database import (
    is_busy,
    is_full,
    is_unwritable,
    open_database,
    refusal,
    session_factory,
    write_options,
)
from govnews.store.models import ArticleRow, CrawlRun
from govnews.store.repository import Repository

logger = logging.getLogger(__name__)

#: How long one try to take the write lock waits inside SQLite (seconds): the reactor
#: is blocked meanwhile, so the waiting is done between tries, by the crawl.
TRY_WAIT = 0.05


@dataclass
class SharedRun:
    """A worker's part in a run of the shared frontier (:mod:`govnews.crawl.frontier`).

    The frontier fills in the run's totals on the worker that ended the run: only that
    one judges the coverage of the spider's sites and the share of failed pages, over
    every worker's pages; the others judge what is theirs alone (did it finish, were its
    records written).
    """

    #: The frontier's run id (``20261205T101152-6d1de3d6``), named in the finish reason.
    id: str
    #: The run's pages per site, summed over its workers; None: another worker ended it.
    pages: dict[str, PageCounts] | None = None
    #: The articles the run's workers stored or found stored, per site.
    seen: dict[str, int] = field(default_factory=dict)
    #: How many workers joined the run, and how many were found dead (their pages since
    #: their last heartbeat are missing from the totals).
    workers: int = 0
    killed: int = 0

    def describe(self, reason: str) -> str:
        """``reason`` with the run id and who judged the run, for the finish reason."""
        if self.pages is None:
            return f"{reason}; frontier run {self.id}: coverage judged by the run's last worker"
        judged = f"{reason}; frontier run {self.id}: judged over {self.workers} worker(s)' pages"
        if self.killed:
            judged += f", {self.killed} of them killed (their last heartbeat's pages not counted)"
        return judged


class CrawlDatabase:
    """Session, batching, failures and the run record of one crawler."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.batch_size = max(1, crawler.settings.getint("GOVNEWS_BATCH_SIZE"))
        self.counts: Counter[str] = Counter()
        #: Articles stored (new, updated or unchanged) per site in this run.
        self.sites: Counter[str] = Counter()
        #: The row each item was just stored as, by URL, until the link pipeline takes it.
        self.saved: dict[str, ArticleRow] = {}
        #: Sites where a page that leads to listing pages failed: this run did not page them all.
        self.unpaged: set[str] = set()
        #: This worker's run of the shared frontier, when it crawls with others (else None).
        self.shared: SharedRun | None = None
        # Locking and connecting here, while components are built, stops a crawl
        # that overlaps another, or has a bad GOVNEWS_DATABASE_URL, before it fetches anything.
        runlock.acquire(crawler.settings, crawler.spidercls.name, shared=True)
        try:
            self.engine = open_database(crawler.settings.get("GOVNEWS_DATABASE_URL"))
        except Exception:  # a DatabaseError, reported by the command: no crawl, no lock held
            runlock.release(self.crawler.settings)
            raise
        self.session: Session | None = session_factory(self.engine)()
        #: A shared database (PostgreSQL): articles are linked from the outbox, not as stored.
        self.outbox = self.engine.dialect.name == "postgresql"
        self.run: CrawlRun | None = None
        self._pending = 0
        settings = crawler.settings
        self.wait = settings.getfloat("GOVNEWS_DATABASE_WAIT")
        self.retry_delay = settings.getfloat("GOVNEWS_DATABASE_RETRY_DELAY")
        self.retry_delay_max = settings.getfloat("GOVNEWS_DATABASE_RETRY_DELAY_MAX")
        directory = spool_dir(settings)
        self.spool = Spool(directory) if directory is not None else None
        self.reserve = settings.getint("GOVNEWS_SPOOL_RESERVE")
        #: Why this run gave the database up (``database_locked``, ``database_full`` …), or None.
        self.unwritable: str | None = None
        #: URLs of the articles this run kept in the spool; and counts of what it kept, lost.
        self.spooled: set[str] = set()
        self.kept: Counter[str] = Counter()
        self.lost = 0
        #: What went wrong with this run's writes, for its finish reason.
        self.write_problems: list[str] = []
        self._writing = False  # the session's transaction holds the write lock
        self._batch: list[dict[str, Any]] = []  # spool entries written in that transaction
        self._queued: list[dict[str, Any]] = []  # failure records waiting for the write lock
        self._waiting = DeferredLock()  # held by the item that waits for the write lock
        self._crawling = False  # the run has started: giving up stops the spider
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.page_failed, signal=page_failed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def repository(self) -> Repository:
        """Reads and writes within the crawl's session."""
        return Repository(self._open_session())

    def _open_session(self) -> Session:
        if self.session is None:
            raise RuntimeError("the crawl database is closed (the spider has closed)")
        return self.session

    @cached_property
    def linker(self) -> Linker:
        """The crawl's linker, with the agency registry as stored (saved back at the end)."""
        session = self._open_session()
        return Linker(
            session, AgencyRegistry.load(session, self.crawler.settings["GOVNEWS_AGENCIES_FILE"])
        )

    def start_run(self, spider_name: str) -> None:
        """Record the start of this run (once, however often asked).

        What earlier runs kept in the spool is stored first (a run whose status
        waited there is closed by it). Runs still ``running`` are then closed as
        ``killed`` in the transaction that records this run's start: this run holds
        the database's lock, so their processes are gone. A run that cannot write
        stops here (``CloseSpider``).
        """
        if self.run is not None or self.unwritable is not None:
            return
        logger.info("Storing into %s", self._where())
        self._make_reserve()
        self._store_spool()
        if self._wait_writable():
            repository = self.repository
            self.run = repository.start_run(spider_name)
            # Before the row is committed, so that no other worker sees it running unlocked.
            runlock.hold_run(self.crawler.settings, self.run.id)
            for dead in repository.close_dead_runs(self.run):
                logger.warning(
                    "Run %s (%s, started %s) never finished: recorded as killed",
                    dead.id,
                    dead.spider,
                    f"{dead.started_at:%Y-%m-%d %H:%M:%S} UTC",
                )
            self.commit()
        if self.unwritable is not None:
            self.run = None  # never written
            raise CloseSpider(self.unwritable)
        logger.info("Run %s started", self.run_id)

    def spider_opened(self, spider: Spider) -> None:
        if self.crawler.stats is not None:  # until the run's status is written
            self.crawler.stats.set_value("govnews/exit_code", EXIT_CODES["failed"])
        self.start_run(spider.name)
        self._crawling = True

    def note(self, outcome: str, number: int = 1) -> None:
        """Count outcomes (new, updated, unchanged, failures, links) of this run."""
        self.counts[outcome] += number

    def note_article(self, site: str, status: str) -> None:
        """Count a stored article: ``new``, ``updated`` or ``unchanged``, and its site."""
        self.note(status)
        self.sites[site] += 1

    def savepoint(self) -> SessionTransaction:
        """A nested transaction: one item's writes, undone alone if they fail."""
        return self._open_session().begin_nested()

    def item_scraped(self, item: Any, spider: Spider) -> None:
        self._one_more()

    def item_dropped(self, item: Any, spider: Spider, exception: BaseException) -> None:
        """A dropped item is a failed page: keep its URL and the reason."""
        url = ItemAdapter(item).get("url") if ItemAdapter.is_item(item) else None
        if url:
            stage = getattr(exception, "stage", "validate")
            self.page_failed(url=url, stage=stage, reason=str(exception), spider=spider)

    def page_failed(
        self,
        url: str,
        stage: str,
        reason: str,
        spider: Spider,
        callback: str | None = None,
        listing: bool = False,
    ) -> None:
        if listing:
            with contextlib.suppress(ValueError):
                self.unpaged.add(site_of(url))
        self._record(
            failure_entry(url, spider=spider.name, stage=stage, reason=reason, callback=callback)
        )
        self.note("failures")
        self._one_more()

    def resolve_failures(self, keys: Iterable[str]) -> None:
        """Close the open failures of these URL keys: their page was handled after all."""
        self._record({"kind": "resolve", "keys": list(keys)})
        self._one_more()

    def _one_more(self) -> None:
        self._pending += 1
        if self._pending >= self.batch_size:
            self.commit()

    def commit(self) -> None:
        """Write the batch: every item and link since the last commit, or none of them.

        A commit the database refuses (a full disk) gives it up: the batch goes to the spool.
        """
        if self.session is not None:
            try:
                self.session.commit()
            except SQLAlchemyError as error:
                self.write_failed(error)
        self._writing = False
        self._batch.clear()
        self._pending = 0
        self.saved.clear()  # taken by the link pipeline, or never (when it is off)
        if self.outbox and self.unwritable is None:
            self.drain_outbox(wait=False)

    def queue_link(self, row: ArticleRow, site_meta: Mapping[str, str] | None) -> None:
        """Queue a stored article for the linker (:mod:`govnews.link.outbox`), in its batch."""
        outbox.enqueue(self._open_session(), row.id, site_meta)

    def drain_outbox(self, *, wait: bool) -> None:
        """Link the queued articles of every worker, if no other worker is linking (``wait``:
        once it is done), and commit the links; their number counts as this run's links."""
        session = self._open_session()
        try:
            linked = outbox.drain(session, self.linker, wait=wait)
            session.commit()
        except SQLAlchemyError as error:
            session.rollback()
            if not self.write_failed(error):
                logger.error("Linking the outbox failed; the next drain retries: %s", error)
            return
        if linked:
            self.note("links", linked)

    # -- waiting for the write lock; the spool --------------------------------------------

    async def writable(self) -> bool:
        """Wait, without blocking the crawl, until this run holds the write lock.

        False when the run has given the database up: the caller keeps its item
        in the spool (:meth:`keep_article`). One caller waits at a time; the
        others find the lock held, or the database given up, when their turn comes.
        """
        if self._writing:
            return True
        if self._waiting.locked:  # another item waits for the lock: this one waits its turn
            await maybe_deferred_to_future(self._waiting.acquire())
        else:
            self._waiting.acquire()  # taken at once: a free database costs no reactor turn
        try:
            for pause in self._attempts():
                # The running reactor, imported here: importing it at module level would
                # install Twisted's default reactor before Scrapy installs its own.
                from twisted.internet import reactor

                await maybe_deferred_to_future(deferLater(reactor, pause, lambda: None))
        finally:
            self._waiting.release()
        return self._writing

    def _wait_writable(self, closing: bool = False) -> bool:
        """:meth:`writable`, blocking: when the run starts and ends, with no page in flight."""
        for pause in self._attempts(closing):
            time.sleep(pause)
        return self._writing

    def _attempts(self, closing: bool = False) -> Iterator[float]:
        """Try to take the write lock until ``GOVNEWS_DATABASE_WAIT`` has passed; yield each pause.

        Each try waits at most :data:`TRY_WAIT` inside SQLite (blocking the
        reactor that long at most); the pauses between tries double from
        ``GOVNEWS_DATABASE_RETRY_DELAY`` up to ``…_MAX``. Ends when the lock is
        held, or when the run gives the database up: another connection held the
        lock all along, or the database refused. ``closing``: the run's end, which
        tries even after the run gave the database up, to write its status, and
        gives up nothing more.
        """
        started: float | None = None
        pause = self.retry_delay
        while closing or self.unwritable is None:
            try:
                if self._begin_write():
                    if started is not None:
                        waited = time.monotonic() - started
                        logger.info("The database is writable again after %.1f s", waited)
                    return
            except SQLAlchemyError as error:
                if not (closing and is_unwritable(error)) and not self.write_failed(error):
                    raise
                return
            now = time.monotonic()
            if started is None:
                started = now
                logger.warning(
                    "The database %s is locked by another connection: waiting up to %g s "
                    "(GOVNEWS_DATABASE_WAIT)",
                    self._where(),
                    self.wait,
                )
            if now >= started + self.wait:
                if not closing:
                    self._give_up(
                        "database_locked",
                        f"the database {self._where()} stayed locked by another connection "
                        f"for {self.wait:g} s (GOVNEWS_DATABASE_WAIT)",
                    )
                return
            yield min(pause, started + self.wait - now)
            pause = min(pause * 2, self.retry_delay_max)

    def _begin_write(self) -> bool:
        """Hold the write lock: begin a write transaction unless one is open; False when busy.

        A transaction that only read since the last commit is ended first: it was
        begun with a plain BEGIN, and SQLite refuses such a reader that starts to
        write at once, without waiting, when another connection holds the lock or
        wrote since. Failure records that waited for the lock are written first.
        """
        if self._writing:
            return True
        session = self._open_session()
        if session.in_transaction():
            session.commit()  # it wrote nothing: every write begins here
        try:
            session.connection(execution_options=write_options(TRY_WAIT))
        except SQLAlchemyError as error:
            session.rollback()
            if is_busy(error):
                return False
            raise
        self._writing = True
        while self._queued:  # each one leaves the queue once written: the rest stay to be kept
            self._write(self._queued[0])
            del self._queued[0]
        return True

    def _record(self, entry: dict[str, Any]) -> None:
        """Write a failure record or a resolution now, or keep it until the lock is had."""
        if self.unwritable is not None:
            self._keep([entry])
            return
        if not self._writing and self._waiting.locked:  # an item waits for the lock already
            self._queued.append(entry)
            return
        try:
            if self._begin_write():
                self._write(entry)
                return
        except SQLAlchemyError as error:
            if not self.write_failed(error, entry):
                self._lose([entry], error)
            return
        self._queued.append(entry)
        deferred_from_coro(self.writable())  # takes the queue in once it has the lock

    def _write(self, entry: dict[str, Any]) -> None:
        """Write a failure record or a resolution in the open write transaction.

        An error of the database as a whole is raised (the entry is then kept); one
        of this record alone loses it, loudly.
        """
        try:
            with self.savepoint():
                if entry["kind"] == "failure":
                    self.repository.record_failure(
                        entry["url"],
                        spider=entry["spider"],
                        stage=entry["stage"],
                        reason=entry["reason"],
                        callback=entry["callback"],
                    )
                else:
                    self.repository.resolve_failures(entry["keys"])
        except SQLAlchemyError as error:
            if is_unwritable(error):
                raise
            self._lose([entry], error)
            return
        self._batch.append(entry)

    def stored(self, item: Any) -> None:
        """Note an article written in the open transaction: kept in the spool if it fails."""
        self._batch.append(article_entry(item))

    def keep_article(self, item: Any) -> None:
        """Keep an article this run cannot write in the spool (once however often asked)."""
        self._keep([article_entry(item)])

    def write_failed(self, error: SQLAlchemyError, *keep: dict[str, Any]) -> bool:
        """A write raised ``error``: when the database refuses writes, give it up, keeping
        ``keep`` and the batch in the spool, and say True; False for an error of the item.
        """
        cause = refusal(error)
        if cause is None:
            return False
        if is_full(error):
            self._give_up("database_full", f"the database {self._where()} is full ({cause})", keep)
        else:
            self._give_up("database_error", f"the database {self._where()}: {cause}", keep)
        return True

    def _give_up(self, cause: str, message: str, keep: Iterable[dict[str, Any]] = ()) -> None:
        """Stop writing to the database: the batch and what waits go to the spool; the run stops."""
        if self.unwritable is None:
            self.unwritable = cause
            self.write_problems.append(message)
            logger.error("Run %s stops: %s", self.run_id or "(not started)", message)
            if self.crawler.stats is not None:
                self.crawler.stats.set_value("govnews/unwritable", cause)
            if cause != "database_locked" and self.spool is not None and self.spool.release():
                logger.warning("Removed the spool's reserve: room for the spool and the status")
            if self._crawling:  # before, start_run stops the spider itself
                engine = self.crawler.engine
                assert engine is not None
                deferred_from_coro(engine.close_spider_async(reason=cause))
        if self.session is not None and self.session.in_transaction():
            with contextlib.suppress(SQLAlchemyError):  # SQLite may have rolled it back itself
                self.session.rollback()
        entries = [*self._batch, *self._queued, *keep]
        self._writing = False
        self._batch, self._queued, self._pending = [], [], 0
        self.saved.clear()
        self._keep(entries)

    def _keep(self, entries: list[dict[str, Any]]) -> None:
        """Keep ``entries`` in the spool; what even the spool refuses is lost, and said so.

        A resolution is not kept: without it the page's failure stays open and is
        requested again by the next run. An article already kept is not kept twice.
        """
        kept, urls = [], set()
        for entry in entries:
            url = entry_url(entry)
            if entry["kind"] == "resolve" or url in self.spooled or (url and url in urls):
                continue
            kept.append(entry)
            if url:
                urls.add(url)
        if not kept:
            return
        try:
            if self.spool is None:
                raise OSError("a database in memory has no spool")
            path = self.spool.write(kept)
        except OSError as error:
            self._lose(kept, error)
            return
        self.spooled |= urls
        self.kept.update(entry["kind"] for entry in kept)
        logger.warning("Kept %d record(s) in the spool file %s for the next run", len(kept), path)

    def _lose(self, entries: list[dict[str, Any]], error: BaseException) -> None:
        """Count ``entries`` lost, neither stored nor kept, and name them in the log."""
        self.lost += len(entries)
        names = ", ".join(
            entry_url(entry) or entry.get("url") or entry["kind"] for entry in entries
        )
        logger.error(
            "Lost %d record(s), neither stored nor kept in the spool (%s): %s",
            len(entries),
            error,
            names,
        )

    def _make_reserve(self) -> None:
        """Make the spool's reserve file if it is missing (:mod:`govnews.crawl.spool`)."""
        if self.spool is None:
            return
        try:
            if self.spool.reserve(self.reserve):
                logger.info("Reserved %d bytes in %s", self.reserve, self.spool.reserve_path)
        except OSError as error:
            logger.warning(
                "Could not make the spool's reserve %s (%s): on a full disk this run may "
                "lose what it cannot write",
                self.spool.reserve_path,
                error,
            )

    def _store_spool(self) -> None:
        """Store what earlier runs kept in the spool, before this run crawls.

        A file is removed once its entries are committed. A file that cannot be
        read or stored whole is left for a person (the run is degraded).
        """
        if self.spool is None:
            return
        for path in self.spool.files():
            try:
                entries = self.spool.read(path)
            except (OSError, ValueError) as error:
                self._spool_problem(f"the spool file {path} cannot be read: {error}")
                continue
            if not self._wait_writable():
                return
            whole = True
            for entry in entries:
                whole = self._store_entry(entry, path) and whole
                if self.unwritable is not None:  # the file stays for the next run
                    return
            self.commit()
            if self.unwritable is not None:
                return
            if whole:
                self.spool.remove(path)
            logger.info("Stored the %d record(s) of the spool file %s", len(entries), path)
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("govnews/spool_stored", len(entries))

    def _store_entry(self, entry: dict[str, Any], path: Path) -> bool:
        """Store one spool entry (an article with its links, a failure, a run's end);
        False when it fails."""
        try:
            with self.savepoint():
                if entry["kind"] == "run":
                    self._finish_spooled_run(entry)
                elif entry["kind"] == "failure":
                    self.repository.record_failure(
                        entry["url"],
                        spider=entry["spider"],
                        stage=entry["stage"],
                        reason=entry["reason"],
                        callback=entry["callback"],
                    )
                else:
                    article = article_of(entry)
                    result = self.repository.save_article(article)
                    self.note(result.status)
                    if self.outbox:
                        self.queue_link(result.row, article.site_meta)
                    else:
                        links = self.linker.link(result.row, article.site_meta)
                        self.note("links", sum(link.original_id is not None for link in links))
        except SQLAlchemyError as error:
            if not self.write_failed(error):
                self._spool_problem(f"an entry of the spool file {path} cannot be stored: {error}")
            return False
        except (KeyError, TypeError, ValueError) as error:
            self._spool_problem(f"an entry of the spool file {path} is no record: {error}")
            return False
        return True

    def _finish_spooled_run(self, entry: dict[str, Any]) -> None:
        """Close the row of a run whose end could not be written, as that run judged it."""
        run = self._open_session().get(CrawlRun, entry["id"])
        if run is None:
            raise ValueError(f"no run {entry['id']}")
        self.repository.finish_run(
            run,
            status=entry["status"],
            finish_reason=f"{entry['finish_reason']}; written from the spool by the next run",
            counts=entry["counts"],
        )
        run.finished_at = datetime.fromisoformat(entry["finished_at"])
        logger.info("Run %s closed as %s from the spool", run.id, run.status)

    def _spool_problem(self, problem: str) -> None:
        logger.error("%s; the file is kept", problem)
        self.write_problems.append(f"{problem}; the file is kept")

    def _where(self) -> str:
        return self.engine.url.render_as_string()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Commit the last batch, judge the run and close its record; release the lock.

        When the run's status cannot be written (the database stays locked, or is
        full), that is said in one line, the status is kept in the spool for the
        next run to write, and the exit code stays 1.
        """
        self._crawling = False
        try:
            self._close_run(spider, reason)
        except (SQLAlchemyError, StatusNotWritten) as error:
            if isinstance(error, SQLAlchemyError) and not is_unwritable(error):
                raise
            cause = getattr(error, "orig", None) or error
            logger.error("Run %s: its status could not be written: %s", self.run_id, cause)
            if self.crawler.stats is not None:
                self.crawler.stats.set_value("govnews/status", "failed")
                self.crawler.stats.set_value("govnews/exit_code", EXIT_CODES["failed"])
        finally:
            if self.session is not None:
                self.session.close()
                self.session = None
            runlock.release(self.crawler.settings)

    @property
    def run_id(self) -> int | None:
        return self.run.id if self.run is not None else None

    def _close_run(self, spider: Spider, reason: str) -> None:
        if self.session is None or self.run is None:
            return
        if self.outbox:  # every article this worker stored is linked before it exits
            self.commit()
            self.drain_outbox(wait=True)
        elif "linker" in self.__dict__ and self._hold_write_lock():
            try:  # what the registry learned from this crawl's pages
                self.linker.registry.save(self.session)
            except SQLAlchemyError as error:
                if not self.write_failed(error):
                    raise
        self.commit()
        stats = self.crawler.stats
        requests = stats.get_value("downloader/request_count", 0) if stats else 0
        health = self.judge_writes(self.assess(spider, reason))
        described = self.shared.describe(reason) if self.shared is not None else reason
        if health.problems:
            logger.error("Run %s %s: %s", self.run.id, health.status, "; ".join(health.problems))
        counts = {
            "requests": requests,
            "items_new": self.counts["new"],
            "items_updated": self.counts["updated"],
            "items_unchanged": self.counts["unchanged"],
            "failures": self.counts["failures"],
            "links": self.counts["links"],
        }
        try:
            if not self._hold_write_lock():
                raise StatusNotWritten(
                    f"the database {self._where()} stayed locked by another connection "
                    f"for {self.wait:g} s (GOVNEWS_DATABASE_WAIT)"
                )
            # A run that lost or spooled records (failed) may not have read all it paged.
            if reason == "finished" and health.status != "failed":
                self.repository.advance_paging_watermarks(self.run, self.paged_sites())
            self.repository.finish_run(
                self.run,
                status=health.status,
                finish_reason=health.describe(described),
                counts=counts,
            )
            self.session.commit()
        except (SQLAlchemyError, StatusNotWritten) as error:
            if isinstance(error, SQLAlchemyError) and not is_unwritable(error):
                raise
            with contextlib.suppress(SQLAlchemyError):
                self.session.rollback()
            cause = refusal(error) or error
            unwritten = f"its status could not be written: {cause}"
            self._keep(
                [
                    run_entry(
                        self.run.id,
                        status="failed",
                        finish_reason="; ".join([health.describe(described), unwritten]),
                        counts=counts,
                    )
                ]
            )
            raise StatusNotWritten(cause) from error
        if stats is not None:  # the exit code, now that the status is written
            stats.set_value("govnews/status", health.status)
            stats.set_value("govnews/exit_code", health.exit_code)
        self.session.close()
        self.session = None

    def _hold_write_lock(self) -> bool:
        """Take the write lock to close the run, waiting for it up to ``GOVNEWS_DATABASE_WAIT``.

        Also after the run gave the database up: its status is worth a try.
        """
        return self._wait_writable(closing=True)

    def judge_writes(self, health: RunHealth) -> RunHealth:
        """The run's health with what became of its writes.

        A run that gave the database up, kept records in the spool or lost any is
        ``failed``; one that could not store a spool file of an earlier run is at
        least ``degraded`` (the file is kept).
        """
        problems = list(self.write_problems)
        if self.kept:
            problems.append(
                f"{self.kept['article']} article(s) and {self.kept['failure']} failure(s) kept in "
                f"the spool {self.spool.directory if self.spool else ''}: the next run stores them"
            )
        if self.lost:
            problems.append(f"{self.lost} record(s) lost: neither stored nor kept in the spool")
        if not problems:
            return health
        failed = self.unwritable is not None or self.lost or self.kept
        status = "failed" if failed or health.status == "failed" else "degraded"
        return RunHealth(status, [*health.problems, *problems])

    def paged_sites(self) -> set[str]:
        """The sites whose listings this run paged to their stopping point, if it finished.

        Those it stored or found stored articles of, less those where a page that
        leads to listing pages failed (:attr:`unpaged`): a site it saw nothing of,
        or lost a listing page of, keeps its watermark until a run pages it all.
        """
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        prefix = "govnews/skipped_known/"
        seen = {key.removeprefix(prefix) for key in stats if key.startswith(prefix)}
        if self.unpaged:
            logger.warning(
                "Paging watermark kept for %s: a page leading to listings failed",
                ", ".join(sorted(self.unpaged)),
            )
        return (seen | set(self.sites)) - self.unpaged

    def seen_articles(self) -> Counter[str]:
        """Per site, the articles this run stored or found already stored (and skipped)."""
        seen = Counter(self.sites)
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        prefix = "govnews/skipped_known/"
        for key, value in stats.items():
            if key.startswith(prefix):
                seen[key.removeprefix(prefix)] += value
        return seen

    def assess(self, spider: Spider, reason: str) -> RunHealth:
        """The health of this run: did it finish, and did it cover the spider's sites?

        Judged by pages (:class:`~govnews.crawl.accounting.PageAccounting`), not downloads.
        A worker of a shared run (:attr:`shared`) judges coverage over the whole run's
        totals if it ended the run, else only whether it finished: its own slice of the
        pages says nothing of a site's coverage (another worker may have taken them all).
        """
        assert self.session is not None
        sites = spider_sites(spider)
        if self.shared is None:
            accounting = self.crawler.get_extension(PageAccounting)
            pages = accounting.tally() if accounting is not None else {}
            seen_here = self.seen_articles()
        elif self.shared.pages is not None:
            pages, seen_here = self.shared.pages, Counter(self.shared.seen)
        else:
            pages, seen_here, sites = {}, Counter(), []
        counted = self.session.execute(
            select(ArticleRow.site, func.count())
            .where(ArticleRow.site.in_(sites))
            .group_by(ArticleRow.site)
        )
        stored = {site: count for site, count in counted}
        return assess(
            reason,
            pages=pages,
            seen={site: seen_here[site] for site in sites},
            stored=stored,
            max_failure_share=self.crawler.settings.getfloat("GOVNEWS_MAX_FAILURE_SHARE"),
        )


class StatusNotWritten(Exception):
    """The run's status could not be written: the database stayed locked."""


def spider_sites(spider: Spider) -> list[str]:
    """The sites a spider covers: the hosts of its start URLs."""
    hosts = (site_of(url) for url in getattr(spider, "start_urls", ()) if url)
    return sorted(set(hosts))


def crawl_database(crawler: Crawler) -> CrawlDatabase:
    """The crawl's :class:`CrawlDatabase` extension; refuses a crawl that has none.

    Raises ``NotConfigured`` with the reason, so a component that needs the
    database says why it cannot run instead of failing later.
    """
    database = crawler.get_extension(CrawlDatabase)
    if database is None:
        raise NotConfigured("needs govnews.crawl.crawldb.CrawlDatabase in EXTENSIONS")
    return database
