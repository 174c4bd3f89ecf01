"""robots.txt obeyed for every request, including those queued while robots.txt downloads.

Scrapy 2.13–2.19's ``RobotsTxtMiddleware`` lets the third and later requests to a
host through unchecked when they arrive while its robots.txt is still being
downloaded: they all wait on one Deferred, and only the first waiters receive the
parser. This subclass asks again for the parser once the wait is over.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxt
from scrapy.robotstxt import RobotParser
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class RobotsTxtMiddleware(ScrapyRobotsTxt):
    """Scrapy's robots.txt middleware, with every waiter given the host's parser."""

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser = await super().robot_parser(request)
        if parser is None:
            settled = self._parsers.get(urlparse_cached(request).netloc)
            if not isinstance(settled, Deferred):
                return settled
        return parser
