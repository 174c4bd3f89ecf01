"""The scheduler and duplicate filter of the shared frontier: scrapy-redis's, made to fit.

scrapy-redis 0.9.1 (pinned) as released does not fit Scrapy 2.19 or a run shared
by workers that come and go, so its classes are subclassed where they fail:

* its dupefilter is built with ``from_settings``, which Scrapy no longer calls, and
  fingerprints requests its own way: :class:`FrontierDupeFilter` is built from the
  crawler and asks the crawler's ``request_fingerprinter``;
* its dupefilter deletes the seen set when a worker closes, and its scheduler
  (``SCHEDULER_PERSIST = False``) deletes the queue: the first worker to finish
  would empty everyone's. Here nothing is deleted on close; the run's keys go when
  the run ends (:mod:`~govnews.crawl.frontier.registry`);
* with persistence on, one seen set for ever would drop the next incremental run's
  listings: the keys here are per run;
* its stats calls pass ``spider=``, which Scrapy 2.19's stats no longer take;
* its queue pops without a trace, so a killed worker's requests are lost: here each
  pop is a lease (:meth:`~govnews.crawl.frontier.registry.Frontier.lease`).

Requests keep scrapy-redis's form in the queue: ``Request.to_dict`` pickled, in a
sorted set scored by minus the priority; within one priority the last queued comes
first, as in Scrapy's own scheduler (a sorted set orders equal scores by their bytes,
which put every article of a listing before its next page: the paging, one page
after another, waited for whole listings and left workers idle). ``dont_filter``
requests (start pages, retries, declared originals) skip the seen set, as with
Scrapy's own scheduler, and are queued like any other.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Self

from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from govnews.crawl.accounting import PageAccounting
from govnews.crawl.frontier.registry import Frontier

if TYPE_CHECKING:
    import redis
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.utils.request import RequestFingerprinterProtocol

logger = logging.getLogger(__name__)


def frontier_of(crawler: Crawler) -> Frontier:
    """The crawl's :class:`Frontier` extension, or NotConfigured naming what is missing."""
    frontier = crawler.get_extension(Frontier)
    if frontier is None:
        raise NotConfigured("the shared frontier needs GOVNEWS_REDIS_URL (FrontierAddon)")
    return frontier


class FrontierDupeFilter(RFPDupeFilter):
    """scrapy-redis's dupefilter over the run's seen set, by the crawler's fingerprints."""

    def __init__(
        self, server: redis.Redis, fingerprinter: RequestFingerprinterProtocol, debug: bool
    ) -> None:
        super().__init__(server, key="", debug=debug)
        self.fingerprinter = fingerprinter

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(
            frontier_of(crawler).client,
            crawler.request_fingerprinter,
            crawler.settings.getbool("DUPEFILTER_DEBUG"),
        )

    def request_fingerprint(self, request: Request) -> bytes:
        """The crawler's fingerprint (20 bytes), as Scrapy's own dupefilter uses it."""
        return self.fingerprinter.fingerprint(request)

    def close(self, reason: str = "") -> None:
        """Keep the seen set: other workers share it until the run ends."""


# KEYS: queue, counter; ARGV: score, pickled request. A 15-digit prefix, smaller for each
# push, makes the newest first among equal scores (and equal requests distinct).
_PUSH = """
local n = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], ARGV[1], string.format('%015.0f', 999999999999999 - n) .. ARGV[2])
"""
#: The length of that prefix.
ORDER = 15


class FrontierQueue(PriorityQueue):
    """scrapy-redis's priority queue, last in first out within a priority."""

    def __init__(self, server: redis.Redis, spider: Spider, key: str, counter: str) -> None:
        super().__init__(server, spider, key)
        self.counter = counter
        self._push = server.register_script(_PUSH)

    def push(self, request: Request) -> None:
        self._push(
            keys=[self.key, self.counter], args=[-request.priority, self._encode_request(request)]
        )

    def decode(self, member: bytes) -> Request:
        """The request of a queue member (its order prefix cut)."""
        return self._decode_request(member[ORDER:])


class FrontierScheduler(Scheduler):
    """scrapy-redis's scheduler on the run's queue and seen set, popping under leases."""

    def __init__(self, crawler: Crawler, frontier: Frontier, dupefilter: FrontierDupeFilter):
        super().__init__(frontier.client, persist=True, dupefilter=dupefilter)
        self.crawler = crawler
        self.frontier = frontier
        self.stats = crawler.stats
        self.accounting = crawler.get_extension(PageAccounting)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        dupefilter = build_from_crawler(load_object(crawler.settings["DUPEFILTER_CLASS"]), crawler)
        if not isinstance(dupefilter, FrontierDupeFilter):
            raise NotConfigured("FrontierScheduler needs DUPEFILTER_CLASS = FrontierDupeFilter")
        return cls(crawler, frontier_of(crawler), dupefilter)

    def open(self, spider: Spider) -> None:
        """Join (or start) the spider's run; the queue and seen set are the run's."""
        self.spider = spider
        self.frontier.join(spider.name)
        self.queue = FrontierQueue(
            self.server, spider, self.frontier.key("queue"), self.frontier.key("pushed")
        )
        self.df.key = self.frontier.key("seen")

    def close(self, reason: str) -> None:
        """Leave the run; its keys stay for the other workers until it ends."""
        self.frontier.leave()

    def enqueue_request(self, request: Request) -> bool:
        """Queue ``request`` for any worker, unless the run has seen it.

        Either way its page is no longer this worker's to account for: the worker that
        takes it from the queue does (``PageAccounting.hand_over``).
        """
        if self.accounting is not None:
            self.accounting.hand_over(request)
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            self._count("dupefilter/filtered")
            return False
        self.queue.push(request)
        self._count("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        leased = self.frontier.lease()
        if leased is None:
            return None
        lease, data = leased
        request = self.queue.decode(data)
        self.frontier.leases[lease] = request
        if self.accounting is not None:
            self.accounting.request_scheduled(request, self.spider)
        self._count("scheduler/dequeued/redis")
        return request

    def _count(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)


class JoinedStartMiddleware:
    """Spider middleware: a worker that joined an open run sends no start requests.

    The worker that started the run queued them (and the retries of failed pages,
    the unconfirmed originals); the others take their work from the queue.
    """

    def __init__(self, frontier: Frontier) -> None:
        self.frontier = frontier

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(frontier_of(crawler))

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        if self.frontier.joined:
            logger.info("Frontier: joined run %s, no start requests", self.frontier.run)
            return
        async for item_or_request in start:
            yield item_or_request
