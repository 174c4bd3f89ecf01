"""Precision and recall of repost linking on the labelled pages of ``tests/fixtures/linking``.

    python -m benchmarks.linking.accuracy [--fixtures DIR] [--database URL] [--relink]

Every page of the set is loaded in the labelled arrival order, as a crawl
would store it: ``extract_article`` → ``Repository.save_article`` →
``Linker.link`` → commit, into a fresh database (in memory by default). A
predicted pair is a repost URL and the URL of its first original
(``first_original``); suggestions below the threshold are not links. Prints a
Markdown table per split (tune, holdout, all) and every wrong or missing link
with its method, confidence and the best suggestions' scores. With ``--relink``,
every link, source, suggestion and fingerprint the crawl made is then deleted and
``scrapy relink``'s batch (``govnews.link.relink``) links the stored pages again
from scratch: the figures are those of the relink.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from govnews.extract import extract_article
from govnews.link.agencies import AgencyRegistry
from govnews.link.graph import first_original
from govnews.link.linker import Linker
from govnews.link.relink import relink
from govnews.store import Repository, models, open_database, session_factory, textindex

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "linking"
SPLITS = ("tune", "holdout")


@dataclass(frozen=True)
class Pair:
    """A labelled repost page and its first original (None: it must stay unlinked)."""

    repost: str
    original: str | None
    why: str
    split: str
    name: str = ""


@dataclass(frozen=True)
class Arrival:
    """One page load: the URL the page has and the file that holds its bytes."""

    url: str
    file: Path


@dataclass
class Labels:
    """The arrival order of the pages and the labelled pairs."""

    arrival: list[Arrival]
    pairs: list[Pair]


@dataclass
class Link:
    """What the database says about one linked or suggested repost."""

    original: str | None
    method: str | None = None
    confidence: float | None = None
    suggestions: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Score:
    """Counts and ratios of one split."""

    pairs: int = 0
    positives: int = 0
    predicted: int = 0
    right: int = 0
    wrong: int = 0
    missed: int = 0
    negatives_linked: int = 0

    @property
    def precision(self) -> float:
        """Right links over all links made (1.0 when none was made)."""
        return self.right / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        """Right links over labelled links (1.0 when none is labelled)."""
        return self.right / self.positives if self.positives else 1.0


@dataclass
class Report:
    """The outcome of one run over the labelled set."""

    labels: Labels
    links: dict[str, Link]
    scores: dict[str, Score]
    unlabelled: dict[str, Link]
    seconds: float

    def errors(self) -> list[tuple[Pair, Link]]:
        """Labelled pairs whose prediction differs from the label."""
        return [
            (pair, self.links.get(pair.repost, Link(None)))
            for pair in self.labels.pairs
            if self.links.get(pair.repost, Link(None)).original != pair.original
        ]


def page_file(fixtures: Path, url: str) -> Path:
    """The fixture file of ``url``: ``pages/<host>/<path>`` (a query string is part of the name)."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if path.endswith("/"):
        path += "index.html"
    name = path + (f"?{parts.query}" if parts.query else "")
    return fixtures / "pages" / (parts.hostname or "") / name.lstrip("/")


def load_labels(fixtures: Path = FIXTURES) -> Labels:
    """Read ``labels.json``; an arrival entry is a URL or ``{"url": …, "file": …}``."""
    raw = json.loads((fixtures / "labels.json").read_text(encoding="utf-8"))
    arrival = []
    for entry in raw["arrival"]:
        if isinstance(entry, str):
            arrival.append(Arrival(entry, page_file(fixtures, entry)))
        else:
            arrival.append(Arrival(entry["url"], fixtures / "pages" / entry["file"]))
    pairs = [
        Pair(p["repost"], p["original"], p["why"], p["split"], p.get("id", ""))
        for p in raw["pairs"]
    ]
    return Labels(arrival, pairs)


def load_pages(session: Session, arrival: Iterable[Arrival]) -> None:
    """Store and link every page in order, one commit per page, as a crawl does."""
    repository = Repository(session)
    for page in arrival:
        article = extract_article(page.file.read_bytes(), page.url)
        row = repository.save_article(article).row
        Linker(session).link(row, article.site_meta)
        session.commit()


def stored_links(session: Session) -> dict[str, Link]:
    """Article URL → its first original and how it was linked, for every ``reposts`` row."""
    urls = dict(session.execute(select(models.ArticleRow.id, models.ArticleRow.url)).all())
    links: dict[str, Link] = {}
    for repost in session.scalars(select(models.Repost)):
        original = first_original(session, repost.repost_id)
        links[urls[repost.repost_id]] = Link(
            original.url if original is not None else None, repost.method, repost.confidence
        )
    suggestion_model = getattr(models, "LinkSuggestion", None)
    if suggestion_model is not None:
        for suggestion in session.scalars(select(suggestion_model)):
            link = links.setdefault(urls[suggestion.repost_id], Link(None))
            link.suggestions.append(
                (urls[suggestion.candidate_id], suggestion.score, dict(suggestion.scores or {}))
            )
        for link in links.values():
            link.suggestions.sort(key=lambda item: -item[1])
    return links


def score(pairs: Iterable[Pair], links: dict[str, Link]) -> Score:
    """Count right, wrong and missed links of ``pairs``."""
    result = Score()
    for pair in pairs:
        predicted = links.get(pair.repost, Link(None)).original
        result.pairs += 1
        result.positives += pair.original is not None
        result.predicted += predicted is not None
        if predicted is not None and predicted == pair.original:
            result.right += 1
        elif predicted is not None:
            result.wrong += 1
            result.negatives_linked += pair.original is None
        if pair.original is not None and predicted != pair.original:
            result.missed += 1
    return result


def relink_from_scratch(session: Session) -> None:
    """Forget every link the crawl made (and the fingerprints) and link everything again."""
    for table in (
        models.LinkSuggestion,
        models.Repost,
        models.RepostSource,
        textindex.FingerprintBand,
        textindex.ArticleFingerprint,
    ):
        session.execute(delete(table))
    session.commit()
    relink(session, AgencyRegistry.load(session), workers=1)


def evaluate(
    fixtures: Path = FIXTURES, database: str = "sqlite://", from_scratch: bool = False
) -> Report:
    """Load the labelled set into a fresh database and score the links it makes.

    ``from_scratch``: then relink everything from scratch (:func:`relink_from_scratch`).
    """
    labels = load_labels(fixtures)
    engine = open_database(database)
    try:
        with session_factory(engine)() as session:
            started = time.perf_counter()
            load_pages(session, labels.arrival)
            if from_scratch:
                relink_from_scratch(session)
            seconds = time.perf_counter() - started
            links = stored_links(session)
    finally:
        engine.dispose()
    labelled = {pair.repost for pair in labels.pairs}
    unlabelled = {
        url: link
        for url, link in links.items()
        if url not in labelled and link.original is not None
    }
    scores = {s: score([p for p in labels.pairs if p.split == s], links) for s in SPLITS}
    total = score(labels.pairs, links)
    total.predicted += len(unlabelled)  # a link made from a page labelled as no repost at all
    total.wrong += len(unlabelled)
    scores["all"] = total
    return Report(labels, links, scores, unlabelled, seconds)


def table(report: Report) -> str:
    """The per-split Markdown table."""
    head = (
        "| split | reposts | labelled links | links made | right | wrong | missed "
        "| negatives linked | precision | recall |"
    )
    lines = [head, "|" + " --- |" * 10]
    for split, s in report.scores.items():
        lines.append(
            f"| {split} | {s.pairs} | {s.positives} | {s.predicted} | {s.right} | {s.wrong} "
            f"| {s.missed} | {s.negatives_linked} | {s.precision:.3f} | {s.recall:.3f} |"
        )
    return "\n".join(lines)


def describe(link: Link) -> str:
    """A link's method, confidence and best suggestions, on one line."""
    parts = []
    if link.original is not None:
        parts.append(f"linked by {link.method} (confidence {link.confidence:.3f})")
    for url, value, details in link.suggestions[:3]:
        shown = ", ".join(
            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in details.items()
        )
        parts.append(f"suggested {url} score {value:.3f} [{shown}]")
    return "; ".join(parts) or "no link, no suggestion"


def errors_text(report: Report) -> str:
    """Every wrong or missing link, and links made from pages that are no repost."""
    lines = []
    for pair, link in report.errors():
        kind = "missed" if link.original is None else "wrong"
        lines.append(f"- {kind} [{pair.split}] {pair.name or pair.repost}: {pair.why}")
        lines.append(f"  repost   {pair.repost}")
        lines.append(f"  expected {pair.original}")
        lines.append(f"  got      {link.original}")
        lines.append(f"  {describe(link)}")
    for url, link in report.unlabelled.items():
        lines.append(f"- wrong [not a repost] {url} -> {link.original}: {describe(link)}")
    return "\n".join(lines) or "none"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--database", default="sqlite://", help="SQLAlchemy URL (fresh)")
    parser.add_argument("--relink", action="store_true", help="then relink from scratch")
    args = parser.parse_args(argv)
    report = evaluate(args.fixtures, args.database, args.relink)
    pages = len(report.labels.arrival)
    print(
        f"{pages} pages loaded in arrival order: {report.seconds:.2f} s "
        f"({report.seconds / pages * 1000:.1f} ms/page: extract, save, link, commit)\n"
    )
    print(table(report))
    print("\nWrong or missing links:\n")
    print(errors_text(report))


if __name__ == "__main__":
    main()
