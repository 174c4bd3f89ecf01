"""robots.txt fetched once per host for the whole run, not once per worker.

Scrapy keeps a host's robots.txt parser in its process: each worker joining a run
would fetch every host's robots.txt again, and wait one round trip for it before
its first request there. On the scale-out benchmark (4 workers, 1 s of latency)
that put a second to two on the paging chain of the largest column, the run's
critical path. :class:`SharedRobotsTxtMiddleware` keeps the bodies in the run's
hash ``R:robots`` (host → ``+`` and the body): a worker that finds a host's
body there builds its parser from it, as Scrapy would from the response; one that
does not claims the host (``?`` and its worker id) and fetches it; the others wait
for the body, polling every ``GOVNEWS_HOST_LEASE_POLL``, and take the claim over
when the claiming worker's heartbeat has expired (it was killed). A fetch that
fails drops the claim: each worker then treats the host as Scrapy does (no
parser, everything allowed) and the next to ask fetches it again. The hash goes
with the run's other keys when the run ends, so every run reads robots.txt anew.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from govnews.crawl.frontier.scheduler import frontier_of
from govnews.crawl.robotstxt import RobotsTxtMiddleware

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser

# KEYS: the run's robots hash; ARGV: host (netloc), worker, the run's heartbeat key prefix.
# The body (``+…``) when stored; '' to wait while a live worker fetches it; else nil,
# and the host is now claimed by this worker.
_CLAIM = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.sub(held, 1, 1) == '+' then return held end
if held and held ~= '?' .. ARGV[2]
   and redis.call('EXISTS', ARGV[3] .. string.sub(held, 2)) == 1 then return '' end
redis.call('HSET', KEYS[1], ARGV[1], '?' .. ARGV[2])
return false
"""


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """govnews's robots.txt middleware, with each host's robots.txt read once per run.

    Only the claim is new: the fetch, the parsing and the error handling stay
    Scrapy's, and the body is shared when Scrapy parses it.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.frontier = frontier_of(crawler)
        self.poll = crawler.settings.getfloat("GOVNEWS_HOST_LEASE_POLL")
        self._claim = self.frontier.client.register_script(_CLAIM)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        if netloc in self._parsers:
            return await super().robot_parser(request)
        waiting: Deferred[RobotParser | None] = Deferred()
        self._parsers[netloc] = waiting  # this worker's other requests wait on it
        try:
            body = await self._claimed(netloc)
            if body is None:  # this worker's to fetch: Scrapy's own path
                del self._parsers[netloc]
                parser = await super().robot_parser(request)
            else:
                parser = build_from_crawler(self._parserimpl, self.crawler, body)
                self._parsers[netloc] = parser
                self._stats.inc_value("robotstxt/shared")
        except BaseException as exc:  # Redis failing, the crawl closing: no parser yet
            if self._parsers.get(netloc) is waiting:
                del self._parsers[netloc]
            waiting.errback(Failure(exc))
            waiting.addErrback(lambda _: None)
            raise
        waiting.callback(parser)
        return parser

    async def _claimed(self, netloc: str) -> bytes | None:
        """The host's robots.txt body from the run, or None once this worker claimed it."""
        key, alive = self.frontier.key("robots"), self.frontier.key("alive:")
        while (held := self._claim(keys=[key], args=[netloc, self.frontier.worker, alive])) == b"":
            await sleep(self.poll)
        return held[1:] if held is not None else None

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        self.frontier.client.hset(self.frontier.key("robots"), netloc, b"+" + response.body)
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        self.frontier.client.hdel(self.frontier.key("robots"), netloc)  # the next to ask fetches
        super()._robots_error(exc, netloc)
