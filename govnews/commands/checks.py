"""What the govnews commands check before they start, and how they report bad input.

A :class:`~govnews.core.errors.GovnewsError` is printed once as ``govnews:
<message>`` on stderr and the command exits non-zero, without a traceback.
Scrapy prints a traceback in two places: its command line does not catch what
a command's ``run`` raises, and an error raised while a crawl builds its
components (``from_crawler``: the crawl database, the sites spider) fails the
crawl's task, whose exception asyncio logs with its traceback when nobody
awaited it (a Deferred's, under ``FORCE_CRAWLER_PROCESS``, is logged by
Twisted). :func:`reports_errors` covers ``run``, :func:`report_crawl_errors`
the crawl.

The ``check_*`` functions find, before anything is locked or fetched, the
settings that the crawl's components would only fail on while being built, or
in the middle of a crawl: numbers and flags, the mirror directory, the agencies
file, where feeds are written.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from scrapy.commands import ScrapyCommand
from scrapy.settings import BaseSettings
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from govnews import settings as defaults
from govnews.core.errors import ConfigError, GovnewsError
from govnews.crawl import runlock
from govnews.link.agencies import AgencyRegistry
from govnews.store.database import database_url

logger = logging.getLogger(__name__)

C = TypeVar("C", bound=ScrapyCommand)
Run = Callable[[C, list[str], argparse.Namespace], None]

#: The numeric settings read as whole numbers (``getint``); the others may have a fraction.
_WHOLE = frozenset(
    {
        "GOVNEWS_BATCH_SIZE",
        "GOVNEWS_DISCOVERY_DEPTH",
        "GOVNEWS_EXTRACT_WORKERS",
        "GOVNEWS_PROBE_PAGES",
        "GOVNEWS_PROBE_SAMPLES",
        "GOVNEWS_SPOOL_RESERVE",
        "GOVNEWS_REPORT_ROWS",
        "GOVNEWS_REPORT_ORIGINALS",
        "GOVNEWS_REPORT_RUNS",
        "GOVNEWS_REPORT_QUIET_RUNS",
        "GOVNEWS_BROWSE_PORT",
        "CONCURRENT_ITEMS",
        "CONCURRENT_REQUESTS_PER_DOMAIN",
        "DOWNLOAD_MAXSIZE",
        "RETRY_TIMES",
        "HTTPCACHE_EXPIRATION_SECS",
    }
)
#: The least value of a numeric setting, where it is not 0.
_MINIMUM: dict[str, float] = {
    "GOVNEWS_BATCH_SIZE": 1,
    "GOVNEWS_PROBE_PAGES": 1,
    "CONCURRENT_ITEMS": 1,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
}
#: The greatest value of a numeric setting, where it has one.
_MAXIMUM: dict[str, float] = {"GOVNEWS_MAX_FAILURE_SHARE": 1, "GOVNEWS_BROWSE_PORT": 65535}


def report(command: ScrapyCommand, error: GovnewsError, exit_code: int = 1) -> None:
    """Print ``error`` as one line, ``govnews: <message>``, and set the command's exit code."""
    sys.stdout.flush()
    print(f"govnews: {error}", file=sys.stderr, flush=True)
    command.exitcode = max(command.exitcode, exit_code)


def reports_errors(exit_code: int = 1) -> Callable[[Run[C]], Run[C]]:
    """Decorate a command's ``run``: a GovnewsError it raises is reported, not a traceback."""

    def decorate(run: Run[C]) -> Run[C]:
        @functools.wraps(run)
        def reporting(command: C, args: list[str], opts: argparse.Namespace) -> None:
            try:
                run(command, args, opts)
            except GovnewsError as error:
                report(command, error, exit_code)

        return reporting

    return decorate


def report_crawl_errors(running: Any, command: ScrapyCommand, name: str = "") -> None:
    """Report a GovnewsError that ends a crawl (an asyncio Task or a Deferred) as one line.

    ``name`` (a spider's) starts the message when several crawls run. Any
    other exception is left to be logged with its traceback: it is a bug.
    """
    prefix = f"{name}: " if name else ""

    def on_error(error: GovnewsError) -> None:
        report(command, GovnewsError(f"{prefix}{error}"))

    if isinstance(running, Deferred):

        def errback(failure: Failure) -> Failure | None:
            if failure.check(GovnewsError):
                on_error(failure.value)
                return None
            return failure

        running.addErrback(errback)
        return

    def done(task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()  # retrieved: asyncio no longer logs it …
        if isinstance(error, GovnewsError):
            on_error(error)
        elif error is not None:  # … so a bug is logged here, as asyncio would have
            logger.error("The crawl failed", exc_info=error)

    running.add_done_callback(done)


def check_crawl(settings: BaseSettings) -> None:
    """Everything a crawl's settings name that its components would fail on later."""
    check_settings(settings)
    check_database_url(settings)
    check_mirror(settings)
    check_agencies_file(settings)
    check_feeds(settings)
    lock = runlock.lock_path(settings)
    if lock is not None:
        check_writable(lock.parent, f"the run lock {lock}")


def check_settings(settings: BaseSettings) -> None:
    """Every numeric setting and flag of ``govnews/settings.py`` (Scrapy's too) is one.

    A number is at least 0 (or :data:`_MINIMUM`; at most :data:`_MAXIMUM`),
    whole where it is read as one (:data:`_WHOLE`); a flag is true or false.
    Scrapy would raise a ValueError only where a component reads it.
    """
    for name in filter(str.isupper, dir(defaults)):
        default, value = getattr(defaults, name), settings.get(name)
        if value is None:
            continue
        if isinstance(default, bool):
            try:
                settings.getbool(name)
            except ValueError:
                raise ConfigError(f"{name}={value!r} is not a flag (True or False)") from None
        elif isinstance(default, int | float):
            _check_number(name, value, whole=name in _WHOLE)


def _check_number(name: str, value: Any, *, whole: bool) -> None:
    kind = "a whole number" if whole else "a number"
    try:
        number = float(value)
        if whole and not number.is_integer():
            raise ValueError(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not {kind}") from None
    least = _MINIMUM.get(name, 0)
    most = _MAXIMUM.get(name)
    if number != number or number < least or (most is not None and number > most):
        bounds = f"from {least:g} to {most:g}" if most is not None else f"at least {least:g}"
        raise ConfigError(f"{name}={value!r}: must be {kind} {bounds}")


def check_database_url(settings: BaseSettings) -> None:
    """GOVNEWS_DATABASE_URL is a URL (the run lock's path is found from it before a crawl)."""
    database_url(settings.get("GOVNEWS_DATABASE_URL"))


def check_mirror(settings: BaseSettings) -> None:
    """GOVNEWS_MIRROR, when set, is a directory.

    The mirror's middleware refuses any other value too, but while the crawl
    is being built, and with a ValueError: the mirror imports nothing of govnews.
    """
    root = settings.get("GOVNEWS_MIRROR")
    if root and not Path(root).is_dir():
        problem = "does not exist" if not Path(root).exists() else "is not a directory"
        raise ConfigError(f"GOVNEWS_MIRROR={root!r} {problem}: give the snapshot's directory")


def check_agencies_file(settings: BaseSettings) -> None:
    """GOVNEWS_AGENCIES_FILE reads as a curated agencies file.

    A crawl reads it at its first government page, inside the item pipeline,
    where every page after would fail on it in turn.
    """
    path = settings.get("GOVNEWS_AGENCIES_FILE")
    if not path:
        return
    try:
        AgencyRegistry.from_toml(path)
    except OSError as error:
        raise ConfigError(
            f"GOVNEWS_AGENCIES_FILE={path!r}: cannot read it: {error.strerror or error}"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"GOVNEWS_AGENCIES_FILE={path!r}: not valid TOML: {error}") from None
    except ValueError as error:  # the file's own checks name it
        raise ConfigError(f"GOVNEWS_AGENCIES_FILE: {error}") from None


def check_feeds(settings: BaseSettings) -> None:
    """Every feed written to a local file (FEEDS, ``-o``/``-O``) can be written.

    Scrapy opens a feed's file when the spider opens, and an error there is
    logged and the crawl goes on without its feed. Checked: the deepest
    existing directory of the feed's path (up to its first ``%(…)s``
    placeholder) is a directory in which a file can be created; nothing is
    left behind.
    """
    for uri in settings.getdict("FEEDS"):
        parts = urlsplit(str(uri))
        if parts.scheme not in ("", "file"):  # stdout:, s3:, ftp: …
            continue
        path = parts.path if parts.scheme == "file" else str(uri)
        static = path.split("%(")[0]
        directory = Path(static) if static.endswith("/") else Path(static).parent
        check_writable(directory, f"the feed {uri}")


def check_writable(directory: Path, what: str) -> None:
    """A file can be made in ``directory``, or in its deepest existing ancestor.

    Nothing is left behind: the directories are not made, the test file is removed.
    """
    existing = directory.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot write {what}: {existing} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ConfigError(f"cannot write {what}: {existing}: {error.strerror}") from None
