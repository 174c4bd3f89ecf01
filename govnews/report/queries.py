"""The report's figures: SQLAlchemy Core over the tables ``scrapy export`` reads.

Every query runs as written on SQLite and PostgreSQL. A repost is reported
against its *first* original, the end of its chain of links (as ``scrapy
export`` resolves it), found by one recursive query; delays are computed from
the rows in Python, where an aware datetime difference is the same on every
backend. Lists that could be long are cut at ``limit`` rows and say how many
there were.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from govnews.core.timezone import SHANGHAI, utcnow
from govnews.store.agencies import Agency
from govnews.store.models import (
    ArticleRow,
    ArticleUrl,
    CrawlRun,
    LinkSuggestion,
    PageFailure,
    Repost,
    RepostSource,
)

#: A select of any columns (SQLAlchemy 2.1 types a select by its columns).
Query = Select[*tuple[Any, ...]]

#: Links followed up a chain at most (a cycle of links ends there).
MAX_CHAIN = 32


@dataclass(frozen=True)
class Filters:
    """What the report covers: reposts published in ``[since, before)``; a site; agency hosts.

    ``site`` keeps reposts on that site and reposts of its originals; ``hosts``
    (an agency's sites) keeps reposts of originals published there.
    """

    since: datetime | None = None
    before: datetime | None = None
    site: str | None = None
    hosts: frozenset[str] | None = None


@dataclass(frozen=True)
class Link:
    """One linked repost with its first original and what it says of it."""

    repost_id: int
    repost_url: str
    repost_site: str
    repost_kind: str
    repost_published: datetime | None
    original_id: int
    original_url: str
    original_site: str
    original_title: str
    original_published: datetime | None
    method: str
    source_name: str | None
    #: 'right' (names the original's agency, or the copy's), 'wrong', 'unknown' (no agency)
    credit: str
    gives_link: bool
    link_resolves: bool

    @property
    def delay_hours(self) -> float | None:
        """Hours from the original's publication to the repost's (None when a date is missing)."""
        if self.repost_published is None or self.original_published is None:
            return None
        return (self.repost_published - self.original_published).total_seconds() / 3600


@dataclass
class Credit:
    """What a site's reposts say of their originals."""

    site: str
    kind: str
    reposts: int = 0
    right: int = 0
    wrong: int = 0
    gives_link: int = 0
    link_resolves: int = 0

    def share(self, count: int) -> float:
        """``count`` as a share of the site's reposts."""
        return count / self.reposts if self.reposts else 0.0


@dataclass
class AgencyFigures:
    """The reposts of one agency's originals."""

    name: str
    hosts: set[str] = field(default_factory=set)
    originals: set[int] = field(default_factory=set)
    reposts: int = 0
    portals: set[str] = field(default_factory=set)
    delays: list[float] = field(default_factory=list)
    right: int = 0

    @property
    def median_delay(self) -> float | None:
        """The median delay in hours, or None when no repost has both dates."""
        return median(self.delays) if self.delays else None


@dataclass
class Original:
    """One original with its reposts, earliest first."""

    id: int
    url: str
    site: str
    agency: str
    title: str
    published: datetime | None
    reposts: list[Link] = field(default_factory=list)


@dataclass(frozen=True)
class Listed:
    """The first ``limit`` rows of a list, and how many rows it has."""

    rows: list[Any]
    total: int


@dataclass(frozen=True)
class SiteActivity:
    """When a site last gave a new article, and whether its spider's last runs gave none."""

    site: str
    spider: str
    last_stored: datetime
    last_published: datetime | None
    silent: bool


# --- links ------------------------------------------------------------------------------


def first_originals() -> Query:
    """``(repost_id, direct_id, original_id)``: each linked repost and the end of its chain."""
    reposts = Repost.__table__
    linked = reposts.c.original_id.is_not(None)
    base = select(
        reposts.c.repost_id,
        reposts.c.original_id.label("direct_id"),
        reposts.c.original_id,
        literal(1).label("depth"),
    ).where(linked)
    chain = base.cte("chain", recursive=True)
    step = (
        select(
            chain.c.repost_id,
            chain.c.direct_id,
            reposts.c.original_id,
            (chain.c.depth + 1).label("depth"),
        )
        .join(reposts, reposts.c.repost_id == chain.c.original_id)
        .where(linked, reposts.c.original_id != chain.c.repost_id, chain.c.depth < MAX_CHAIN)
    )
    chain = chain.union_all(step)
    deepest = func.row_number().over(partition_by=chain.c.repost_id, order_by=chain.c.depth.desc())
    ranked = select(
        chain.c.repost_id, chain.c.direct_id, chain.c.original_id, deepest.label("rank")
    ).subquery("ranked")
    return select(ranked.c.repost_id, ranked.c.direct_id, ranked.c.original_id).where(
        ranked.c.rank == 1
    )


def links(session: Session, filters: Filters) -> list[Link]:
    """Every linked repost the filters keep, with its first original, oldest repost first."""
    ends = first_originals().subquery("ends")
    repost, original, direct = aliased(ArticleRow), aliased(ArticleRow), aliased(ArticleRow)
    named = RepostSource.agency_host
    right = or_(named == original.site, named == direct.site)
    credit = case(
        (named.is_(None), "unknown"),
        (right, "right"),
        else_="wrong",
    )
    resolves = exists().where(
        ArticleUrl.url_key == repost.declared_original_key,
        ArticleUrl.article_id.in_([ends.c.direct_id, ends.c.original_id]),
    )
    query: Query = (
        select(
            repost.id.label("repost_id"),
            repost.url.label("repost_url"),
            repost.site.label("repost_site"),
            repost.kind.label("repost_kind"),
            repost.published_at.label("repost_published"),
            original.id.label("original_id"),
            original.url.label("original_url"),
            original.site.label("original_site"),
            original.title.label("original_title"),
            original.published_at.label("original_published"),
            Repost.method,
            repost.source_name,
            credit.label("credit"),
            repost.declared_original_url.is_not(None).label("gives_link"),
            and_(repost.declared_original_key.is_not(None), resolves).label("link_resolves"),
        )
        .select_from(ends)
        .join(Repost, Repost.repost_id == ends.c.repost_id)
        .join(repost, repost.id == ends.c.repost_id)
        .join(original, original.id == ends.c.original_id)
        .join(direct, direct.id == ends.c.direct_id)
        .outerjoin(RepostSource, RepostSource.article_id == repost.id)
    )
    query = _published_in(query, repost.published_at, filters)
    if filters.site is not None:
        query = query.where(or_(repost.site == filters.site, original.site == filters.site))
    if filters.hosts is not None:
        query = query.where(original.site.in_(filters.hosts))
    query = query.order_by(repost.published_at.is_(None), repost.published_at, repost.id)
    return [
        Link(**{**row._asdict(), "gives_link": bool(row.gives_link),
                "link_resolves": bool(row.link_resolves)})
        for row in session.execute(query)
    ]  # fmt: skip


def agency_names(session: Session) -> dict[str, str]:
    """The agency of each host the registry knows: the first registered (curated before learned)."""
    first = (
        select(Agency.host, func.min(Agency.id).label("id"))
        .where(Agency.host.is_not(None))
        .group_by(Agency.host)
        .subquery()
    )
    rows = session.execute(select(Agency.host, Agency.name).join(first, first.c.id == Agency.id))
    return {host: name for host, name in rows if host is not None}


def agency_hosts(session: Session, name: str) -> frozenset[str]:
    """The sites of the agency called ``name`` (or of that host); empty when none is known."""
    rows = session.scalars(
        select(Agency.host).where(
            or_(Agency.name == name, Agency.host == name), Agency.host.is_not(None)
        )
    )
    return frozenset(host for host in rows if host)


def credit_by_site(found: list[Link]) -> list[Credit]:
    """Per reposting site, most reposts first."""
    sites: dict[str, Credit] = {}
    for link in found:
        figures = sites.setdefault(link.repost_site, Credit(link.repost_site, link.repost_kind))
        figures.reposts += 1
        figures.right += link.credit == "right"
        figures.wrong += link.credit == "wrong"
        figures.gives_link += link.gives_link
        figures.link_resolves += link.link_resolves
    return sorted(sites.values(), key=lambda credit: (-credit.reposts, credit.site))


def by_agency(found: list[Link], names: dict[str, str]) -> list[AgencyFigures]:
    """Per agency of the originals (its host when the registry has none), most reposts first."""
    agencies: dict[str, AgencyFigures] = {}
    for link in found:
        name = names.get(link.original_site, link.original_site)
        figures = agencies.setdefault(name, AgencyFigures(name))
        figures.hosts.add(link.original_site)
        figures.originals.add(link.original_id)
        figures.reposts += 1
        figures.portals.add(link.repost_site)
        figures.right += link.credit == "right"
        if (delay := link.delay_hours) is not None:
            figures.delays.append(delay)
    return sorted(agencies.values(), key=lambda figures: (-figures.reposts, figures.name))


def by_original(found: list[Link], names: dict[str, str], limit: int) -> Listed:
    """The ``limit`` most reposted originals with their reposts."""
    originals: dict[int, Original] = {}
    for link in found:
        original = originals.get(link.original_id)
        if original is None:
            original = originals[link.original_id] = Original(
                link.original_id,
                link.original_url,
                link.original_site,
                names.get(link.original_site, link.original_site),
                link.original_title,
                link.original_published,
            )
        original.reposts.append(link)
    ranked = sorted(
        originals.values(),
        key=lambda original: (-len(original.reposts), _newest_first(original.published)),
    )
    return Listed(ranked[:limit], len(ranked))


def reposts_by_month(found: list[Link]) -> Counter[str]:
    """Reposts per month of publication (Asia/Shanghai), ``YYYY-MM``."""
    return Counter(
        f"{link.repost_published.astimezone(SHANGHAI):%Y-%m}"
        for link in found
        if link.repost_published is not None
    )


def miscredited(found: list[Link], limit: int) -> Listed:
    """Reposts whose 来源 names an agency other than their original's."""
    wrong = [link for link in found if link.credit == "wrong"]
    return Listed(wrong[-limit:][::-1], len(wrong))


def article_counts(session: Session, filters: Filters) -> dict[str, int]:
    """Stored articles by kind (``gov``, ``portal``) that the filters' dates and site keep."""
    query = select(ArticleRow.kind, func.count()).group_by(ArticleRow.kind)
    if filters.hosts is not None:
        query = query.where(ArticleRow.site.in_(filters.hosts))
    rows = session.execute(_article_filters(query, filters))
    return {row[0]: row[1] for row in rows}


# --- what is not resolved ----------------------------------------------------------------


def waiting(session: Session, filters: Filters, limit: int) -> Listed:
    """Reposts whose declared original is not stored yet: ``(url, site, published, declared)``."""
    query = (
        select(ArticleRow.url, ArticleRow.site, ArticleRow.published_at, Repost.declared_url)
        .join(Repost, Repost.repost_id == ArticleRow.id)
        .where(Repost.original_id.is_(None))
    )
    return _listed(session, _article_filters(query, filters), limit)


def unmatched(session: Session, filters: Filters, limit: int) -> Listed:
    """Portal articles whose 来源 is a known agency and that nothing links: no original found.

    ``(url, site, published, source_name, agency_host)``.
    """
    query = (
        select(
            ArticleRow.url,
            ArticleRow.site,
            ArticleRow.published_at,
            RepostSource.source_name,
            RepostSource.agency_host,
        )
        .join(RepostSource, RepostSource.article_id == ArticleRow.id)
        .where(
            ArticleRow.kind == "portal",
            RepostSource.agency_host.is_not(None),
            ~exists().where(Repost.repost_id == ArticleRow.id),
        )
    )
    if filters.hosts is not None:
        query = query.where(RepostSource.agency_host.in_(filters.hosts))
    return _listed(session, _article_filters(query, filters), limit)


def suggestions(session: Session, filters: Filters, limit: int) -> Listed:
    """Candidates scored below the threshold: ``(url, site, candidate_url, candidate_site, score)``.

    Best score first.
    """
    candidate = aliased(ArticleRow)
    query = (
        select(
            ArticleRow.url,
            ArticleRow.site,
            ArticleRow.published_at,
            candidate.url.label("candidate_url"),
            candidate.site.label("candidate_site"),
            LinkSuggestion.score,
        )
        .join(LinkSuggestion, LinkSuggestion.repost_id == ArticleRow.id)
        .join(candidate, candidate.id == LinkSuggestion.candidate_id)
    )
    if filters.hosts is not None:
        query = query.where(candidate.site.in_(filters.hosts))
    query = _article_filters(query, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(LinkSuggestion.score.desc()).limit(limit)).all()
    return Listed(list(rows), total)


# --- runs ----------------------------------------------------------------------------------


def runs(session: Session, limit: int) -> list[CrawlRun]:
    """The last ``limit`` runs, newest first."""
    return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)))


def articles_per_run(
    session: Session, run_ids: list[int], site: str | None
) -> dict[int, Counter[str]]:
    """New articles per run and site: those first seen while the run lasted.

    A run records how many articles it stored, not which: an article is counted
    for the run whose start and end (its last update when it never ended)
    bracket its ``first_seen_at``; runs that overlap both count it.
    """
    end = func.coalesce(CrawlRun.finished_at, utcnow())
    query = (
        select(CrawlRun.id, ArticleRow.site, func.count())
        .join(
            ArticleRow,
            and_(ArticleRow.first_seen_at >= CrawlRun.started_at, ArticleRow.first_seen_at <= end),
        )
        .where(CrawlRun.id.in_(run_ids))
        .group_by(CrawlRun.id, ArticleRow.site)
    )
    if site is not None:
        query = query.where(ArticleRow.site == site)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for run_id, article_site, count in session.execute(query):
        counts[run_id][article_site] = count
    return counts


def failures_by_stage(session: Session) -> list[tuple[str, str, int, int]]:
    """``(spider, stage, open, resolved)`` of every recorded page failure."""
    is_open = PageFailure.resolved_at.is_(None)
    rows = session.execute(
        select(
            PageFailure.spider,
            PageFailure.stage,
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((is_open, 0), else_=1)),
        )
        .group_by(PageFailure.spider, PageFailure.stage)
        .order_by(PageFailure.spider, PageFailure.stage)
    )
    return [(spider, stage, int(opened), int(closed)) for spider, stage, opened, closed in rows]


def open_failures(session: Session, limit: int) -> Listed:
    """Failures not yet resolved: ``(url, spider, stage, reason, attempts, last_failed_at)``."""
    query = select(
        PageFailure.url,
        PageFailure.spider,
        PageFailure.stage,
        PageFailure.reason,
        PageFailure.attempts,
        PageFailure.last_failed_at,
    ).where(PageFailure.resolved_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(PageFailure.last_failed_at.desc()).limit(limit)).all()
    return Listed(list(rows), total)


def site_activity(session: Session, quiet_runs: int, site: str | None) -> list[SiteActivity]:
    """Every site a spider's runs stored, when it last gave a new article, silent or not.

    A site is silent when none of its spider's last ``quiet_runs`` finished
    runs stored a new article of it, though an earlier run did (the articles
    of a run as in :func:`articles_per_run`).
    """
    finished = CrawlRun.finished_at.is_not(None)
    query = (
        select(
            CrawlRun.spider,
            ArticleRow.site,
            func.max(CrawlRun.id).label("last_run"),
            func.max(ArticleRow.first_seen_at).label("last_stored"),
            func.max(ArticleRow.published_at).label("last_published"),
        )
        .join(
            ArticleRow,
            and_(
                ArticleRow.first_seen_at >= CrawlRun.started_at,
                ArticleRow.first_seen_at <= CrawlRun.finished_at,
            ),
        )
        .where(finished)
        .group_by(CrawlRun.spider, ArticleRow.site)
    )
    if site is not None:
        query = query.where(ArticleRow.site == site)
    recent: dict[str, list[int]] = defaultdict(list)
    for spider, run_id in session.execute(
        select(CrawlRun.spider, CrawlRun.id).where(finished).order_by(CrawlRun.id.desc())
    ):
        if len(recent[spider]) < quiet_runs:
            recent[spider].append(run_id)
    activity = [
        SiteActivity(
            row.site,
            row.spider,
            row.last_stored,
            row.last_published,
            silent=len(recent[row.spider]) == quiet_runs and row.last_run < min(recent[row.spider]),
        )
        for row in session.execute(query)
    ]
    return sorted(activity, key=lambda item: (not item.silent, item.last_stored, item.site))


# --- helpers ------------------------------------------------------------------------------


def _published_in(
    query: Query, column: ColumnElement[Any] | InstrumentedAttribute[Any], filters: Filters
) -> Query:
    if filters.since is not None:
        query = query.where(column >= filters.since)
    if filters.before is not None:
        query = query.where(column < filters.before)
    return query


def _article_filters(query: Query, filters: Filters) -> Query:
    """Dates and site of the article a list row is about."""
    query = _published_in(query, ArticleRow.published_at, filters)
    if filters.site is not None:
        query = query.where(ArticleRow.site == filters.site)
    return query


def _listed(session: Session, query: Query, limit: int) -> Listed:
    """The newest ``limit`` rows of ``query`` (by the article's publication), and the count."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(ArticleRow.published_at.desc(), ArticleRow.id.desc()).limit(limit)
    return Listed(list(session.execute(ordered).all()), total)


def _newest_first(published: datetime | None) -> float:
    return -published.timestamp() if published is not None else 0.0
