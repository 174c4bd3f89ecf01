"""``scrapy copydb --to URL [--from URL]``: copy a database into an empty one, counts checked."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from govnews.commands.checks import check_settings, reports_errors
from govnews.store.copy import check_distinct, copy_database, open_source, open_target, parse_url


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "--to URL [--from URL]"

    def short_desc(self) -> str:
        return "Copy the database into an empty one (SQLite to PostgreSQL, and back)"

    def long_desc(self) -> str:
        return (
            "Copy every table of the govnews database of --from (default: "
            "GOVNEWS_DATABASE_URL), which must exist, into the database of --to, "
            "which gets the current schema and must hold no govnews rows. The copy is "
            "one transaction: a failed one leaves the target empty. PostgreSQL's "
            "sequences are set past the copied ids. Each table's rows are then counted "
            "in both databases and printed; a count that differs undoes the copy."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--to", metavar="URL", help="the database to copy into (required)")
        parser.add_argument(
            "--from",
            dest="source",
            metavar="URL",
            help="the database to copy (default: GOVNEWS_DATABASE_URL)",
        )

    @reports_errors()
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if args:
            raise UsageError(f"copydb takes no arguments (got {' '.join(args)})")
        if not opts.to:
            raise UsageError("give the database to copy into: --to URL")
        check_settings(self.settings)
        source_name = "--from" if opts.source else "GOVNEWS_DATABASE_URL"
        source_url = opts.source or self.settings.get("GOVNEWS_DATABASE_URL")
        check_distinct(parse_url(source_url, source_name), parse_url(opts.to, "--to"))
        source = open_source(source_url, source_name)
        try:
            target = open_target(opts.to, "--to")
            try:
                print(
                    f"Copying {source.url.render_as_string()} into {target.url.render_as_string()}",
                    file=sys.stderr,
                    flush=True,
                )
                counts = copy_database(source, target, progress=_progress)
            finally:
                target.dispose()
        finally:
            source.dispose()
        width = max(len(count.table) for count in counts)
        print(f"{'table':<{width}} {'source':>9} {'target':>9}")
        for count in counts:
            print(f"{count.table:<{width}} {count.source:>9} {count.target:>9}")
        total = sum(count.target for count in counts)
        print(f"Copied {total} rows of {len(counts)} tables; every count matches")


def _progress(table: str, rows: int) -> None:
    """A line on stderr per table copied: a large copy shows where it is."""
    print(f"  {table}: {rows} rows copied", file=sys.stderr, flush=True)
