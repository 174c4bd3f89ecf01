"""Linking without a declared URL: each path, the refusals, both arrival orders, chains, relink."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govnews.core.timezone import SHANGHAI
from govnews.extract import extract_article
from govnews.items import Article
from govnews.link.graph import first_original
from govnews.link.linker import Linker
from govnews.mirror import snapshot_path
from govnews.store import Repository, session_factory
from govnews.store.database import open_database
from govnews.store.models import ArticleRow, LinkSuggestion, Repost
from tests.conftest import ROOT, SNAPSHOT

GOV = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-11-03/2101213870.html"
OTHER_GOV = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-11-03/2101213871.html"
PORTAL = "http://www.nmgfzw.cn/shgz/20221104/25301.html"
SECOND_PORTAL = "http://www.jljzx.cn/zhangzhou/2022/1105/88001.shtml"
TITLE = "我市开展农产品质量安全“治违禁 控药残 促提升”专项检查"
PARAGRAPHS = [
    "11月2日，市农业农村局组织执法人员赴龙海区、漳浦县开展农产品质量安全专项检查，重点检查蔬菜、"
    "水果生产基地和农资经营门店，共出动执法人员36人次，检查生产主体48家。",
    "检查组现场抽取豇豆、芹菜等样品22批次，开展快速检测，结果全部合格；对2家记录不全的主体当场"
    "下达整改通知，要求10日内完成整改。",
    "市农业农村局要求，各地要落实食用农产品承诺达标合格证制度，加强禁限用农药管控，确保群众"
    "“舌尖上的安全”。",
]
OTHER = [
    "11月3日，全市秋冬种农业生产现场推进会在诏安召开，与会人员观摩了冬种马铃薯、"
    "蔬菜种植示范片，交流了秋冬种工作经验。",
    "会议要求，各县（区）要抓好秋冬种面积落实，确保完成冬种马铃薯8万亩、冬季蔬菜45万亩的任务。",
]


def article(url: str, **changes: Any) -> Article:
    portal = "gov.cn" not in url
    fields: dict[str, Any] = {
        "url": url,
        "site": url.split("/")[2],
        "kind": "portal" if portal else "gov",
        "title": TITLE,
        "body_text": "\n\n".join(PARAGRAPHS),
        "published_at": datetime(2022, 11, 4 if portal else 3, tzinfo=SHANGHAI),
        "source_name": "漳州市农业农村局",
    }
    return Article(**{**fields, **changes})


def store(session: Session, item: Article) -> int:
    row = Repository(session).save_article(item).row
    Linker(session).link(row)
    session.commit()
    return row.id


def link_of(session: Session, article_id: int) -> Repost | None:
    return session.scalars(select(Repost).where(Repost.repost_id == article_id)).one_or_none()


def test_repost_after_original_links_by_agency_title_and_date(session: Session) -> None:
    original = store(session, article(GOV))
    repost = store(session, article(PORTAL))
    link = link_of(session, repost)
    assert link is not None and link.original_id == original
    assert link.method == "title_date" and 0.5 < link.confidence <= 1.0
    assert link.declared_url is None


def test_repost_before_original_is_linked_when_the_original_arrives(session: Session) -> None:
    repost = store(session, article(PORTAL, source_name="漳州农业农村局"))  # a short name
    assert link_of(session, repost) is None
    original = store(session, article(GOV))
    link = link_of(session, repost)
    assert link is not None and link.original_id == original


@pytest.mark.parametrize("repost_first", [True, False])
def test_a_declared_original_is_the_link_in_either_arrival_order(
    session: Session, repost_first: bool
) -> None:
    """The original also matches the repost by agency, title and date: the declaration wins
    whichever came first (a crawl of both sites in one run stores the repost first)."""
    items = [article(PORTAL, declared_original_url=GOV), article(GOV)]
    ids = [store(session, item) for item in (items if repost_first else items[::-1])]
    repost, original = ids if repost_first else ids[::-1]
    link = link_of(session, repost)
    assert link is not None and link.original_id == original
    assert link.method == "declared_url"


def test_retitled_repost_links_by_原标题_and_by_content(session: Session) -> None:
    original = store(session, article(GOV))
    by_title = store(session, article(PORTAL, title="漳州严查农残", original_title=TITLE))
    by_text = store(
        session, article(SECOND_PORTAL, title="漳州开展农残专项检查", source_name="某网")
    )
    assert link_of(session, by_title).original_id == original  # type: ignore[union-attr]
    text_link = link_of(session, by_text)
    assert text_link is not None and text_link.method == "content"
    assert first_original(session, by_text).id == original  # type: ignore[union-attr]


def test_trimmed_repost_still_links(session: Session) -> None:
    original = store(session, article(GOV))
    repost = store(session, article(PORTAL, body_text="\n\n".join(PARAGRAPHS[:2])))
    assert link_of(session, repost).original_id == original  # type: ignore[union-attr]


def test_other_news_of_the_same_agency_and_day_is_no_link_but_may_be_suggested(
    session: Session,
) -> None:
    store(
        session,
        article(
            OTHER_GOV, title="全市秋冬种农业生产现场推进会在诏安召开", body_text="\n\n".join(OTHER)
        ),
    )
    repost = store(session, article(PORTAL))
    assert link_of(session, repost) is None
    suggestions = session.scalars(select(LinkSuggestion)).all()
    assert all(s.score < 0.5 for s in suggestions)


def test_non_government_source_and_unknown_agency_are_not_guessed(session: Session) -> None:
    store(
        session,
        article(
            OTHER_GOV, title="全市秋冬种农业生产现场推进会在诏安召开", body_text="\n\n".join(OTHER)
        ),
    )
    workers = store(session, article(PORTAL, source_name="工人日报"))
    unknown = store(
        session,
        article(
            SECOND_PORTAL,
            title="农机安全生产检查",
            body_text="近日，某县农机站对辖区拖拉机、收割机开展安全检查，共检查农机具120台。",
            source_name="某县农机站",
        ),
    )
    assert link_of(session, workers) is None
    assert link_of(session, unknown) is None


def test_template_notice_links_to_its_own_notice_not_its_sibling(session: Session) -> None:
    notice = "关于召开{month}月全市农业农村工作例会的通知"
    body = (
        "各县（区）农业农村局：定于2022年{month}月{day}日上午9时"
        "在市农业农村局三楼会议室召开例会，请准时参加。"
    )
    first = store(
        session, article(GOV, title=notice.format(month=11), body_text=body.format(month=11, day=8))
    )
    store(
        session,
        article(OTHER_GOV, title=notice.format(month=12), body_text=body.format(month=12, day=6)),
    )
    repost = store(
        session,
        article(PORTAL, title=notice.format(month=11), body_text=body.format(month=11, day=8)),
    )
    assert link_of(session, repost).original_id == first  # type: ignore[union-attr]


def test_repost_of_a_repost_resolves_to_the_first_original(session: Session) -> None:
    original = store(session, article(GOV))
    first_copy = store(session, article(PORTAL))
    copy_of_copy = store(
        session,
        article(
            SECOND_PORTAL,
            source_name="农民工法治网",
            published_at=datetime(2022, 11, 5, tzinfo=SHANGHAI),
        ),
    )
    assert link_of(session, first_copy).original_id == original  # type: ignore[union-attr]
    resolved = first_original(session, copy_of_copy)
    assert resolved is not None and resolved.id == original


def test_declared_url_whose_page_says_something_else_is_not_trusted(session: Session) -> None:
    wrong = store(
        session,
        article(
            OTHER_GOV, title="全市秋冬种农业生产现场推进会在诏安召开", body_text="\n\n".join(OTHER)
        ),
    )
    original = store(session, article(GOV))
    repost = store(session, article(PORTAL, declared_original_url=OTHER_GOV))
    link = link_of(session, repost)
    assert link is not None and link.original_id == original != wrong
    assert link.declared_url == OTHER_GOV  # the declaration is kept for the record


def test_scrapy_relink_recomputes_and_prints_changes(crawl: Any, tmp_path: Any) -> None:
    crawl("zhangzhou")
    crawl("nmgfzw", "-a", "follow_originals=false")
    database = crawl.database_url
    path = database.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        removed = db.execute("DELETE FROM reposts WHERE method = 'title_date'").rowcount
    assert removed >= 1
    command = [sys.executable, "-m", "scrapy", "relink", "-s", f"GOVNEWS_DATABASE_URL={database}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"{removed} link(s) changed" in done.stdout
    assert "(title_date)" in done.stdout
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert "0 link(s) changed" in again.stdout


#: One article of 漳州市农业农村局 in the snapshot, the 福建 department's repost of it and
#: a portal's copy that declares it: the links are the same in every arrival order.
ONE_STORY = [
    "http://nynct.fujian.gov.cn/xxgk/gzdt/sxdt/202210/t20221013_6029876.htm",
    "http://www.nmgfzw.cn/shgz/20221013/25196.html",
    "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-10-12/2101211342.html",
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_links_do_not_depend_on_the_arrival_order(order: tuple[int, ...]) -> None:
    """A repost first linked to a portal's copy (the only candidate then) takes the
    agency's own page when it comes."""
    engine = open_database("sqlite://")
    with session_factory(engine)() as session:
        for index in order:
            url = ONE_STORY[index]
            item = extract_article(snapshot_path(SNAPSHOT, url).read_bytes(), url)
            row = Repository(session).save_article(item).row
            Linker(session).link(row, item.site_meta)
            session.commit()
        url_of = dict(session.execute(select(ArticleRow.id, ArticleRow.url)).all())
        links = {
            (url_of[link.repost_id], url_of.get(link.original_id), link.method)
            for link in session.scalars(select(Repost))
        }
    engine.dispose()
    repost, copy, original = ONE_STORY
    assert links == {(repost, original, "title_date"), (copy, original, "declared_url")}


#: The agency's article, a provincial department's copy of it (a government page naming
#: the agency as 来源) and a portal's copy naming the agency too, with no URL declared.
GOV_COPY = "http://nynct.fujian.gov.cn/xxgk/gzdt/sxdt/202211/t20221104_6040112.htm"


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_a_repost_first_linked_to_a_government_copy_takes_the_original(
    order: tuple[int, ...], session: Session
) -> None:
    """A government site's copy is no original: a repost linked to it while it was the only
    candidate is linked to the agency's own page when that comes."""
    stories = [
        article(GOV),
        article(GOV_COPY, published_at=datetime(2022, 11, 4, 9, tzinfo=SHANGHAI)),
        article(PORTAL),
    ]
    ids = [0, 0, 0]
    for index in order:
        ids[index] = store(session, stories[index])
    original, copy, repost = ids
    assert {
        (link.repost_id, link.original_id, link.method) for link in session.scalars(select(Repost))
    } == {(copy, original, "title_date"), (repost, original, "title_date")}
