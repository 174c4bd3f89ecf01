"""``scrapy export``: stored articles and their resolved originals as JSON, JSON lines or CSV."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.exporters import BaseItemExporter, JsonItemExporter, JsonLinesItemExporter

from govnews.commands.checks import check_settings, check_writable, reports_errors
from govnews.core.errors import GovnewsError
from govnews.crawl.exporters import SafeCsvItemExporter
from govnews.extract.dates import has_time, parse_date
from govnews.store.database import open_database, session_factory
from govnews.store.export import EXPORT_FIELDS, export_records

FORMATS = ("json", "jsonl", "csv")
_EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".jl": "jsonl", ".csv": "csv"}
KINDS = ("portal", "gov")


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return (
            "--format json|jsonl|csv [--since DATE] [--until DATE] [--site HOST] "
            "[--kind portal|gov] [--reposts-only] [--bom] -o FILE"
        )

    def short_desc(self) -> str:
        return "Export stored articles with their resolved originals (JSON, JSON lines, CSV)"

    def long_desc(self) -> str:
        return (
            "Write every stored article, with the first original its repost links lead "
            "to (original_url, original_site, original_title, original_published_at, "
            "link_method, link_confidence), through Scrapy's item exporters. -o - writes "
            "to stdout; --format defaults to the file's extension. --since and --until "
            "select by publication date, both inclusive (a date without a time is the "
            "whole day, Asia/Shanghai); --site one host; --kind portal or gov; "
            "--reposts-only articles linked to an original. CSV cells that a spreadsheet "
            "would run as a formula get a leading apostrophe; --bom (or -s "
            "GOVNEWS_CSV_BOM=True) starts the CSV with a UTF-8 byte order mark for Excel. "
            "The number of records written is printed on stderr."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--format", metavar="json|jsonl|csv", help="the format (default: from -o's extension)"
        )
        parser.add_argument("-o", "--output", metavar="FILE", help="where to write; - for stdout")
        parser.add_argument(
            "--since", metavar="DATE", help="only articles published on or after this date"
        )
        parser.add_argument(
            "--until", metavar="DATE", help="only articles published on or before this date"
        )
        parser.add_argument("--site", metavar="HOST", help="only articles of this host")
        parser.add_argument("--kind", metavar="portal|gov", help="only articles of this kind")
        parser.add_argument(
            "--reposts-only", action="store_true", help="only articles linked to an original"
        )
        parser.add_argument(
            "--bom", action="store_true", default=None, help="start a CSV with a UTF-8 BOM"
        )

    @reports_errors()
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if args:
            raise UsageError(f"export takes no arguments (got {' '.join(args)})")
        check_settings(self.settings)
        if not opts.output:
            raise UsageError("give the file to write: -o FILE, or -o - for stdout")
        format_ = opts.format or _EXTENSIONS.get(Path(opts.output).suffix.lower())
        if format_ not in FORMATS:
            raise UsageError(
                f"unknown format {opts.format!r}: use --format json, jsonl or csv"
                if opts.format
                else f"cannot tell the format of {opts.output!r}: give --format json|jsonl|csv"
            )
        if opts.kind is not None and opts.kind not in KINDS:
            raise UsageError(f"--kind {opts.kind!r}: use portal or gov")
        bom = self.settings.getbool("GOVNEWS_CSV_BOM") if opts.bom is None else opts.bom
        if opts.bom and format_ != "csv":
            raise UsageError("--bom is for --format csv")
        since = _date("--since", opts.since)
        until = _date("--until", opts.until)
        # The day of a date without a time is included whole: up to the next midnight.
        before = None
        if until is not None:
            before = until + (timedelta(seconds=1) if has_time(opts.until) else timedelta(days=1))
        if since is not None and before is not None and before <= since:
            raise UsageError(f"--until {opts.until} is before --since {opts.since}")

        if opts.output != "-":
            check_writable(Path(opts.output).parent, opts.output)
        # Only what a crawl stored: a database that does not exist is not made here.
        engine = open_database(self.settings.get("GOVNEWS_DATABASE_URL"), create=False)
        where = "stdout" if opts.output == "-" else opts.output
        try:
            with _output(opts.output) as file:
                exporter = self._exporter(format_, file, bom=bom and format_ == "csv")
                written = 0
                with session_factory(engine)() as session:
                    exporter.start_exporting()
                    for record in export_records(
                        session,
                        since=since,
                        before=before,
                        site=opts.site,
                        kind=opts.kind,
                        reposts_only=opts.reposts_only,
                    ):
                        exporter.export_item(record)
                        written += 1
                    exporter.finish_exporting()
        except OSError as error:
            raise GovnewsError(f"cannot write {where}: {error.strerror or error}") from None
        finally:
            engine.dispose()
        print(f"{written} record(s) written to {where}", file=sys.stderr)

    def _exporter(self, format_: str, file: IO[bytes], *, bom: bool) -> BaseItemExporter:
        assert self.settings is not None
        options: dict[str, Any] = {
            "encoding": self.settings.get("FEED_EXPORT_ENCODING") or "utf-8",
            "fields_to_export": list(EXPORT_FIELDS),
        }
        # Scrapy's exporters are typed for BytesIO; they only write bytes to the file.
        target = cast(Any, file)
        if format_ == "csv":
            try:
                return SafeCsvItemExporter(target, bom=bom, **options)
            except ValueError as error:
                raise UsageError(str(error)) from None
        if format_ == "json":
            return JsonItemExporter(
                target, indent=self.settings.getint("FEED_EXPORT_INDENT"), **options
            )
        return JsonLinesItemExporter(target, **options)


def _date(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    value = parse_date(text)
    if value is None:
        raise UsageError(f"{option} {text!r} is not a date (e.g. 2022-08-31)")
    return value


@contextmanager
def _output(name: str) -> Iterator[IO[bytes]]:
    """The binary file to write: stdout for ``-`` (left open), else ``name``, its directory made."""
    if name == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        yield file
