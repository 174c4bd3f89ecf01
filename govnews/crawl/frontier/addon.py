"""The add-on that puts a crawl on the shared frontier when ``GOVNEWS_REDIS_URL`` is set.

It imports the frontier (scrapy-redis, redis-py: the ``distributed`` extra) only then,
so that a crawl without Redis needs neither.
"""

from __future__ import annotations

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
    mirror) and ``JoinedStartMiddleware`` (outermost, so that a joining worker reads no
    start request at all). Without the setting it changes nothing.
    """

    def update_settings(self, settings: Settings) -> None:
        if not settings.get("GOVNEWS_REDIS_URL"):
            return
        try:
            from govnews.crawl.frontier.politeness import SharedPolitenessMiddleware
            from govnews.crawl.frontier.registry import Frontier
            from govnews.crawl.frontier.scheduler import (
                FrontierDupeFilter,
                FrontierScheduler,
                JoinedStartMiddleware,
            )
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
