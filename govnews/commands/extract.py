"""``scrapy extract``: the article record of one page (a file or a URL), as JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import DownloadCancelledError, UsageError
from scrapy.http import Response
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from govnews.commands.checks import (
    check_mirror,
    check_settings,
    report,
    report_crawl_errors,
    reports_errors,
)
from govnews.core.errors import GovnewsError, InputError
from govnews.crawl.crawldb import CrawlDatabase
from govnews.extract import ExtractionError, extract_article
from govnews.extract.challenge import status_reason
from govnews.items import Article

NO_ARTICLE = 1  # the page was read but holds no article: an error object on stdout
UNREADABLE = 2  # the page could not be read (no such file, too large, HTTP error, bad setting)
STDIN = "-"  # the argument that reads the page from standard input


class PageSpider(Spider):
    """Requests one URL and hands the response (or the failure) to the command."""

    name = "extract"

    def __init__(
        self,
        url: str,
        on_response: Callable[[Response], None],
        on_failure: Callable[[Failure], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.on_response = on_response
        self.on_failure = on_failure

    async def start(self) -> AsyncIterator[Any]:
        yield Request(self.url, callback=self.parse, errback=self.on_failure, dont_filter=True)

    def parse(self, response: Response, **kwargs: Any) -> None:
        self.on_response(response)


class Command(ScrapyCommand):
    requires_project = True
    _answered = False  # a fetched page reached a callback or an errback
    _failure: str | None = None  # why it could not be fetched, said when the crawl has ended

    def syntax(self) -> str:
        return "[options] <file, - or http(s) URL>"

    def short_desc(self) -> str:
        return "Print the article record of one page (a file or a URL) as JSON"

    def long_desc(self) -> str:
        return (
            "Extract the article of one page and print its record as a JSON object "
            "(UTF-8, dates in ISO 8601). A file (- for standard input) is read as bytes, "
            "at most DOWNLOAD_MAXSIZE of them; give its address with --url (an http(s) URL), "
            "since the site, the kind (gov or portal), URL dates and relative links "
            "all come from it. An http(s) URL is fetched with the Scrapy downloader and "
            "the project's settings (e.g. -s GOVNEWS_MIRROR=data/snapshot serves it from "
            "a snapshot); redirects are followed and the record's url is the final one. "
            "Nothing is written to the database; logging is at WARNING unless -L is given. "
            "Exit status: 0 with the record; "
            f"{NO_ARTICLE} when the page holds no article (stdout gets "
            '{"url", "error", "reason"}); '
            f"{UNREADABLE} when the page cannot be read (no such file, larger than "
            "DOWNLOAD_MAXSIZE, an HTTP error) or a setting is wrong."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--url",
            dest="url",
            metavar="URL",
            help=(
                "the address of the page when the argument is a file (default: its file:// "
                "URL, which gives no site, kind 'portal' and no date from the URL)"
            ),
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        # One page, read-only: no pipelines, no run record, no retried failures, and no
        # database at all (a stored page is fetched all the same).
        self.settings.set("ITEM_PIPELINES", {}, priority="cmdline")
        # Keyed by its path, as the project's settings name it: one entry, not two.
        path = f"{CrawlDatabase.__module__}.{CrawlDatabase.__qualname__}"
        extensions = {**self.settings.getdict("EXTENSIONS"), path: None}
        self.settings.set("EXTENSIONS", extensions, priority="cmdline")
        self.settings.set("GOVNEWS_RETRY_FAILURES", False, priority="cmdline")
        self.settings.set("GOVNEWS_INCREMENTAL", False, priority="cmdline")
        if (self.settings.getpriority("LOG_LEVEL") or 0) < SETTINGS_PRIORITIES["cmdline"]:
            self.settings.set("LOG_LEVEL", "WARNING", priority="cmdline")

    @reports_errors(UNREADABLE)
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one file or URL")
        assert self.settings is not None
        check_settings(self.settings)
        check_mirror(self.settings)
        target = args[0]
        if opts.url is not None:
            check_page_url(opts.url, "--url")
        if target.startswith(("http://", "https://")):
            if opts.url:
                raise UsageError("--url is only for files; a URL argument is its own address")
            check_page_url(target, "the URL")
            self._fetch(target)
        else:
            self._read_file(target, opts.url)

    def _read_file(self, name: str, url: str | None) -> None:
        """Extract the page in the file ``name`` (``-``: standard input), read up to the bound."""
        assert self.settings is not None
        limit = self.settings.getint("DOWNLOAD_MAXSIZE")
        if name == STDIN:
            body = read_at_most(sys.stdin.buffer, limit, "standard input")
            address = Path("/dev/stdin").as_uri()
        else:
            path = Path(name)
            try:
                with path.open("rb") as file:
                    body = read_at_most(file, limit, str(path))
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
            address = path.resolve().as_uri()
        article = self._extract(body, url or address, None)
        if article is not None:
            self._print(article)

    def _fetch(self, url: str) -> None:
        assert self.crawler_process is not None
        running = self.crawler_process.crawl(
            PageSpider, url=url, on_response=self._on_response, on_failure=self._on_failure
        )
        report_crawl_errors(running, self)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = UNREADABLE
        elif self._failure is not None:  # after the crawl's log: the last line
            self._fail(self._failure)
        elif not self._answered:
            self._fail(f"no response for {url} (see the log above)")

    def _on_response(self, response: Response) -> None:
        self._answered = True
        content_type = response.headers.get("Content-Type") or b""
        article = self._extract(
            response.body,
            response.url,
            content_type.decode("latin-1"),
            datetime.now(UTC),
            response.status,
        )
        if article is not None:
            article.redirect_urls = list(response.meta.get("redirect_urls", []))
            self._print(article)

    def _on_failure(self, failure: Failure) -> None:
        self._answered = True
        url = failure.request.url  # type: ignore[attr-defined]
        if failure.check(HttpError):
            status = failure.value.response.status
            reason = status_reason(status) or f"HTTP {status}"
        elif failure.check(DownloadCancelledError):  # how the downloader enforces the bound
            assert self.settings is not None
            reason = (
                f"larger than DOWNLOAD_MAXSIZE ({self.settings.getint('DOWNLOAD_MAXSIZE')} bytes)"
            )
        else:
            reason = failure.getErrorMessage() or repr(failure.value)
        self._failure = f"cannot fetch {url}: {reason}"

    def _extract(
        self,
        body: bytes,
        url: str,
        content_type: str | None,
        fetched_at: datetime | None = None,
        status: int = 200,
    ) -> Article | None:
        """The record, or None after printing the error object (exit status 1)."""
        headers = {"Content-Type": content_type} if content_type else None
        try:
            article = extract_article(
                body, url, headers=headers, fetched_at=fetched_at, status=status
            )
        except ExtractionError as exc:
            error = {"url": url, "error": type(exc).__name__, "reason": exc.reason}
            _print_json(error)
            self.exitcode = NO_ARTICLE
            return None
        return article

    def _print(self, article: Article) -> None:
        _print_json(record(article))

    def _fail(self, message: str) -> None:
        report(self, GovnewsError(message), UNREADABLE)


def check_page_url(url: str, what: str) -> None:
    """An InputError unless ``url`` is an http(s) URL with a host: a page's address."""
    try:
        parts = urlsplit(url)
        good = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a bad port or IPv6 literal
        good = False
    if not good:
        raise InputError(f"{what} {url!r} is not an http(s) URL with a host")


def read_at_most(file: IO[bytes], limit: int, name: str) -> bytes:
    """The bytes of ``file``, at most ``limit`` of them (0: no bound, as for Scrapy).

    One byte over the bound is read to tell a file of exactly ``limit`` bytes
    from a larger one, so an endless input (``/dev/zero``, a FIFO) costs no
    more memory than the bound.
    """
    if limit <= 0:
        return file.read()
    body = file.read(limit + 1)
    if len(body) > limit:
        raise InputError(f"{name} is larger than DOWNLOAD_MAXSIZE ({limit} bytes): not read")
    return body


def _print_json(value: dict[str, Any]) -> None:
    """Write ``value`` as indented JSON in UTF-8, whatever the locale's encoding."""
    sys.stdout.flush()
    sys.stdout.buffer.write(json.dumps(value, ensure_ascii=False, indent=2).encode() + b"\n")
    sys.stdout.buffer.flush()


def record(article: Article) -> dict[str, Any]:
    """The article as a JSON-ready dict: field names of the record, datetimes in ISO 8601."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in dataclasses.asdict(article).items()
    }
