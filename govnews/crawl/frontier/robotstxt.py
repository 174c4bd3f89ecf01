"""robots.txt fetched once per host for the whole run, not once per worker.

Scrapy keeps a host's robots.txt parser in its process: each worker joining a run
would fetch every host's robots.txt again, and wait one round trip for it before
its first request there. On the scale-out benchmark (4 workers, 1 s of latency)
that put a second to two on the paging chain of the largest column, the run's
critical path. :class:`SharedRobotsTxtMiddleware` keeps the bodies in the run's
hash ``R:robots`` (origin → ``+`` and the body): a worker that finds a host's
body there builds its parser from it, as Scrapy would from the response; one that
does not claims the host (``?`` and its worker id) and fetches it; the others wait
for the body, polling every ``GOVNEWS_HOST_LEASE_POLL``, and take the claim over
when the claiming worker's heartbeat has expired (it was killed). A fetch that
fails drops the claim: each worker then treats the host as Scrapy does (no
parser, everything allowed) and the next to ask fetches it again. The hash goes
with the run's other keys when the run ends, so every run reads robots.txt anew.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from govnews.crawl.frontier.scheduler import frontier_of
from govnews.crawl.robotstxt import RobotsTxtMiddleware

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

# KEYS: the run's robots hash; ARGV: origin, worker, the run's heartbeat key prefix.
# The body (``+…``) when stored; '' to wait while a live worker fetches it; else nil,
# and the origin is now claimed by this worker.
_CLAIM = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.sub(held, 1, 1) == '+' then return held end
if held and held ~= '?' .. ARGV[2]
   and redis.call('EXISTS', ARGV[3] .. string.sub(held, 2)) == 1 then return '' end
redis.call('HSET', KEYS[1], ARGV[1], '?' .. ARGV[2])
return false
"""


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """govnews's robots.txt middleware, with each host's robots.txt read once per run."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.frontier = frontier_of(crawler)
        self.poll = crawler.settings.getfloat("GOVNEWS_HOST_LEASE_POLL")
        self._claim = self.frontier.client.register_script(_CLAIM)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc not in self._parsers:
            self._parsers[netloc] = Deferred()  # this worker's other requests wait on it
            try:
                await self._settle(f"{url.scheme}://{netloc}", netloc, request)
            except BaseException as exc:  # Redis failing, the crawl closing: no parser yet
                waiting = self._parsers.pop(netloc, None)
                if isinstance(waiting, Deferred) and not waiting.called:
                    waiting.errback(Failure(exc))
                    waiting.addErrback(lambda _: None)
                raise
        return await super().robot_parser(request)

    async def _settle(self, origin: str, netloc: str, request: Request) -> None:
        """Give ``netloc`` its parser: from the run's hash, or fetched by this worker."""
        key = self.frontier.key("robots")
        alive = self.frontier.key("alive:")
        while (held := self._claim(keys=[key], args=[origin, self.frontier.worker, alive])) == b"":
            await sleep(self.poll)
        if held is not None:
            parser = build_from_crawler(self._parserimpl, self.crawler, held[1:])
            waiting = self._parsers[netloc]
            self._parsers[netloc] = parser
            assert isinstance(waiting, Deferred)
            waiting.callback(parser)
            self._stats.inc_value("robotstxt/shared")
            return
        fetch = Request(
            f"{origin}/robots.txt",
            priority=self.DOWNLOAD_PRIORITY,
            meta={"dont_obey_robotstxt": True},
            callback=NO_CALLBACK,
        )
        try:
            response = await self.crawler.engine.download_async(fetch)
        except Exception as exc:  # as Scrapy's middleware: logged, the host allowed
            self.frontier.client.hdel(key, origin)
            if not isinstance(exc, IgnoreRequest):
                logger.error("Error downloading %s: %s", fetch, exc)
            self._robots_error(exc, netloc)
        else:
            self.frontier.client.hset(key, origin, b"+" + response.body)
            await self._parse_robots(response, netloc, request)
        self._stats.inc_value("robotstxt/request_count")
