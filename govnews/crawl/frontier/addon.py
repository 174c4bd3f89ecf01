"""The add-on that puts a crawl on the shared frontier when ``GOVNEWS_REDIS_URL`` is set.

It imports the frontier (scrapy-redis, redis-py: the ``distributed`` extra) only then,
so that a crawl without Redis needs neither.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

from govnews.core.errors import ConfigError

if TYPE_CHECKING:
    from scrapy.settings import Settings


class FrontierAddon:
    """Scrapy add-on: with ``GOVNEWS_REDIS_URL``, every crawl is a worker of its spider's run.

    Sets the scheduler and duplicate filter (``FrontierScheduler``,
    ``FrontierDupeFilter``), the ``Frontier`` extension, the shared per-host
    concurrency and delay (``SharedPolitenessMiddleware``, after the retry backoff, and
    after the HTTP cache so that a cached answer takes no lease or turn; before the
    mirror), ``JoinedStartMiddleware`` (outermost, so that a joining worker reads no
    start request at all) and, in place of the project's robots.txt middleware,
    ``SharedRobotsTxtMiddleware`` (each host's robots.txt read once a run). Without
    the setting it changes nothing.
    """

    def update_settings(self, settings: Settings) -> None:
        if not settings.get("GOVNEWS_REDIS_URL"):
            return
        try:
            from govnews.crawl.frontier.politeness import SharedPolitenessMiddleware
            from govnews.crawl.frontier.registry import Frontier
            from govnews.crawl.frontier.robotstxt import SharedRobotsTxtMiddleware
            from govnews.crawl.frontier.scheduler import (
                FrontierDupeFilter,
                FrontierScheduler,
                JoinedStartMiddleware,
            )
            from govnews.crawl.robotstxt import RobotsTxtMiddleware
        except ImportError as exc:
            raise ConfigError(
                f"GOVNEWS_REDIS_URL needs the distributed extra "
                f"(pip install -e '.[distributed]'): {exc}"
            ) from None
        settings.set("SCHEDULER", FrontierScheduler, priority="addon")
        settings.set("DUPEFILTER_CLASS", FrontierDupeFilter, priority="addon")
        settings.set_in_component_priority_dict("EXTENSIONS", Frontier, 540)
        settings.set_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", SharedPolitenessMiddleware, 905
        )
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", JoinedStartMiddleware, 10)
        with suppress(KeyError):  # not there: robots.txt left as the project set it
            settings.replace_in_component_priority_dict(
                "DOWNLOADER_MIDDLEWARES", RobotsTxtMiddleware, SharedRobotsTxtMiddleware
            )
