"""The Scrapy side of the mirror: a downloader middleware and an add-on.

With ``GOVNEWS_MIRROR=<dir>`` the crawl starts a :class:`~govnews.mirror.server.SnapshotServer`,
an HTTP forward proxy on 127.0.0.1, and :class:`MirrorMiddleware` routes every http(s)
request through it. Spiders keep their real URLs; Scrapy's downloader, retries, redirects,
robots.txt handling and encoding detection all run as they do against the network.
The snapshot layout is in :mod:`govnews.mirror.paths`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.httpobj import urlparse_cached

from govnews.mirror.server import SnapshotServer

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import Settings

logger = logging.getLogger(__name__)


class MirrorMiddleware:
    """Downloader middleware: routes every request through a SnapshotServer.

    Enabled by the GOVNEWS_MIRROR setting (the snapshot directory).

    Register it after HttpProxyMiddleware (750) so that no other middleware can
    point a request at a real proxy: ``{"govnews.mirror.addon.MirrorMiddleware": 950}``.
    """

    def __init__(self, server: SnapshotServer) -> None:
        self.server = server

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        root = crawler.settings.get("GOVNEWS_MIRROR")
        if not root:
            raise NotConfigured("GOVNEWS_MIRROR is not set")
        if not Path(root).is_dir():
            # Not NotConfigured: that would disable the mirror and crawl the live sites.
            raise ValueError(f"GOVNEWS_MIRROR={root!r} is not a directory")
        latency = crawler.settings.getfloat("GOVNEWS_MIRROR_LATENCY")
        middleware = cls(SnapshotServer(root, latency=latency))
        crawler.signals.connect(middleware.engine_started, signal=signals.engine_started)
        crawler.signals.connect(middleware.engine_stopped, signal=signals.engine_stopped)
        return middleware

    def engine_started(self) -> None:
        self.server.start()
        logger.info("Serving snapshot %s on %s", self.server.root, self.server.proxy_url)

    def engine_stopped(self) -> None:
        self.server.stop()

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Point http(s) requests at the mirror; refuse other schemes that reach the network."""
        scheme = urlparse_cached(request).scheme
        if scheme in ("http", "https"):
            request.meta["proxy"] = self.server.proxy_url
            request.headers.pop(b"Proxy-Authorization", None)  # meant for a real proxy
        elif scheme not in ("data", "file"):
            raise IgnoreRequest(f"GOVNEWS_MIRROR cannot serve {scheme}: URLs: {request.url}")


class MirrorAddon:
    """Scrapy add-on: a mirrored crawl runs at full speed.

    The snapshot server is on this machine, so the politeness settings meant for
    real sites (``DOWNLOAD_DELAY``, AutoThrottle, backing off before retries) only
    slow it down. They are turned off above the project's settings, but below
    ``-s`` on the command line.
    """

    def update_settings(self, settings: Settings) -> None:
        if settings.get("GOVNEWS_MIRROR"):
            settings.set("DOWNLOAD_DELAY", 0, priority="spider")
            settings.set("AUTOTHROTTLE_ENABLED", False, priority="spider")
            settings.set("GOVNEWS_RETRY_BACKOFF", 0, priority="spider")
