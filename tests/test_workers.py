"""Extraction in worker processes gives what extraction in the crawl's process gives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from govnews.crawl.extraction_pool import ExtractionPool, WorkerError
from govnews.crawl.signals import page_failed
from govnews.extract import ExtractionError, NotAnArticle, extract_article
from govnews.items import Article
from govnews.spiders import base
from govnews.spiders.zhangzhou import ZhangzhouSpider
from tests.conftest import SEED_ORIGINAL, SEED_REPOST, collect, snapshot_file, snapshot_headers

LISTING = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/gzdt/index.html"
FETCHED = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def page(url: str) -> tuple[bytes, str, dict[str, Any]]:
    options = {"headers": snapshot_headers(url), "fetched_at": FETCHED}
    return snapshot_file(url).read_bytes(), url, options


def outcome(task: asyncio.Task[Article]) -> Article | BaseException:
    return task.exception() or task.result()


async def extract_all(workers: ExtractionPool, urls: list[str]) -> list[Any]:
    tasks = [asyncio.ensure_future(workers.extract(*page(url)[:2], **page(url)[2])) for url in urls]
    await asyncio.wait(tasks)
    return [outcome(task) for task in tasks]


def test_workers_give_the_records_and_errors_of_extraction_in_process() -> None:
    urls = [SEED_REPOST, SEED_ORIGINAL, LISTING, SEED_REPOST]

    async def run() -> list[Any]:
        workers = ExtractionPool(2, timeout=60)
        try:
            return await extract_all(workers, urls)
        finally:
            await workers.close()

    results = asyncio.run(run())
    for url, result in zip(urls, results, strict=True):
        body, _, options = page(url)
        try:
            expected: Any = extract_article(body, url, **options)
        except ExtractionError as exc:
            assert type(result) is type(exc) and str(result) == str(exc)
        else:
            assert result == expected
    assert isinstance(results[2], NotAnArticle)


def test_a_page_whose_worker_dies_fails_and_the_pages_behind_it_are_read() -> None:
    async def run() -> tuple[list[Any], int]:
        workers = ExtractionPool(1, timeout=60)
        try:
            tasks = [
                asyncio.ensure_future(workers.extract(*page(url)[:2], **page(url)[2]))
                for url in (SEED_REPOST, SEED_ORIGINAL, SEED_REPOST)
            ]
            while not workers._workers or len(workers._workers[0].pending) < 3:
                await asyncio.sleep(0.01)
            first = workers._workers[0].process
            first.kill()  # still starting: none of the three pages was read
            await asyncio.wait(tasks)
            return [outcome(task) for task in tasks], await first.wait()
        finally:
            await workers.close()

    (died, original, repost), code = asyncio.run(run())
    assert isinstance(died, WorkerError)
    assert str(died) == f"the extraction worker died (exit code {code})"
    assert isinstance(original, Article) and original.url == SEED_ORIGINAL
    assert isinstance(repost, Article) and repost.url == SEED_REPOST


def test_a_page_over_the_time_limit_fails_and_its_worker_is_replaced() -> None:
    async def run() -> tuple[Any, Any, bool]:
        workers = ExtractionPool(1, timeout=0.001)  # less than any page takes
        try:
            [late] = await extract_all(workers, [SEED_REPOST])
            slow = workers._workers[0]
            workers.timeout = 60
            [done] = await extract_all(workers, [SEED_REPOST])
            return late, done, slow.alive or slow in workers._workers
        finally:
            await workers.close()

    late, done, kept = asyncio.run(run())
    assert isinstance(late, WorkerError)
    assert str(late) == "extraction took more than 0.001 s; its worker was stopped"
    assert isinstance(done, Article)
    assert not kept


def test_a_worker_starting_up_does_not_count_against_the_time_limit() -> None:
    async def run() -> Any:
        workers = ExtractionPool(1, timeout=0.08)  # a page takes ~5 ms, starting ~110 ms
        try:
            [done] = await extract_all(workers, [SEED_REPOST])
            return done
        finally:
            await workers.close()

    assert isinstance(asyncio.run(run()), Article)


def test_closing_ends_every_worker() -> None:
    async def run() -> list[int | None]:
        workers = ExtractionPool(2, timeout=60)
        await extract_all(workers, [SEED_REPOST, SEED_ORIGINAL])
        processes = [worker.process for worker in workers._workers]
        await workers.close()
        return [process.returncode for process in processes]

    assert asyncio.run(run()) == [0, 0]


def test_workers_are_a_setting() -> None:
    async def run() -> None:  # as spiders ask, in the crawl's asyncio loop
        def pool(workers: int) -> ExtractionPool | None:
            settings = {"EXTENSIONS": {ExtractionPool: 0}, "GOVNEWS_EXTRACT_WORKERS": workers}
            return get_crawler(ZhangzhouSpider, settings).get_extension(ExtractionPool)

        assert pool(0) is None  # 0: in-process
        workers = pool(3)
        assert workers is not None and workers.size == 3

    asyncio.run(run())
    with pytest.raises(ValueError, match="at least 1"):
        ExtractionPool(0, timeout=60)


def test_an_extraction_bug_is_a_recorded_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Article:
        raise KeyError("nowhere")

    monkeypatch.setattr(base, "extract_article", broken)
    crawler = get_crawler(ZhangzhouSpider)
    failures: list[dict[str, Any]] = []
    crawler.signals.connect(lambda **kw: failures.append(kw), signal=page_failed, weak=False)
    spider = ZhangzhouSpider.from_crawler(crawler)
    response = HtmlResponse(
        SEED_ORIGINAL,
        body=snapshot_file(SEED_ORIGINAL).read_bytes(),
        request=Request(SEED_ORIGINAL),
    )
    assert collect(spider.parse_article(response)) == []
    [failure] = failures
    assert (failure["url"], failure["stage"]) == (SEED_ORIGINAL, "extract")
    assert failure["reason"] == "KeyError: 'nowhere'"
