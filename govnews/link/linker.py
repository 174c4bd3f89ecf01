"""Linking every repost to its original: by declared URL, else by source agency, title, date, text.

``Linker.link(row)`` is called for each stored article, in the transaction that
stored it. It links the article as a repost (what it copied) and as an original
(the reposts that were waiting for it), so either arrival order ends the same.
Candidates come from indexes, never from a scan of all articles: the source
agency's site in a date window, the same normalised title, and content bands
(MinHash LSH). A candidate is linked only when the evidence is clear; weaker
ones are kept as suggestions with their scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from govnews.link import fingerprint as fp
from govnews.link.declared import METHOD as DECLARED
from govnews.link.declared import link_declared
from govnews.link.graph import chain
from govnews.link.registry import AgencyRegistry, ResolveContext
from govnews.store import fingerprints as index
from govnews.store import models


@dataclass(frozen=True)
class LinkPolicy:
    """When a candidate is an original (thresholds measured on benchmarks/linking)."""

    #: An original is published at most this long before its repost …
    days_before: int = 30
    #: … or this long after it (a repost dated by day, an original by minute).
    days_after: int = 1
    #: Title and date link: the titles (or 原标题) match this well …
    title: float = 0.9
    #: … and this much of the shorter text is in the other.
    title_containment: float = 0.3
    #: Content link, whatever the title: this much of the shorter text is in the other.
    containment: float = 0.8
    #: Share of the repost's numbers (dates, amounts) the original must also have …
    numbers: float = 0.8
    #: … unless title and text are the same: an original edited after it was reposted.
    edited_title: float = 0.95
    #: Below a link, above this, a candidate is kept as a suggestion.
    suggest: float = 0.3
    #: The best candidate must beat the next by this much, or nothing is linked.
    margin: float = 0.05
    #: A declared original whose page scores below this on title and text says something else.
    declared_mismatch: float = 0.3


@dataclass
class Scored:
    """A candidate original and how well it matches."""

    article_id: int
    title: float
    containment: float
    numbers: float
    method: str | None = None
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def strength(self) -> float:
        """Title and text agreement, discounted when the numbers (dates, amounts) differ."""
        return (self.title + self.containment) / 2 * (0.5 + 0.5 * self.numbers)


class Linker:
    """Finds originals for reposts and reposts for originals, within one session."""

    def __init__(
        self,
        session: Session,
        registry: AgencyRegistry | None = None,
        policy: LinkPolicy | None = None,
    ) -> None:
        self.session = session
        self.registry = registry if registry is not None else AgencyRegistry.load(session)
        self.policy = policy or LinkPolicy()

    # --- entry points ------------------------------------------------------------------

    def link(
        self, row: models.Article, site_meta: Mapping[str, str] | None = None
    ) -> list[models.Repost]:
        """Link a just-stored article both ways; returns the ``reposts`` rows that changed.

        ``site_meta`` is what a government page says about its site (SiteName,
        SiteDomain, SiteIDCode): the agency registry learns from it.
        """
        changed = link_declared(self.session, row)
        print_ = self._fingerprint(row)
        if row.kind == "gov" and site_meta:
            self.registry.learn(
                site_meta.get("SiteName"),
                site_meta.get("SiteDomain"),
                site_meta.get("SiteIDCode"),
                row.source_name,
                row.site,
            )
        source = self._record_source(row)
        if source is not None and self._needs_match(row, print_):
            changed += self._match(row, print_, source)
        for waiting in self._waiting_for(row, print_):
            waiting_print = index.load_fingerprints(self.session, [waiting.id]).get(waiting.id)
            waiting_source = self.session.get(models.RepostSource, waiting.id)
            if waiting_print is not None and waiting_source is not None:
                changed += self._match(waiting, waiting_print, waiting_source)
        self.session.flush()
        return changed

    # --- the article's own records -----------------------------------------------------

    def _fingerprint(self, row: models.Article) -> fp.Fingerprint:
        print_ = fp.fingerprint(row.title, row.body_text, row.original_title)
        index.store_fingerprint(self.session, row.id, print_)
        return print_

    def _record_source(self, row: models.Article) -> models.RepostSource | None:
        """Keep who the article says it comes from, when that is not its own site."""
        existing = self.session.get(models.RepostSource, row.id)
        resolution = (
            self.registry.resolve(row.source_name, context=ResolveContext.of(row))
            if row.source_name
            else None
        )
        own = resolution is None or (
            resolution.agency is not None and resolution.agency.host == row.site
        )
        if own:
            if existing is not None:
                self.session.delete(existing)
            return None
        assert resolution is not None and row.source_name
        host = resolution.agency.host if resolution.agency else None
        if existing is None:
            existing = models.RepostSource(article_id=row.id)
            self.session.add(existing)
        existing.source_name = row.source_name
        existing.agency_host = host
        existing.resolution = resolution.how
        existing.published_at = row.published_at
        return existing

    def _needs_match(self, row: models.Article, print_: fp.Fingerprint) -> bool:
        """No declared link, or one whose page says something else."""
        repost = self._repost_row(row.id)
        if repost is None or repost.original_id is None:
            return True
        if repost.method != DECLARED:
            return True
        target = index.load_fingerprints(self.session, [repost.original_id]).get(repost.original_id)
        where = self._where([repost.original_id]).get(repost.original_id)
        if target is None or where is None:
            return False
        scored = self._score(row, print_, repost.original_id, target, where, None)
        if max(scored.title, scored.containment) >= self.policy.declared_mismatch:
            return False
        repost.original_id, repost.linked_at = None, None  # a moved or reused URL
        return True

    # --- matching ----------------------------------------------------------------------

    def _match(
        self, row: models.Article, print_: fp.Fingerprint, source: models.RepostSource
    ) -> list[models.Repost]:
        """Link ``row`` to its best candidate original, or keep suggestions."""
        scored = self._scored(row, print_, source, self._candidates(row, print_, source, False))
        if not any(s.method for s in scored):  # nothing by site and title: look by content
            seen = {s.article_id for s in scored}
            more = [c for c in self._candidates(row, print_, source, True) if c not in seen]
            scored += self._scored(row, print_, source, more)
        links = sorted((s for s in scored if s.method), key=lambda s: s.strength, reverse=True)
        self.session.execute(
            delete(models.LinkSuggestion).where(models.LinkSuggestion.repost_id == row.id)
        )
        best = links[0] if links else None
        if best and len(links) > 1 and best.strength - links[1].strength < self.policy.margin:
            best = self._prefer_original(links)  # near ties: the original, not another copy
        for s in scored:
            if s is not best and s.strength >= self.policy.suggest:
                self.session.add(
                    models.LinkSuggestion(
                        repost_id=row.id,
                        candidate_id=s.article_id,
                        score=round(s.strength, 3),
                        scores=s.scores,
                    )
                )
        return self._set_link(row, best)

    def _scored(
        self,
        row: models.Article,
        print_: fp.Fingerprint,
        source: models.RepostSource,
        candidates: list[int],
    ) -> list[Scored]:
        prints = index.load_fingerprints(self.session, candidates)
        where = self._where(list(prints))
        return [
            self._score(row, print_, cid, prints[cid], where[cid], source)
            for cid in candidates
            if cid in prints and cid in where
        ]

    def _prefer_original(self, links: list[Scored]) -> Scored | None:
        """Among candidates that fit about as well, the one the others copy; else none.

        Several portals reposting one original all match a new repost; they are
        copies of one text, so the first original of their chains wins. Two
        different originals that fit as well mean the evidence is not clear.
        """
        close = [s for s in links if links[0].strength - s.strength < self.policy.margin]
        roots = {chain(self.session, s.article_id)[-1] for s in close}
        if len(roots) != 1:
            return None
        root = roots.pop()
        return next((s for s in close if s.article_id == root), None)

    def _where(self, ids: list[int]) -> dict[int, tuple[str, datetime | None]]:
        """Site and publication time of the articles ``ids``."""
        if not ids:
            return {}
        rows = self.session.execute(
            select(models.Article.id, models.Article.site, models.Article.published_at).where(
                models.Article.id.in_(ids)
            )
        )
        return {article_id: (site, published) for article_id, site, published in rows}

    def _candidates(
        self,
        row: models.Article,
        print_: fp.Fingerprint,
        source: models.RepostSource,
        by_content: bool,
    ) -> list[int]:
        """Articles that could be ``row``'s original, from the indexes (never a full scan).

        The source's site in the date window and the same title first; with
        ``by_content``, also any article sharing an LSH band of the text.
        """
        found: dict[int, None] = {}
        if row.published_at is not None and source.agency_host:
            lo = row.published_at - timedelta(days=self.policy.days_before)
            hi = row.published_at + timedelta(days=self.policy.days_after)
            found.update(
                dict.fromkeys(
                    self.session.scalars(
                        select(models.Article.id).where(
                            models.Article.site == source.agency_host,
                            models.Article.published_at.between(lo, hi),
                        )
                    )
                )
            )
        found.update(dict.fromkeys(index.candidates_by_title(self.session, print_.title_keys)))
        if by_content:
            found.update(
                dict.fromkeys(index.candidates_by_bands(self.session, print_, exclude=row.id))
            )
        found.pop(row.id, None)
        copies = set(
            self.session.scalars(
                select(models.Repost.repost_id).where(
                    models.Repost.repost_id.in_(found), models.Repost.original_id.is_not(None)
                )
            )
        )
        # A candidate that is itself a copy must not lead back to ``row`` (no cycles).
        return [cid for cid in found if cid not in copies or row.id not in chain(self.session, cid)]

    def _score(
        self,
        row: models.Article,
        print_: fp.Fingerprint,
        candidate_id: int,
        candidate: fp.Fingerprint,
        where: tuple[str, datetime | None],
        source: models.RepostSource | None,
    ) -> Scored:
        policy = self.policy
        title = fp.title_score(print_, candidate)
        contained = fp.containment(print_, candidate)
        numbers = fp.numbers_agree(print_, candidate)
        scored = Scored(candidate_id, title, contained, numbers)
        scored.scores = {
            "title": round(title, 3),
            "containment": round(contained, 3),
            "numbers": round(numbers, 3),
        }
        site, published = where
        if not self._in_window(row.published_at, published):
            return scored
        right_site = source is None or source.agency_host in (None, site)
        same_numbers = numbers >= policy.numbers
        if right_site and title >= policy.title and contained >= policy.title_containment:
            # An original edited after the repost keeps its title and most of its text
            # but may change its figures; a notice from the same template does not keep both.
            if same_numbers or (title >= policy.edited_title and contained >= policy.containment):
                scored.method = "title_date"
        elif same_numbers and contained >= policy.containment:
            scored.method = "content"
        return scored

    def _in_window(self, repost: datetime | None, original: datetime | None) -> bool:
        if repost is None or original is None:
            return True
        before = timedelta(days=self.policy.days_before)
        after = timedelta(days=self.policy.days_after)
        return repost - before <= original <= repost + after

    def _set_link(self, row: models.Article, best: Scored | None) -> list[models.Repost]:
        repost = self._repost_row(row.id)
        if best is None:
            if repost is not None and repost.method != DECLARED:
                self.session.delete(repost)
                return [repost]
            return []
        confidence = round(min(1.0, best.strength * best.numbers), 3)
        if repost is None:
            repost = models.Repost(repost_id=row.id)
            self.session.add(repost)
        elif (repost.original_id, repost.method) == (best.article_id, best.method):
            return []
        repost.original_id = best.article_id
        repost.method = best.method or "content"
        repost.confidence = confidence
        repost.linked_at = models.utcnow()
        return [repost]

    def _repost_row(self, article_id: int) -> models.Repost | None:
        return self.session.scalars(
            select(models.Repost).where(models.Repost.repost_id == article_id)
        ).one_or_none()

    def _waiting_for(self, row: models.Article, print_: fp.Fingerprint) -> list[models.Article]:
        """Unlinked reposts that ``row`` could be the original of."""
        ids: dict[int, None] = {}
        if row.published_at is not None:
            lo = row.published_at - timedelta(days=self.policy.days_after)
            hi = row.published_at + timedelta(days=self.policy.days_before)
            ids.update(
                dict.fromkeys(
                    self.session.scalars(
                        select(models.RepostSource.article_id).where(
                            models.RepostSource.agency_host == row.site,
                            models.RepostSource.published_at.between(lo, hi),
                        )
                    )
                )
            )
        ids.update(dict.fromkeys(index.candidates_by_title(self.session, print_.title_keys)))
        ids.update(dict.fromkeys(index.candidates_by_bands(self.session, print_, exclude=row.id)))
        ids.pop(row.id, None)
        if not ids:
            return []
        linked = set(
            self.session.scalars(
                select(models.Repost.repost_id).where(
                    models.Repost.repost_id.in_(ids), models.Repost.original_id.is_not(None)
                )
            )
        )
        sources = set(
            self.session.scalars(
                select(models.RepostSource.article_id).where(
                    models.RepostSource.article_id.in_(ids)
                )
            )
        )
        wanted = [i for i in ids if i in sources and i not in linked]
        return [a for i in wanted if (a := self.session.get(models.Article, i)) is not None]


@dataclass
class Change:
    """How ``relink`` changed one repost's link: (original id, method) before and after."""

    repost_id: int
    before: tuple[int | None, str | None]
    after: tuple[int | None, str | None]


def relink(
    linker: Linker, since: datetime | None = None, site: str | None = None, batch: int = 500
) -> list[Change]:
    """Link again every stored article (published since ``since``, on ``site``), oldest first.

    Used after the registry has grown or the policy changed; commits every ``batch``
    articles. Returns the reposts whose link changed.
    """
    session = linker.session
    query = select(models.Article.id).order_by(models.Article.published_at, models.Article.id)
    if since is not None:
        query = query.where(models.Article.published_at >= since)
    if site is not None:
        query = query.where(models.Article.site == site)
    ids = list(session.scalars(query))
    before = _links(session)
    for position, article_id in enumerate(ids, start=1):
        row = session.get(models.Article, article_id)
        if row is not None:
            linker.link(row)
        if position % batch == 0:
            session.commit()
    session.commit()
    after = _links(session)
    return [
        Change(repost_id, before.get(repost_id, (None, None)), after.get(repost_id, (None, None)))
        for repost_id in sorted(set(before) | set(after))
        if before.get(repost_id, (None, None)) != after.get(repost_id, (None, None))
    ]


def _links(session: Session) -> dict[int, tuple[int | None, str | None]]:
    rows = session.execute(
        select(models.Repost.repost_id, models.Repost.original_id, models.Repost.method)
    )
    return {repost_id: (original_id, method) for repost_id, original_id, method in rows}
