"""The pipelines and the crawl database, driven by Scrapy signals without a crawl."""

from __future__ import annotations

import inspect
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govnews import settings
from govnews.core.timezone import SHANGHAI
from govnews.crawl.crawldb import CrawlDatabase, crawl_database
from govnews.crawl.pipelines import LinkPipeline, StorePipeline, ValidatePipeline
from govnews.crawl.signals import page_failed
from govnews.items import Article
from govnews.store.database import open_database
from govnews.store.models import ArticleRow, CrawlRun, PageFailure, Repost

ORIGINAL = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
TITLE = "漳州召开2022年度全国文明城市创建工作动员会"
BODY = "8月16日,2022年度全国文明城市创建工作动员会召开。\n\n市领导黄水木、吴卫红等参加。"


class Seed(Spider):
    name = "seed"


def article(url: str, **changes: object) -> Article:
    fields: dict = {
        "url": url,
        "site": "",
        "kind": "portal" if "nmgfzw" in url else "gov",
        "title": TITLE,
        "body_text": BODY,
        "published_at": datetime(2022, 8, 18),
        "source_name": " 漳州市农业农村局 ",
    }
    return Article(**{**fields, **changes})


@pytest.fixture
def crawler(tmp_path: Path) -> Crawler:
    crawler = get_crawler(
        Seed,
        {
            "EXTENSIONS": {CrawlDatabase: 0},
            "GOVNEWS_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
            "GOVNEWS_BATCH_SIZE": 2,
            "GOVNEWS_AGENCIES_FILE": settings.GOVNEWS_AGENCIES_FILE,
        },
    )
    crawler.spider = Seed.from_crawler(crawler)
    return crawler


def opened(crawler: Crawler) -> CrawlDatabase:
    database = crawl_database(crawler)
    database.spider_opened(crawler.spider)
    return database


def done(result: Any) -> Any:
    """What a pipeline gave: an async one's coroutine run to its end (it must not wait)."""
    if not inspect.iscoroutine(result):
        return result
    try:
        result.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the pipeline waited for the database")


def run_items(crawler: Crawler, items: list[Article]) -> None:
    """What the engine does: each item through the pipelines, then item_scraped or item_dropped."""
    pipelines = [
        ValidatePipeline(),
        StorePipeline.from_crawler(crawler),
        LinkPipeline.from_crawler(crawler),
    ]
    for item in items:
        try:
            for pipeline in pipelines:
                item = done(pipeline.process_item(item))
        except DropItem as exc:
            crawl_database(crawler).item_dropped(item, crawler.spider, exc)
        else:
            crawl_database(crawler).item_scraped(item, crawler.spider)


def rows(crawler: Crawler, model: type) -> list:
    engine = open_database(crawler.settings["GOVNEWS_DATABASE_URL"])
    with Session(engine) as session:
        return list(session.scalars(select(model)))


def test_validate_normalises() -> None:
    item = ValidatePipeline().process_item(article(ORIGINAL))
    assert item.source_name == "漳州市农业农村局"
    assert item.published_at.tzinfo == SHANGHAI
    assert item.site == "nyncj.zhangzhou.gov.cn"
    assert item.fetched_at is not None and item.fingerprint


def test_validate_refuses_incomplete_articles() -> None:
    with pytest.raises(DropItem, match="title"):
        ValidatePipeline().process_item(article(ORIGINAL, title=""))
    with pytest.raises(DropItem, match="body_text"):
        ValidatePipeline().process_item(article(ORIGINAL, body_text=""))


def test_validate_keeps_a_picture_story() -> None:
    """Images and no text (a 图片新闻 page) is an article: its images are its content."""
    picture = ValidatePipeline().process_item(
        article(ORIGINAL, body_text="", images=["http://nyncj.zhangzhou.gov.cn/a.jpg"])
    )
    assert picture.body_text == "" and picture.fingerprint


def test_items_are_stored_linked_and_committed_in_batches(crawler: Crawler) -> None:
    database = opened(crawler)
    repost = "http://www.nmgfzw.cn/shgz/20220818/24915.html"
    run_items(crawler, [article(repost, declared_original_url=ORIGINAL)])
    assert rows(crawler, ArticleRow) == []  # batch of 2 not full: nothing committed yet
    run_items(crawler, [article(ORIGINAL)])
    stored = {row.url: row for row in rows(crawler, ArticleRow)}
    assert set(stored) == {repost, ORIGINAL}
    [link] = rows(crawler, Repost)
    assert (link.repost_id, link.original_id) == (stored[repost].id, stored[ORIGINAL].id)
    database.spider_closed(crawler.spider, "finished")
    [run] = rows(crawler, CrawlRun)
    assert (run.status, run.items_new, run.links, run.failures) == ("finished", 2, 1, 0)


def test_dropped_items_and_failed_pages_are_recorded(crawler: Crawler) -> None:
    database = opened(crawler)
    run_items(crawler, [article("http://www.nmgfzw.cn/a.html", body_text="")])
    crawler.signals.send_catch_log(
        page_failed,
        url="http://www.nmgfzw.cn/b.html",
        stage="http",
        reason="HTTP 404",
        spider=crawler.spider,
        callback="parse",
    )
    database.spider_closed(crawler.spider, "finished")
    failures = {f.url: f for f in rows(crawler, PageFailure)}
    assert failures["http://www.nmgfzw.cn/a.html"].stage == "validate"
    assert "body_text" in failures["http://www.nmgfzw.cn/a.html"].reason
    assert failures["http://www.nmgfzw.cn/b.html"].callback == "parse"
    assert rows(crawler, CrawlRun)[0].failures == 2


def test_a_database_error_fails_one_item_only(crawler: Crawler) -> None:
    database = opened(crawler)
    naive = article("http://www.nmgfzw.cn/naive.html")
    good = article("http://www.nmgfzw.cn/good.html")
    store = StorePipeline.from_crawler(crawler)
    naive.fetched_at = datetime(2022, 8, 18)  # naive: the database refuses it
    with pytest.raises(DropItem, match="could not store"):
        done(store.process_item(naive))
    done(store.process_item(ValidatePipeline().process_item(good)))
    database.commit()
    assert [row.url for row in rows(crawler, ArticleRow)] == [good.url]


def test_an_unclosed_run_leaves_whole_items_only(crawler: Crawler) -> None:
    """A run killed before its last commit keeps the committed batches, nothing half-written."""
    opened(crawler)
    urls = [f"http://www.nmgfzw.cn/{n}.html" for n in range(3)]
    run_items(crawler, [article(url, body_text=f"{BODY}{n}") for n, url in enumerate(urls)])
    engine = open_database(crawler.settings["GOVNEWS_DATABASE_URL"])
    with Session(engine) as session:  # another connection, as after a kill
        assert session.scalar(select(func.count()).select_from(ArticleRow)) == 2
        assert session.scalar(select(CrawlRun.status)) == "running"
