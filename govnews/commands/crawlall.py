"""``scrapy crawlall [SPIDER ...]``: every spider in one process, then the links, for cron."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy.commands import ScrapyCommand
from scrapy.crawler import Crawler
from twisted.internet.defer import Deferred

from govnews.commands.checks import check_crawl, report_crawl_errors, reports_errors
from govnews.commands.crawl import exit_code
from govnews.crawl import runlock
from govnews.crawl.health import EXIT_CODES, worst
from govnews.link.agencies import AgencyRegistry
from govnews.link.relink import relink
from govnews.store.database import open_database, session_factory

logger = logging.getLogger(__name__)


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {
        # The feed of each run: one JSON Lines file per spider and start time.
        "FEEDS": {"data/feeds/%(name)s/%(time)s.jsonl": {"format": "jsonlines"}},
    }

    relink_failed = False

    def syntax(self) -> str:
        return "[SPIDER ...]"

    def short_desc(self) -> str:
        return "Run every spider (or those named) one after another, then complete the links"

    def long_desc(self) -> str:
        return (
            "Runs the spiders one after another in one process, holding the database's "
            "lock throughout, writes each run's feed (FEEDS; default data/feeds/<spider>/"
            "<time>.jsonl), then links again the articles of the last "
            "GOVNEWS_CRAWLALL_RELINK_DAYS days with everything the runs learned. A run that "
            "finds the database unwritable (locked too long, full) ends the sequence. Exit "
            "code: the worst of the runs (0 finished, 1 failed, 2 degraded, 3 locked), 1 when "
            "a run was not started."
        )

    @reports_errors(EXIT_CODES["failed"])
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process is not None and self.settings is not None
        known = self.crawler_process.spider_loader.list()
        names = args or sorted(known)
        unknown = [name for name in names if name not in known]
        if unknown:
            print(f"govnews: no such spider: {', '.join(unknown)}", file=sys.stderr)
            self.exitcode = EXIT_CODES["failed"]
            return
        check_crawl(self.settings)
        try:
            runlock.acquire(self.settings, "crawlall", shared=True)
        except runlock.RunLocked as exc:
            print(f"govnews: {exc}", file=sys.stderr)
            self.exitcode = EXIT_CODES["locked"]
            return
        crawlers: list[Crawler] = []
        try:
            # A database that cannot be used fails every crawl in turn: say so once, up front.
            open_database(self.settings.get("GOVNEWS_DATABASE_URL")).dispose()
            self._crawl_in_turn(names, crawlers)
            self.crawler_process.start()
        finally:
            runlock.release(self.settings)
        codes = [exit_code(crawler) for crawler in crawlers]
        for name, code in zip(names, codes, strict=False):
            logger.info("crawlall: %s exited %d", name, code)
        self.exitcode = worst(codes) if len(codes) == len(names) else EXIT_CODES["failed"]
        if self.relink_failed:
            self.exitcode = worst([self.exitcode, EXIT_CODES["failed"]])

    def _crawl_in_turn(self, names: list[str], crawlers: list[Crawler]) -> None:
        """Start the first crawl; each one's end starts the next, the last one relinks.

        A run that gave the database up (it stayed locked, or refuses writes: a full
        disk) ends the sequence: the next runs would fail the same way, and could not
        even write their status. The runs not started make the exit code 1.
        """
        assert self.crawler_process is not None
        unwritable = _unwritable(crawlers[-1]) if crawlers else None
        if unwritable:
            logger.error(
                "crawlall: stopped after %s (%s): not run: %s",
                crawlers[-1].spidercls.name,
                unwritable,
                ", ".join(names[len(crawlers) :]) or "the relink",
            )
            return
        if len(crawlers) == len(names):
            try:
                self._relink()
            except Exception:  # the crawls are stored; the links are for the next run
                logger.exception("crawlall: relinking failed")
                self.relink_failed = True
            return
        crawler = self.crawler_process.create_crawler(names[len(crawlers)])
        crawlers.append(crawler)
        running = self.crawler_process.crawl(crawler)
        report_crawl_errors(running, self, crawler.spidercls.name)
        _when_done(running, lambda: self._crawl_in_turn(names, crawlers))

    def _relink(self) -> None:
        """Link the recent articles again, with what the runs taught the agency registry.

        On PostgreSQL this needs the database alone (the run lock, exclusively): a
        worker whose crawls end while others still crawl leaves it to the last one.
        """
        assert self.settings is not None
        days = self.settings.getfloat("GOVNEWS_CRAWLALL_RELINK_DAYS")
        if days <= 0:
            return
        if runlock.on_server(self.settings):
            # This worker's crawls are over; other workers' may not be. The last one relinks.
            runlock.release(self.settings)
        try:
            with runlock.alone(self.settings, "crawlall relink"):
                engine = open_database(self.settings.get("GOVNEWS_DATABASE_URL"))
                try:
                    with session_factory(engine)() as session:
                        since = datetime.now(UTC) - timedelta(days=days)
                        registry = AgencyRegistry.load(
                            session, self.settings["GOVNEWS_AGENCIES_FILE"]
                        )
                        changes = relink(session, registry, since=since)
                        registry.save(session)
                        session.commit()
                finally:
                    engine.dispose()
        except runlock.RunLocked:
            logger.info("crawlall: other workers still crawl the database; the last one relinks")
            return
        logger.info("crawlall: relinked since %s: %d link(s) changed", since, len(changes))


def _unwritable(crawler: Crawler) -> str | None:
    """Why a finished crawl gave its database up (``database_full`` …), or None."""
    if getattr(crawler, "spider", None) is None:  # it never started: no stats
        return None
    return crawler.stats.get_value("govnews/unwritable")


def _when_done(running: Any, then: Callable[[], None]) -> None:
    """Call ``then`` when a crawl (an asyncio Task or a Deferred) has ended, however it ended."""
    if isinstance(running, Deferred):
        running.addBoth(lambda _: then())
    else:
        running.add_done_callback(lambda _: then())
