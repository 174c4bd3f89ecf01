"""The database of one crawl: opened with the spider, committed in batches, closed with it.

:class:`CrawlDatabase` is a Scrapy extension (``EXTENSIONS``): the pipelines,
middlewares and spiders of a crawler reach the one instance through
:func:`crawl_database` (``crawler.get_extension``). It owns the
session, commits after ``GOVNEWS_BATCH_SIZE`` items (and when the spider
closes), records failed pages, and keeps the run's ``crawl_runs`` row. An item's
article and its links are written in the same transaction, so a run killed at
any moment leaves only whole items behind.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from functools import cached_property
from typing import Any, Self

from itemadapter import ItemAdapter
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from sqlalchemy import func, select
from sqlalchemy.orm import Session, SessionTransaction

from govnews.core.urls import site_of
from govnews.crawl import runlock
from govnews.crawl.health import RunHealth, assess
from govnews.crawl.runlock import lock_path
from govnews.crawl.signals import page_failed
from govnews.link.agencies import AgencyRegistry
from govnews.link.linker import Linker
from govnews.store.database import open_database, session_factory
from govnews.store.models import ArticleRow, CrawlRun
from govnews.store.repository import Repository

logger = logging.getLogger(__name__)


class CrawlDatabase:
    """Session, batching, failures and the run record of one crawler."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.batch_size = max(1, crawler.settings.getint("GOVNEWS_BATCH_SIZE"))
        self.counts: Counter[str] = Counter()
        #: Articles stored (new, updated or unchanged) per site in this run.
        self.sites: Counter[str] = Counter()
        #: The row each item was just stored as, by URL, until the link pipeline takes it.
        self.saved: dict[str, ArticleRow] = {}
        # Locking and connecting here, while components are built, stops a crawl
        # that overlaps another, or has a bad GOVNEWS_DATABASE_URL, before it fetches anything.
        self.lock = lock_path(crawler.settings)
        runlock.acquire(self.lock, crawler.spidercls.name)
        self.engine = open_database(crawler.settings.get("GOVNEWS_DATABASE_URL"))
        self.session: Session | None = session_factory(self.engine)()
        self.run: CrawlRun | None = None
        self._pending = 0
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.page_failed, signal=page_failed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def repository(self) -> Repository:
        """Reads and writes within the crawl's session."""
        return Repository(self._open_session())

    def _open_session(self) -> Session:
        if self.session is None:
            raise RuntimeError("the crawl database is closed (the spider has closed)")
        return self.session

    @cached_property
    def linker(self) -> Linker:
        """The crawl's linker, with the agency registry as stored (saved back at the end)."""
        session = self._open_session()
        return Linker(
            session, AgencyRegistry.load(session, self.crawler.settings["GOVNEWS_AGENCIES_FILE"])
        )

    def start_run(self, spider_name: str) -> None:
        """Record the start of this run (once, however often asked)."""
        if self.run is None:
            self.run = self.repository.start_run(spider_name)
            self._open_session().commit()
            where = self.engine.url.render_as_string()
            logger.info("Storing into %s (run %s)", where, self.run.id)

    def spider_opened(self, spider: Spider) -> None:
        self.start_run(spider.name)

    def note(self, outcome: str, number: int = 1) -> None:
        """Count outcomes (new, updated, unchanged, failures, links) of this run."""
        self.counts[outcome] += number

    def note_article(self, site: str, status: str) -> None:
        """Count a stored article: ``new``, ``updated`` or ``unchanged``, and its site."""
        self.note(status)
        self.sites[site] += 1

    def savepoint(self) -> SessionTransaction:
        """A nested transaction: one item's writes, undone alone if they fail."""
        return self._open_session().begin_nested()

    def item_scraped(self, item: Any, spider: Spider) -> None:
        self._one_more()

    def item_dropped(self, item: Any, spider: Spider, exception: BaseException) -> None:
        """A dropped item is a failed page: keep its URL and the reason."""
        url = ItemAdapter(item).get("url") if ItemAdapter.is_item(item) else None
        if url:
            stage = getattr(exception, "stage", "validate")
            self.page_failed(url=url, stage=stage, reason=str(exception), spider=spider)

    def page_failed(
        self, url: str, stage: str, reason: str, spider: Spider, callback: str | None = None
    ) -> None:
        with self.savepoint():
            self.repository.record_failure(
                url, spider=spider.name, stage=stage, reason=reason, callback=callback
            )
        self.note("failures")
        self._one_more()

    def resolve_failures(self, keys: Iterable[str]) -> None:
        """Close the open failures of these URL keys: their page was handled after all."""
        with self.savepoint():
            self.repository.resolve_failures(keys)
        self._one_more()

    def _one_more(self) -> None:
        self._pending += 1
        if self._pending >= self.batch_size:
            self.commit()

    def commit(self) -> None:
        """Write the batch: every item and link since the last commit, or none of them."""
        if self.session is not None:
            self.session.commit()
        self._pending = 0
        self.saved.clear()  # taken by the link pipeline, or never (when it is off)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Commit the last batch, judge the run and close its record; release the lock."""
        try:
            self._close_run(spider, reason)
        finally:
            runlock.release(self.lock)

    def _close_run(self, spider: Spider, reason: str) -> None:
        if self.session is None or self.run is None:
            return
        if "linker" in self.__dict__:  # what the registry learned from this crawl's pages
            self.linker.registry.save(self.session)
        self.commit()
        stats = self.crawler.stats
        requests = stats.get_value("downloader/request_count", 0) if stats else 0
        health = self.assess(spider, reason, requests)
        if stats is not None:
            stats.set_value("govnews/status", health.status)
            stats.set_value("govnews/exit_code", health.exit_code)
        if health.problems:
            logger.error("Run %s %s: %s", self.run.id, health.status, "; ".join(health.problems))
        self.repository.finish_run(
            self.run,
            status=health.status,
            finish_reason=health.describe(reason),
            counts={
                "requests": requests,
                "items_new": self.counts["new"],
                "items_updated": self.counts["updated"],
                "items_unchanged": self.counts["unchanged"],
                "failures": self.counts["failures"],
                "links": self.counts["links"],
            },
        )
        self.session.commit()
        self.session.close()
        self.session = None

    def assess(self, spider: Spider, reason: str, requests: int) -> RunHealth:
        """The health of this run: did it finish, and did it cover the spider's sites?"""
        assert self.session is not None
        stats = self.crawler.stats
        sites = spider_sites(spider)
        counted = self.session.execute(
            select(ArticleRow.site, func.count())
            .where(ArticleRow.site.in_(sites))
            .group_by(ArticleRow.site)
        )
        stored = {site: count for site, count in counted}
        seen = {
            site: self.sites[site]
            + (stats.get_value(f"govnews/skipped_known/{site}", 0) if stats else 0)
            for site in sites
        }
        return assess(
            reason,
            requests=requests,
            failures=self.counts["failures"],
            seen=seen,
            stored=stored,
            max_failure_share=self.crawler.settings.getfloat("GOVNEWS_MAX_FAILURE_SHARE"),
        )


def spider_sites(spider: Spider) -> list[str]:
    """The sites a spider covers: the hosts of its start URLs."""
    hosts = (site_of(url) for url in getattr(spider, "start_urls", ()) if url)
    return sorted(set(hosts))


def crawl_database(crawler: Crawler) -> CrawlDatabase:
    """The crawl's :class:`CrawlDatabase` extension; refuses a crawl that has none.

    Raises ``NotConfigured`` with the reason, so a component that needs the
    database says why it cannot run instead of failing later.
    """
    database = crawler.get_extension(CrawlDatabase)
    if database is None:
        raise NotConfigured("needs govnews.crawl.crawldb.CrawlDatabase in EXTENSIONS")
    return database
