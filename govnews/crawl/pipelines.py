"""Item pipelines, in order: validate and normalise → store → link."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy.exc import SQLAlchemyError

from govnews.core.text import clean_space
from govnews.core.timezone import SHANGHAI
from govnews.core.urls import site_of
from govnews.crawl.crawldb import CrawlDatabase, crawl_database
from govnews.items import content_hash

REQUIRED = ("url", "title", "body_text", "published_at")
KINDS = ("portal", "gov")
_ONE_LINE = ("title", "source_name", "author", "editor", "original_title", "category")


class StoreError(DropItem):
    """The database refused an item; the item's page is recorded as a failure."""

    stage = "store"


class ValidatePipeline:
    """Reject incomplete articles (recorded as failures) and normalise the rest."""

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        missing = [name for name in REQUIRED if not adapter.get(name)]
        if missing == ["body_text"] and adapter.get("images"):
            missing = []  # a picture story: its images are its text
        if missing:
            raise DropItem(f"article without {', '.join(missing)}")
        if adapter.get("kind") not in KINDS:
            raise DropItem(f"kind must be one of {KINDS}, not {adapter.get('kind')!r}")
        for name in _ONE_LINE:
            value = adapter.get(name)
            adapter[name] = clean_space(value) or None if isinstance(value, str) else value
        adapter["body_text"] = (adapter.get("body_text") or "").strip()
        adapter["site"] = site_of(adapter["url"])
        for name in ("published_at", "fetched_at"):
            value = adapter.get(name)
            if isinstance(value, datetime) and value.tzinfo is None:
                adapter[name] = value.replace(tzinfo=SHANGHAI)
        adapter["fetched_at"] = adapter.get("fetched_at") or datetime.now(UTC)
        adapter["fingerprint"] = content_hash(adapter["title"], adapter["body_text"])
        return item


class _DatabasePipeline:
    """A pipeline that writes through the crawl's shared :class:`CrawlDatabase`."""

    def __init__(self, database: CrawlDatabase) -> None:
        self.database = database

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawl_database(crawler))


class StorePipeline(_DatabasePipeline):
    """Upsert the article by its normalised URL (no new row for a page seen before).

    The item first waits for the database's write lock (``CrawlDatabase.writable``),
    without blocking the crawl. When the run has given the database up (it stayed
    locked, or refuses writes), the article is kept in the spool for the next run
    instead, and passes on as scraped: it is not lost, and not a failed page.
    """

    async def process_item(self, item: Any) -> Any:
        database = self.database
        if not await database.writable():
            database.keep_article(item)
            return item
        try:
            with database.savepoint():
                result = database.repository.save_article(item)
                if database.outbox:
                    database.queue_link(result.row, ItemAdapter(item).get("site_meta"))
        except SQLAlchemyError as exc:
            if database.write_failed(exc):
                database.keep_article(item)
                return item
            raise StoreError(f"could not store the article: {exc}") from exc
        database.stored(item)
        database.note_article(result.row.site, result.status)
        database.saved[result.row.url] = result.row
        return item


class LinkPipeline(_DatabasePipeline):
    """Link the article to its original and complete the links that waited for it.

    By declared URL first, else by source agency, title, date and text
    (:class:`govnews.link.linker.Linker`); either arrival order gives the same links.
    An article kept in the spool is linked by the run that stores it. On a shared
    database (PostgreSQL) the store pipeline queued the article in the linking
    outbox instead, linked once its batch is committed (:mod:`govnews.link.outbox`).
    """

    async def process_item(self, item: Any) -> Any:
        database = self.database
        adapter = ItemAdapter(item)
        if database.outbox:  # linked from the outbox after its batch is committed
            return item
        if adapter["url"] in database.spooled:
            return item
        if not await database.writable():  # a batch was committed meanwhile
            database.keep_article(item)
            return item
        row = database.saved.pop(adapter["url"], None)
        row = row or database.repository.article_by_url(adapter["url"])
        if row is None:
            raise StoreError("the article was not stored")
        try:
            with database.savepoint():
                links = database.linker.link(row, adapter.get("site_meta"))
        except SQLAlchemyError as exc:
            if database.write_failed(exc):
                database.keep_article(item)
                return item
            raise StoreError(f"could not link the article: {exc}") from exc
        database.note("links", sum(link.original_id is not None for link in links))
        return item
