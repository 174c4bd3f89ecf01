"""Whether a run went well, as cron needs to know it: a status and an exit code.

A run *failed* when it did not finish (an error, a shutdown, a closed spider);
it is *degraded* when it finished but its coverage collapsed:

* a site of the spider (a seed site, a site of the sites file) gave no article at
  all, new or already stored, and it has stored articles, or most of the pages
  requested on it failed (a dead site is degraded on its first run too);
* more than ``GOVNEWS_MAX_FAILURE_SHARE`` of the pages the run requested failed;
* a requested page ended neither stored, failed, skipped nor as a listing.

Shares are of pages, as :mod:`govnews.crawl.accounting` counts them: a page the
spider asked for counts once however often it was downloaded (retries, redirects),
and robots.txt is no page. ``scrapy crawl`` and ``scrapy crawlall`` exit with
:data:`EXIT_CODES` of the worst run (:func:`worst`: failed is worse than degraded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

EXIT_CODES = {"finished": 0, "failed": 1, "degraded": 2, "locked": 3}
#: The codes from best to worst: a run that failed is worse than one that finished
#: degraded, although its code is smaller.
_SEVERITY = (0, 2, 1, 3)


def worst(codes: Iterable[int]) -> int:
    """The worst of several runs' exit codes (0 when there are none), as ``crawlall`` exits."""
    return max(codes, key=_SEVERITY.index, default=EXIT_CODES["finished"])


@dataclass(frozen=True)
class PageCounts:
    """How the pages a run requested ended, on one site or on all of them."""

    requested: int = 0
    stored: int = 0
    failed: int = 0
    skipped: int = 0
    listings: int = 0

    @property
    def unaccounted(self) -> int:
        """Requested pages that ended in none of the four ways (0 when all is well)."""
        return self.requested - self.stored - self.failed - self.skipped - self.listings

    @classmethod
    def total(cls, counts: Iterable[PageCounts]) -> PageCounts:
        """The sum of ``counts`` (the whole run's, from its sites')."""
        counts = list(counts)
        return cls(**{f.name: sum(getattr(c, f.name) for c in counts) for f in fields(cls)})


@dataclass
class RunHealth:
    """The verdict on one run: ``finished``, ``degraded`` or ``failed``, and why."""

    status: str
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def describe(self, reason: str) -> str:
        """The run's finish reason with its problems, for ``crawl_runs.finish_reason``."""
        return "; ".join([reason, *self.problems])


def assess(
    reason: str,
    *,
    pages: Mapping[str, PageCounts],
    seen: Mapping[str, int],
    stored: Mapping[str, int],
    max_failure_share: float,
) -> RunHealth:
    """Judge a run that ended for ``reason``.

    ``pages``: per site, how the pages requested on it ended; ``seen``: per site
    of the spider, the articles this run stored or found already stored;
    ``stored``: per site, the articles the database holds.
    """
    if reason != "finished":
        return RunHealth("failed", [f"the run did not finish ({reason})"])
    problems = []
    for site in sorted(seen):
        if seen[site]:
            continue
        on_site = pages.get(site, PageCounts())
        if stored.get(site):
            problems.append(f"no articles from {site}, which has {stored[site]}")
        elif on_site.failed * 2 > on_site.requested:
            problems.append(
                f"no articles from {site}: {on_site.failed} of its {on_site.requested} pages failed"
            )
    run = PageCounts.total(pages.values())
    if run.requested and run.failed / run.requested > max_failure_share:
        share = run.failed / run.requested
        problems.append(
            f"{run.failed} of {run.requested} pages failed ({share:.0%}, "
            f"more than {max_failure_share:.0%})"
        )
    if run.unaccounted:
        problems.append(
            f"{run.unaccounted} of {run.requested} pages not accounted for "
            "(neither stored, failed, skipped nor a listing)"
        )
    return RunHealth("degraded" if problems else "finished", problems)
