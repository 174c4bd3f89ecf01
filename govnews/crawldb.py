"""The database of one crawl: opened with the spider, committed in batches, closed with it.

Every pipeline of a crawler shares one :class:`CrawlDatabase`. It owns the
session, commits after ``GOVNEWS_BATCH_SIZE`` items (and when the spider
closes), records failed pages, and keeps the run's ``crawl_runs`` row. An item's
article and its links are written in the same transaction, so a run killed at
any moment leaves only whole items behind.
"""

from __future__ import annotations

import logging
from collections import Counter
from functools import cached_property
from typing import Any
from weakref import WeakKeyDictionary

from itemadapter import ItemAdapter
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from sqlalchemy.orm import Session, SessionTransaction

from govnews.link.linker import Linker
from govnews.link.registry import AgencyRegistry
from govnews.signals import page_failed
from govnews.store.database import open_database, session_factory
from govnews.store.models import CrawlRun
from govnews.store.repository import Repository

logger = logging.getLogger(__name__)
_BY_CRAWLER: WeakKeyDictionary[Crawler, CrawlDatabase] = WeakKeyDictionary()


class CrawlDatabase:
    """Session, batching, failures and the run record of one crawler."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.batch_size = max(1, crawler.settings.getint("GOVNEWS_BATCH_SIZE", 100))
        self.counts: Counter[str] = Counter()
        # Connecting here, while components are built, stops a crawl with a bad
        # GOVNEWS_DATABASE_URL before it fetches anything.
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
    def of(cls, crawler: Crawler) -> CrawlDatabase:
        """The one CrawlDatabase of ``crawler``, made on first use."""
        if crawler not in _BY_CRAWLER:
            _BY_CRAWLER[crawler] = cls(crawler)
        return _BY_CRAWLER[crawler]

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
        return Linker(session, AgencyRegistry.load(session))

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

    def _one_more(self) -> None:
        self._pending += 1
        if self._pending >= self.batch_size:
            self.commit()

    def commit(self) -> None:
        """Write the batch: every item and link since the last commit, or none of them."""
        if self.session is not None:
            self.session.commit()
        self._pending = 0

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Commit the last batch and close the run record."""
        if self.session is None or self.run is None:
            return
        if "linker" in self.__dict__:  # what the registry learned from this crawl's pages
            self.linker.registry.save(self.session)
        self.commit()
        stats = self.crawler.stats
        requests = stats.get_value("downloader/request_count", 0) if stats else 0
        self.repository.finish_run(
            self.run,
            status="finished" if reason == "finished" else "stopped",
            finish_reason=reason,
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
