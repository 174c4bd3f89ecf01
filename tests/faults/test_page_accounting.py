"""Every requested page accounted for: stored, failed (with a stage), skipped or a listing.

End to end, ``scrapy crawl`` in a subprocess on the mirror of a snapshot written here
(real HTTP on 127.0.0.1, redirects from sidecar files), and ``scrapy crawlall`` on the
bundled snapshot: what Scrapy drops without an errback (a redirect loop, a redirect to
a page already requested, a redirect offsite) is recorded or counted, and the run's
``govnews/pages/*`` stats add up.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from scrapy import Request, Spider, signals
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from govnews.crawl.accounting import PageAccounting
from govnews.crawl.health import PageCounts
from govnews.mirror.paths import sidecar_path, snapshot_path
from govnews.store.models import ArticleRow, PageFailure
from tests.conftest import ROOT, SEED_ORIGINAL, SNAPSHOT, snapshot_file

Crawl = Callable[..., subprocess.CompletedProcess[str]]

SITE = "http://www.a.gov.cn"
ARTICLE = snapshot_file(SEED_ORIGINAL).read_bytes()
LOOP, LOOP_BACK = f"{SITE}/art/1.html", f"{SITE}/art/2.html"
CHAIN = f"{SITE}/art/3.html"
OFFSITE = f"{SITE}/art/4.html"
PLAIN = f"{SITE}/art/5.html"
TO_PLAIN = f"{SITE}/art/6.html"
#: Scrapy's REDIRECT_MAX_TIMES (20): the chain from CHAIN gives up at its 20th hop.
HOPS = [f"{SITE}/hop/{n}.html" for n in range(1, 31)]
CHAIN_END = f"{SITE}/hop/end.html"
PAGES = ("requested", "stored", "failed", "skipped", "listings")


def write(root: Path, url: str, body: bytes | None, location: str | None = None) -> None:
    """The snapshot's answer to ``url``: a body, or a 302 to ``location``."""
    path = snapshot_path(root, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    if body is not None:
        path.write_bytes(body)
    if location is not None:
        sidecar_path(path).write_text(f"HTTP/1.1 302 Found\nLocation: {location}\n")


def home(root: Path, *urls: str) -> None:
    links = "".join(f'<a href="{url}">{n}</a>' for n, url in enumerate(urls))
    write(root, f"{SITE}/", f"<html><body>{links}</body></html>".encode())


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A site whose home page links a loop, a long chain, an offsite redirect, an article
    and a redirect to that article."""
    root = tmp_path / "snapshot"
    home(root, LOOP, CHAIN, OFFSITE, PLAIN, TO_PLAIN)
    write(root, LOOP, None, LOOP_BACK)
    write(root, LOOP_BACK, None, LOOP)
    for url, following in zip([CHAIN, *HOPS], [*HOPS, CHAIN_END], strict=True):
        write(root, url, None, following)
    write(root, CHAIN_END, ARTICLE)
    write(root, OFFSITE, None, "http://www.elsewhere.cn/art/4.html")
    write(root, "http://www.elsewhere.cn/art/4.html", ARTICLE)
    write(root, PLAIN, ARTICLE)
    write(root, TO_PLAIN, None, PLAIN)
    return root


def pages(log: str) -> list[dict[str, int]]:
    """The ``govnews/pages/*`` stats of each run in a crawl's log, in order."""
    found = {
        name: [int(n) for n in re.findall(rf"'govnews/pages/{name}': (\d+)", log)] for name in PAGES
    }
    counts = [dict(zip(found, values, strict=True)) for values in zip(*found.values(), strict=True)]
    assert counts, "no govnews/pages stats in the log"
    return counts


def stat(log: str, name: str) -> int | None:
    found = re.search(rf"'{re.escape(name)}': (\d+)", log)
    return int(found.group(1)) if found else None


def failures(engine: Engine) -> dict[str, PageFailure]:
    with Session(engine) as session:
        return {row.url: row for row in session.scalars(select(PageFailure))}


def stored(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(ArticleRow.url)))


def test_redirect_loops_long_chains_and_offsite_redirects_are_accounted_for(
    snapshot: Path, tmp_path: Path, crawl: Crawl, crawl_engine: Engine
) -> None:
    sites = tmp_path / "sites.toml"
    sites.write_text(
        '[[sites]]\nname = "a"\nkind = "gov"\nstart_urls = ["http://www.a.gov.cn/"]\n'
        "allowed_hosts = [\"www.a.gov.cn\"]\narticle = ['/art/\\d+\\.html$']\n",
        encoding="utf-8",
    )
    options = [
        "-s", f"GOVNEWS_MIRROR={snapshot}",
        "-s", f"GOVNEWS_SITES={sites}",
        "-s", "GOVNEWS_EXTRACT_WORKERS=0",
        "-s", "GOVNEWS_MAX_FAILURE_SHARE=1",
    ]  # fmt: skip
    first = crawl("sites", *options)

    # Home (a listing), the article, the loop and the chain (failed), the offsite redirect
    # and the redirect to the article requested already (skipped): six pages, all ended.
    assert pages(first.stderr) == [
        {"requested": 6, "stored": 1, "failed": 2, "skipped": 2, "listings": 1}
    ]
    assert stat(first.stderr, "govnews/pages/skipped/offsite") == 1
    assert stat(first.stderr, "govnews/pages/skipped/duplicate") == 1
    assert "govnews/pages/unaccounted" not in first.stderr
    failed = failures(crawl_engine)
    assert set(failed) == {LOOP, HOPS[19]}  # the chain's errback records its last hop
    assert (failed[LOOP].stage, failed[LOOP].callback) == ("redirect", "parse_article")
    assert failed[LOOP].reason == f"redirect loop: {LOOP} → {LOOP_BACK} → {LOOP}"
    assert failed[HOPS[19]].stage == "redirect"
    assert failed[HOPS[19]].reason.startswith(f"more than 20 redirects from {CHAIN} ")
    assert stored(crawl_engine) == {PLAIN}

    # The loop is mended and no listing shows it any more: the recorded failures alone
    # bring both pages back, and both are stored.
    home(snapshot, CHAIN, OFFSITE, PLAIN, TO_PLAIN)
    sidecar_path(snapshot_path(snapshot, LOOP)).unlink()
    write(snapshot, LOOP, ARTICLE)
    second = crawl("sites", *options)
    assert stored(crawl_engine) == {PLAIN, LOOP, CHAIN_END}
    assert all(row.resolved_at is not None for row in failures(crawl_engine).values())
    # Home; the two retries (stored); the chain again, which meets the retry of its 20th
    # hop (a duplicate), the offsite redirect (skipped) and the redirect to the article,
    # stored now through it (the article itself is not requested again: it is stored).
    assert pages(second.stderr) == [
        {"requested": 6, "stored": 3, "failed": 0, "skipped": 2, "listings": 1}
    ]


def test_every_page_of_the_bundled_snapshot_is_accounted_for(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "scrapy", "crawlall", "nmgfzw", "sites", "zhangzhou",
        "-s", f"GOVNEWS_MIRROR={SNAPSHOT}",
        "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{tmp_path / 'govnews.db'}",
        "-s", "FEEDS={}",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = pages(done.stderr)
    assert len(runs) == 3  # nmgfzw, sites, zhangzhou
    for counted in runs:
        assert counted["requested"] == sum(counted[name] for name in PAGES[1:]), counted
    # The snapshot's two failures on purpose; 20 + 21 + 13 articles, two of them twice
    # (nmgfzw fetches the Zhangzhou originals its reposts declare).
    assert sum(counted["failed"] for counted in runs) == 2
    assert "govnews/pages/unaccounted" not in done.stderr


def test_a_page_that_never_ends_is_counted_and_named(caplog: pytest.LogCaptureFixture) -> None:
    """What the extension makes of Scrapy's signals: a page answered 2xx with nothing else is
    a listing, one whose download failed a failure (its errback's), one with an article
    stored; one the crawl asked for and never heard of again is unaccounted, and named."""
    crawler = get_crawler(Spider, {"EXTENSIONS": {PageAccounting: 0}})
    accounting = crawler.get_extension(PageAccounting)
    assert accounting is not None
    accounting.__dict__["offsite"] = None  # no engine here, so no offsite filter to ask
    spider = Spider("a")
    send = crawler.signals.send_catch_log
    listing, broken, article, lost = (Request(f"{SITE}/{n}.html") for n in range(4))
    for request in (listing, broken, article, lost):
        send(signals.request_scheduled, request=request, spider=spider)
    answers = {
        request: HtmlResponse(request.url, request=request) for request in (listing, article)
    }
    for request, response in answers.items():
        send(signals.response_received, response=response, request=request, spider=spider)
    send(signals.item_scraped, item={}, response=answers[article], spider=spider)
    send(signals.request_left_downloader, request=broken, spider=spider)
    with caplog.at_level(logging.WARNING, logger="govnews.crawl.accounting"):
        send(signals.spider_closed, spider=spider, reason="finished")
    assert PageCounts.total(accounting.tally().values()) == PageCounts(
        requested=4, stored=1, failed=1, listings=1
    )
    assert crawler.stats is not None
    assert crawler.stats.get_value("govnews/pages/unaccounted") == 1
    assert "1 of 4 requested pages not accounted for" in caplog.text
    assert lost.url in caplog.text
