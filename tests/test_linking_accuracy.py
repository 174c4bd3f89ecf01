"""Repost linking on the labelled pages of tests/fixtures/linking: precision, recall, refusals.

The same loading and scoring as ``python -m benchmarks.linking.accuracy``: every
page is extracted, saved and linked in the labelled arrival order, and the
figures are computed here from the labels, not stored. The set and its cases
are described in tests/fixtures/linking/README.md.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import pytest

from benchmarks.linking.accuracy import (
    FIXTURES,
    SPLITS,
    Link,
    Report,
    errors_text,
    evaluate,
    load_labels,
    table,
)
from govnews.extract import extract_article

PRECISION = 0.99
RECALL = 0.95


@pytest.fixture(scope="module")
def report() -> Report:
    """One run over the whole labelled set (a fresh in-memory database)."""
    return evaluate()


def test_labels_are_consistent() -> None:
    labels = load_labels()
    loaded = [page.url for page in labels.arrival]
    reposts = [pair.repost for pair in labels.pairs]
    assert all(page.file.is_file() for page in labels.arrival)
    assert len(set(reposts)) == len(reposts), "a repost is labelled twice"
    assert set(reposts) <= set(loaded), "a labelled repost is never loaded"
    originals = {pair.original for pair in labels.pairs if pair.original is not None}
    assert originals <= set(loaded), "a labelled original is never loaded"
    assert all((urlsplit(url).hostname or "").endswith(".gov.cn") for url in originals)
    assert not originals & set(reposts), "a first original is itself labelled a repost"
    assert {pair.split for pair in labels.pairs} == set(SPLITS)
    holdout = sum(pair.split == "holdout" for pair in labels.pairs) / len(labels.pairs)
    assert 0.25 <= holdout <= 0.4
    assert all(pair.why for pair in labels.pairs)
    # Only the edited original is loaded twice (its two versions).
    assert [url for url, n in Counter(loaded).items() if n > 1] == [
        page.url for page in labels.arrival if page.file.suffix == ".v2"
    ]


def test_every_page_is_an_article() -> None:
    labels = load_labels()
    reposts = {pair.repost for pair in labels.pairs}
    for page in labels.arrival:
        article = extract_article(page.file.read_bytes(), page.url)
        assert article.title and len(article.body_text) > 100, page.url
        assert article.published_at is not None, page.url
        assert article.source_name, page.url
        if page.url not in reposts:
            assert article.kind == "gov", page.url


def test_precision_and_recall(report: Report) -> None:
    total = report.scores["all"]
    details = f"{table(report)}\n\n{errors_text(report)}"
    assert total.precision >= PRECISION, details
    assert total.recall >= RECALL, details


def test_negatives_stay_unlinked(report: Report) -> None:
    linked = {
        pair.repost: report.links.get(pair.repost, Link(None)).original
        for pair in report.labels.pairs
        if pair.original is None
    }
    assert len(linked) >= 8
    assert {url: original for url, original in linked.items() if original} == {}


def test_no_original_is_linked_as_a_repost(report: Report) -> None:
    assert report.unlabelled == {}, errors_text(report)


def test_fixture_files_exist() -> None:
    assert (FIXTURES / "labels.json").is_file()
    assert (FIXTURES / "README.md").is_file()
