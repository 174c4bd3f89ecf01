"""End to end: `scrapy crawl` in a subprocess, over HTTP on 127.0.0.1, into a temporary database."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from govnews.core.urls import url_key
from govnews.store.database import open_database
from govnews.store.models import ArticleRow, ArticleUrl, CrawlRun, PageFailure, Repost
from tests.conftest import (
    ROOT,
    SEED_ORIGINAL,
    SEED_REPOST,
    SNAPSHOT,
    assert_stored_as,
    expected_records,
    snapshot_file,
)

UNLISTED_ORIGINAL = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2021-11-05/1986541203.html"
Crawl = Callable[..., object]


def article(session: Session, url: str) -> ArticleRow | None:
    return session.scalar(select(ArticleRow).where(ArticleRow.url_key == url_key(url)))


def link_of(session: Session, repost_url: str) -> Repost | None:
    repost = article(session, repost_url)
    assert repost is not None, f"{repost_url} not stored"
    return session.scalar(select(Repost).where(Repost.repost_id == repost.id))


def row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (ArticleRow, ArticleUrl, Repost)
        }


def assert_seed_linked(engine: Engine) -> None:
    with Session(engine) as session:
        link = link_of(session, SEED_REPOST)
        original = article(session, SEED_ORIGINAL)
        assert original is not None and original.kind == "gov"
        assert link is not None and link.original_id == original.id
        assert link.method == "declared_url" and link.confidence == 1.0


def test_portal_first_then_government(crawl: Crawl, crawl_engine: Engine) -> None:
    crawl("nmgfzw", "-a", "follow_originals=false")
    with Session(crawl_engine) as session:
        link = link_of(session, SEED_REPOST)
        assert link is not None and link.original_id is None  # pending: original not stored yet
        assert link.declared_url == SEED_ORIGINAL
    crawl("zhangzhou")
    assert_seed_linked(crawl_engine)


def test_government_first_then_portal(crawl: Crawl, crawl_engine: Engine) -> None:
    crawl("zhangzhou")
    with Session(crawl_engine) as session:
        assert article(session, SEED_ORIGINAL) is not None
        assert article(session, UNLISTED_ORIGINAL) is None  # on no listing
    crawl("nmgfzw")
    assert_seed_linked(crawl_engine)


def test_repost_brings_its_unlisted_original(
    crawl: Crawl, crawl_engine: Engine, tmp_path: Path
) -> None:
    feed = tmp_path / "articles.jsonl"
    crawl("nmgfzw", "-O", str(feed))
    records = {record["url"]: record for record in map(json.loads, feed.read_text().splitlines())}
    assert records[UNLISTED_ORIGINAL]["kind"] == "gov"
    assert records[SEED_REPOST]["published_at"] == "2022-08-18T00:00:00+08:00"
    assert records[SEED_REPOST]["declared_original_url"] == SEED_ORIGINAL
    with Session(crawl_engine) as session:
        original = article(session, UNLISTED_ORIGINAL)
        assert original is not None and original.kind == "gov"
        assert original.site == "nyncj.zhangzhou.gov.cn"
    assert_seed_linked(crawl_engine)


def crawled_urls(log: str) -> set[str]:
    """The URLs a crawl's DEBUG log says were downloaded."""
    return {url_key(url) for url in re.findall(r"Crawled \(\d+\) <GET ([^>]+)>", log)}


def test_second_crawl_fetches_no_known_article(crawl: Crawl, crawl_engine: Engine) -> None:
    crawl("zhangzhou")
    crawl("nmgfzw")
    first = row_counts(crawl_engine)
    with Session(crawl_engine) as session:
        stored = set(session.scalars(select(ArticleUrl.url_key)))
    again = [crawl(name, "-s", "LOG_LEVEL=DEBUG") for name in ("zhangzhou", "nmgfzw")]
    assert row_counts(crawl_engine) == first
    fetched = set().union(*(crawled_urls(done.stderr) for done in again))
    assert fetched and not fetched & stored  # listings only, no stored article
    assert all("'govnews/skipped_known'" in done.stderr for done in again)
    with Session(crawl_engine) as session:
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
        assert [run.spider for run in runs] == ["zhangzhou", "nmgfzw"] * 2
        assert all(run.status == "finished" and run.finished_at for run in runs)
        assert runs[0].items_new > 0 and runs[2].items_new == runs[2].items_unchanged == 0
        assert runs[2].requests < runs[0].requests / 2
        assert runs[3].requests < runs[1].requests / 2
    # A refresh fetches every article again and finds them unchanged.
    crawl("zhangzhou", "-s", "GOVNEWS_REFRESH=True")
    with Session(crawl_engine) as session:
        last = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert last is not None and last.items_unchanged == runs[0].items_new


def test_every_snapshot_article_stored_and_every_declared_original_linked(
    crawl: Crawl, crawl_engine: Engine
) -> None:
    crawl("zhangzhou")
    crawl("nmgfzw")
    expected = expected_records()
    with Session(crawl_engine) as session:
        for record in expected:
            row = article(session, record["url"])
            assert_stored_as(row, record)
        for record in expected:
            if record["declared_original_url"]:
                link = link_of(session, record["url"])
                assert link is not None and link.original_id is not None, record["url"]
                assert link.method == "declared_url"
        stored_urls = set(session.scalars(select(ArticleRow.url_key)))
        assert stored_urls == {url_key(record["url"]) for record in expected}


def test_failed_pages_are_recorded_and_retried(crawl: Crawl, crawl_engine: Engine) -> None:
    crawl("nmgfzw")
    with Session(crawl_engine) as session:
        failures = session.scalars(select(PageFailure)).all()
        by_stage = {failure.stage for failure in failures}
        assert "http" in by_stage  # the dead link on a listing: a 404
        assert "extract" in by_stage  # the soft-404 page
        assert all(failure.reason and failure.resolved_at is None for failure in failures)
        attempts = {failure.url: failure.attempts for failure in failures}
    done = crawl("nmgfzw")
    with Session(crawl_engine) as session:
        again = {f.url: f.attempts for f in session.scalars(select(PageFailure))}
    assert again == {url: count + 1 for url, count in attempts.items()}
    assert "Failed" in done.stderr


def test_scrapy_list_shows_the_spiders() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=ROOT, capture_output=True, text=True
    )
    assert {"nmgfzw", "zhangzhou"} <= set(listed.stdout.split())


def test_changed_page_updates_its_row(crawl: Crawl, crawl_engine: Engine, tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, snapshot)
    crawl("zhangzhou", "-s", f"GOVNEWS_MIRROR={snapshot}")
    with Session(crawl_engine) as session:
        before = article(session, SEED_ORIGINAL)
        assert before is not None
        fingerprint, row_id = before.fingerprint, before.id
    page = snapshot_file(SEED_ORIGINAL).relative_to(SNAPSHOT)
    html = (snapshot / page).read_text(encoding="utf-8")
    (snapshot / page).write_text(
        html.replace("作表态发言。", "作表态发言。会议要求抓好落实。"), "utf-8"
    )
    crawl("zhangzhou", "-s", f"GOVNEWS_MIRROR={snapshot}", "-s", "GOVNEWS_REFRESH=True")
    with Session(crawl_engine) as session:
        after = article(session, SEED_ORIGINAL)
        assert after is not None and after.id == row_id
        assert after.fingerprint != fingerprint
        assert after.body_text.endswith("会议要求抓好落实。")
        last_run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert last_run.items_updated == 1 and last_run.items_new == 0


def test_unusable_database_stops_the_crawl_before_any_request(crawl: Crawl) -> None:
    done = crawl("zhangzhou", "-s", "GOVNEWS_DATABASE_URL=nosuch://db", check=False)
    assert done.returncode != 0
    assert "nosuch" in done.stderr
    assert "downloader/request_count" not in done.stderr  # nothing was fetched


def test_a_listing_that_failed_is_closed_once_it_answers(
    crawl: Crawl, crawl_engine: Engine, tmp_path: Path
) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, snapshot)
    columns = [
        f"http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/{name}/index.html"
        for name in ("gzdt", "tzgg")
    ]
    sidecars = [snapshot / f"{snapshot_file(url).relative_to(SNAPSHOT)}.http" for url in columns]
    for sidecar in sidecars:
        sidecar.write_text("HTTP/1.1 503 Service Unavailable\r\n", encoding="ascii")
    mirror = f"GOVNEWS_MIRROR={snapshot}"

    def failures() -> dict[str, PageFailure]:
        with Session(crawl_engine) as session:
            return {f.url: f for f in session.scalars(select(PageFailure))}

    crawl("zhangzhou", "-s", mirror)
    first = failures()
    for url in columns:
        assert first[url].stage == "http" and first[url].callback == "parse_column"
        assert first[url].resolved_at is None
    sidecars[0].unlink()  # the first column answers again, the second still fails
    done = crawl("zhangzhou", "-s", mirror)
    second = failures()
    assert second[columns[0]].resolved_at is not None
    assert second[columns[1]].resolved_at is None
    assert second[columns[1]].attempts == first[columns[1]].attempts + 1
    assert "'govnews/failures_resolved': 1," in done.stderr
    crawl("zhangzhou", "-s", mirror)
    third = failures()
    assert third[columns[0]].resolved_at == second[columns[0]].resolved_at
    assert third[columns[0]].attempts == first[columns[0]].attempts


def test_extraction_in_workers_stores_what_extraction_in_process_stores(
    crawl: Crawl, crawl_engine: Engine, tmp_path: Path
) -> None:
    in_process = tmp_path / "in-process.db"
    done = crawl("zhangzhou", "-s", "GOVNEWS_EXTRACT_WORKERS=2")
    assert done.stderr.count("Started extraction worker") == 2
    crawl(
        "zhangzhou",
        "-s",
        "GOVNEWS_EXTRACT_WORKERS=0",
        "-s",
        f"GOVNEWS_DATABASE_URL=sqlite:///{in_process}",
    )
    columns = [ArticleRow.url, ArticleRow.title, ArticleRow.published_at, ArticleRow.source_name]
    columns += [
        ArticleRow.body_text,
        ArticleRow.body_html,
        ArticleRow.fingerprint,
        ArticleRow.provenance,
    ]

    def stored(engine: Engine) -> list[tuple]:
        with Session(engine) as session:
            return [
                tuple(row) for row in session.execute(select(*columns).order_by(ArticleRow.url))
            ]

    by_workers = stored(crawl_engine)
    assert len(by_workers) > 10
    assert by_workers == stored(open_database(f"sqlite:///{in_process}"))
