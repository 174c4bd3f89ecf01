"""The labelled page sets and how a tool's records are scored against their labels.

The shared corpus lives beside the clone in ``../shared/corpus`` (``GOVNEWS_CORPUS``
overrides it); its ``score.py`` is the body metric and is imported from there, as is.
The govnews snapshot comes from ``data/snapshot`` with ``tests/expected``. The corpus of
real pages govnews was not built on is ``benchmarks/corpus`` (its README), split by site
into ``dev`` (tuned on) and ``holdout`` (never looked at while tuning).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.extraction.tools import Outcome

ROOT = Path(__file__).resolve().parents[2]
CORPUS_ENV = "GOVNEWS_CORPUS"
_WRAPPED_URL = re.compile(rb'<text id="([^"]+)"')
_SPACE = re.compile(r"\s+")
_TITLE_SEPARATORS = "_|｜-–—:：·@"
# The fields a govnews record must get exactly right on a snapshot page.
EXACT_FIELDS = (
    "title", "published_at", "source_name", "author", "editor", "category",
    "declared_original_url", "body_text", "images", "attachments", "original_title",
)  # fmt: skip


@dataclass
class Page:
    """One page of a corpus: the bytes as served, where it came from, and its labels."""

    id: str
    body: bytes
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    gold_body: str | None = None
    date: str | None = None
    title: str | None = None
    author: str | None = None
    with_snippets: list[str] = field(default_factory=list)
    without_snippets: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None
    #: benchmarks/corpus: ``article`` or what the page is instead (home, listing, error …).
    kind: str = "article"
    #: benchmarks/corpus: ``gov``, ``portal``, ``news`` or ``other``.
    site_kind: str | None = None
    #: benchmarks/corpus: the 来源 label ("" when the page names none).
    source: str | None = None


def corpus_root() -> Path:
    """The shared corpus folder: ``$GOVNEWS_CORPUS`` or ``../shared/corpus`` from the repo."""
    return Path(os.environ.get(CORPUS_ENV) or ROOT.parent / "shared" / "corpus")


def missing_corpus() -> str | None:
    """Why the shared corpus cannot be used, or None when it is there."""
    root = corpus_root()
    if (root / "score.py").is_file():
        return None
    return (
        f"evaluation corpus not found at {root} (no score.py): put the shared corpus "
        f"beside the clone as ../shared/corpus or set {CORPUS_ENV}=/path/to/corpus"
    )


@cache
def score() -> ModuleType:
    """The corpus's ``score.py``, imported from its path."""
    path = corpus_root() / "score.py"
    spec = importlib.util.spec_from_file_location("govnews_corpus_score", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(missing_corpus() or str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def day(value: object) -> str | None:
    """``YYYY-MM-DD`` of a date label or prediction, by the corpus's rule."""
    result: str | None = score().day("" if value is None else str(value))
    return result


def body_scores(pages: Iterable[Page], outcomes: Iterable[Outcome]) -> dict[str, float]:
    """Body precision, recall and F1 of a tool's records, by the corpus's metric."""
    pairs = [(p.gold_body or "", o.record.body) for p, o in zip(pages, outcomes, strict=True)]
    scores: dict[str, float] = score().body_scores(pairs)
    return scores


def page_f1(gold: str, predicted: str) -> float:
    """The body F1 of one page."""
    f1: float = score().body_scores([(gold, predicted)])["f1"]
    return f1


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace").strip()


def _wrapped_url(body: bytes) -> str | None:
    """The URL CWCED records in its ``<text id="URL" …>`` wrapper, if any."""
    found = _WRAPPED_URL.search(body[:4096])
    return found.group(1).decode("latin-1") if found else None


def cwced() -> list[Page]:
    """cwced-dev: raw pages with gold bodies, date and author labels."""
    base = corpus_root() / "cwced-dev"
    pages = []
    for path in sorted((base / "original").glob("*.html")):
        body = path.read_bytes()
        pages.append(
            Page(
                id=path.stem,
                body=body,
                url=_wrapped_url(body),
                gold_body=_read(base / "cleaned" / f"{path.stem}.txt"),
                date=_read(base / "date" / f"{path.stem}.txt"),
                author=_read(base / "author" / f"{path.stem}.txt"),
            )
        )
    return pages


def trafilatura_zh() -> list[Page]:
    """trafilatura's Chinese evaluation pages with their with/without snippets."""
    base = corpus_root() / "trafilatura-zh"
    labels = json.loads((base / "evaldata-zh.json").read_text(encoding="utf-8"))
    pages = []
    for url, label in labels.items():
        path = base / "eval" / label["file"]
        if not path.exists():
            path = base / "cache" / label["file"]
        pages.append(
            Page(
                id=label["file"],
                body=path.read_bytes(),
                url=url,
                date=label.get("date") or None,
                title=label.get("title") or None,
                author=label.get("author") or None,
                with_snippets=list(label.get("with", [])),
                without_snippets=list(label.get("without", [])),
            )
        )
    return pages


def readability_zh() -> list[Page]:
    """Mozilla Readability's Chinese test pages with their expected metadata."""
    pages = []
    for folder in sorted(p for p in (corpus_root() / "readability-zh").iterdir() if p.is_dir()):
        meta = json.loads((folder / "expected-metadata.json").read_text(encoding="utf-8"))
        pages.append(
            Page(
                id=folder.name,
                body=(folder / "source.html").read_bytes(),
                date=meta.get("publishedTime") or None,
                title=meta.get("title") or None,
                author=meta.get("byline") or None,
            )
        )
    return pages


def gne_pages() -> list[Page]:
    """GNE's unlabelled test pages."""
    base = corpus_root() / "gne-pages"
    return [
        Page(id=str(path.relative_to(base)), body=path.read_bytes())
        for path in sorted(base.rglob("*.html"))
    ]


def snapshot() -> list[Page]:
    """The govnews snapshot's article pages with their hand-written records."""
    from tests.conftest import expected_records, snapshot_file, snapshot_headers

    return [
        Page(
            id=record["url"],
            body=snapshot_file(record["url"]).read_bytes(),
            url=record["url"],
            headers=snapshot_headers(record["url"]),
            gold_body=record["body_text"],
            date=record["published_at"],
            title=record["title"],
            author=record["author"],
            record=record,
        )
        for record in expected_records()
    ]


UNSEEN = ROOT / "benchmarks" / "corpus"
#: The kinds of benchmarks/corpus pages that hold no article at all.
NON_ARTICLES = frozenset({"home", "listing", "xxgk_index", "search", "error"})
#: Sites whose hash falls below this share go to the holdout (35 of every 100).
HOLDOUT_SHARE = 35


def split_of(site: str) -> str:
    """``holdout`` or ``dev``: by site, so that no site of the holdout is ever tuned on."""
    bucket = int(hashlib.sha256(site.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "holdout" if bucket < HOLDOUT_SHARE else "dev"


def unseen_labels() -> list[dict[str, Any]]:
    """Every label of benchmarks/corpus (``labels/*.jsonl``), with its split."""
    labels = []
    for path in sorted((UNSEEN / "labels").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                label = json.loads(line)
                label["split"] = split_of(label["site"])
                labels.append(label)
    return labels


def unseen(split: str) -> list[Page]:
    """The real pages of one split of benchmarks/corpus, articles and non-articles."""
    pages = []
    for label in unseen_labels():
        if label["split"] != split:
            continue
        article = label["kind"] == "article"
        pages.append(
            Page(
                id=label["id"],
                body=gzip.decompress((UNSEEN / label["file"]).read_bytes()),
                url=label.get("url"),
                gold_body=label.get("body") if article else None,
                date=(label.get("published") or "UNKNOWN") if article else None,
                title=label.get("title") if article else None,
                author=(label.get("author") or "") if article else None,
                kind=label["kind"],
                site_kind=label["site_kind"],
                source=(label.get("source_name") or "") if article else None,
            )
        )
    return pages


def unseen_dev() -> list[Page]:
    return unseen("dev")


def unseen_holdout() -> list[Page]:
    return unseen("holdout")


CORPORA: dict[str, Callable[[], list[Page]]] = {
    "cwced": cwced,
    "trafilatura": trafilatura_zh,
    "readability": readability_zh,
    "gne": gne_pages,
    "snapshot": snapshot,
    "unseen-dev": unseen_dev,
    "unseen-holdout": unseen_holdout,
}


# Scoring -----------------------------------------------------------------------------


def _norm(text: str | None) -> str:
    """NFKC, case-folded, without white space: for comparing titles, authors and snippets."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text or "")).casefold()


def title_matches(label: str | None, predicted: str | None) -> bool:
    """Equal after normalising, or equal once a site name after a separator is cut off.

    ``蔡健雅_百度百科`` matches ``蔡健雅`` and the other way round.
    """
    gold, pred = _norm(label), _norm(predicted)
    if not gold or not pred:
        return False
    short, long = sorted((gold, pred), key=len)
    return short == long or (long.startswith(short) and long[len(short)] in _TITLE_SEPARATORS)


def author_matches(label: str | None, predicted: str | None) -> bool:
    """Equal after normalising white space and width."""
    return bool(_norm(label)) and _norm(label) == _norm(predicted)


def date_hits(pages: Iterable[Page], outcomes: Iterable[Outcome]) -> tuple[int, int]:
    """Pages whose predicted day equals the label's, and pages whose label names a day."""
    hits = total = 0
    for page, outcome in zip(pages, outcomes, strict=True):
        expected = day(page.date)
        if expected:
            total += 1
            hits += day(outcome.record.date) == expected
    return hits, total


def title_hits(pages: Iterable[Page], outcomes: Iterable[Outcome]) -> tuple[int, int]:
    """Pages whose predicted title matches the label, and pages with a title label."""
    labelled = [(p, o) for p, o in zip(pages, outcomes, strict=True) if p.title]
    return sum(title_matches(p.title, o.record.title) for p, o in labelled), len(labelled)


def author_hits(pages: Iterable[Page], outcomes: Iterable[Outcome]) -> tuple[int, int]:
    """Pages whose predicted author matches the label, and pages with an author label."""
    labelled = [(p, o) for p, o in zip(pages, outcomes, strict=True) if p.author]
    return sum(author_matches(p.author, o.record.author) for p, o in labelled), len(labelled)


def snippet_counts(page: Page, body: str) -> tuple[int, int]:
    """``with`` snippets found in the body and ``without`` snippets absent from it.

    Compared without white space, so line breaks inside a snippet do not matter.
    """
    text = _norm(body)
    found = sum(_norm(s) in text for s in page.with_snippets)
    return found, sum(_norm(s) not in text for s in page.without_snippets)


def snippet_shares(pages: Iterable[Page], outcomes: Iterable[Outcome]) -> tuple[float, float]:
    """Share of ``with`` snippets found in the bodies and of ``without`` snippets absent."""
    found = present = absent = excluded = 0
    for page, outcome in zip(pages, outcomes, strict=True):
        kept, left_out = snippet_counts(page, outcome.record.body)
        found, absent = found + kept, absent + left_out
        present += len(page.with_snippets)
        excluded += len(page.without_snippets)
    return found / max(present, 1), absent / max(excluded, 1)


def _same(name: str, value: Any, expected: Any) -> bool:
    if name == "published_at":
        expected = datetime.fromisoformat(expected) if expected else None
    return bool(value == expected)


def exact_hits(
    pages: Iterable[Page], outcomes: Iterable[Outcome], field_name: str
) -> tuple[int, int]:
    """Pages whose ``source`` or ``author`` equals the label, none included (strict)."""
    hits = total = 0
    for page, outcome in zip(pages, outcomes, strict=True):
        label = getattr(page, field_name)
        if label is None:
            continue
        total += 1
        hits += _norm(label) == _norm(getattr(outcome.record, field_name))
    return hits, total


def record_exact(page: Page, outcome: Outcome) -> bool:
    """Every field of :data:`EXACT_FIELDS` equals the hand-written record (govnews only)."""
    article, record = outcome.record.article, page.record
    if article is None or record is None:
        return False
    return all(_same(name, getattr(article, name), record[name]) for name in EXACT_FIELDS)
