"""Politeness across workers: one per-host delay for the whole run, kept in Redis.

Scrapy's download slots are per process: N workers would each wait
``DOWNLOAD_DELAY`` between their own requests, and hit a host N times as often as
configured. :class:`SharedDelayMiddleware` takes, before each request, a turn on
the request's download slot (its host, or the ``download_slot`` a configured site
has) from a token in Redis: an atomic script reads the slot's next free time (by
the Redis server's clock, the same for every worker), moves it one delay further
and says how long to wait. The request then waits without blocking the reactor.
So the whole run sends at most one request per delay to a host, whatever N is;
each worker's own slot still applies its delay and concurrency on top, so a worker
never goes faster than it would alone. The delay is the slot's ``DOWNLOAD_SLOTS``
delay or ``DOWNLOAD_DELAY``; 0 (the mirror's) costs no call to Redis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached

from govnews.crawl.frontier.scheduler import frontier_of

if TYPE_CHECKING:
    import redis
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

# KEYS: the slot's token; ARGV: delay ms. Milliseconds to wait before sending.
_TURN = """
local now = redis.call('TIME')
now = now[1] * 1000 + math.floor(now[2] / 1000)
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, free)
redis.call('SET', KEYS[1], at + ARGV[1], 'PX', at + ARGV[1] - now + 1000)
return at - now
"""


class SharedDelayMiddleware:
    """Downloader middleware: every worker's requests to a host wait for one shared turn."""

    def __init__(
        self, client: redis.Redis, prefix: str, delay: float, slots: dict[str, float]
    ) -> None:
        self.prefix = prefix
        self.delay = delay
        self.slots = slots
        self._turn = client.register_script(_TURN)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        slots = {
            name: float(slot["delay"])
            for name, slot in settings.getdict("DOWNLOAD_SLOTS").items()
            if "delay" in slot
        }
        return cls(
            frontier_of(crawler).client,
            f"{settings.get('GOVNEWS_REDIS_PREFIX')}:slot",
            settings.getfloat("DOWNLOAD_DELAY"),
            slots,
        )

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        slot = request.meta.get("download_slot") or urlparse_cached(request).hostname or ""
        delay = self.slots.get(slot, self.delay)
        if delay <= 0:
            return
        wait = self._turn(keys=[f"{self.prefix}:{slot}"], args=[int(delay * 1000)])
        if wait > 0:
            await sleep(wait / 1000)
