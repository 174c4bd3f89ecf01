"""``scrapy summary``: what the database holds and how its reposts are linked."""

from __future__ import annotations

import argparse

from scrapy.commands import ScrapyCommand
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from govnews.commands.checks import check_settings, reports_errors
from govnews.store.database import open_database, session_factory
from govnews.store.models import ArticleRow, CrawlRun, PageFailure, Repost


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[options]"

    def short_desc(self) -> str:
        return "Summarise stored articles, repost links, failures and recent runs"

    @reports_errors()
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        check_settings(self.settings)
        # Only what a crawl stored: a database that does not exist is not made here.
        engine = open_database(self.settings.get("GOVNEWS_DATABASE_URL"), create=False)
        with session_factory(engine)() as session:
            print(f"Database: {engine.url.render_as_string()}")
            by_site = session.execute(
                select(ArticleRow.kind, ArticleRow.site, func.count())
                .group_by(ArticleRow.kind, ArticleRow.site)
                .order_by(ArticleRow.kind, ArticleRow.site)
            ).all()
            print("Articles:")
            for kind, site, count in by_site:
                print(f"  {kind:<6} {site:<32} {count:>6}")
            linked = session.scalar(
                select(func.count()).select_from(Repost).where(Repost.original_id.is_not(None))
            )
            pending = session.scalar(
                select(func.count()).select_from(Repost).where(Repost.original_id.is_(None))
            )
            print(f"Reposts: {linked} linked to their original, {pending} waiting for it")
            repost, original = aliased(ArticleRow), aliased(ArticleRow)
            rows = session.execute(
                select(repost.url, original.url, Repost.method)
                .join(repost, Repost.repost_id == repost.id)
                .join(original, Repost.original_id == original.id)
                .order_by(repost.url)
            ).all()
            for repost_url, original_url, method in rows:
                print(f"  {repost_url}\n    -> {original_url} ({method})")
            failures = session.scalars(
                select(PageFailure)
                .where(PageFailure.resolved_at.is_(None))
                .order_by(PageFailure.url)
            ).all()
            # A request the outbound policy refused is never made again: not "retried".
            retried = [failure for failure in failures if failure.stage != "policy"]
            refused = [failure for failure in failures if failure.stage == "policy"]
            print(f"Open failures (retried on the next run): {len(retried)}")
            for failure in retried:
                print(f"  {failure.url} [{failure.stage}] {failure.reason}")
            if refused:
                print(f"Refused by the outbound policy (never requested again): {len(refused)}")
                for failure in refused:
                    print(f"  {failure.url} {failure.reason}")
            runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(5)).all()
            print("Recent runs:")
            for run in runs:
                if run.status == "killed":  # its process died before it counted anything
                    detail = f"started {run.started_at:%Y-%m-%d %H:%M:%S} UTC; {run.finish_reason}"
                else:
                    detail = (
                        f"requests={run.requests} new={run.items_new} "
                        f"updated={run.items_updated} unchanged={run.items_unchanged} "
                        f"failures={run.failures} links={run.links}"
                    )
                print(f"  #{run.id} {run.spider:<10} {run.status:<9} {detail}")
