"""Linking reposts to the originals they declare, in either arrival order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from govnews.items import Article
from govnews.link.declared import link_declared
from govnews.store import Repository, models, session_factory

SHANGHAI = ZoneInfo("Asia/Shanghai")
TITLE = "漳州召开2022年度全国文明城市创建工作动员会"
BODY = "8月17日，我市召开2022年度全国文明城市创建工作动员会，部署推进创建各项工作。"
ORIGINAL = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
BEFORE_REDIRECT = "http://nyncj.zhangzhou.gov.cn/cms/siteresource/article.shtml?id=2101205076"
REPOST = "http://www.nmgfzw.cn/news/dfdt/2022/0819/45871.html"
SECOND_REPOST = "http://www.nmgfzw.cn/news/dfdt/2022/0820/45902.html"


def gov_article(url: str = ORIGINAL, **changes: Any) -> Article:
    """The original on the 漳州市农业农村局 site."""
    fields: dict[str, Any] = {
        "url": url,
        "site": "nyncj.zhangzhou.gov.cn",
        "kind": "gov",
        "title": TITLE,
        "body_text": BODY,
        "published_at": datetime(2022, 8, 18, 9, 30, tzinfo=SHANGHAI),
        "source_name": "漳州市农业农村局",
        "fetched_at": datetime(2022, 8, 19, tzinfo=UTC),
    }
    fields.update(changes)
    return Article(**fields)


def portal_article(url: str = REPOST, declared: str | None = ORIGINAL, **changes: Any) -> Article:
    """A repost on 农民工法治网 that declares ``declared`` as its original."""
    fields: dict[str, Any] = {
        "url": url,
        "site": "www.nmgfzw.cn",
        "kind": "portal",
        "title": TITLE,
        "body_text": BODY,
        "published_at": datetime(2022, 8, 19, 10, 5, tzinfo=SHANGHAI),
        "source_name": "漳州市农业农村局",
        "declared_original_url": declared,
        "fetched_at": datetime(2022, 8, 20, tzinfo=UTC),
    }
    fields.update(changes)
    return Article(**fields)


def store(session: Session, article: Article) -> tuple[models.ArticleRow, list[models.Repost]]:
    """Save ``article`` and link it, as the pipeline does."""
    row = Repository(session).save_article(article).row
    return row, link_declared(session, row)


def links(session: Session) -> set[tuple[str, str | None, str]]:
    """Every reposts row as (repost URL, original URL or None, declared key)."""
    url_of = dict(session.execute(select(models.ArticleRow.id, models.ArticleRow.url)).all())
    reposts = session.scalars(select(models.Repost))
    return {(url_of[r.repost_id], url_of.get(r.original_id), r.declared_key) for r in reposts}


def test_repost_first_stays_pending_then_links_when_original_arrives(session: Session) -> None:
    repost, created = store(session, portal_article())
    assert len(created) == 1
    pending = created[0]
    assert pending.repost_id == repost.id
    assert pending.original_id is None
    assert pending.linked_at is None
    assert pending.declared_url == ORIGINAL
    assert (
        pending.declared_key == "nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
    )
    assert (pending.method, pending.confidence) == ("declared_url", 1.0)

    original, completed = store(session, gov_article())
    assert completed == [pending]
    assert pending.original_id == original.id
    assert pending.linked_at is not None
    assert Repository(session).counts()["reposts_linked"] == 1


def test_original_first_links_the_repost_at_once(session: Session) -> None:
    original, none = store(session, gov_article())
    assert none == []
    repost, created = store(session, portal_article())
    assert [(r.repost_id, r.original_id) for r in created] == [(repost.id, original.id)]
    assert created[0].linked_at is not None


def test_both_orders_across_transactions_end_in_the_same_state(engine: Engine) -> None:
    factory = session_factory(engine)
    articles = [portal_article(), gov_article(), portal_article(SECOND_REPOST)]
    states = []
    for order in (articles, articles[::-1]):
        for article in order:
            with factory() as session:
                store(session, article)
                session.commit()
        with factory() as session:
            states.append(links(session))
            session.execute(delete(models.ArticleRow))
            session.commit()
    assert states[0] == states[1]
    assert {(repost, original) for repost, original, _ in states[0]} == {
        (REPOST, ORIGINAL),
        (SECOND_REPOST, ORIGINAL),
    }


@pytest.mark.parametrize("repost_first", [True, False])
def test_declared_url_before_the_originals_redirect(session: Session, repost_first: bool) -> None:
    """The repost names the URL the original is reached by before its redirect."""
    repost_article = portal_article(declared=BEFORE_REDIRECT)
    original_article = gov_article(redirect_urls=[BEFORE_REDIRECT])
    order = [repost_article, original_article]
    for article in order if repost_first else order[::-1]:
        store(session, article)
    assert links(session) == {
        (REPOST, ORIGINAL, "nyncj.zhangzhou.gov.cn/cms/siteresource/article.shtml?id=2101205076")
    }


@pytest.mark.parametrize(
    "declared",
    [
        "https://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html",
        "http://NYNCJ.ZhangZhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html",
        "http://nyncj.zhangzhou.gov.cn:80/cms/html/zzsnyj/2022-08-18/2101205076.html",
        "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html#content",
        " http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html?",
    ],
)
@pytest.mark.parametrize("repost_first", [True, False])
def test_declared_url_spelled_differently(
    session: Session, declared: str, repost_first: bool
) -> None:
    order = [portal_article(declared=declared), gov_article()]
    for article in order if repost_first else order[::-1]:
        store(session, article)
    assert {(r, o) for r, o, _ in links(session)} == {(REPOST, ORIGINAL)}


def test_declared_index_page_matches_the_directory(session: Session) -> None:
    store(session, gov_article("http://nyncj.zhangzhou.gov.cn/zwgk/tzgg/"))
    store(session, portal_article(declared="https://nyncj.zhangzhou.gov.cn/zwgk/tzgg/index.html"))
    assert {(r, o) for r, o, _ in links(session)} == {
        (REPOST, "http://nyncj.zhangzhou.gov.cn/zwgk/tzgg/")
    }


def test_linking_twice_changes_nothing(session: Session) -> None:
    repost, _ = store(session, portal_article())
    original, _ = store(session, gov_article())
    before = links(session)
    assert link_declared(session, repost) == []
    assert link_declared(session, original) == []
    assert store(session, portal_article())[1] == []
    assert store(session, gov_article())[1] == []
    assert links(session) == before


def test_pending_link_twice_changes_nothing(session: Session) -> None:
    repost, created = store(session, portal_article())
    assert len(created) == 1
    assert link_declared(session, repost) == []
    assert links(session) == {(REPOST, None, created[0].declared_key)}


@pytest.mark.parametrize(
    "declared",
    [
        REPOST,
        REPOST.replace("http://", "https://") + "#top",
        "http://www.nmgfzw.cn/news/show.jsp?id=45871",  # the repost's own pre-redirect URL
    ],
)
def test_self_link_is_refused(session: Session, declared: str) -> None:
    article = portal_article(
        declared=declared, redirect_urls=["http://www.nmgfzw.cn/news/show.jsp?id=45871"]
    )
    _, created = store(session, article)
    assert created == []
    assert links(session) == set()


@pytest.mark.parametrize("declared", [None, "", "javascript:void(0)", "原文链接"])
def test_no_usable_declaration_means_no_repost(session: Session, declared: str | None) -> None:
    store(session, gov_article())
    _, created = store(session, portal_article(declared=declared))
    assert created == []
    assert links(session) == set()


def test_changed_declaration_moves_the_link(session: Session) -> None:
    other = "http://www.zhangzhou.gov.cn/cms/html/zzsrmzf/2022-08-18/1835.html"
    original, _ = store(session, gov_article())
    other_row, _ = store(session, gov_article(other, site="www.zhangzhou.gov.cn"))
    repost, created = store(session, portal_article())
    first_link = created[0]
    assert first_link.original_id == original.id

    _, changed = store(session, portal_article(declared=other))
    assert changed == [first_link]
    assert first_link.original_id == other_row.id
    assert first_link.declared_url == other

    _, changed = store(session, portal_article(declared="http://www.fujian.gov.cn/a.html"))
    assert changed == [first_link]
    assert first_link.original_id is None
    assert first_link.linked_at is None
    assert session.scalars(select(models.Repost)).all() == [first_link]


def test_new_spelling_of_the_same_declaration_keeps_the_link(session: Session) -> None:
    store(session, gov_article())
    _, created = store(session, portal_article())
    linked_at = created[0].linked_at
    https = ORIGINAL.replace("http://", "https://")
    _, changed = store(session, portal_article(declared=https))
    assert changed == created
    assert created[0].declared_url == https
    assert created[0].linked_at == linked_at


def test_withdrawn_declaration_deletes_the_repost_row(session: Session) -> None:
    store(session, gov_article())
    store(session, portal_article())
    _, changed = store(session, portal_article(declared=None))
    assert changed == []
    assert links(session) == set()


def test_original_that_is_itself_a_repost_makes_a_chain(session: Session) -> None:
    city = "http://www.zhangzhou.gov.cn/cms/html/zzsrmzf/2022-08-18/1835.html"
    store(session, portal_article(declared=city))
    store(session, gov_article(declared_original_url=city))
    store(session, gov_article(city, site="www.zhangzhou.gov.cn"))
    assert {(r, o) for r, o, _ in links(session)} == {(REPOST, city), (ORIGINAL, city)}
    store(session, portal_article(SECOND_REPOST, declared=ORIGINAL))
    assert (SECOND_REPOST, ORIGINAL) in {(r, o) for r, o, _ in links(session)}


def test_url_taken_over_by_another_article_takes_its_reposts(session: Session) -> None:
    store(session, gov_article(BEFORE_REDIRECT))
    store(session, portal_article(declared=BEFORE_REDIRECT))
    new_original, changed = store(session, gov_article(redirect_urls=[BEFORE_REDIRECT]))
    assert [r.original_id for r in changed] == [new_original.id]
    assert {(r, o) for r, o, _ in links(session)} == {(REPOST, ORIGINAL)}


def test_deleting_the_original_makes_the_repost_pending_again(session: Session) -> None:
    original, _ = store(session, gov_article())
    store(session, portal_article())
    session.delete(original)
    session.flush()
    session.expire_all()
    assert Repository(session).counts()["reposts_pending"] == 1


def test_unconfirmed_declarations_are_those_no_stored_article_answers(session: Session) -> None:
    """What a spider asks for again at its start: pending declarations and those linked by
    content only, stored since its last finished run; not confirmed ones, nor those whose
    page has an open failure."""
    repository = Repository(session)
    store(session, portal_article())  # pending: its original is not stored
    store(session, portal_article(SECOND_REPOST, declared="http://a.gov.cn/404.html"))
    repository.record_failure(
        "http://a.gov.cn/404.html", spider="nmgfzw", stage="http", reason="HTTP 404"
    )
    assert repository.unconfirmed_declarations("declared_url", "nmgfzw") == [(REPOST, ORIGINAL)]
    store(session, gov_article())  # the original arrives: the declaration is confirmed
    assert repository.unconfirmed_declarations("declared_url", "nmgfzw") == []
    link = session.scalars(select(models.Repost).where(models.Repost.original_id.is_not(None)))
    link.one().method = "title_date"  # linked by content, its declared address unknown
    assert repository.unconfirmed_declarations("declared_url", "nmgfzw") == [(REPOST, ORIGINAL)]
    # A run that finished since asked for every declaration stored before it.
    run = repository.start_run("nmgfzw")
    repository.finish_run(run, status="finished", finish_reason="finished", counts={})
    assert repository.unconfirmed_declarations("declared_url", "nmgfzw") == []
    assert repository.unconfirmed_declarations("declared_url", "zhangzhou") == [(REPOST, ORIGINAL)]
