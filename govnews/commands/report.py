"""``scrapy report``: where each government article went, as one self-contained HTML page."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from govnews.commands.checks import check_settings, check_writable, reports_errors
from govnews.core.errors import ConfigError, GovnewsError
from govnews.extract.dates import has_time, parse_date
from govnews.store.database import open_database, session_factory


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--since DATE] [--until DATE] [--site HOST] [--agency NAME] -o FILE.html"

    def short_desc(self) -> str:
        return "Write the propagation report: reposts, delays, credit, unresolved, runs (HTML)"

    def long_desc(self) -> str:
        return (
            "Write one HTML file that opens from disk and loads nothing: per agency and per "
            "original, the reposts, their sites and delays; per reposting site, the share of "
            "reposts whose 来源 names the original's agency, that give a 原文链接 and whose "
            "link reaches the original; miscredited reposts; reposts waiting for their "
            "original, portal articles with a government 来源 that nothing matched, link "
            "suggestions; runs, failures by stage and silent sites. --since and --until "
            "select reposts (and listed articles) by publication date, both inclusive (a "
            "date without a time is the whole day, Asia/Shanghai); --site a host, the "
            "reposting site or the original's; --agency the originals of one agency (its "
            "name in the registry, or its host). Needs the report extra."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", metavar="FILE", help="the HTML file to write")
        parser.add_argument("--since", metavar="DATE", help="reposts published on or after")
        parser.add_argument("--until", metavar="DATE", help="reposts published on or before")
        parser.add_argument("--site", metavar="HOST", help="reposts on, or of originals of, HOST")
        parser.add_argument("--agency", metavar="NAME", help="reposts of this agency's originals")

    @reports_errors()
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if args:
            raise UsageError(f"report takes no arguments (got {' '.join(args)})")
        check_settings(self.settings)
        if not opts.output:
            raise UsageError("give the file to write: -o FILE.html")
        try:  # the report extra: matplotlib and Jinja2
            from govnews.report.build import Options, build_report
            from govnews.report.queries import Filters, agency_hosts
        except ModuleNotFoundError as error:
            raise ConfigError(
                f"scrapy report needs {error.name}: pip install 'govnews[report]'"
            ) from None
        since = _date("--since", opts.since)
        until = _date("--until", opts.until)
        before = None
        if until is not None:  # a date without a time is included whole
            before = until + (timedelta(seconds=1) if has_time(opts.until) else timedelta(days=1))
        if since is not None and before is not None and before <= since:
            raise UsageError(f"--until {opts.until} is before --since {opts.since}")
        output = Path(opts.output)
        check_writable(output.parent, opts.output)
        options = Options(
            rows=self.settings.getint("GOVNEWS_REPORT_ROWS"),
            originals=self.settings.getint("GOVNEWS_REPORT_ORIGINALS"),
            runs=self.settings.getint("GOVNEWS_REPORT_RUNS"),
            quiet_runs=self.settings.getint("GOVNEWS_REPORT_QUIET_RUNS"),
        )
        started = time.perf_counter()
        # Only what a crawl stored: a database that does not exist is not made here.
        engine = open_database(self.settings.get("GOVNEWS_DATABASE_URL"), create=False)
        try:
            with session_factory(engine)() as session:
                hosts = None
                if opts.agency is not None:
                    hosts = agency_hosts(session, opts.agency)
                    if not hosts:
                        raise GovnewsError(
                            f"--agency {opts.agency!r}: no agency of that name or host is "
                            "registered (table agencies)"
                        )
                filters = Filters(since=since, before=before, site=opts.site, hosts=hosts)
                html = build_report(session, filters, options, _scope(opts))
        finally:
            engine.dispose()
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(html, encoding="utf-8")
        except OSError as error:
            raise GovnewsError(f"cannot write {output}: {error.strerror or error}") from None
        seconds = time.perf_counter() - started
        size = output.stat().st_size / 1024
        print(f"report written to {output} ({size:,.0f} KB in {seconds:.1f} s)", file=sys.stderr)


def _date(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    value = parse_date(text)
    if value is None:
        raise UsageError(f"{option} {text!r} is not a date (e.g. 2022-08-31)")
    return value


def _scope(opts: argparse.Namespace) -> str:
    """What the options select, in words, for the page's header."""
    parts = []
    if opts.since or opts.until:
        parts.append(f"发布 published {opts.since or '…'} – {opts.until or '…'}")
    if opts.site:
        parts.append(f"网站 site {opts.site}")
    if opts.agency:
        parts.append(f"机构 agency {opts.agency}")
    return " · ".join(parts)
