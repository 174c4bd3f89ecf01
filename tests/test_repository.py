"""Repository: upserts, URL aliases, failures, runs, time zones and transactions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from govnews.items import Article
from govnews.store import Repository, models, open_database, session_factory

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOV_URL = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
TITLE = "漳州召开2022年度全国文明城市创建工作动员会"
BODY = "8月17日，我市召开2022年度全国文明城市创建工作动员会，部署推进创建各项工作。"


def make_article(url: str = GOV_URL, **changes: Any) -> Article:
    """A realistic government article; keyword arguments override fields."""
    fields: dict[str, Any] = {
        "url": url,
        "site": "nyncj.zhangzhou.gov.cn",
        "kind": "gov",
        "title": TITLE,
        "body_text": BODY,
        "body_html": f"<div class='content'><p>{BODY}</p></div>",
        "published_at": datetime(2022, 8, 18, 9, 30, tzinfo=SHANGHAI),
        "source_name": "漳州市农业农村局",
        "author": "林晓",
        "editor": "陈明",
        "category": "工作动态",
        "images": ["http://nyncj.zhangzhou.gov.cn/cms/uploadfiles/2022/08/18/a.jpg"],
        "attachments": [
            {"name": "创建工作方案.docx", "url": "http://nyncj.zhangzhou.gov.cn/cms/f/1.docx"}
        ],
        "fetched_at": datetime(2022, 8, 19, 1, 0, tzinfo=UTC),
        "provenance": {"published_at": "meta:PubDate", "source_name": "label:来源"},
    }
    fields.update(changes)
    return Article(**fields)


@pytest.fixture
def repo(session: Session) -> Repository:
    return Repository(session)


def count(session: Session, model: type[models.Base]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_first_save_is_new(repo: Repository, session: Session) -> None:
    result = repo.save_article(make_article())
    assert result.status == "new"
    row = result.row
    assert row.id is not None
    assert row.url_key == "nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
    assert row.title == TITLE
    assert row.attachments[0]["name"] == "创建工作方案.docx"
    assert row.first_seen_at == row.updated_at
    assert count(session, models.ArticleRow) == 1


def test_same_content_again_is_unchanged_and_only_refreshes_fetched_at(
    repo: Repository, session: Session
) -> None:
    first = repo.save_article(make_article()).row
    updated_at = first.updated_at
    later = datetime(2022, 9, 1, tzinfo=UTC)
    result = repo.save_article(make_article(fetched_at=later))
    assert result.status == "unchanged"
    assert result.row.id == first.id
    assert result.row.fetched_at == later
    assert result.row.updated_at == updated_at
    assert count(session, models.ArticleRow) == 1


def test_same_page_by_another_spelling_is_not_a_second_row(
    repo: Repository, session: Session
) -> None:
    repo.save_article(make_article())
    spelled = GOV_URL.replace("http://nyncj.", "https://NYNCJ.") + "#main"
    result = repo.save_article(make_article(spelled))
    assert result.status == "unchanged"  # same page, same content
    assert count(session, models.ArticleRow) == 1
    assert result.row.url == spelled  # the latest spelling is kept


def test_changed_body_updates_row_and_fingerprint(repo: Repository, session: Session) -> None:
    first = repo.save_article(make_article())
    old_fingerprint = first.row.fingerprint
    old_updated_at = first.row.updated_at
    result = repo.save_article(make_article(body_text=BODY + "会议由市委副书记主持。"))
    assert result.status == "updated"
    assert result.row.id == first.row.id
    assert result.row.fingerprint != old_fingerprint
    assert result.row.body_text.endswith("主持。")
    assert result.row.updated_at >= old_updated_at
    assert count(session, models.ArticleRow) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"author": "王芳"},
        {"published_at": datetime(2022, 8, 18, 10, 0, tzinfo=SHANGHAI)},
        {"images": []},
        {"declared_original_url": "http://www.fujian.gov.cn/a.html"},
    ],
)
def test_any_changed_field_is_an_update(repo: Repository, changes: dict[str, Any]) -> None:
    repo.save_article(make_article())
    result = repo.save_article(make_article(**changes))
    assert result.status == "updated"
    assert result.row.fingerprint == make_article().fingerprint


def test_another_signal_for_the_same_values_is_no_change(repo: Repository) -> None:
    repo.save_article(make_article())
    result = repo.save_article(make_article(provenance={"published_at": "listing"}))
    assert result.status == "unchanged"
    assert result.row.provenance == {"published_at": "listing"}


def test_same_instant_in_another_zone_is_unchanged(repo: Repository) -> None:
    repo.save_article(make_article())
    published = datetime(2022, 8, 18, 1, 30, tzinfo=UTC)
    assert repo.save_article(make_article(published_at=published)).status == "unchanged"


def test_redirect_urls_are_aliases(repo: Repository, session: Session) -> None:
    final = "https://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
    before = "http://nyncj.zhangzhou.gov.cn/cms/siteresource/article.shtml?id=2101205076"
    row = repo.save_article(make_article(final, redirect_urls=[GOV_URL, before])).row
    assert repo.article_by_url(before) is row
    assert repo.article_by_url(final) is row
    assert repo.article_by_url(GOV_URL) is row  # same key as the final URL
    assert repo.article_by_url("http://nyncj.zhangzhou.gov.cn/other.html") is None
    assert count(session, models.ArticleUrl) == 2


def test_alias_moves_to_the_article_that_now_claims_it(repo: Repository) -> None:
    moved = "http://nyncj.zhangzhou.gov.cn/old/2101205076.html"
    old = repo.save_article(make_article(moved)).row
    new = repo.save_article(make_article(GOV_URL, redirect_urls=[moved])).row
    assert new.id != old.id
    assert repo.article_by_url(moved) is new
    assert repo.article_by_url(GOV_URL) is new


def test_failures_are_recorded_bumped_and_listed(repo: Repository, session: Session) -> None:
    repo.record_failure(GOV_URL, spider="zhangzhou", stage="download", reason="TimeoutError")
    repo.record_failure(
        "http://www.nmgfzw.cn/a.html", spider="nmgfzw", stage="http", reason="HTTP 502"
    )
    repo.record_failure(
        GOV_URL.replace("http:", "https:"), spider="zhangzhou", stage="extract", reason="no body"
    )
    failure = session.scalars(select(models.PageFailure).order_by(models.PageFailure.id)).first()
    assert failure is not None
    assert failure.attempts == 2
    assert failure.stage == "extract"
    assert failure.reason == "no body"
    assert failure.last_failed_at >= failure.first_failed_at
    assert count(session, models.PageFailure) == 2
    assert [f.url for f in repo.open_failures()] == [
        GOV_URL.replace("http:", "https:"),
        "http://www.nmgfzw.cn/a.html",
    ]
    assert [f.url for f in repo.open_failures("nmgfzw")] == ["http://www.nmgfzw.cn/a.html"]
    assert repo.open_failures("nobody") == []


def test_unknown_failure_stage_is_refused(repo: Repository) -> None:
    with pytest.raises(ValueError, match="stage"):
        repo.record_failure(GOV_URL, spider="zhangzhou", stage="parse", reason="?")


def test_saving_the_article_resolves_its_failures_and_a_new_failure_reopens(
    repo: Repository, session: Session
) -> None:
    before = "http://nyncj.zhangzhou.gov.cn/cms/siteresource/article.shtml?id=2101205076"
    repo.record_failure(before, spider="zhangzhou", stage="validate", reason="empty title")
    repo.record_failure(
        GOV_URL, spider="zhangzhou", stage="download", reason="reset", callback="parse_article"
    )
    assert [f.callback for f in repo.open_failures()] == [None, "parse_article"]
    repo.save_article(make_article(redirect_urls=[before]))
    assert repo.open_failures() == []
    failure = session.scalars(
        select(models.PageFailure).where(models.PageFailure.url == before)
    ).one()
    assert failure.resolved_at is not None

    repo.record_failure(before, spider="zhangzhou", stage="http", reason="HTTP 404")
    assert failure.resolved_at is None
    assert failure.attempts == 2
    assert [f.url for f in repo.open_failures()] == [before]


def test_datetimes_round_trip_aware(engine: Engine) -> None:
    published = datetime(2022, 8, 18, 9, 30, 15, 123456, tzinfo=SHANGHAI)
    factory = session_factory(engine)
    with factory() as session:
        Repository(session).save_article(make_article(published_at=published))
        session.commit()
    with factory() as session:
        row = Repository(session).article_by_url(GOV_URL)
        assert row is not None
        assert row.published_at == published
        assert row.published_at.utcoffset() == timedelta(0)
        assert row.published_at.replace(tzinfo=None) == datetime(2022, 8, 18, 1, 30, 15, 123456)
        assert row.fetched_at.tzinfo is not None
        assert row.first_seen_at.tzinfo is not None


def test_naive_datetime_is_refused(repo: Repository) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        repo.save_article(make_article(published_at=datetime(2022, 8, 18, 9, 30)))


def test_file_database_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "govnews.db"
    engine = open_database(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert path.exists()
    finally:
        engine.dispose()


def test_deleting_an_article_deletes_its_urls(repo: Repository, session: Session) -> None:
    row = repo.save_article(make_article(redirect_urls=["http://nyncj.zhangzhou.gov.cn/x"])).row
    session.commit()
    session.execute(text("DELETE FROM articles WHERE id = :id"), {"id": row.id})
    assert count(session, models.ArticleUrl) == 0


def test_run_start_and_finish(repo: Repository) -> None:
    run = repo.start_run("zhangzhou")
    assert run.id is not None
    assert run.status == "running"
    assert run.finished_at is None
    assert run.items_new == 0
    repo.finish_run(
        run,
        status="finished",
        finish_reason="finished",
        counts={"requests": 40, "items_new": 12, "items_unchanged": 25, "failures": 3},
    )
    assert run.status == "finished"
    assert run.finish_reason == "finished"
    assert run.finished_at is not None
    assert run.finished_at >= run.started_at
    assert (run.requests, run.items_new, run.items_updated, run.failures) == (40, 12, 0, 3)


def test_finish_run_refuses_unknown_counts(repo: Repository) -> None:
    run = repo.start_run("zhangzhou")
    with pytest.raises(ValueError, match="items_nwe"):
        repo.finish_run(run, status="failed", finish_reason=None, counts={"items_nwe": 1})


def test_rollback_leaves_no_partial_rows(engine: Engine) -> None:
    factory = session_factory(engine)
    with factory() as session:
        repo = Repository(session)
        repo.save_article(make_article(redirect_urls=["http://nyncj.zhangzhou.gov.cn/x"]))
        repo.record_failure("http://www.nmgfzw.cn/a.html", spider="nmgfzw", stage="http", reason="")
        repo.start_run("zhangzhou")
        session.rollback()
    with factory() as session:
        for model in (models.ArticleRow, models.ArticleUrl, models.PageFailure, models.CrawlRun):
            assert count(session, model) == 0


def test_counts(repo: Repository) -> None:
    repo.save_article(make_article())
    portal = make_article(
        "http://www.nmgfzw.cn/news/2022/0819/12345.html",
        site="www.nmgfzw.cn",
        kind="portal",
        declared_original_url=GOV_URL,
    )
    repo.save_article(portal)
    repo.save_article(replace(portal, url="http://www.nmgfzw.cn/news/2022/0819/12346.html"))
    repo.record_failure("http://www.nmgfzw.cn/b.html", spider="nmgfzw", stage="http", reason="")
    assert repo.counts() == {
        "articles": 3,
        "articles_portal": 2,
        "articles_gov": 1,
        "reposts_linked": 0,
        "reposts_pending": 0,
        "failures_open": 1,
    }


def test_a_failed_item_is_undone_alone_by_its_savepoint(tmp_path) -> None:
    from govnews.store.database import open_database, session_factory

    engine = open_database(f"sqlite:///{tmp_path / 'g.db'}")
    with session_factory(engine)() as session:
        repo = Repository(session)
        repo.save_article(make_article())
        with pytest.raises(ValueError), session.begin_nested():
            repo.record_failure(GOV_URL, spider="zhangzhou", stage="parse", reason="?")
            raise AssertionError("unreachable")
        try:
            with session.begin_nested():
                repo.save_article(make_article(url="http://www.nmgfzw.cn/shgz/1.html"))
                raise RuntimeError("the link step failed")
        except RuntimeError:
            pass
        session.commit()
    with session_factory(engine)() as session:
        assert [row.url for row in session.scalars(select(models.ArticleRow))] == [GOV_URL]
