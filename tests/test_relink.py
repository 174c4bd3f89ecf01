"""``govnews.link.relink``: the batch that ``scrapy relink`` runs, against the crawl's linker.

The generated articles of ``benchmarks/linking`` (government news and portal
reposts with realistic edits) are linked once article by article, as a crawl
stores them, and once by the batch from scratch: the links must be the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from benchmarks.linking.generate import generate
from benchmarks.linking.scale import seed_registry
from govnews.core import fingerprint as fp
from govnews.core.timezone import utcnow
from govnews.link import relink as batch
from govnews.link.agencies import AgencyRegistry
from govnews.link.linker import Linker
from govnews.link.pool import Pool, Prints
from govnews.store import models, open_database, session_factory, textindex

COUNT = 400


def build(path: Path) -> tuple[Engine, dict[str, str | None]]:
    """A database of COUNT generated articles, unlinked; and each portal URL's true original."""
    engine = open_database(f"sqlite:///{path}")
    articles = list(generate(COUNT, seed=7))
    with session_factory(engine)() as session:
        seed_registry(session)
        now = utcnow()
        session.execute(insert(models.ArticleRow), [a.row(now) for a in articles])
        session.execute(insert(models.ArticleUrl), [a.url_row() for a in articles])
        session.commit()
    return engine, {a.url: a.original_url for a in articles if a.kind == "portal"}


def links(session: Session) -> dict[str, tuple[str | None, str]]:
    """Repost URL → (original URL, method)."""
    urls = {
        i: url for i, url in session.execute(select(models.ArticleRow.id, models.ArticleRow.url))
    }
    rows = session.execute(
        select(models.Repost.repost_id, models.Repost.original_id, models.Repost.method)
    )
    return {urls[r]: (urls.get(o) if o else None, method) for r, o, method in rows}


def link_one_by_one(session: Session) -> None:
    """What a crawl storing the articles in publication order does."""
    linker = Linker(session)
    order = select(models.ArticleRow.id).order_by(
        models.ArticleRow.published_at, models.ArticleRow.id
    )
    for article_id in session.scalars(order).all():
        linker.link(session.get_one(models.ArticleRow, article_id))
    session.commit()


def count(session: Session, table: Any) -> int:
    return session.scalar(select(func.count()).select_from(table)) or 0


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, Any]]]:
    """The generated set linked one by one: the engine and its links."""
    engine, _ = build(tmp_path_factory.mktemp("relink") / "crawled.db")
    with session_factory(engine)() as session:
        link_one_by_one(session)
        yield engine, links(session)
    engine.dispose()


def test_batch_from_scratch_makes_the_links_of_the_crawl(
    tmp_path: Path, crawled: tuple[Engine, dict[str, Any]]
) -> None:
    engine, truth = build(tmp_path / "batch.db")
    with session_factory(engine)() as session:
        changes = batch.relink(session, AgencyRegistry.load(session), workers=1)
        made = links(session)
        assert made == crawled[1]
        assert len(changes) == len(made)
        assert all(change.before == (None, None) for change in changes)
        right = sum(1 for url, (original, _) in made.items() if original == truth.get(url))
        assert right == sum(1 for original in truth.values() if original) == len(made)
        # The fingerprints and the band index are stored, as the crawl stores them.
        with session_factory(crawled[0])() as other:
            for table in (textindex.ArticleFingerprint, textindex.FingerprintBand):
                assert count(session, table) == count(other, table) > 0
            assert count(session, models.RepostSource) == count(other, models.RepostSource)
        # Nothing changes when nothing has.
        assert batch.relink(session, AgencyRegistry.load(session), workers=1) == []
    engine.dispose()


def test_worker_processes_give_the_same_fingerprints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "CHUNK", 50)
    monkeypatch.setattr(batch, "PARALLEL_FROM", 100)
    results = []
    for workers in (1, 2):
        engine, _ = build(tmp_path / f"workers-{workers}.db")
        with session_factory(engine)() as session:
            batch.relink(session, AgencyRegistry.load(session), workers=workers)
            stored = textindex.load_fingerprints(
                session, session.scalars(select(models.ArticleRow.id)).all()
            )
            results.append((stored, links(session)))
        engine.dispose()
    (one, one_links), (two, two_links) = results
    assert len(one) == COUNT and one == two
    assert one_links == two_links


def test_relink_repairs_only_its_scope(tmp_path: Path) -> None:
    engine, _ = build(tmp_path / "scope.db")
    with session_factory(engine)() as session:
        batch.relink(session, AgencyRegistry.load(session), workers=1)
        before = links(session)
        lost = session.execute(
            select(models.Repost.repost_id, models.ArticleRow.site, models.ArticleRow.published_at)
            .join(models.ArticleRow, models.ArticleRow.id == models.Repost.repost_id)
            .where(models.Repost.method == "title_date")
            .order_by(models.ArticleRow.published_at.desc())
        ).first()
        assert lost is not None
        session.execute(delete(models.Repost).where(models.Repost.repost_id == lost.repost_id))
        session.commit()
        other_site = session.scalar(
            select(models.ArticleRow.site).where(models.ArticleRow.site != lost.site).limit(1)
        )
        # Another site's relink has no business with the portal's links but for waiting ones:
        # an unlinked repost with a source is matched again wherever it is.
        changes = batch.relink(session, AgencyRegistry.load(session), site=other_site, workers=1)
        assert [c.repost_id for c in changes] == [lost.repost_id]
        assert links(session) == before
        session.execute(delete(models.Repost).where(models.Repost.repost_id == lost.repost_id))
        session.execute(
            delete(models.RepostSource).where(models.RepostSource.article_id == lost.repost_id)
        )
        session.commit()
        # Its own site's relink since its date finds the source again, then the link.
        changes = batch.relink(
            session, AgencyRegistry.load(session), since=lost.published_at, site=lost.site
        )
        assert [c.after[1] for c in changes] == ["title_date"]
        assert links(session) == before
    engine.dispose()


def test_a_failed_relink_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, _ = build(tmp_path / "failed.db")

    def fail(self: Any) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(batch._Relink, "write", fail)
    with session_factory(engine)() as session, pytest.raises(RuntimeError):
        batch.relink(session, AgencyRegistry.load(session), workers=1)
    with session_factory(engine)() as session:
        for table in (models.Repost, models.RepostSource, textindex.ArticleFingerprint):
            assert count(session, table) == 0
    engine.dispose()


def test_the_pool_finds_what_the_database_finds(
    crawled: tuple[Engine, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = crawled[0]
    with session_factory(engine)() as session:
        ids = session.scalars(select(models.ArticleRow.id)).all()
        prints = textindex.load_fingerprints(session, ids)
        where = {
            i: (site, published)
            for i, site, published in session.execute(
                select(models.ArticleRow.id, models.ArticleRow.site, models.ArticleRow.published_at)
            )
        }
        pool = Pool(where, Prints.of(prints.items()))
        sample = ids[::7]
        for limit in (fp.COMMON_BAND, 3):  # and with band keys of 4+ articles skipped
            monkeypatch.setattr(fp, "COMMON_BAND", limit)
            monkeypatch.setattr(textindex, "COMMON_BAND", limit)
            for article_id in sample:
                print_ = prints[article_id]
                assert pool.by_bands(print_, article_id) == textindex.candidates_by_bands(
                    session, print_, exclude=article_id
                )
        for article_id in sample:
            print_ = prints[article_id]
            assert pool.fingerprint(article_id) == print_
            assert pool.by_title(print_.title_keys) == textindex.candidates_by_title(
                session, print_.title_keys
            )
            others = ids[:50]
            assert pool.containment(print_, others).tolist() == [
                fp.containment(print_, prints[o]) for o in others
            ]
