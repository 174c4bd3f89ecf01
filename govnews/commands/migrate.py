"""``scrapy migrate [--sql]``: bring the database's schema to the newest revision."""

from __future__ import annotations

import argparse
import sys

from alembic import command
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from sqlalchemy import Engine

from govnews.commands.checks import check_settings, reports_errors
from govnews.crawl import runlock
from govnews.crawl.health import EXIT_CODES
from govnews.store.database import (
    check_revision,
    current_revision,
    database_engine,
    database_errors,
    head_revision,
    migration_config,
    unversioned_revision,
    upgrade_database,
)


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--sql]"

    def short_desc(self) -> str:
        return "Upgrade the database's schema to the newest revision"

    def long_desc(self) -> str:
        return (
            "Upgrades the database of GOVNEWS_DATABASE_URL in place, as every crawl and "
            "command does when it opens it, and prints its revision before and after. "
            "A database made before govnews used Alembic is recognised by its tables. "
            "--sql prints the SQL of the upgrade instead of running it."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--sql", action="store_true", help="print the upgrade's SQL, change nothing"
        )

    @reports_errors()
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if args:
            raise UsageError("migrate takes no arguments")
        check_settings(self.settings)
        url = self.settings.get("GOVNEWS_DATABASE_URL")
        engine = database_engine(url)
        try:
            with database_errors(engine):
                if opts.sql:
                    print_sql(engine)
                    return
                with runlock.alone(self.settings, "migrate"):
                    before, after = upgrade_database(engine)
                print(f"revision before: {before or 'none (no govnews tables)'}")
                print(f"revision after: {after}")
        except runlock.RunLocked as error:
            print(f"govnews: {error}", file=sys.stderr)
            self.exitcode = EXIT_CODES["locked"]
        finally:
            engine.dispose()


def print_sql(engine: Engine) -> None:
    """Print the SQL that brings the database of ``engine`` to the newest revision.

    A database without govnews tables gets every revision; one made before
    Alembic is stamped with the revision its tables show first.
    """
    with engine.connect() as connection:
        stamped = current_revision(connection)
        check_revision(engine, stamped)
        before = stamped or unversioned_revision(connection)
    head = head_revision()
    if stamped == head:
        print(f"-- already at revision {head}")
        return
    config = migration_config(url=engine.url)
    if before is None:
        command.upgrade(config, head, sql=True)
        return
    if stamped is None:
        command.stamp(config, before, sql=True)
    if before != head:
        command.upgrade(config, f"{before}:{head}", sql=True)
