"""Paging that survives kill -9: a listing a killed run was paging is paged again, past it.

End to end, ``scrapy crawl`` in a subprocess over the mirror of the snapshot (or of a
copy changed here): a run is SIGKILLed (``tests/faults/killpoints.py``) right after the
articles of pages 1 and 2 of a listing are committed, page 3 held back so that it was
certainly never read. The next run must store page 3's articles (before the fix it
stopped at page 1, whose articles were all stored, and page 3 was lost for good), close
the killed run's row as ``killed``, and leave the articles a clean run stores; the run
after it stops at page 1 again. One case per spider: each pages in its own way, all
through one rule (``GovnewsSpider.any_new``, ``KnownArticles.any_new``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govnews.core.urls import url_key
from govnews.store.database import open_database, session_factory
from govnews.store.models import ArticleRow, ArticleUrl, CrawlRun, PageFailure, PagingWatermark
from govnews.store.repository import Repository
from tests.conftest import ROOT, SNAPSHOT, snapshot_file
from tests.faults.killpoints import armed

#: Seconds any one crawl may take (a kill point that never fires leaves a held request waiting).
TIMEOUT = 120

ZZ = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/"
FJ = "http://nynct.fujian.gov.cn/xxgk/gzdt/nyyw/"
NMG = "http://www.nmgfzw.cn/shgz/"
#: The only article of 农民工法治网's 社会关注 list page 3: in the snapshot also linked
#: from other articles' side bars, which the nmgfzw case's copy no longer does.
NMG_PAGE_3 = NMG + "20211108/21436.html"


@dataclass(frozen=True)
class Case:
    """A spider, a listing of at least three pages, and what a kill leaves of it."""

    spider: str
    args: tuple[str, ...]
    #: The stored articles of pages 1 and 2 (the kill comes once all are committed).
    pages_1_2: tuple[str, ...]
    #: Page 2's URL and page 3's (a pattern: held until the kill).
    page_2: str
    page_3: str
    #: The articles only page 3 lists.
    page_3_articles: tuple[str, ...]
    #: Links to these URLs are taken out of the snapshot's pages, but page 3's.
    unlinked: tuple[str, ...] = field(default=())


CASES = [
    Case(
        "zhangzhou",
        ("-a", "hosts=nyncj.zhangzhou.gov.cn"),
        tuple(
            ZZ + path
            for path in (
                "2022-11-03/2101213870.html",
                "2022-10-25/2101212604.html",
                "2022-10-12/2101211342.html",
                "2022-09-20/2101209055.html",
                "2022-09-06/2101207718.html",
                "2022-08-18/2101205076.html",
                "2022-07-22/2101203317.html",
                "2022-06-15/2101200982.html",
            )
        ),
        page_2=r"siteId=60434401&page=2$",
        page_3=r"siteId=60434401&page=3$",
        page_3_articles=(
            ZZ + "2022-04-08/2101196650.html",
            ZZ + "2022-03-02/2101193128.html",
            ZZ + "2021-12-20/1986549876.html",
        ),
    ),
    Case(
        "nmgfzw",
        # Declared originals are no paging: a kill loses those of the reposts it stored.
        ("-a", "follow_originals=false"),
        tuple(
            NMG + path
            for path in (
                "20220802/24731.html",
                "20220818/24915.html",
                "20220921/25102.html",
                "20220929/25147.html",
                "20221013/25196.html",
                "20221104/25301.html",
                "20220907/25031.html",
            )
        ),
        page_2=r"/shgz/list_12_2\.html$",
        page_3=r"/shgz/list_12_3\.html$",
        page_3_articles=(NMG_PAGE_3,),
        unlinked=(NMG_PAGE_3,),
    ),
    Case(
        "sites",
        ("-a", "name=fujian-nynct"),
        (
            FJ + "202211/t20221108_6051234.htm",
            FJ + "202210/t20221019_6032587.htm",
            FJ + "202209/t20220905_6002211.htm",
        ),
        page_2=r"/nyyw/index_1\.htm$",
        page_3=r"/nyyw/index_2\.htm$",
        page_3_articles=(FJ + "202208/t20220818_5977781.htm",),
    ),
]


def mirror_of(case: Case, tmp_path: Path) -> Path:
    """The snapshot, or a copy whose pages link ``case.unlinked`` only from page 3."""
    if not case.unlinked:
        return SNAPSHOT
    mirror = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, mirror)
    for page in mirror.rglob("*.htm*"):
        if re.search(case.page_3, "/" + page.relative_to(mirror).as_posix()):
            continue
        html = page.read_bytes()
        for url in case.unlinked:
            link = rb'href="(?:https?://[^/"]+)?/' + re.escape(url.split("/", 3)[3].encode()) + b'"'
            html = re.sub(link, b'href="#"', html)
        page.write_bytes(html)
    return mirror


def crawl(
    case: Case, database: Path, mirror: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """``scrapy crawl`` of the case's spider over ``mirror`` into ``database``; not checked."""
    command = [
        sys.executable, "-m", "scrapy", "crawl", case.spider, *case.args,
        "-s", f"GOVNEWS_MIRROR={mirror}", "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{database}",
        "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=DEBUG",
        *options,
    ]  # fmt: skip
    return subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def finished(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``done``, which must have exited 0."""
    assert done.returncode == 0, f"exited {done.returncode}:\n{done.stderr[-4000:]}"
    return done


def crawled(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The URLs a crawl's DEBUG log says were downloaded."""
    return re.findall(r"Crawled \(\d+\) <(?:GET|POST) ([^>]+)>", done.stderr)


@contextmanager
def opened(database: Path) -> Iterator[Session]:
    """A session on the SQLite file ``database``, its engine disposed after it."""
    engine = open_database(f"sqlite:///{database}")
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def stored_keys(database: Path) -> set[str]:
    """Every URL key an article of ``database`` is reached by."""
    with opened(database) as session:
        return set(session.scalars(select(ArticleUrl.url_key)))


def contents(database: Path) -> dict[str, object]:
    """What a database holds that a rerun must make equal to a clean run's.

    Each article's URL and content hash, and the open failures (URL, stage, reason).
    """
    with opened(database) as session:
        articles = dict(session.execute(select(ArticleRow.url_key, ArticleRow.fingerprint)).all())
        failures = session.execute(
            select(PageFailure.url_key, PageFailure.stage, PageFailure.reason).where(
                PageFailure.resolved_at.is_(None)
            )
        ).all()
    return {"articles": articles, "open failures": sorted(failures)}


def runs(database: Path) -> list[CrawlRun]:
    """The runs recorded in ``database``, oldest first."""
    with opened(database) as session:
        return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))


def kill_after_page_2(case: Case, database: Path, mirror: Path) -> None:
    """A run SIGKILLed just after pages 1 and 2's articles are committed, page 3 unread."""
    kill_at = "stored:" + " ".join(case.pages_1_2)
    done = crawl(
        case, database, mirror, "-s", "GOVNEWS_BATCH_SIZE=1", *armed(kill_at, hold=case.page_3)
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-4000:]
    assert "killpoints: SIGKILL at commit" in done.stderr
    assert not any(re.search(case.page_3, url) for url in crawled(done))
    stored = stored_keys(database)
    assert {url_key(url) for url in case.pages_1_2} <= stored
    assert not {url_key(url) for url in case.page_3_articles} & stored
    assert [run.status for run in runs(database)] == ["running"]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.spider)
def test_the_run_after_a_kill_pages_past_what_the_killed_run_stored(
    case: Case, tmp_path: Path
) -> None:
    mirror = mirror_of(case, tmp_path)
    clean = tmp_path / "clean.db"
    finished(crawl(case, clean, mirror))
    database = tmp_path / "killed.db"
    kill_after_page_2(case, database, mirror)

    rerun = finished(crawl(case, database, mirror))
    assert any(re.search(case.page_3, url) for url in crawled(rerun))
    assert {url_key(url) for url in case.page_3_articles} <= stored_keys(database)
    assert "'govnews/paged_past_unfinished'" in rerun.stderr
    killed, recovered = runs(database)
    assert killed.status == "killed" and killed.finished_at is not None
    assert killed.finish_reason == (
        f"killed: still running when run {recovered.id} started "
        "(its process ended without closing it)"
    )
    assert recovered.status == "finished"
    assert contents(database) == contents(clean)

    # The normal path: after a finished run, a page 1 with nothing new ends the paging.
    again = finished(crawl(case, database, mirror))
    assert not any(re.search(case.page_2, url) for url in crawled(again))
    assert "paged_past_unfinished" not in again.stderr
    assert [run.status for run in runs(database)] == ["killed", "finished", "finished"]


def test_a_listing_page_lost_after_a_kill_keeps_the_paging_going_when_it_answers(
    tmp_path: Path,
) -> None:
    """The killed run stored pages 1-2; the next run finished but page 2 answered 404.

    That run did not page the site to the end: its finish must not make the killed
    run's articles count as known to the paging, or page 2's retry stops there and
    page 3 is lost again.
    """
    case = CASES[0]
    database = tmp_path / "killed.db"
    kill_after_page_2(case, database, SNAPSHOT)
    broken = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, broken)
    page_2 = "http://nyncj.zhangzhou.gov.cn/cms/sitemanage/index.shtml?siteId=60434401&page=2"
    (broken / snapshot_file(page_2).relative_to(SNAPSHOT)).unlink()
    lost = crawl(case, database, broken)
    assert lost.returncode in (0, 2), lost.stderr[-4000:]  # finished, or degraded
    assert "Paging watermark kept for nyncj.zhangzhou.gov.cn" in lost.stderr
    with opened(database) as session:
        assert session.scalars(select(PagingWatermark)).all() == []

    finished(crawl(case, database, SNAPSHOT))
    assert {url_key(url) for url in case.page_3_articles} <= stored_keys(database)
    where = f"GOVNEWS_DATABASE_URL=sqlite:///{database}"
    summary = subprocess.run(
        [sys.executable, "-m", "scrapy", "summary", "-s", where],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert summary.returncode == 0, summary.stderr
    assert re.search(r"#1 zhangzhou\s+killed\b", summary.stdout)
    assert "still running when run 2 started" in summary.stdout


def test_runs_left_running_are_closed_as_killed_by_the_next(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'runs.db'}")
    with session_factory(engine)() as session:
        repository = Repository(session)
        dead = [repository.start_run("zhangzhou"), repository.start_run("sites")]
        done = repository.start_run("nmgfzw")
        repository.finish_run(done, status="finished", finish_reason="finished", counts={})
        current = repository.start_run("zhangzhou")
        assert repository.close_dead_runs(current) == dead
        assert [run.status for run in dead] == ["killed", "killed"]
        assert all(run.finished_at and run.finish_reason for run in dead)
        assert (done.status, current.status) == ("finished", "running")
        assert repository.close_dead_runs(current) == []
    engine.dispose()


def test_a_watermark_advances_per_spider_and_site(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'marks.db'}")
    with session_factory(engine)() as session:
        repository = Repository(session)
        run = repository.start_run("sites")
        repository.advance_paging_watermarks(run, ["a.gov.cn"])
        assert repository.paging_watermark("sites", "a.gov.cn") == 0  # no article yet
        assert repository.paging_watermark("sites", "b.gov.cn") is None
        assert repository.paging_watermark("zhangzhou", "a.gov.cn") is None
        later = repository.start_run("sites")
        session.add(
            ArticleRow(
                url="http://a.gov.cn/1.html", url_key="a.gov.cn/1.html", site="a.gov.cn",
                kind="gov", title="t", body_text="b", body_html="<p>b</p>", images=[],
                attachments=[], provenance={}, fingerprint="0" * 64,
                fetched_at=run.started_at,
            )
        )  # fmt: skip
        session.flush()
        repository.advance_paging_watermarks(later, ["a.gov.cn", "b.gov.cn"])
        marks = session.scalars(select(PagingWatermark).order_by(PagingWatermark.site)).all()
        assert [(m.site, m.run_id, m.last_article_id) for m in marks] == [
            ("a.gov.cn", later.id, 1),
            ("b.gov.cn", later.id, 1),
        ]
    engine.dispose()
