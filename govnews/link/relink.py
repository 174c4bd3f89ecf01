"""Linking stored articles again in one pass: what ``scrapy relink`` runs.

The crawl links each article as it is stored (:class:`~govnews.link.linker.Linker`,
a few index queries per article). Relinking many articles at once, after the
agency registry has grown, the policy changed, or over a database that has
never been linked, works on memory instead: the candidate articles are read
once, their fingerprints computed on every core (or loaded when stored and
not in scope), and the candidate indexes (site and date, title, LSH bands) are
held as sorted arrays. Each repost is then scored by the same rules as the
crawl's linker (:func:`~govnews.link.linker.score`,
:func:`~govnews.link.linker.choose`), and the changes are written in bulk, in
one transaction: a run stopped half way changes nothing.

Memory: about 1 KB per candidate article (fingerprint and indexes), plus the
bodies of one chunk per worker.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, true
from sqlalchemy.orm import Session

from govnews.core import fingerprint as fp
from govnews.core.timezone import utcnow
from govnews.link.agencies import AgencyRegistry
from govnews.link.declared import CONFIDENCE as DECLARED_CONFIDENCE
from govnews.link.declared import METHOD as DECLARED
from govnews.link.linker import (
    LinkPolicy,
    Scored,
    can_matter,
    choose,
    confidence,
    score,
    source_of,
)
from govnews.link.pool import Pool, Prints, fingerprint_rows
from govnews.store import models
from govnews.store import textindex as index

#: Articles fingerprinted per task (and read from the database at a time).
CHUNK = 2000
#: Below this many articles to fingerprint, one process does it.
PARALLEL_FROM = 4 * CHUNK
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Link = tuple[int | None, str | None]


@dataclass
class Change:
    """How ``relink`` changed one repost's link: (original id, method) before and after."""

    repost_id: int
    before: Link
    after: Link


def relink(
    session: Session,
    registry: AgencyRegistry,
    policy: LinkPolicy | None = None,
    since: datetime | None = None,
    site: str | None = None,
    workers: int | None = None,
) -> list[Change]:
    """Link again every stored article published since ``since`` on ``site``; commit.

    Reposts waiting for an original (no link yet) are matched again too, as
    are pending declarations, wherever they are. Candidate originals are all
    articles published from ``policy.days_before`` days before ``since``.
    ``workers`` processes compute fingerprints (default: one per core).
    Returns the reposts whose link changed.
    """
    policy = policy or LinkPolicy()
    run = _Relink(session, registry, policy, since, site)
    before = _links(session)
    run.load(workers if workers is not None else os.cpu_count() or 1)
    run.link_declared()
    run.match()
    run.write()
    session.commit()
    after = _links(session)
    return [
        Change(repost_id, before.get(repost_id, (None, None)), after.get(repost_id, (None, None)))
        for repost_id in sorted(set(before) | set(after))
        if before.get(repost_id, (None, None)) != after.get(repost_id, (None, None))
    ]


class _Relink:
    """One relink run: what is loaded, decided and written."""

    def __init__(
        self,
        session: Session,
        registry: AgencyRegistry,
        policy: LinkPolicy,
        since: datetime | None,
        site: str | None,
    ) -> None:
        self.session = session
        self.registry = registry
        self.policy = policy
        self.since = since
        self.site = site
        self.scope: set[int] = set()
        self.published: dict[int, datetime | None] = {}
        self.declared: dict[int, tuple[str, str]] = {}  # article → (declared url, key)
        self.sources: dict[int, tuple[str, str | None, str]] = {}
        self.reposts: dict[int, models.Repost] = {}
        self.up: dict[int, int] = {}
        self.suggestions: list[dict[str, Any]] = []
        self.matched: set[int] = set()
        self.arrivals: dict[int, tuple[bool, datetime, int]] = {}
        self.stored_sources: dict[int, models.RepostSource] = {}
        self.pool: Pool

    # --- reading --------------------------------------------------------------------

    def _in_scope(self) -> ColumnElement[bool]:
        article = models.ArticleRow
        clauses: list[ColumnElement[bool]] = []
        if self.since is not None:
            clauses.append(article.published_at >= self.since)
        if self.site is not None:
            clauses.append(article.site == self.site)
        return and_(true(), *clauses)

    def _in_pool(self) -> ColumnElement[bool]:
        if self.since is None:
            return true()
        start, _ = self.policy.originals_window(self.since)
        published = models.ArticleRow.published_at
        return or_(published >= start, published.is_(None))

    def load(self, workers: int) -> None:
        """Read the candidate articles; fingerprint them; resolve the sources of those in scope."""
        article = models.ArticleRow
        session = self.session
        in_scope = self._in_scope()
        stored = set(
            session.scalars(
                select(index.ArticleFingerprint.article_id)
                .join(article, article.id == index.ArticleFingerprint.article_id)
                .where(self._in_pool(), ~in_scope)
            )
        )
        columns = (
            article.id,
            article.site,
            article.kind,
            article.published_at,
            article.title,
            article.original_title,
            article.category,
            article.source_name,
            article.declared_original_url,
            article.declared_original_key,
            article.body_text,
            in_scope.label("in_scope"),
        )
        where: dict[int, tuple[str, datetime | None]] = {}
        todo: list[tuple[int, str, str, str | None]] = []
        query = select(*columns).where(self._in_pool()).execution_options(yield_per=CHUNK)
        written: list[int] = []

        def store(prints: Prints) -> None:  # while the workers fingerprint the next chunks
            written.extend(index.write_fingerprints(session, prints.items()))

        with _Fingerprinter(workers, store) as fingerprinter:
            for row in session.execute(query):
                where[row.id] = (row.site, row.published_at)
                self.published[row.id] = row.published_at
                if row.id not in stored:
                    todo.append((row.id, row.title, row.body_text, row.original_title))
                    if len(todo) == CHUNK:
                        fingerprinter.submit(todo)
                        todo = []
                if row.in_scope:
                    self._read_scope_row(row)
            if todo:
                fingerprinter.submit(todo)
            computed = fingerprinter.results()
        loaded = index.load_fingerprints(session, stored)
        self.pool = Pool(where, Prints.join([*computed, Prints.of(loaded.items())]))
        new = np.isin(self.pool.band_ids, np.array(written, dtype=np.int64))
        index.insert_sorted_bands(session, self.pool.band_keys[new], self.pool.band_ids[new])
        self._load_links()

    def _read_scope_row(self, row: Any) -> None:
        """Note an in-scope article's declaration and source."""
        self.scope.add(row.id)
        if row.declared_original_key:
            self.declared[row.id] = (row.declared_original_url or "", row.declared_original_key)
        found = source_of(self.registry, row)
        if found is not None:
            self.sources[row.id] = found

    def _load_links(self) -> None:
        """The repost rows of the candidate articles, pending declarations, and the sources."""
        session = self.session
        pool_ids = select(models.ArticleRow.id).where(self._in_pool())
        rows = session.scalars(
            select(models.Repost).where(
                or_(
                    models.Repost.repost_id.in_(pool_ids),
                    and_(
                        models.Repost.original_id.is_(None), models.Repost.declared_key.is_not(None)
                    ),
                )
            )
        )
        self.reposts = {repost.repost_id: repost for repost in rows}
        for repost_id, original_id in session.execute(
            select(models.Repost.repost_id, models.Repost.original_id)
        ):
            if original_id is not None:
                self.up[repost_id] = original_id
        stored_sources = session.scalars(
            select(models.RepostSource).where(models.RepostSource.article_id.in_(pool_ids))
        )
        self.stored_sources = {source.article_id: source for source in stored_sources}
        for article_id, source in self.stored_sources.items():
            if article_id not in self.scope:
                self.sources[article_id] = (
                    source.source_name,
                    source.agency_host,
                    source.resolution,
                )

    # --- deciding -------------------------------------------------------------------

    def link_declared(self) -> None:
        """Make every declaration in scope, and every pending one, point at its stored original."""
        keys = {key for _, key in self.declared.values()}
        keys |= {r.declared_key for r in self.reposts.values() if r.declared_key}
        targets = _articles_by_url_key(self.session, keys)
        now = utcnow()
        for article_id in self.scope:
            repost = self.reposts.get(article_id)
            url, key = self.declared.get(article_id, ("", ""))
            if not key or targets.get(key) == article_id:  # none, or one of its own URLs
                if repost is not None and repost.method == DECLARED:
                    self._unlink(repost, delete=True)
                continue
            target = targets.get(key)
            if repost is None:
                repost = models.Repost(repost_id=article_id, method=DECLARED, created_at=now)
                self.session.add(repost)
                self.reposts[article_id] = repost
            current = (repost.declared_url, repost.declared_key, repost.original_id, repost.method)
            if current != (url, key, target, DECLARED):
                repost.declared_url, repost.declared_key = url, key
                repost.method, repost.confidence = DECLARED, DECLARED_CONFIDENCE
                self._set_original(repost, target, now)
        for repost in self.reposts.values():
            target = targets.get(repost.declared_key or "")
            if target is None or target == repost.repost_id:
                continue
            if (repost.original_id, repost.method) != (target, DECLARED):
                repost.method, repost.confidence = DECLARED, DECLARED_CONFIDENCE
                self._set_original(repost, target, now)

    def match(self) -> None:
        """Find the best candidate original of every repost that needs one, oldest first."""
        waiting = [a for a in self.sources if self._needs_match(a)]
        self.matched = set(waiting)
        for article_id in waiting:  # their old links must not steer the new ones
            repost = self.reposts.get(article_id)
            if repost is not None and repost.method != DECLARED:
                self.up.pop(article_id, None)
        waiting.sort(key=self._arrival)
        now = utcnow()
        suggested: dict[int, list[Scored]] = {}
        unlinked: list[int] = []
        for article_id in waiting:  # first from what came before it, as a crawl in order would
            best, suggested[article_id] = self._best(article_id, earlier=True)
            if best is None:
                unlinked.append(article_id)
            else:
                self._link(article_id, best, now)
        for article_id in unlinked:  # then from what came after it, as for a waiting repost
            best, suggested[article_id] = self._best(article_id, earlier=False)
            self._link(article_id, best, now)
        self.suggestions = [
            {
                "repost_id": article_id,
                "candidate_id": s.article_id,
                "score": round(s.strength, 3),
                "scores": s.scores,
                "created_at": now,
            }
            for article_id, scored in suggested.items()
            for s in scored
        ]

    def _arrival(self, article_id: int) -> tuple[bool, datetime, int]:
        """The order a crawl in publication order stores articles in (undated ones first)."""
        arrival = self.arrivals.get(article_id)
        if arrival is None:
            published = self.published[article_id]
            arrival = self.arrivals[article_id] = (
                published is not None,
                published or _EPOCH,
                article_id,
            )
        return arrival

    def _needs_match(self, article_id: int) -> bool:
        """In scope with no declared link (or one whose page says something else), or waiting."""
        if article_id not in self.pool:
            return False
        repost = self.reposts.get(article_id)
        if article_id not in self.scope:
            return repost is None or repost.original_id is None
        if repost is None or repost.original_id is None or repost.method != DECLARED:
            return True
        target = repost.original_id
        if target not in self.pool:
            return False
        scored = self._score(article_id, None, target, self.pool.fingerprint(article_id))
        if max(scored.title, scored.containment) >= self.policy.declared_mismatch:
            return False
        self._set_original(repost, None, None)  # a moved or reused URL
        return True

    def _best(self, article_id: int, earlier: bool) -> tuple[Scored | None, list[Scored]]:
        """The candidate to link and the suggestions; ``earlier``: only articles stored before."""
        print_ = self.pool.fingerprint(article_id)
        host = self.sources[article_id][1]
        published = self.published[article_id]
        found: dict[int, None] = {}
        if published is not None and host:
            found.update(
                dict.fromkeys(self.pool.by_site(host, *self.policy.originals_window(published)))
            )
        found.update(dict.fromkeys(self.pool.by_title(print_.title_keys)))
        scored = self._scored(article_id, host, self._allowed(article_id, found, earlier))
        if not any(s.method for s in scored):  # nothing by site and title: look by content
            more = dict.fromkeys(
                c for c in self.pool.by_bands(print_, article_id) if c not in found
            )
            scored += self._scored(article_id, host, self._allowed(article_id, more, earlier))
        return choose(self.policy, scored, lambda a: self._chain(a)[-1])

    def _scored(self, article_id: int, host: str | None, candidates: list[int]) -> list[Scored]:
        """The candidates that can be linked or suggested, scored (the others are left out)."""
        print_ = self.pool.fingerprint(article_id)
        keys = print_.title_keys
        scored = []
        contained = self.pool.containment(print_, candidates).tolist()
        for candidate, containment in zip(candidates, contained, strict=True):
            title = max(
                (fp.key_similarity(a, b) for a in keys for b in self.pool.title_keys(candidate)),
                default=0.0,
            )
            if can_matter(self.policy, title, containment):
                scored.append(self._score(article_id, host, candidate, print_, title, containment))
        return scored

    def _allowed(self, article_id: int, found: dict[int, None], earlier: bool) -> list[int]:
        """Candidates other than the article, none of whose chains leads back to it."""
        found.pop(article_id, None)
        if earlier:
            arrival = self._arrival(article_id)
            found = {c: None for c in found if self._arrival(c) < arrival}
        return [c for c in found if c not in self.up or article_id not in self._chain(c)]

    def _score(
        self,
        article_id: int,
        host: str | None,
        candidate: int,
        print_: fp.Fingerprint,
        title: float | None = None,
        containment: float | None = None,
    ) -> Scored:
        """:func:`~govnews.link.linker.score` of a candidate of the pool."""
        return score(
            self.policy,
            self.published[article_id],
            print_,
            host,
            candidate,
            self.pool.fingerprint(candidate),
            self.pool.where[candidate],
            title,
            containment,
        )

    def _chain(self, article_id: int) -> list[int]:
        seen = [article_id]
        while (up := self.up.get(seen[-1])) is not None and up not in seen:
            seen.append(up)
        return seen

    def _link(self, article_id: int, best: Scored | None, now: datetime) -> None:
        repost = self.reposts.get(article_id)
        if best is None:
            if repost is not None and repost.method != DECLARED:
                self._unlink(repost, delete=True)
            return
        if repost is None:
            repost = models.Repost(repost_id=article_id, created_at=now)
            self.session.add(repost)
            self.reposts[article_id] = repost
        repost.method = best.method or "content"
        repost.confidence = confidence(best)
        self._set_original(repost, best.article_id, now)

    def _set_original(
        self, repost: models.Repost, original: int | None, now: datetime | None
    ) -> None:
        if repost.original_id != original or repost.linked_at is None:
            repost.linked_at = now
        repost.original_id = original
        if original is None:
            self.up.pop(repost.repost_id, None)
        else:
            self.up[repost.repost_id] = original

    def _unlink(self, repost: models.Repost, delete: bool) -> None:
        self._set_original(repost, None, None)
        if delete:
            del self.reposts[repost.repost_id]
            if repost in self.session.new:
                self.session.expunge(repost)
            else:
                self.session.delete(repost)

    # --- writing --------------------------------------------------------------------

    def write(self) -> None:
        """Store the sources, links and suggestions decided (in the caller's transaction)."""
        session = self.session
        for article_id in self.scope:
            stored = self.stored_sources.get(article_id)
            found = self.sources.get(article_id)
            if found is None:
                if stored is not None:
                    session.delete(stored)
                continue
            if stored is None:
                stored = models.RepostSource(article_id=article_id)
                session.add(stored)
            stored.source_name, stored.agency_host, stored.resolution = found
            stored.published_at = self.published[article_id]
        for chunk in _chunks(sorted(self.scope | self.matched)):
            session.execute(
                delete(models.LinkSuggestion).where(models.LinkSuggestion.repost_id.in_(chunk))
            )
        session.flush()
        if self.suggestions:
            session.execute(insert(models.LinkSuggestion), self.suggestions)


class _Fingerprinter:
    """Fingerprints chunks of articles in worker processes (or in this one), a few at a time.

    ``done`` is called in this process with each chunk's fingerprints, in order.
    """

    def __init__(self, workers: int, done: Callable[[Prints], None]) -> None:
        self.workers = workers
        self.done = done
        self.executor: ProcessPoolExecutor | None = None
        self.pending: list[Future[Prints]] = []
        self.waiting: list[list[tuple[int, str, str, str | None]]] = []
        self.finished: list[Prints] = []

    def __enter__(self) -> _Fingerprinter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:
            self.executor.shutdown(cancel_futures=True)

    def submit(self, chunk: list[tuple[int, str, str, str | None]]) -> None:
        """Fingerprint ``chunk``; in workers once there is enough work to pay for them."""
        if self.executor is None and self.workers > 1:
            self.waiting.append(chunk)
            if sum(map(len, self.waiting)) < PARALLEL_FROM:
                return
            context = multiprocessing.get_context("spawn")
            self.executor = ProcessPoolExecutor(self.workers, mp_context=context)
            chunks, self.waiting = self.waiting, []
        else:
            chunks = [chunk]
        for each in chunks:
            if self.executor is None:
                self._finish(fingerprint_rows(each))
                continue
            while len(self.pending) >= 2 * self.workers:  # bound the bodies held in flight
                self._finish(self.pending.pop(0).result())
            self.pending.append(self.executor.submit(fingerprint_rows, each))

    def results(self) -> list[Prints]:
        """Every chunk's fingerprints."""
        for chunk in self.waiting:
            self._finish(fingerprint_rows(chunk))
        for future in self.pending:
            self._finish(future.result())
        self.waiting, self.pending = [], []
        return self.finished

    def _finish(self, prints: Prints) -> None:
        self.done(prints)
        self.finished.append(prints)


def _articles_by_url_key(session: Session, keys: Iterable[str]) -> dict[str, int]:
    """The article each URL key leads to (through every URL an article was reached by)."""
    found: dict[str, int] = {}
    column = models.ArticleUrl.url_key
    for chunk in _chunks(sorted(keys)):
        rows = session.execute(
            select(column, models.ArticleUrl.article_id).where(column.in_(chunk))
        )
        found.update((key, article_id) for key, article_id in rows)
    return found


def _links(session: Session) -> dict[int, Link]:
    rows = session.execute(
        select(models.Repost.repost_id, models.Repost.original_id, models.Repost.method)
    )
    return {repost_id: (original_id, method) for repost_id, original_id, method in rows}


def _chunks(values: list[Any], size: int = index.CHUNK) -> Iterator[list[Any]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk
