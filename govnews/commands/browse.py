"""``scrapy browse``: the database in Datasette on 127.0.0.1, with the project's metadata."""

from __future__ import annotations

import argparse
import importlib.util
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from govnews.commands.checks import check_settings, reports_errors
from govnews.core.errors import ConfigError
from govnews.store.database import database_url, open_database

#: The metadata the project ships: descriptions, facets, canned queries (package data).
METADATA = Path(__file__).parents[1] / "report" / "datasette.yaml"
#: The database's key in :data:`METADATA`.
DATABASE_KEY = "govnews"
#: A canned query may take this long (ms) before Datasette stops it (its default is 1 s;
#: a query over 100,000 articles takes a few).
SQL_TIME_LIMIT_MS = 20000


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--port N]"

    def short_desc(self) -> str:
        return "Browse the database in Datasette on 127.0.0.1 (tables, facets, canned queries)"

    def long_desc(self) -> str:
        return (
            "Start Datasette on http://127.0.0.1:PORT/ (GOVNEWS_BROWSE_PORT, or --port) "
            "over the SQLite file of GOVNEWS_DATABASE_URL, read only, with the metadata "
            "govnews ships: every table and column described, facets by site, kind, "
            "agency and method, and canned queries (an original with its reposts, an "
            "agency's reposts in a date range, miscredited and unresolved reposts, open "
            "failures, recent runs). Ctrl-C stops it. Needs the browse extra."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--port", metavar="N", type=int, help="the port (0: any free one)")

    @reports_errors()
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if args:
            raise UsageError(f"browse takes no arguments (got {' '.join(args)})")
        check_settings(self.settings)
        if importlib.util.find_spec("datasette") is None:
            raise ConfigError("scrapy browse needs Datasette: pip install 'govnews[browse]'")
        url = self.settings.get("GOVNEWS_DATABASE_URL")
        parsed = database_url(url)
        if parsed.get_backend_name() != "sqlite" or not parsed.database:
            raise ConfigError(
                f"scrapy browse opens SQLite files only (Datasette reads SQLite); "
                f"GOVNEWS_DATABASE_URL is {parsed.render_as_string()}"
            )
        # Brought up to date (and checked to be a govnews database); nothing is created.
        open_database(url, create=False).dispose()
        port = opts.port if opts.port is not None else self.settings.getint("GOVNEWS_BROWSE_PORT")
        if not 0 <= port <= 65535:
            raise UsageError(f"--port {port}: use 0 to 65535")
        path = Path(parsed.database)
        with tempfile.TemporaryDirectory(prefix="govnews-browse-") as directory:
            metadata = Path(directory) / "metadata.yaml"
            metadata.write_text(metadata_for(path), encoding="utf-8")
            command = [
                sys.executable, "-m", "datasette", "serve", str(path),
                "--metadata", str(metadata), "--host", "127.0.0.1", "--port", str(port),
                "--setting", "sql_time_limit_ms", str(SQL_TIME_LIMIT_MS),
            ]  # fmt: skip
            print(f"Datasette on http://127.0.0.1:{port}/ (Ctrl-C stops it)", file=sys.stderr)
            server = subprocess.Popen(command)
            # Stopped with this command, by Ctrl-C or a SIGTERM: never left serving alone.
            signal.signal(signal.SIGTERM, _stop)
            try:
                self.exitcode = server.wait()
            except (KeyboardInterrupt, SystemExit):
                pass
            finally:
                server.terminate()
                server.wait(timeout=10)


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def metadata_for(path: Path) -> str:
    """The shipped metadata with its database keyed by ``path``'s name, as Datasette names it."""
    import yaml  # PyYAML, with Datasette (the browse extra): only once it is known installed

    metadata = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    metadata["databases"] = {path.stem: metadata["databases"][DATABASE_KEY]}
    return yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False)
