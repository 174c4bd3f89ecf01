"""Compare govnews's article extraction with trafilatura and GNE on labelled Chinese pages.

    python -m benchmarks.extraction [--tools govnews,trafilatura,gne]
        [--corpus cwced,trafilatura,readability,gne,snapshot,unseen-dev,unseen-holdout,speed]
        [--details] [--reference]

Prints one Markdown table per corpus (a row per tool) and a speed table. Body
scores use the shared corpus's ``score.py``; a date is right when its day equals
the label's. ``--tools`` also accepts ``trafilatura-text`` (trafilatura given
decoded text instead of bytes). ``unseen-dev`` and ``unseen-holdout`` are the two
splits of ``benchmarks/corpus``: tune on dev; the holdout's figures are the ones to
report, and ``--details`` refuses to print its pages. ``--reference`` calls the tools as the corpus
README's reference figures were measured: no page URL on the shared corpora (which
costs trafilatura dates) and GNE's text decoded by charset-normalizer alone.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable

from benchmarks.extraction import corpora, tools
from benchmarks.extraction.corpora import Page
from benchmarks.extraction.tools import Outcome

SHARED = ("cwced", "trafilatura", "readability", "gne")
UNSEEN = ("unseen-dev", "unseen-holdout")
CHOICES = (*SHARED, "snapshot", *UNSEEN, "speed")
SPEED_PASSES = 3
MIN_BODY = 50
Row = Callable[[str, list[Page], list[Outcome]], list[str]]


def run_all(tool: str, pages: list[Page]) -> list[Outcome]:
    """The tool's outcome on every page."""
    adapter = tools.TOOLS[tool]
    return [tools.run(adapter, page.body, page.url, page.headers) for page in pages]


def ratio(hits: int, total: int) -> str:
    return f"{hits}/{total}" if total else "–"


def failures(outcomes: list[Outcome]) -> str:
    refused = sum(o.status == "refused" for o in outcomes)
    crashed = sum(o.status == "crashed" for o in outcomes)
    return f"{refused} / {crashed}"


def cwced_row(tool: str, pages: list[Page], outcomes: list[Outcome]) -> list[str]:
    scores = corpora.body_scores(pages, outcomes)
    return [
        f"{scores['precision']:.3f}",
        f"{scores['recall']:.3f}",
        f"{scores['f1']:.3f}",
        ratio(*corpora.date_hits(pages, outcomes)),
        failures(outcomes),
    ]


def trafilatura_row(tool: str, pages: list[Page], outcomes: list[Outcome]) -> list[str]:
    found, absent = corpora.snippet_shares(pages, outcomes)
    return [
        f"{found:.2f}",
        f"{absent:.2f}",
        ratio(*corpora.title_hits(pages, outcomes)),
        ratio(*corpora.author_hits(pages, outcomes)),
        ratio(*corpora.date_hits(pages, outcomes)),
        failures(outcomes),
    ]


def readability_row(tool: str, pages: list[Page], outcomes: list[Outcome]) -> list[str]:
    return [
        ratio(*corpora.title_hits(pages, outcomes)),
        ratio(*corpora.date_hits(pages, outcomes)),
        failures(outcomes),
    ]


def gne_row(tool: str, pages: list[Page], outcomes: list[Outcome]) -> list[str]:
    ok = [o.record for o in outcomes if o.status == "ok"]
    return [
        str(len(pages)),
        str(sum(o.status == "refused" for o in outcomes)),
        str(sum(o.status == "crashed" for o in outcomes)),
        str(sum(bool(r.title.strip()) for r in ok)),
        str(sum(len(r.body.strip()) >= MIN_BODY for r in ok)),
        str(sum(corpora.day(r.date) is not None for r in ok)),
    ]


def snapshot_row(tool: str, pages: list[Page], outcomes: list[Outcome]) -> list[str]:
    scores = corpora.body_scores(pages, outcomes)
    exact = "–"
    if tool == "govnews":
        exact = ratio(sum(map(corpora.record_exact, pages, outcomes)), len(pages))
    return [
        f"{scores['f1']:.3f}",
        ratio(*corpora.title_hits(pages, outcomes)),
        ratio(*corpora.date_hits(pages, outcomes)),
        exact,
        failures(outcomes),
    ]


def unseen_row(tool: str, pages: list[Page], outcomes: list[Outcome]) -> list[str]:
    pairs = list(zip(pages, outcomes, strict=True))
    articles = [(p, o) for p, o in pairs if p.kind == "article"]
    navigation = [(p, o) for p, o in pairs if p.kind in corpora.NON_ARTICLES]
    others = [(p, o) for p, o in pairs if p.kind == "other"]
    gov = [(p, o) for p, o in articles if p.site_kind == "gov"]
    article_pages, article_outcomes = [p for p, _ in articles], [o for _, o in articles]
    scores = corpora.body_scores(article_pages, article_outcomes)
    sources = "–"
    if tool == "govnews":  # the others have no 来源 field
        sources = ratio(*corpora.exact_hits([p for p, _ in gov], [o for _, o in gov], "source"))
    return [
        f"{scores['f1']:.3f}",
        ratio(*corpora.title_hits(article_pages, article_outcomes)),
        ratio(*corpora.date_hits(article_pages, article_outcomes)),
        sources,
        ratio(*corpora.exact_hits(article_pages, article_outcomes, "author")),
        ratio(sum(o.status != "ok" for _, o in articles), len(articles)),
        ratio(sum(o.status == "ok" for _, o in navigation), len(navigation)),
        ratio(sum(o.status == "ok" for _, o in others), len(others)),
    ]


FAIL = "no article / crashed"
UNSEEN_CAPTION = (
    "Real pages of sites govnews was not built on, split by site (benchmarks/corpus). Body F1 "
    "(score.py), titles and days right of the article pages; 来源 exact on government "
    "articles and authors exact on all articles (a missing or a spurious value is wrong); "
    "articles refused or crashed; pages that hold no article (home, list, 信息公开 index, search, "
    "error) taken for articles; other pages (forum threads, Q&A, wiki entries, a login page) "
    "taken for articles, shown apart: they hold text of their own, and taking one is no "
    "extraction error."
)
UNSEEN_HEADER = [
    "body F1",
    "titles",
    "days",
    "来源 exact (gov)",
    "authors exact",
    "articles refused",
    "non-articles accepted",
    "other pages accepted",
]
TABLES: dict[str, tuple[str, str, list[str], Row]] = {
    "cwced": (
        "cwced-dev",
        "Body shingle precision, recall and F1 (score.py); "
        "dates right (same day) of those labelled.",
        ["body P", "body R", "body F1", "dates", FAIL],
        cwced_row,
    ),
    "trafilatura": (
        "trafilatura-zh",
        "Share of the `with` snippets found in the body and of the `without` snippets left out; "
        "titles, authors and dates right of those labelled.",
        ["with kept", "without left out", "titles", "authors", "dates", FAIL],
        trafilatura_row,
    ),
    "readability": (
        "readability-zh",
        "Titles right (a site name after a separator may be cut off); "
        "dates right of those labelled.",
        ["titles", "dates", FAIL],
        readability_row,
    ),
    "gne": (
        "gne-pages",
        f"Unlabelled: pages with a title, a body of ≥ {MIN_BODY} characters, a date.",
        ["pages", "no article", "crashed", "title", f"body ≥ {MIN_BODY}", "date"],
        gne_row,
    ),
    "snapshot": (
        "govnews snapshot",
        "Body F1 against tests/expected; titles and dates right; "
        "records with every field exact (govnews only).",
        ["body F1", "titles", "dates", "all fields exact", FAIL],
        snapshot_row,
    ),
    "unseen-dev": ("unseen pages, dev split", UNSEEN_CAPTION, UNSEEN_HEADER, unseen_row),
    "unseen-holdout": ("unseen pages, holdout", UNSEEN_CAPTION, UNSEEN_HEADER, unseen_row),
}


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def mark(right: bool) -> str:
    return "✓" if right else "✗"


def detail_row(page: Page, outcome: Outcome) -> tuple[float, list[str]]:
    """One page's cells for ``--details``, with the key it is sorted by (weakest first)."""
    record = outcome.record
    if page.gold_body is not None:
        key = corpora.page_f1(page.gold_body, record.body)
        body = f"F1 {key:.3f}"
    elif page.with_snippets or page.without_snippets:
        kept, left_out = corpora.snippet_counts(page, record.body)
        key = (kept + left_out) / (len(page.with_snippets) + len(page.without_snippets))
        body = f"with {kept}/{len(page.with_snippets)}, "
        body += f"without {left_out}/{len(page.without_snippets)}"
    else:
        key, body = len(record.body), f"{len(record.body)} chars"
    label_day, got_day = corpora.day(page.date), corpora.day(record.date)
    date = got_day or "–"
    if label_day:
        date = f"{label_day} → {date} {mark(label_day == got_day)}"
    title = record.title[:40]
    if page.title:
        title = f"{mark(corpora.title_matches(page.title, record.title))} {title}"
    return key, [page.id, f"{outcome.status} {outcome.error}".strip(), body, date, title]


def details(name: str, pages: list[Page], outcomes: list[Outcome]) -> None:
    """govnews's result on each page, weakest body first."""
    rows = sorted(map(detail_row, pages, outcomes), key=lambda row: row[0])
    print(f"\n#### govnews per page: {name}\n")
    print(markdown(["page", "status", "body", "date", "title"], [cells for _, cells in rows]))


def speed(names: list[str], pages: list[Page]) -> None:
    """Milliseconds per page, median of passes over the pages, bytes in, record out."""
    per_page: dict[str, float] = {}
    # The tables before kept many objects alive: park them outside the garbage
    # collector's sight, so that no tool pays for scanning another's results.
    gc.collect()
    gc.freeze()
    for name in names:
        adapter = tools.TOOLS[name]
        passes = []
        for _ in range(SPEED_PASSES):
            started = time.perf_counter()
            for page in pages:
                tools.run(adapter, page.body, page.url, page.headers)
            passes.append((time.perf_counter() - started) / len(pages) * 1000)
        per_page[name] = statistics.median(passes)
    base = per_page.get("govnews")
    rows = [
        [tools.LABELS.get(n, n), f"{ms:.1f}", f"{ms / base:.2f}" if base else "–"]
        for n, ms in per_page.items()
    ]
    print(
        f"\n### Speed: cwced-dev + gne-pages ({len(pages)} pages)\n\n"
        f"Milliseconds per page, bytes in, record out (decoding included), "
        f"median of {SPEED_PASSES} passes.\n"
    )
    print(markdown(["tool", "ms/page", "time / govnews"], rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tools", default=",".join(tools.DEFAULT_TOOLS))
    parser.add_argument("--corpus", default=",".join(CHOICES))
    parser.add_argument("--details", action="store_true", help="govnews's per-page results")
    parser.add_argument(
        "--reference", action="store_true", help="no URLs, GNE decoding as in the corpus README"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.tools.split(",") if n.strip()]
    wanted = [c.strip() for c in args.corpus.split(",") if c.strip()]
    for bad in [n for n in names if n not in tools.TOOLS] + [c for c in wanted if c not in CHOICES]:
        parser.error(f"unknown tool or corpus {bad!r}")

    if reason := corpora.missing_corpus():  # even the snapshot is scored with its score.py
        print(reason, file=sys.stderr)
        return 2
    for name in list(names):
        if reason := tools.missing(name):
            print(reason, file=sys.stderr)
            names.remove(name)

    tools.REFERENCE_DECODING = args.reference
    started = time.perf_counter()
    loaded: dict[str, list[Page]] = {}

    def pages_of(corpus: str) -> list[Page]:
        if corpus not in loaded:
            loaded[corpus] = corpora.CORPORA[corpus]()
            if args.reference and corpus in SHARED:
                for page in loaded[corpus]:
                    page.url = None
        return loaded[corpus]

    for corpus in wanted:
        if corpus == "speed":
            speed(names, pages_of("cwced") + pages_of("gne"))
            continue
        heading, caption, header, row = TABLES[corpus]
        pages = pages_of(corpus)
        results = {name: run_all(name, pages) for name in names}
        rows = [[tools.LABELS.get(n, n), *row(n, pages, out)] for n, out in results.items()]
        print(f"\n### {heading} ({len(pages)} pages)\n\n{caption}\n")
        print(markdown(["tool", *header], rows))
        if args.details and "govnews" in results:
            if corpus == "unseen-holdout":  # looked at, it would be tuned on
                print("\n(--details: the holdout's pages are not shown)")
            else:
                details(corpus, pages, results["govnews"])
    print(f"\n(benchmark took {time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
