"""The scale-out benchmark's timeline: when each worker started, fetched, idled and closed.

A Scrapy settings module (govnews's settings plus :class:`Timeline`), picked with
``SCRAPY_SETTINGS_MODULE=benchmarks.crawl.timeline`` by ``benchmarks/crawl/scaleout.py``
for its workers; ``-s EXTENSIONS=…`` would replace govnews's extensions instead of
adding one. The extension writes, when the engine stops, one JSON file
(``BENCHMARK_TIMELINE``) of wall-clock times (``time.time()``, the same clock for every
process of the machine): settings loaded (imports done), engine started, each response
(its arrival, its ``download_latency``, and its URL if a list page), each
``spider_idle``, spider closed, engine stopped. Benchmark use only: a timeline, unlike
a duration, shows where a run waits, whatever else the machine is doing.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from govnews.settings import *  # noqa: F403

LOADED = time.time()
EXTENSIONS = {**EXTENSIONS, "benchmarks.crawl.timeline.Timeline": 900}  # noqa: F405
#: A page of a column's list (not an article, not the home page, not robots.txt).
LIST_PAGE = re.compile(r"/index\.html$|/index\.shtml\?")


class Timeline:
    """Extension: records the worker's events and writes them to ``BENCHMARK_TIMELINE``."""

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path
        self.events: dict[str, Any] = {"loaded": LOADED, "built": time.time()}
        self.responses: list[tuple[float, float, str]] = []
        self.idle: list[float] = []
        for handler, signal in [
            (self.engine_started, signals.engine_started),
            (self.spider_opened, signals.spider_opened),
            (self.response_received, signals.response_received),
            (self.spider_idle, signals.spider_idle),
            (self.spider_closed, signals.spider_closed),
            (self.engine_stopped, signals.engine_stopped),
        ]:
            crawler.signals.connect(handler, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        path = crawler.settings.get("BENCHMARK_TIMELINE")
        if not path:
            raise NotConfigured("BENCHMARK_TIMELINE is not set")
        return cls(crawler, Path(path))

    def engine_started(self) -> None:
        self.events["engine_started"] = time.time()

    def spider_opened(self, spider: Spider) -> None:
        self.events["spider_opened"] = time.time()

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        latency = float(request.meta.get("download_latency", 0.0))
        listing = request.url if LIST_PAGE.search(request.url) else ""
        self.responses.append((time.time(), latency, listing))

    def spider_idle(self, spider: Spider) -> None:
        self.idle.append(time.time())

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self.events["spider_closed"] = time.time()

    def engine_stopped(self) -> None:
        self.events["engine_stopped"] = time.time()
        self.events["responses"] = self.responses
        self.events["idle"] = self.idle
        self.path.write_text(json.dumps(self.events), encoding="utf-8")
