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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, aliased

from govnews.core import fingerprint as fp
from govnews.core.timezone import utcnow
from govnews.link.agencies import AgencyRegistry, ResolveContext
from govnews.link.declared import METHOD as DECLARED
from govnews.link.declared import link_declared
from govnews.link.graph import chain
from govnews.store import models
from govnews.store import textindex as index


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

    def originals_window(self, repost: datetime) -> tuple[datetime, datetime]:
        """When the original of a repost published at ``repost`` may be published."""
        before, after = timedelta(days=self.days_before), timedelta(days=self.days_after)
        return repost - before, repost + after

    def reposts_window(self, original: datetime) -> tuple[datetime, datetime]:
        """When the reposts of an original published at ``original`` may be published."""
        before, after = timedelta(days=self.days_before), timedelta(days=self.days_after)
        return original - after, original + before


@dataclass
class Scored:
    """A candidate original and how well it matches."""

    article_id: int
    title: float
    containment: float
    numbers: float
    method: str | None = None

    @property
    def scores(self) -> dict[str, float]:
        """The scores as kept with a suggestion."""
        return {
            "title": round(self.title, 3),
            "containment": round(self.containment, 3),
            "numbers": round(self.numbers, 3),
        }

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
        self._common_bands: set[int] = set()

    def forget_caches(self) -> None:
        """Drop what this linker learned of the database: other writers changed it."""
        self._common_bands.clear()

    # --- entry points ------------------------------------------------------------------

    def link(
        self, row: models.ArticleRow, site_meta: Mapping[str, str] | None = None
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
            changed += self._offer(row, print_, waiting)
        self.session.flush()
        return changed

    def _offer(
        self, row: models.ArticleRow, print_: fp.Fingerprint, waiting: models.RepostSource
    ) -> list[models.Repost]:
        """Match a waiting repost again if ``row`` could be its original; else maybe suggest it.

        Without a link to ``row``, the repost's best match cannot change (its other
        candidates are as they were): only a new suggestion is kept.
        """
        repost_id = waiting.article_id
        repost_print = index.load_fingerprints(self.session, [repost_id]).get(repost_id)
        if repost_print is None:
            return []
        where = (row.site, row.published_at)
        scored = score(
            self.policy,
            waiting.published_at,
            repost_print,
            waiting.agency_host,
            row.id,
            print_,
            where,
        )
        if scored.method:
            repost = self.session.get(models.ArticleRow, repost_id)
            if repost is None or not self._needs_match(repost, repost_print):
                return []  # its declared original stands, whichever of the two came first
            return self._match(repost, repost_print, waiting)
        if scored.strength >= self.policy.suggest:
            self.session.execute(
                delete(models.LinkSuggestion).where(
                    models.LinkSuggestion.repost_id == repost_id,
                    models.LinkSuggestion.candidate_id == row.id,
                )
            )
            self.session.add(suggestion(repost_id, scored))
        return []

    # --- the article's own records -----------------------------------------------------

    def _fingerprint(self, row: models.ArticleRow) -> fp.Fingerprint:
        print_ = fp.fingerprint(row.title, row.body_text, row.original_title)
        index.store_fingerprint(self.session, row.id, print_)
        return print_

    def _record_source(self, row: models.ArticleRow) -> models.RepostSource | None:
        """Keep who the article says it comes from, when that is not its own site."""
        existing = self.session.get(models.RepostSource, row.id)
        found = source_of(self.registry, row)
        if found is None:
            if existing is not None:
                self.session.delete(existing)
            return None
        if existing is None:
            existing = models.RepostSource(article_id=row.id)
            self.session.add(existing)
        existing.source_name, existing.agency_host, existing.resolution = found
        existing.published_at = row.published_at
        return existing

    def _needs_match(self, row: models.ArticleRow, print_: fp.Fingerprint) -> bool:
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
        scored = score(
            self.policy, row.published_at, print_, None, repost.original_id, target, where
        )
        if max(scored.title, scored.containment) >= self.policy.declared_mismatch:
            return False
        repost.original_id, repost.linked_at = None, None  # a moved or reused URL
        return True

    # --- matching ----------------------------------------------------------------------

    def _match(
        self, row: models.ArticleRow, print_: fp.Fingerprint, source: models.RepostSource
    ) -> list[models.Repost]:
        """Link ``row`` to its best candidate original, or keep suggestions."""
        scored = self._scored(row, print_, source, self._candidates(row, print_, source, False))
        if not any(s.method for s in scored):  # nothing by site and title: look by content
            seen = {s.article_id for s in scored}
            more = [c for c in self._candidates(row, print_, source, True) if c not in seen]
            scored += self._scored(row, print_, source, more)
        best, suggested = choose(
            self.policy, scored, lambda article_id: chain(self.session, article_id)[-1]
        )
        self.session.execute(
            delete(models.LinkSuggestion).where(models.LinkSuggestion.repost_id == row.id)
        )
        self.session.add_all(suggestion(row.id, s) for s in suggested)
        return self._set_link(row, best)

    def _scored(
        self,
        row: models.ArticleRow,
        print_: fp.Fingerprint,
        source: models.RepostSource,
        candidates: list[int],
    ) -> list[Scored]:
        prints = index.load_fingerprints(self.session, candidates)
        where = self._where(list(prints))
        policy = self.policy
        return [
            score(
                policy, row.published_at, print_, source.agency_host, cid, prints[cid], where[cid]
            )
            for cid in candidates
            if cid in prints and cid in where
        ]

    def _where(self, ids: list[int]) -> dict[int, tuple[str, datetime | None]]:
        """Site and publication time of the articles ``ids``."""
        if not ids:
            return {}
        rows = self.session.execute(
            select(
                models.ArticleRow.id, models.ArticleRow.site, models.ArticleRow.published_at
            ).where(models.ArticleRow.id.in_(ids))
        )
        return {article_id: (site, published) for article_id, site, published in rows}

    def _candidates(
        self,
        row: models.ArticleRow,
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
            lo, hi = self.policy.originals_window(row.published_at)
            found.update(
                dict.fromkeys(
                    self.session.scalars(
                        select(models.ArticleRow.id).where(
                            models.ArticleRow.site == source.agency_host,
                            models.ArticleRow.published_at.between(lo, hi),
                        )
                    )
                )
            )
        found.update(dict.fromkeys(index.candidates_by_title(self.session, print_.title_keys)))
        if by_content:
            found.update(dict.fromkeys(self._by_bands(print_, row.id)))
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

    def _set_link(self, row: models.ArticleRow, best: Scored | None) -> list[models.Repost]:
        repost = self._repost_row(row.id)
        if best is None:
            if repost is not None and repost.method != DECLARED:
                self.session.delete(repost)
                return [repost]
            return []
        if repost is None:
            repost = models.Repost(repost_id=row.id)
            self.session.add(repost)
        elif (repost.original_id, repost.method) == (best.article_id, best.method):
            return []
        repost.original_id = best.article_id
        repost.method = best.method or "content"
        repost.confidence = confidence(best)
        repost.linked_at = utcnow()
        return [repost]

    def _repost_row(self, article_id: int) -> models.Repost | None:
        return self.session.scalars(
            select(models.Repost).where(models.Repost.repost_id == article_id)
        ).one_or_none()

    def _any_waiting(self, window: tuple[datetime, datetime] | None) -> bool:
        """False when no repost published in ``window`` (or undated) waits for its original.

        One indexed look-up that spares the candidate searches of most articles.
        """
        query = select(models.RepostSource.article_id).where(~_LINKED)
        if window is not None:
            undated = models.RepostSource.published_at.is_(None)
            query = query.where(models.RepostSource.published_at.between(*window) | undated)
        return self.session.scalar(query.limit(1)) is not None

    def _by_bands(self, print_: fp.Fingerprint, exclude: int) -> list[int]:
        return index.candidates_by_bands(
            self.session, print_, exclude=exclude, common=self._common_bands
        )

    def _waiting_for(
        self, row: models.ArticleRow, print_: fp.Fingerprint
    ) -> list[models.RepostSource]:
        """The sources of the reposts ``row`` could be the original of: unlinked, or linked
        to another repost only."""
        published = row.published_at
        window = self.policy.reposts_window(published) if published is not None else None
        if not self._any_waiting(window):
            return []
        ids: dict[int, None] = {}
        if window is not None:
            ids.update(
                dict.fromkeys(
                    self.session.scalars(
                        select(models.RepostSource.article_id).where(
                            models.RepostSource.agency_host == row.site,
                            models.RepostSource.published_at.between(*window),
                        )
                    )
                )
            )
        ids.update(dict.fromkeys(index.candidates_by_title(self.session, print_.title_keys)))
        ids.update(dict.fromkeys(self._by_bands(print_, row.id)))
        ids.pop(row.id, None)
        if not ids:
            return []
        return list(
            self.session.scalars(
                select(models.RepostSource).where(models.RepostSource.article_id.in_(ids), ~_LINKED)
            )
        )


# A repost_sources row whose article is linked to an original: a government article that
# names no other source. One linked to a copy (a portal's, or another government site's
# repost that came first) still waits: the agency's own page, when it comes, is offered
# to it, so the link does not depend on the arrival order.
_ORIGINAL_SOURCE = aliased(models.RepostSource)
_LINKED = (
    select(models.Repost.id)
    .join(models.ArticleRow, models.ArticleRow.id == models.Repost.original_id)
    .where(
        models.Repost.repost_id == models.RepostSource.article_id,
        models.ArticleRow.kind == "gov",
        ~select(_ORIGINAL_SOURCE.article_id)
        .where(_ORIGINAL_SOURCE.article_id == models.Repost.original_id)
        .exists(),
    )
    .exists()
)


def source_of(registry: AgencyRegistry, row: Any) -> tuple[str, str | None, str] | None:
    """Who an article (row or item) says it comes from, when that is not its own site.

    ``(source name, the agency's host or None when unknown, how it was resolved)``.
    """
    if not row.source_name:
        return None
    resolution = registry.known(row.source_name) or registry.resolve(
        row.source_name, context=ResolveContext.of(row)
    )
    if resolution is None or (resolution.agency is not None and resolution.agency.host == row.site):
        return None
    host = resolution.agency.host if resolution.agency else None
    return row.source_name, host, resolution.how


def score(
    policy: LinkPolicy,
    published: datetime | None,
    print_: fp.Fingerprint,
    host: str | None,
    candidate_id: int,
    candidate: fp.Fingerprint,
    where: tuple[str, datetime | None],
    title: float | None = None,
    contained: float | None = None,
) -> Scored:
    """How well ``candidate`` fits as the original of a repost, and by which method.

    ``published`` and ``print_`` are the repost's; ``host`` the site its source
    agency maps to (None: any site); ``where`` the candidate's site and time.
    ``title`` and ``contained``: the title score and containment, if known.
    """
    if title is None:
        title = fp.title_score(print_, candidate)
    if contained is None:
        contained = fp.containment(print_, candidate)
    numbers = fp.numbers_agree(print_, candidate)
    scored = Scored(candidate_id, title, contained, numbers)
    site, candidate_published = where
    if not in_window(policy, published, candidate_published):
        return scored
    right_site = host in (None, site)
    same_numbers = numbers >= policy.numbers
    if right_site and title >= policy.title and contained >= policy.title_containment:
        # An original edited after the repost keeps its title and most of its text
        # but may change its figures; a notice from the same template does not keep both.
        if same_numbers or (title >= policy.edited_title and contained >= policy.containment):
            scored.method = "title_date"
    elif same_numbers and contained >= policy.containment:
        scored.method = "content"
    return scored


def can_matter(policy: LinkPolicy, title: float, contained: float) -> bool:
    """False when a candidate with these scores can be neither linked nor suggested.

    A link needs the title or the text above its threshold, a suggestion a
    strength (at most the mean of the two) above ``policy.suggest``: a cheap
    test that spares the full :func:`score` of most candidates.
    """
    floor = min(2 * policy.suggest, policy.title, policy.containment)
    return title + contained >= floor - 1e-9


def in_window(policy: LinkPolicy, repost: datetime | None, original: datetime | None) -> bool:
    """True when ``original`` is published in the window around ``repost``, or a date is unknown."""
    if repost is None or original is None:
        return True
    lo, hi = policy.originals_window(repost)
    return lo <= original <= hi


def choose(
    policy: LinkPolicy, scored: list[Scored], root_of: Callable[[int], int]
) -> tuple[Scored | None, list[Scored]]:
    """The candidate to link (or None) and the ones to keep as suggestions.

    Among candidates that fit about as well, the one the others copy wins
    (``root_of`` gives the first original of an article's chain): several
    portals reposting one original all match a new repost. Two different
    originals that fit as well mean the evidence is not clear: no link.
    """
    links = sorted((s for s in scored if s.method), key=lambda s: s.strength, reverse=True)
    best = links[0] if links else None
    if best and len(links) > 1 and best.strength - links[1].strength < policy.margin:
        close = [s for s in links if best.strength - s.strength < policy.margin]
        roots = {root_of(s.article_id) for s in close}
        root = roots.pop() if len(roots) == 1 else None
        best = next((s for s in close if s.article_id == root), None)
    suggested = [s for s in scored if s is not best and s.strength >= policy.suggest]
    return best, suggested


def suggestion(repost_id: int, scored: Scored) -> models.LinkSuggestion:
    """The ``link_suggestions`` row of a candidate that was not linked."""
    return models.LinkSuggestion(
        repost_id=repost_id,
        candidate_id=scored.article_id,
        score=round(scored.strength, 3),
        scores=scored.scores,
    )


def confidence(best: Scored) -> float:
    """The confidence stored with a link found by title, date or text."""
    return round(min(1.0, best.strength * best.numbers), 3)
