"""What the shared per-host politeness costs a request: Redis round trips and µs.

    python -m benchmarks.crawl.politeness [--requests 2000]

Starts a redis-server on 127.0.0.1 (``tests/servers.py``), builds the
``SharedPolitenessMiddleware`` of one worker and times, per request, its
``process_request`` and ``process_response`` (taking and giving back the host's
lease), with no delay and with a delay turn besides (``DOWNLOAD_DELAY`` under 1 ms:
a turn is taken, never waited for), against one ``PING`` (a bare round trip) and the middleware with
``GOVNEWS_SHARED_CONCURRENCY = False`` (no call). The round trips are the commands
the client sent (a script is one, whatever it runs inside Redis).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import redis
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.reactor import install_reactor, set_asyncio_event_loop
from scrapy.utils.test import get_crawler

from govnews import settings as project
from govnews.crawl.frontier.politeness import SharedPolitenessMiddleware
from govnews.crawl.frontier.registry import Frontier
from tests import servers


def middleware(url: str, **settings: object) -> SharedPolitenessMiddleware:
    crawler = get_crawler(
        settings_dict={
            **{name: getattr(project, name) for name in dir(project) if name.isupper()},
            "GOVNEWS_DATABASE_URL": "sqlite://",
            "GOVNEWS_REDIS_URL": url,
            "GOVNEWS_REDIS_PREFIX": "bench",
            **settings,
        }
    )
    crawler._apply_settings()  # noqa: SLF001  # builds the extensions
    frontier = crawler.get_extension(Frontier)
    frontier.client = Counted(connection_pool=frontier.client.connection_pool)
    return SharedPolitenessMiddleware.from_crawler(crawler)


class Counted(redis.Redis):
    """A client that counts the commands it sends: one per round trip."""

    sent = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        Counted.sent += 1
        return super().execute_command(*args, **options)


def measure(label: str, run: Coroutine[Any, Any, None], requests: int) -> None:
    before = Counted.sent
    started = time.perf_counter()
    set_asyncio_event_loop(None).run_until_complete(run)
    seconds = time.perf_counter() - started
    trips = (Counted.sent - before) / requests
    print(f"{label:<30} {seconds / requests * 1e6:8.1f} µs {trips:6.2f} round trips")


async def requests_through(politeness: SharedPolitenessMiddleware, n: int) -> None:
    for i in range(n):
        request = Request(f"http://a.example/{i}")
        await politeness.process_request(request)
        politeness.process_response(request, Response(request.url))


async def pings(client: Counted, n: int) -> None:
    for _ in range(n):
        client.ping()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    n = parser.parse_args().requests
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    with tempfile.TemporaryDirectory() as workdir:
        url, pidfile = servers.start_redis(Path(workdir))
        try:
            print(f"{n} requests, one worker, redis-server on 127.0.0.1, per request:")
            measure("PING", pings(Counted.from_url(url), n), n)
            off = middleware(url, DOWNLOAD_DELAY=0, GOVNEWS_SHARED_CONCURRENCY=False)
            measure("no shared limit, no delay", requests_through(off, n), n)
            lease = middleware(url, DOWNLOAD_DELAY=0)
            measure("lease (take + release)", requests_through(lease, n), n)
            # A delay under 1 ms: every request takes a turn (0 ms long), none waits.
            both = middleware(url, DOWNLOAD_DELAY=0.0001)
            measure("lease + delay turn", requests_through(both, n), n)
        finally:
            servers.stop_redis(pidfile)


if __name__ == "__main__":
    main()
