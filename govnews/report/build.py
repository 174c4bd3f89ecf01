"""The propagation report: one self-contained HTML page from the database.

:func:`build_report` asks :mod:`govnews.report.queries` for the figures, has
:mod:`govnews.report.charts` draw them and fills the Jinja2 template
``templates/report.html``: styles inline, charts as inline SVG, no script and
a Content-Security-Policy that lets the page load nothing at all, so that it
opens from disk anywhere and asks no server for anything.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.orm import Session

from govnews.core.timezone import SHANGHAI, utcnow
from govnews.report import charts
from govnews.report import queries as q

#: Originals drawn on the timeline chart.
TIMELINE_ORIGINALS = 15
#: Sites drawn on the credit chart.
CREDIT_SITES = 15


@dataclass(frozen=True)
class Options:
    """How much the report lists (the settings ``GOVNEWS_REPORT_*``)."""

    rows: int = 200
    originals: int = 100
    runs: int = 20
    quiet_runs: int = 7


def build_report(session: Session, filters: q.Filters, options: Options, scope: str = "") -> str:
    """The report's HTML; ``scope`` says in words what the filters keep."""
    names = q.agency_names(session)
    found = q.links(session, filters)
    credit = q.credit_by_site(found)
    agencies = q.by_agency(found, names)
    originals = q.by_original(found, names, options.originals)
    wrong = q.miscredited(found, options.rows)
    waiting = q.waiting(session, filters, options.rows)
    unmatched = q.unmatched(session, filters, options.rows)
    suggested = q.suggestions(session, filters, options.rows)
    runs = q.runs(session, options.runs)
    per_run = q.articles_per_run(session, [run.id for run in runs], filters.site)
    failures = q.failures_by_stage(session)
    open_failures = q.open_failures(session, options.rows)
    activity = q.site_activity(session, options.quiet_runs, filters.site)
    articles = q.article_counts(session, filters)
    figures = {
        "articles_gov": articles.get("gov", 0),
        "articles_portal": articles.get("portal", 0),
        "reposts_linked": len(found),
        "originals_reposted": len({link.original_id for link in found}),
        "reposts_waiting": waiting.total,
        "unmatched": unmatched.total,
        "suggestions": suggested.total,
        "miscredited": wrong.total,
        "failures_open": open_failures.total,
        "sites_silent": sum(site.silent for site in activity),
    }
    context: dict[str, Any] = {
        "generated": f"{utcnow().astimezone(SHANGHAI):%Y-%m-%d %H:%M}",
        "scope": scope,
        "figures": figures,
        "credit": credit,
        "agencies": agencies,
        "originals": originals,
        "miscredited": wrong,
        "waiting": waiting,
        "unmatched": unmatched,
        "suggestions": suggested,
        "runs": runs,
        "per_run": {run_id: sites.most_common() for run_id, sites in per_run.items()},
        "failures": failures,
        "open_failures": open_failures,
        "activity": activity,
        "names": names,
        "charts": _charts(found, credit, originals),
        "options": options,
    }
    return _environment().get_template("report.html").render(context)


def _charts(found: list[q.Link], credit: list[q.Credit], originals: q.Listed) -> dict[str, str]:
    """The SVG of each chart, by name; none when there is nothing to draw."""
    if not found:
        return {}
    months = q.reposts_by_month(found)
    labels = _months(sorted(months))
    drawn = {
        "over_time": charts.bars(
            "over-time", labels, [months[label] for label in labels], "每月转载 Reposts per month"
        )
    }
    buckets = Counter(
        charts.bucket(delay) for link in found if (delay := link.delay_hours) is not None
    )
    names = [label for _, label in charts.DELAY_BUCKETS]
    drawn["delays"] = charts.bars(
        "delays", names, [buckets[name] for name in names], "转载时差 Delay to repost"
    )
    top = credit[:CREDIT_SITES]
    drawn["credit"] = charts.grouped_bars(
        "credit",
        [site.site for site in top],
        {
            "来源正确 source names the agency": [site.share(site.right) for site in top],
            "有原文链接 gives 原文链接": [site.share(site.gives_link) for site in top],
            "原文链接可达原文 link reaches the original": [
                site.share(site.link_resolves) for site in top
            ],
        },
        "各站署名 Credit by site",
    )
    rows = [
        (
            _short(original.title),
            [delay for link in original.reposts if (delay := link.delay_hours) is not None],
        )
        for original in originals.rows[:TIMELINE_ORIGINALS]
    ]
    drawn["timeline"] = charts.timeline(
        "timeline", rows, "转载最多的原文 Most reposted originals: reposts over time"
    )
    return drawn


def _months(present: list[str]) -> list[str]:
    """Every month from the first present to the last, so that a gap shows as one."""
    if not present:
        return []
    year, month = map(int, present[0].split("-"))
    end = present[-1]
    months = []
    while (label := f"{year:04d}-{month:02d}") <= end:
        months.append(label)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _short(text: str, width: int = 22) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _local(value: datetime | None, form: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time in Asia/Shanghai, or a dash."""
    return value.astimezone(SHANGHAI).strftime(form) if value is not None else "–"


def _hours(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "–"


def _percent(count: int, total: int) -> str:
    return f"{count / total:.0%}" if total else "–"


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("govnews.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(local=_local, hours=_hours, short=_short)
    environment.globals.update(percent=_percent)
    return environment
