"""Whether a run went well, as cron needs to know it: a status and an exit code.

A run *failed* when it did not finish (an error, a shutdown, a closed spider);
it is *degraded* when it finished but its coverage collapsed: no article at
all, new or already stored, from a site that has articles, or a share of
failed pages above ``GOVNEWS_MAX_FAILURE_SHARE``. ``scrapy crawl`` and
``scrapy crawlall`` exit with :data:`EXIT_CODES` of the worst run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

EXIT_CODES = {"finished": 0, "failed": 1, "degraded": 2, "locked": 3}


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
    requests: int,
    failures: int,
    seen: Mapping[str, int],
    stored: Mapping[str, int],
    max_failure_share: float,
) -> RunHealth:
    """Judge a run that ended for ``reason``.

    ``seen``: per site of the spider, the articles this run stored or found
    already stored; ``stored``: per site, the articles the database holds.
    """
    if reason != "finished":
        return RunHealth("failed", [f"the run did not finish ({reason})"])
    problems = [
        f"no articles from {site}, which has {count}"
        for site, count in sorted(stored.items())
        if count and not seen.get(site)
    ]
    if requests and failures / requests > max_failure_share:
        problems.append(
            f"{failures} of {requests} requests failed ({failures / requests:.0%}, "
            f"more than {max_failure_share:.0%})"
        )
    return RunHealth("degraded" if problems else "finished", problems)
