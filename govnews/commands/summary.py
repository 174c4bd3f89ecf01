"""``scrapy summary``: what the database holds and how its reposts are linked."""

from __future__ import annotations

import argparse

from scrapy.commands import ScrapyCommand
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from govnews.store.database import open_database, session_factory
from govnews.store.models import ArticleRow, CrawlRun, PageFailure, Repost


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[options]"

    def short_desc(self) -> str:
        return "Summarise stored articles, repost links, failures and recent runs"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        engine = open_database(self.settings.get("GOVNEWS_DATABASE_URL"))
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
            print(f"Open failures (retried on the next run): {len(failures)}")
            for failure in failures:
                print(f"  {failure.url} [{failure.stage}] {failure.reason}")
            runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(5)).all()
            print("Recent runs:")
            for run in runs:
                print(
                    f"  #{run.id} {run.spider:<10} {run.status:<9} requests={run.requests} "
                    f"new={run.items_new} updated={run.items_updated} "
                    f"unchanged={run.items_unchanged} failures={run.failures} links={run.links}"
                )
