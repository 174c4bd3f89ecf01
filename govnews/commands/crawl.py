"""``scrapy crawl``, with exit codes for cron and one run at a time per database."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError

from govnews.commands.checks import check_crawl, report_crawl_errors, reports_errors
from govnews.crawl import runlock
from govnews.crawl.health import EXIT_CODES


class Command(ScrapyCrawlCommand):
    def long_desc(self) -> str:
        return (
            "Run a spider. Exit codes: 0 the run finished; 1 it failed (did not start or "
            "did not finish); 2 it finished degraded (no articles from a site that has "
            "some, or too many failed pages); 3 another run holds the database's lock."
        )

    @reports_errors(EXIT_CODES["failed"])
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give one spider: scrapy crawl <spider>")
        assert self.crawler_process is not None and self.settings is not None
        if args[0] not in self.crawler_process.spider_loader.list():
            print(f"govnews: no such spider: {args[0]}", file=sys.stderr)
            self.exitcode = EXIT_CODES["failed"]
            return
        check_crawl(self.settings)
        try:
            runlock.acquire(self.settings, args[0], shared=True)
        except runlock.RunLocked as exc:
            print(f"govnews: {exc}", file=sys.stderr)
            self.exitcode = EXIT_CODES["locked"]
            return
        try:
            crawler = self._create_crawler(args[0])
            report_crawl_errors(self.crawler_process.crawl(crawler, **opts.spargs), self)
            self.crawler_process.start()
        finally:
            runlock.release(self.settings)
        self.exitcode = exit_code(crawler)


def exit_code(crawler: Crawler) -> int:
    """The exit code of a finished crawler's run (``govnews.crawl.health``)."""
    if getattr(crawler, "spider", None) is None or crawler.stats is None:
        return EXIT_CODES["failed"]  # it never started
    code = crawler.stats.get_value("govnews/exit_code")
    if code is None:  # no govnews database in this crawl: judge by how it ended
        reason = crawler.stats.get_value("finish_reason")
        return EXIT_CODES["finished" if reason == "finished" else "failed"]
    return int(code)
