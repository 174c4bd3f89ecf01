"""Extraction in worker processes, so that reading a page does not hold up the crawl.

Extraction (:func:`govnews.extract.extract_article`) is CPU work. Run in the
crawl's process, it runs in Scrapy's event loop, where no request goes out and
no response comes in while a page is read. With ``GOVNEWS_EXTRACT_WORKERS = N``
(N > 0) the spiders hand their pages to N worker processes (``python -m
govnews.extract.worker``, fed through pipes) and await the records: the crawl keeps
downloading, and extraction runs on another core.

A worker that dies on a page, or reads one page for longer than
``GOVNEWS_EXTRACT_TIMEOUT`` seconds, is replaced. That page is a failure with
the reason (retried by the next run); the pages queued behind it go to the
next worker.

The pool is a Scrapy extension (``EXTENSIONS``); spiders reach it with
``crawler.get_extension(ExtractionPool)``, which is None when
``GOVNEWS_EXTRACT_WORKERS`` is 0 or the crawl has no asyncio loop: then they
extract in the crawl's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import sys
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import is_asyncio_available

from govnews.extract import ExtractionError
from govnews.extract.worker import HEADER, READY, frame
from govnews.items import Article

logger = logging.getLogger(__name__)


class WorkerError(ExtractionError):
    """The worker reading the page died or took too long; the page is recorded as a failure."""


class _Requeue(Exception):
    """The worker went away before it started this page: give it to another."""


class ExtractionPool:
    """A crawl's extraction worker processes, started on first use, stopped with the spider."""

    def __init__(self, size: int, timeout: float) -> None:
        if size < 1:
            raise ValueError(f"GOVNEWS_EXTRACT_WORKERS must be at least 1 here, not {size}")
        self.size = size
        #: Seconds one page may take (0 or less: no limit), for the workers started from now.
        self.timeout = timeout
        self._workers: list[_Worker] = []
        self._starting = asyncio.Lock()
        self._numbers = itertools.count()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """The crawl's pool; not configured when ``GOVNEWS_EXTRACT_WORKERS`` is 0."""
        size = crawler.settings.getint("GOVNEWS_EXTRACT_WORKERS")
        if size <= 0:
            raise NotConfigured("GOVNEWS_EXTRACT_WORKERS is 0: extracting in the crawl's process")
        if not _asyncio_available():
            logger.warning("GOVNEWS_EXTRACT_WORKERS needs the asyncio reactor: extracting here")
            raise NotConfigured("no asyncio reactor")
        workers = cls(size, crawler.settings.getfloat("GOVNEWS_EXTRACT_TIMEOUT"))
        crawler.signals.connect(workers.close, signal=signals.spider_closed)
        return workers

    async def extract(self, body: bytes, url: str, **kwargs: Any) -> Article:
        """:func:`extract_article` of the page, in a worker; raises what it raises."""
        while True:
            worker = await self._least_busy()
            try:
                return await worker.run(next(self._numbers), (body, url), kwargs)
            except _Requeue:
                continue

    async def _least_busy(self) -> _Worker:
        """The worker with the fewest pages pending, once dead ones are replaced."""
        async with self._starting:
            self._workers = [worker for worker in self._workers if worker.alive]
            while len(self._workers) < self.size:
                self._workers.append(await _Worker.start(self.timeout))
        return min(self._workers, key=lambda worker: len(worker.pending))

    async def close(self) -> None:
        """Let every worker finish and exit (killed after 5 s)."""
        workers, self._workers = self._workers, []
        await asyncio.gather(*(worker.close() for worker in workers))


class _Worker:
    """One worker process and the pages sent to it, answered in the order sent."""

    def __init__(self, process: asyncio.subprocess.Process, timeout: float) -> None:
        self.process = process
        self.timeout = timeout
        self.pending: dict[int, asyncio.Future[Article]] = {}
        self.alive = True
        #: Started: pages are timed from now on, not while Python and govnews load.
        self.ready = False
        self._overdue: asyncio.TimerHandle | None = None
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, timeout: float) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "govnews.extract.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # govnews is found where the crawl found it, from whatever directory it runs in
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, sys.path))},
        )
        logger.info("Started extraction worker %s", process.pid)
        return cls(process, timeout)

    async def run(self, number: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Article:
        if not self.alive:
            raise _Requeue
        assert self.process.stdin is not None
        future: asyncio.Future[Article] = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        if len(self.pending) == 1:
            self._arm()
        self.process.stdin.write(frame((number, args, kwargs)))
        with contextlib.suppress(ConnectionError):  # the worker died: _read() settles it
            await self.process.stdin.drain()
        return await future

    def _arm(self) -> None:
        """Time the page the worker reads now: the first one pending."""
        if self._overdue is not None:
            self._overdue.cancel()
            self._overdue = None
        if self.ready and self.pending and self.timeout > 0:
            head = next(iter(self.pending))
            loop = asyncio.get_running_loop()
            self._overdue = loop.call_later(self.timeout, self._give_up, head)

    def _give_up(self, number: int) -> None:
        if self.alive and next(iter(self.pending), None) == number:
            reason = f"extraction took more than {self.timeout:g} s; its worker was stopped"
            self._end(WorkerError(reason))
            self.process.kill()

    async def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            while True:
                header = await self.process.stdout.readexactly(HEADER.size)
                (size,) = HEADER.unpack(header)
                number, ok, value = pickle.loads(await self.process.stdout.readexactly(size))
                if (number, ok, value) == READY:
                    self.ready = True
                    self._arm()
                    continue
                future = self.pending.pop(number, None)
                if future is not None and not future.done():
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
                self._arm()
        except (asyncio.IncompleteReadError, ConnectionError):
            code = await self.process.wait()
            self._end(WorkerError(f"the extraction worker died (exit code {code})"))

    def _end(self, error: WorkerError) -> None:
        """The worker is gone: the page it was reading fails, the others go elsewhere."""
        self.alive = False
        if self._overdue is not None:
            self._overdue.cancel()
        for index, future in enumerate(self.pending.values()):
            if not future.done():
                future.set_exception(error if index == 0 else _Requeue())
        self.pending.clear()

    async def close(self) -> None:
        self.alive = False
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self._reader


def _asyncio_available() -> bool:
    """Whether the crawl runs on asyncio, asked when extensions are built.

    A crawl installs its reactor (or runs in an asyncio loop) before that; a crawler
    built outside any (settings checked in a test) has neither, and extracts in-process.
    """
    try:
        return is_asyncio_available()
    except RuntimeError:
        return False
