"""robots.txt read once per host for a whole run, whatever the number of workers.

Each "worker" is a ``SharedRobotsTxtMiddleware`` of its own crawler, joined to one
run on a real redis-server (the ``redis_url`` fixture). The downloads of robots.txt
are answered by an engine stand-in that counts them and answers after a moment, so
that the workers ask at the same time; everything between them goes through Redis.
The end-to-end check, with ``scrapy crawl`` workers, is in ``tests/test_frontier.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse

from govnews.crawl.frontier.registry import Frontier
from govnews.crawl.frontier.robotstxt import SharedRobotsTxtMiddleware
from tests.test_frontier_politeness import crawlers, run

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


class Engine:
    """Answers robots.txt downloads after 0.1 s, counting them; or fails them."""

    _slot = None  # nothing in progress, as the frontier reads it when a worker leaves

    def __init__(self, fetched: list[str], fail: bool = False) -> None:
        self.fetched = fetched
        self.fail = fail

    async def download_async(self, request: Request) -> TextResponse:
        self.fetched.append(request.url)
        await asyncio.sleep(0.1)
        if self.fail:
            raise ConnectionRefusedError("robots.txt down")
        return TextResponse(request.url, body=ROBOTS, encoding="utf-8")


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def workers(
    redis_url: str, prefix: str, n: int, fetched: list[str], fail: bool = False
) -> list[Any]:
    """The robots.txt middlewares of ``n`` workers of one run of spider ``t``."""
    middlewares = []
    for crawler in crawlers(redis_url, prefix, n):
        crawler.engine = Engine(fetched, fail)  # type: ignore[assignment]
        frontier = crawler.get_extension(Frontier)
        assert frontier is not None
        frontier.join("t")
        middlewares.append(SharedRobotsTxtMiddleware.from_crawler(crawler))
    return middlewares


async def allowed(middleware: SharedRobotsTxtMiddleware, url: str) -> bool:
    try:
        await middleware.process_request(Request(url))
    except IgnoreRequest:
        return False
    return True


def leave(middlewares: list[Any]) -> None:
    for middleware in middlewares:
        middleware.frontier.leave()


def test_three_workers_fetch_a_hosts_robots_txt_once(redis_url: str, prefix: str) -> None:
    """Three workers, two requests each to one host at the same moment: one download;
    every worker obeys it (``/private/`` refused), two of them read it from the run."""
    fetched: list[str] = []
    middlewares = workers(redis_url, prefix, 3, fetched)

    async def crawl() -> list[bool]:
        return await asyncio.gather(
            *(
                allowed(m, f"http://a.example/{path}")
                for m in middlewares
                for path in ("news/1.html", "private/2.html")
            )
        )

    assert run(crawl()) == [True, False] * 3
    assert fetched == ["http://a.example/robots.txt"]
    shared = [m.crawler.stats.get_value("robotstxt/shared", 0) for m in middlewares]
    assert sorted(shared) == [0, 1, 1]
    leave(middlewares)


def test_a_dead_workers_claim_is_taken_over(redis_url: str, prefix: str) -> None:
    """A worker killed while fetching robots.txt leaves its claim: a live worker takes it
    over once the dead one's heartbeat is gone, instead of waiting for ever."""
    fetched: list[str] = []
    (middleware,) = workers(redis_url, prefix, 1, fetched)
    client = redis.Redis.from_url(redis_url)
    client.hset(middleware.frontier.key("robots"), "b.example", "?dead-host:1:abc")

    assert run(allowed(middleware, "http://b.example/private/x.html")) is False
    assert fetched == ["http://b.example/robots.txt"]
    leave([middleware])


def test_a_failed_fetch_drops_the_claim(redis_url: str, prefix: str) -> None:
    """robots.txt that cannot be fetched: the host is allowed, as with Scrapy's
    middleware, and no claim stays behind to hold the other workers up."""
    fetched: list[str] = []
    (middleware,) = workers(redis_url, prefix, 1, fetched, fail=True)

    assert run(allowed(middleware, "http://c.example/private/x.html")) is True
    assert fetched == ["http://c.example/robots.txt"]
    client = redis.Redis.from_url(redis_url)
    assert client.hgetall(middleware.frontier.key("robots")) == {}
    leave([middleware])
