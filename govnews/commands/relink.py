"""``scrapy relink [--since DATE] [--site HOST]``: recompute links over stored articles."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from sqlalchemy.orm import Session

from govnews.commands.checks import check_agencies_file, check_settings, reports_errors
from govnews.crawl import runlock
from govnews.crawl.health import EXIT_CODES
from govnews.extract.dates import parse_date
from govnews.link.agencies import AgencyRegistry
from govnews.link.relink import Change, relink
from govnews.store import models
from govnews.store.database import open_database, session_factory


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--since DATE] [--site HOST] [--workers N]"

    def short_desc(self) -> str:
        return "Recompute repost links over stored articles and print what changed"

    def long_desc(self) -> str:
        return (
            "Links every stored article again, oldest first: by declared URL, then by "
            "source agency, title, date and text. Run it after the agency registry has "
            "grown (new sites crawled, the GOVNEWS_AGENCIES_FILE edited). --since limits it to "
            "articles published since DATE (2022-08-01), --site to one host. Fingerprints "
            "are computed by --workers processes (default: one per core). All changes are "
            "written in one transaction."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--since", help="only articles published since this date")
        parser.add_argument("--site", help="only articles of this host")
        parser.add_argument("--workers", type=int, help="processes that fingerprint articles")

    @reports_errors()
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if args:
            raise UsageError("relink takes no arguments")
        check_settings(self.settings)
        check_agencies_file(self.settings)
        since = parse_date(opts.since) if opts.since else None
        if opts.workers is not None and opts.workers < 1:
            raise UsageError("--workers must be at least 1")
        if opts.since and since is None:
            raise UsageError(f"--since {opts.since!r} is not a date")
        try:
            with runlock.alone(self.settings, "relink"):
                self._relink(since, opts)
        except runlock.RunLocked as error:
            print(f"govnews: {error}", file=sys.stderr)
            self.exitcode = EXIT_CODES["locked"]

    def _relink(self, since: datetime | None, opts: argparse.Namespace) -> None:
        assert self.settings is not None
        engine = open_database(self.settings.get("GOVNEWS_DATABASE_URL"), create=False)
        with session_factory(engine)() as session:
            registry = AgencyRegistry.load(session, self.settings["GOVNEWS_AGENCIES_FILE"])
            changes = relink(session, registry, since=since, site=opts.site, workers=opts.workers)
            registry.save(session)
            session.commit()
            for change in changes:
                print(describe(session, change))
            print(f"{len(changes)} link(s) changed")


def describe(session: Session, change: Change) -> str:
    """One line: the repost, its original before and after, and how it is linked now."""

    def url(article_id: int | None) -> str:
        row = session.get(models.ArticleRow, article_id) if article_id else None
        return row.url if row else "-"

    repost = url(change.repost_id)
    (old, _), (new, method) = change.before, change.after
    return f"{repost}: {url(old)} -> {url(new)}" + (f" ({method})" if new else "")
