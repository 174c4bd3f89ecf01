"""Politeness across workers: one per-host concurrency and delay for the whole run, in Redis.

Scrapy's download slots are per process: N workers would each send
``CONCURRENT_REQUESTS_PER_DOMAIN`` requests at once to a host and each wait
``DOWNLOAD_DELAY`` between their own, so the host would see N times what is
configured. :class:`SharedPolitenessMiddleware` makes both limits the run's, per
download slot (the request's host, or the ``download_slot`` a configured site has):

* **Concurrency**: a request first takes a *lease* on its slot, a member of the
  sorted set ``GOVNEWS_REDIS_PREFIX:slot:<slot>:busy`` scored by its expiry in the
  Redis server's clock. One Lua script drops expired members and adds this one if
  fewer than the slot's limit are held (its ``DOWNLOAD_SLOTS`` ``concurrency``, or
  ``CONCURRENT_REQUESTS_PER_DOMAIN``); else the request polls again after
  ``GOVNEWS_HOST_LEASE_POLL`` (without blocking the reactor; within one worker only
  the first request waiting for a slot polls, the others queue behind it). The
  lease is released when the download leaves the downloader
  (``request_left_downloader``), or in ``process_response`` / ``process_exception``
  when a later middleware answered or refused it first. The worker renews its
  leases every ``GOVNEWS_FRONTIER_HEARTBEAT``; a lease not renewed for
  ``GOVNEWS_FRONTIER_TIMEOUT`` expires: so a killed worker's leases free
  themselves as its queue leases do, and a request dropped on a path that calls
  no hook (a later middleware returning another request) is held by a weak
  reference only, and its lease expires once the request is gone.
* **Delay**: then the request takes a turn from the slot's token
  (``GOVNEWS_REDIS_PREFIX:slot:<slot>``): a script reads the slot's next free time,
  moves it one delay on and says how long to wait. The delay is the slot's
  ``DOWNLOAD_SLOTS`` ``delay`` or ``DOWNLOAD_DELAY``; 0 (the mirror's) costs no call.

The lease comes first so that a request waiting for a free lease burns no delay
turn. A lease is taken before the request enters the worker's own slot, which
still applies its delay, AutoThrottle and concurrency on top: a worker never goes
faster than it would alone, and a leased request waiting there holds its lease
(the run is then below its limit, never above). Chosen over sharding hosts between
workers, which would leave a worker idle when its hosts are done and need a
re-shard whenever a worker joins or dies. ``GOVNEWS_SHARED_CONCURRENCY = False``
leaves concurrency to each worker, with no call to Redis for it.

Cost, measured with ``python -m benchmarks.crawl.politeness`` (redis-server on
127.0.0.1, 2 cores): a request under a free lease costs two round trips (take,
release), 2 × ~110 µs; the renewal is one call per heartbeat for all the
worker's leases; a shared delay adds one more round trip.
"""

from __future__ import annotations

import itertools
import weakref
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.utils.asyncio import sleep
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import DeferredLock
from twisted.internet.task import LoopingCall

from govnews.core.errors import ConfigError
from govnews.crawl.frontier.scheduler import frontier_of

if TYPE_CHECKING:
    import redis
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

# The Redis server's clock in ms, the same for every worker.
_NOW = """
local now = redis.call('TIME')
now = now[1] * 1000 + math.floor(now[2] / 1000)
"""

# KEYS: the slot's token; ARGV: delay ms. Milliseconds to wait before sending.
_TURN = (
    _NOW
    + """
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, free)
redis.call('SET', KEYS[1], at + ARGV[1], 'PX', at + ARGV[1] - now + 1000)
return at - now
"""
)

# KEYS: the slot's lease set; ARGV: limit, member, lease ms. 0 when leased, else the
# milliseconds until the first held lease expires (at least 1).
_TAKE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + ARGV[3], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, first[2] - now)
"""
)

# KEYS: lease sets; ARGV: lease ms, then the member held in each. Renews the members
# still there (one that expired stays gone).
_RENEW = (
    _NOW
    + """
for i, key in ipairs(KEYS) do
  if redis.call('ZADD', key, 'XX', 'CH', now + ARGV[1], ARGV[i + 1]) == 1 then
    redis.call('PEXPIRE', key, ARGV[1])
  end
end
"""
)


class SharedPolitenessMiddleware:
    """Downloader middleware: every worker's requests to a host share one concurrency
    limit (leases) and one delay (turns)."""

    def __init__(
        self,
        crawler: Crawler,
        client: redis.Redis,
        worker: str,
        *,
        delay: float,
        concurrency: int,
        shared_concurrency: bool,
    ) -> None:
        settings = crawler.settings
        self.prefix = f"{settings.get('GOVNEWS_REDIS_PREFIX')}:slot"
        self.worker = worker
        self.delay = delay
        self.concurrency = concurrency if shared_concurrency else 0
        slots = settings.getdict("DOWNLOAD_SLOTS")
        self.slot_delays = {n: float(s["delay"]) for n, s in slots.items() if "delay" in s}
        self.slot_limits = {
            n: int(s["concurrency"]) if shared_concurrency else 0
            for n, s in slots.items()
            if "concurrency" in s
        }
        self.poll = settings.getfloat("GOVNEWS_HOST_LEASE_POLL")
        self.lease_ms = int(settings.getfloat("GOVNEWS_FRONTIER_TIMEOUT") * 1000)
        #: The lease (set, member) each request in flight holds; a request dropped
        #: without a hook leaves, and its lease is renewed no more.
        self.held: weakref.WeakKeyDictionary[Request, tuple[str, str]] = weakref.WeakKeyDictionary()
        self.client = client
        self._turn = client.register_script(_TURN)
        self._take = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)
        self._ids = itertools.count()
        self._waiting: dict[str, DeferredLock] = {}
        self._loop = LoopingCall(self.renew)
        self._heartbeat = settings.getfloat("GOVNEWS_FRONTIER_HEARTBEAT")
        crawler.signals.connect(self.request_left, signal=signals.request_left_downloader)
        crawler.signals.connect(self.release_all, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if settings.getfloat("GOVNEWS_HOST_LEASE_POLL") <= 0:
            raise ConfigError("GOVNEWS_HOST_LEASE_POLL must be more than 0 seconds")
        frontier = frontier_of(crawler)
        return cls(
            crawler,
            frontier.client,
            frontier.worker,
            delay=settings.getfloat("DOWNLOAD_DELAY"),
            concurrency=settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
            shared_concurrency=settings.getbool("GOVNEWS_SHARED_CONCURRENCY"),
        )

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        slot = request.meta.get("download_slot") or urlparse_cached(request).hostname or ""
        limit = self.slot_limits.get(slot, self.concurrency)
        if limit > 0:
            await self.take(request, slot, limit)
        delay = self.slot_delays.get(slot, self.delay)
        if delay <= 0:
            return
        try:
            wait = self._turn(keys=[f"{self.prefix}:{slot}"], args=[int(delay * 1000)])
            if wait > 0:
                await sleep(wait / 1000)
        except BaseException:  # the crawl closing while it waits, Redis failing
            self.release(request)
            raise

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        self.release(request)
        return response

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> None:
        self.release(request)

    async def take(self, request: Request, slot: str, limit: int) -> None:
        """Wait for a lease on ``slot`` (one of ``limit``) and hold it for ``request``.

        When the slot is full, this worker's requests for it wait in turn, so that only
        one of them polls Redis.
        """
        key = f"{self.prefix}:{slot}:busy"
        member = f"{self.worker}:{next(self._ids)}"
        args: list[str | int] = [limit, member, self.lease_ms]
        if self._take(keys=[key], args=args):
            lock = self._waiting.setdefault(slot, DeferredLock())
            await maybe_deferred_to_future(lock.acquire())
            try:
                while wait := self._take(keys=[key], args=args):
                    await sleep(min(wait / 1000, self.poll))
            finally:
                lock.release()
                if not lock.locked and not lock.waiting:
                    del self._waiting[slot]
        self.held[request] = (key, member)
        if not self._loop.running:
            self._loop.start(self._heartbeat, now=False)

    def release(self, request: Request) -> None:
        """Give back the lease ``request`` holds, if any (once: every later hook finds none)."""
        lease = self.held.pop(request, None)
        if lease is not None:
            self.client.zrem(*lease)

    def request_left(self, request: Request, spider: Spider | None = None) -> None:
        """The download is over: its slot is free for the run."""
        self.release(request)

    def renew(self) -> None:
        """Extend every lease this worker holds by ``GOVNEWS_FRONTIER_TIMEOUT``."""
        leases = list(self.held.values())
        if leases:
            keys, members = zip(*leases, strict=True)
            self._renew(keys=list(keys), args=[self.lease_ms, *members])

    def release_all(self) -> None:
        """The engine stopped: give back every lease still held."""
        if self._loop.running:
            self._loop.stop()
        leases = list(self.held.values())
        self.held.clear()
        if leases:
            pipe = self.client.pipeline(transaction=False)
            for key, member in leases:
                pipe.zrem(key, member)
            pipe.execute()
