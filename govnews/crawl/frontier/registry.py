"""The run registry in Redis: which run of a spider is open, its workers, their leases.

A worker (one ``scrapy crawl`` or ``crawlall`` process) joins the open run of its
spider, or starts one when none is open (:meth:`Frontier.join`). Each request a
worker takes from the shared queue is *leased*: copied, with its priority, into
the worker's lease hash until the engine has downloaded it and processed what its
callback gave (requests queued, items through the pipelines). Every
``GOVNEWS_FRONTIER_HEARTBEAT`` seconds a worker renews its heartbeat key (which
expires after ``GOVNEWS_FRONTIER_TIMEOUT``), acknowledges the leases of requests
done, and puts back in the queue the leases of every worker whose heartbeat has
expired (a worker killed with SIGKILL). A worker is *busy* from joining until its
engine is idle, and again from its next lease; the run ends when its queue is
empty and no live worker is busy. The worker that sees this deletes the run's keys
and the run pointer, so the next worker starts a new run with an empty seen set;
the others, idle, see the pointer gone and close.

The run is judged as one (:class:`~govnews.crawl.crawldb.SharedRun`): each worker adds
its pages per site and the articles it saw (stored, or found stored) to the run's
totals, ``R:totals``: the pages of the requests it acknowledged with each heartbeat,
and its whole count (corrected) each time its engine goes idle and when it leaves. The
worker that ends the run does so in the script that adds its own last count and reads
the totals, so no count comes after them; it judges the run over them and its status
and exit code are the run's. A killed worker's pages since its last heartbeat are
missing from the totals (not from the database); its leased requests go back to the
queue and are counted by whoever crawls them.

Every change is one Lua script, atomic in Redis: no two workers can both start a
run, take one request, or miss each other's last push. Keys (``P`` is
``GOVNEWS_REDIS_PREFIX:<spider>``, ``R`` is ``P:<run id>``): ``P:run`` (the open
run), ``R:queue`` (sorted set of pickled requests, by priority), ``R:seen``
(fingerprints), ``R:workers``, ``R:busy`` (sets of worker ids),
``R:leases:<worker>`` (hash: lease id → priority and request),
``R:alive:<worker>`` (heartbeat, with its expiry), ``R:pushed`` (the queue's order),
``R:totals`` (hash: ``<site> <count>`` → number, ``joined``, ``killed``).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import uuid
from collections import Counter
from dataclasses import fields
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Self

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from twisted.internet.task import LoopingCall

from govnews.core.errors import ConfigError
from govnews.crawl.accounting import PageAccounting
from govnews.crawl.crawldb import CrawlDatabase, SharedRun
from govnews.crawl.health import PageCounts

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# Put back the leases of worker w of run r; how many. Add a worker's counts (JSON:
# field -> change) to the run's totals.
_REQUEUE = """
local function add(r, counts)
  for field, n in pairs(cjson.decode(counts)) do
    redis.call('HINCRBY', r .. ':totals', field, n)
  end
end
local function requeue(r, w)
  local leases = redis.call('HGETALL', r .. ':leases:' .. w)
  for i = 2, #leases, 2 do
    local v = leases[i]
    local cut = string.find(v, '\\n', 1, true)
    redis.call('ZADD', r .. ':queue', tonumber(string.sub(v, 1, cut - 1)), string.sub(v, cut + 1))
  end
  redis.call('DEL', r .. ':leases:' .. w)
  return #leases / 2
end
local function reap(r)
  local requeued = 0
  for _, w in ipairs(redis.call('SMEMBERS', r .. ':workers')) do
    if redis.call('EXISTS', r .. ':alive:' .. w) == 0 then
      requeued = requeued + requeue(r, w)
      redis.call('SREM', r .. ':workers', w)
      redis.call('SREM', r .. ':busy', w)
      redis.call('HINCRBY', r .. ':totals', 'killed', 1)
    end
  end
  return requeued
end
"""

# ARGV: prefix, new run id, worker, heartbeat ms. Joins the open run or starts one.
_JOIN = """
local run = redis.call('GET', ARGV[1] .. ':run')
local started = 0
if not run then
  run = ARGV[2]
  redis.call('SET', ARGV[1] .. ':run', run)
  started = 1
end
local r = ARGV[1] .. ':' .. run
redis.call('SET', r .. ':alive:' .. ARGV[3], 1, 'PX', ARGV[4])
redis.call('SADD', r .. ':workers', ARGV[3])
redis.call('SADD', r .. ':busy', ARGV[3])
redis.call('HINCRBY', r .. ':totals', 'joined', 1)
return {run, started}
"""

# ARGV: prefix, run, worker, lease id, acknowledged lease ids… The next request, leased.
_LEASE = """
local r = ARGV[1] .. ':' .. ARGV[2]
for i = 5, #ARGV do redis.call('HDEL', r .. ':leases:' .. ARGV[3], ARGV[i]) end
if redis.call('GET', ARGV[1] .. ':run') ~= ARGV[2] then return false end
local top = redis.call('ZRANGE', r .. ':queue', 0, 0, 'WITHSCORES')
if #top == 0 then return false end
redis.call('ZREM', r .. ':queue', top[1])
redis.call('HSET', r .. ':leases:' .. ARGV[3], ARGV[4], top[2] .. '\\n' .. top[1])
redis.call('SADD', r .. ':busy', ARGV[3])
return top[1]
"""

# ARGV: prefix, run, worker, heartbeat ms, busy (0/1), counts, acknowledged lease ids…
# Requests put back from dead workers, or -1 when the run is over.
_BEAT = (
    _REQUEUE
    + """
if redis.call('GET', ARGV[1] .. ':run') ~= ARGV[2] then return -1 end
local r = ARGV[1] .. ':' .. ARGV[2]
redis.call('SET', r .. ':alive:' .. ARGV[3], 1, 'PX', ARGV[4])
redis.call('SADD', r .. ':workers', ARGV[3])
if ARGV[5] == '1' then redis.call('SADD', r .. ':busy', ARGV[3]) end
add(r, ARGV[6])
for i = 7, #ARGV do redis.call('HDEL', r .. ':leases:' .. ARGV[3], ARGV[i]) end
return reap(r)
"""
)

# ARGV: prefix, run, worker, heartbeat ms, counts. The worker's engine is idle: is the run
# over? {over | work | wait | finished, requests put back from dead workers, the totals
# when finished}
_IDLE = (
    _REQUEUE
    + """
if redis.call('GET', ARGV[1] .. ':run') ~= ARGV[2] then return {'over', 0} end
local r = ARGV[1] .. ':' .. ARGV[2]
add(r, ARGV[5])
redis.call('SET', r .. ':alive:' .. ARGV[3], 1, 'PX', ARGV[4])
redis.call('SADD', r .. ':workers', ARGV[3])
redis.call('DEL', r .. ':leases:' .. ARGV[3])
redis.call('SREM', r .. ':busy', ARGV[3])
local requeued = reap(r)
if redis.call('ZCARD', r .. ':queue') > 0 then return {'work', requeued} end
if redis.call('SCARD', r .. ':busy') > 0 then return {'wait', requeued} end
local totals = redis.call('HGETALL', r .. ':totals')
local keys = {ARGV[1] .. ':run', r .. ':queue', r .. ':pushed', r .. ':seen', r .. ':busy',
              r .. ':workers', r .. ':totals', r .. ':robots'}
for _, w in ipairs(redis.call('SMEMBERS', r .. ':workers')) do
  table.insert(keys, r .. ':alive:' .. w)
  table.insert(keys, r .. ':leases:' .. w)
end
redis.call('DEL', unpack(keys))
return {'finished', 0, totals}
"""
)

# ARGV: prefix, run, worker, counts, acknowledged lease ids… The worker leaves: its
# unfinished leases go back to the queue (their pages are counted by whoever takes them).
_LEAVE = (
    _REQUEUE
    + """
if redis.call('GET', ARGV[1] .. ':run') ~= ARGV[2] then return 0 end
local r = ARGV[1] .. ':' .. ARGV[2]
for i = 5, #ARGV do redis.call('HDEL', r .. ':leases:' .. ARGV[3], ARGV[i]) end
add(r, ARGV[4])
local requeued = requeue(r, ARGV[3])
redis.call('SREM', r .. ':workers', ARGV[3])
redis.call('SREM', r .. ':busy', ARGV[3])
redis.call('DEL', r .. ':alive:' .. ARGV[3])
return requeued
"""
)


def connect(url: str) -> redis.Redis:
    """A client of the Redis server at ``url`` that answers, or a one-line ConfigError."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
        client.ping()
    except ValueError as exc:
        raise ConfigError(f"GOVNEWS_REDIS_URL={url!r} is no Redis URL: {exc}") from None
    except redis.RedisError as exc:
        raise ConfigError(f"GOVNEWS_REDIS_URL={url!r}: Redis does not answer: {exc}") from None
    return client


class Frontier:
    """Extension: this worker's membership of its spider's run, its leases and heartbeat.

    Enabled by ``GOVNEWS_REDIS_URL`` (through the add-on). The scheduler
    (:class:`~govnews.crawl.frontier.scheduler.FrontierScheduler`) joins the run
    when the spider opens, leases each request it hands to the engine, and leaves
    when the spider closes (its unfinished leases go back to the queue).
    """

    def __init__(self, crawler: Crawler, client: redis.Redis) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.client = client
        self.namespace = settings.get("GOVNEWS_REDIS_PREFIX")
        self.heartbeat = settings.getfloat("GOVNEWS_FRONTIER_HEARTBEAT")
        self.timeout_ms = int(settings.getfloat("GOVNEWS_FRONTIER_TIMEOUT") * 1000)
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.prefix = ""
        self.run = ""
        #: Whether this worker joined a run another one started (it sends no start requests).
        self.joined = False
        #: Requests leased and not yet acknowledged, by lease id.
        self.leases: dict[str, Request] = {}
        self.idle = False
        #: This worker's counts for the run's totals (``<site> <count>`` → number: the
        #: pages, by how they ended), and what Redis has of them and of the articles seen.
        self.counts: Counter[str] = Counter()
        self.added: Counter[str] = Counter()
        self._recount = False  # requests leased since the pages were last counted whole
        self._ids = itertools.count()
        self._join = client.register_script(_JOIN)
        self._lease = client.register_script(_LEASE)
        self._beat = client.register_script(_BEAT)
        self._idle = client.register_script(_IDLE)
        self._leave = client.register_script(_LEAVE)
        self._loop = LoopingCall(self.beat)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        url = crawler.settings.get("GOVNEWS_REDIS_URL")
        if not url:
            raise NotConfigured("GOVNEWS_REDIS_URL is not set")
        if crawler.settings.getfloat("GOVNEWS_FRONTIER_HEARTBEAT") <= 0:
            raise ConfigError("GOVNEWS_FRONTIER_HEARTBEAT must be more than 0 seconds")
        if crawler.settings.getfloat("GOVNEWS_FRONTIER_TIMEOUT") <= crawler.settings.getfloat(
            "GOVNEWS_FRONTIER_HEARTBEAT"
        ):
            raise ConfigError("GOVNEWS_FRONTIER_TIMEOUT must be longer than the heartbeat")
        return cls(crawler, connect(url))

    @cached_property
    def accounting(self) -> PageAccounting | None:
        """The crawl's page accounting (looked up once extensions are built)."""
        return self.crawler.get_extension(PageAccounting)

    @cached_property
    def database(self) -> CrawlDatabase | None:
        """The crawl's database: it judges the run (looked up once extensions are built)."""
        return self.crawler.get_extension(CrawlDatabase)

    def key(self, name: str) -> str:
        """The key ``name`` (``queue``, ``seen`` …) of the run this worker is in."""
        return f"{self.prefix}:{self.run}:{name}"

    def join(self, spider: str) -> None:
        """Join the open run of ``spider``, or start one; then beat every heartbeat."""
        self.prefix = f"{self.namespace}:{spider}"
        new = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        run, started = self._join(args=[self.prefix, new, self.worker, self.timeout_ms])
        self.run = run.decode()
        self.joined = not started
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("frontier/run", self.run)
        self.crawler.stats.set_value("frontier/worker", self.worker)
        if self.database is not None:
            self.database.shared = SharedRun(self.run)
        logger.info(
            "Frontier: worker %s %s run %s of %s",
            self.worker,
            "joined" if self.joined else "started",
            self.run,
            spider,
        )
        self._loop.start(self.heartbeat, now=False)

    def lease(self) -> tuple[str, bytes] | None:
        """The next request of the run's queue (pickled) and its lease id, or None."""
        lease = str(next(self._ids))
        data = self._lease(args=[self.prefix, self.run, self.worker, lease, *self._done()])
        if data is None:
            return None
        self.idle = False
        self._recount = True
        return lease, data

    def beat(self) -> None:
        """Renew the heartbeat, acknowledge finished leases, requeue dead workers' leases."""
        busy = "0" if self.idle else "1"
        done = self._done()
        changes, counted = self._changes()
        args: list[str | int] = [self.prefix, self.run, self.worker, self.timeout_ms, busy]
        args += [changes, *done]
        self._requeued(self._beat(args=args))
        self.added = counted
        # Other workers may have queued requests (or ended the run) since this engine last
        # asked: it asks again now, not when its next download ends (or in 5 s, if idle).
        _wake(self.crawler)

    def spider_idle(self) -> None:
        """Keep the spider open while the run has work queued or a worker still busy.

        On becoming idle the worker commits its batch: one waiting for the others holds
        no write transaction (SQLite's would lock every other worker out) and loses
        nothing if it is killed while it waits.
        """
        if not self.idle and self.database is not None:
            self.database.commit()
        self.idle = True
        self.leases.clear()  # an idle engine has nothing in flight
        self._count_whole()
        changes, counted = self._changes()
        reply = self._idle(args=[self.prefix, self.run, self.worker, self.timeout_ms, changes])
        self.added = counted
        self._requeued(reply[1])
        state = reply[0].decode()
        if state == "finished":
            self._judge(reply[2])
        elif state in ("work", "wait"):
            raise DontCloseSpider

    def leave(self) -> None:
        """Stop beating; put the leases of unfinished requests back in the queue."""
        if self._loop.running:
            self._loop.stop()
        if not self.run:
            return
        done = self._done()
        if not self.leases:  # else those pages are counted by the workers that take them
            self._count_whole()
        changes, counted = self._changes()
        requeued = self._leave(args=[self.prefix, self.run, self.worker, changes, *done])
        self.added = counted
        if requeued:
            logger.info("Frontier: %d unfinished request(s) put back in the queue", requeued)

    def _requeued(self, count: int) -> None:
        if count > 0:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("frontier/requeued", count)
            logger.warning("Frontier: %d request(s) of dead workers put back", count)

    def _done(self) -> list[str]:
        """Forget the leases whose requests the engine has finished; their ids.

        Their pages are counted for the run's totals: a finished request's page has ended.
        """
        flying = _in_flight(self.crawler)
        done = [lease for lease, request in self.leases.items() if request not in flying]
        for lease in done:
            self._count(self.leases.pop(lease))
        return done

    def _count(self, request: Request) -> None:
        """Count the page of a finished request, unless handed on (a redirect, a retry)."""
        page = self.accounting.page_of(request) if self.accounting is not None else None
        if page is None or page.handed:
            return
        self.counts[f"{page.site} requested"] += 1
        if page.outcome is not None:
            self.counts[f"{page.site} {page.outcome}"] += 1

    def _count_whole(self) -> None:
        """Count every page of this worker again, when none is in flight.

        Counting each page as its request finishes misses a page failed later, under a
        URL it went through (a Hanweb window's failure recorded on its column): the whole
        count corrects it. Only after new leases: it takes a microsecond a page.
        """
        if not self._recount or self.accounting is None:
            return
        self._recount = False
        self.counts = Counter(
            {
                f"{site} {count.name}": getattr(pages, count.name)
                for site, pages in self.accounting.tally().items()
                for count in fields(PageCounts)
            }
        )

    def _changes(self) -> tuple[str, Counter[str]]:
        """What this worker's counts gained (or lost) since Redis last had them, as the
        scripts take it (JSON: field → change); and the counts, for :attr:`added`."""
        counted = Counter(self.counts)
        if self.database is not None:
            for site, seen in self.database.seen_articles().items():
                counted[f"{site} seen"] = seen
        changes = {
            key: counted[key] - self.added[key]
            for key in counted.keys() | self.added.keys()
            if counted[key] != self.added[key]
        }
        return json.dumps(changes, ensure_ascii=False), counted

    def _judge(self, reply: list[bytes]) -> None:
        """This worker ended the run: hand the run's totals to its database, which judges it."""
        totals = {
            key.decode(): int(value) for key, value in zip(reply[::2], reply[1::2], strict=True)
        }
        pages: dict[str, Counter[str]] = {}
        seen: dict[str, int] = {}
        for key, number in totals.items():
            site, space, count = key.rpartition(" ")
            if not space:  # joined, killed
                continue
            if count == "seen":
                seen[site] = number
            else:
                pages.setdefault(site, Counter())[count] = number
        shared = SharedRun(
            self.run,
            pages={site: PageCounts(**counts) for site, counts in pages.items()},
            seen=seen,
            workers=totals.get("joined", 0),
            killed=totals.get("killed", 0),
        )
        if self.database is not None:
            self.database.shared = shared
        run = PageCounts.total(shared.pages.values()) if shared.pages else PageCounts()
        assert self.crawler.stats is not None
        for column in fields(PageCounts):
            name = column.name
            self.crawler.stats.set_value(f"frontier/totals/{name}", getattr(run, name))
        self.crawler.stats.set_value("frontier/totals/workers", shared.workers)
        logger.info(
            "Frontier: run %s is over; its keys are deleted. This worker judges it over the "
            "pages of its %d worker(s): %d requested, %d stored, %d failed",
            self.run,
            shared.workers,
            run.requested,
            run.stored,
            run.failed,
        )


def _in_flight(crawler: Crawler) -> set[Request]:
    """The requests the engine is downloading or processing (their callbacks' output too).

    Scrapy has no signal for "a request is done"; its engine keeps the set in
    ``ExecutionEngine._slot.inprogress`` (Scrapy 2.13 to 2.19) and removes a request
    only when its response's callback output is queued and its items are through the
    pipelines. The frontier tests fail if that changes.
    """
    slot = crawler.engine._slot if crawler.engine else None  # noqa: SLF001
    return slot.inprogress if slot else set()


def _wake(crawler: Crawler) -> None:
    """Ask the engine for requests now (it asks when a download ends, or every 5 s)."""
    slot = crawler.engine._slot if crawler.engine else None  # noqa: SLF001
    if slot is not None:
        slot.nextcall.schedule()
