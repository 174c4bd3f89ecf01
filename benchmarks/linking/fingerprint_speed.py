"""Speed of content fingerprints and of the persisted band index.

    python benchmarks/linking/fingerprint_speed.py [--articles 100000] [--probes 1000]

1. Milliseconds per ``fingerprint()`` for real Chinese texts of 500, 2,000 and
   10,000 characters (bodies of the snapshot's articles, and of
   ``../shared/corpus/cwced-dev`` when present, joined and cut to length), with
   the share of each step, beside datasketch's own ``MinHash.update_batch``
   on the same shingles for reference.
2. A SQLite file of ``--articles`` generated articles (``tests/test_fingerprint``'s
   generator): time to fingerprint them, to store them in one call and in
   batches of 10,000 and of 1,000 (a commit after each), file size and memory; then
   ``--probes`` look-ups: near duplicates of stored articles (a paragraph
   dropped, half cut) and unrelated new articles, with recall, candidates per
   look-up and milliseconds per look-up (mean and 95th percentile), and
   one new article at a time: fingerprint, look-up, ``store_fingerprint``, commit.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from govnews.core import fingerprint as fpm  # noqa: E402
from govnews.store import textindex as index  # noqa: E402
from govnews.store.database import open_database, session_factory  # noqa: E402
from tests.conftest import expected_records  # noqa: E402
from tests.test_fingerprint import (  # noqa: E402
    add_articles,
    drop_paragraph,
    generated_article,
    trim,
)

T = TypeVar("T")
CORPUS = Path(os.environ.get("GOVNEWS_CORPUS", ROOT.parent / "shared" / "corpus"))


def real_texts() -> list[str]:
    """Distinct real article bodies: the snapshot's, and cwced-dev's if present."""
    bodies = [r["body_text"] for r in expected_records()]
    cleaned = CORPUS / "cwced-dev" / "cleaned"
    if cleaned.is_dir():
        files = sorted(cleaned.glob("*.txt"))
        bodies += [p.read_text(encoding="utf-8", errors="replace") for p in files]
    return list(dict.fromkeys(b for b in bodies if len(b) >= 100))


def texts_of(size: int, count: int, bodies: list[str]) -> list[str]:
    """``count`` texts of ``size`` characters, each from a different run of bodies."""
    joined = "\n\n".join(bodies)
    step = max(1, (len(joined) - size) // count)
    out = []
    for n in range(count):
        start = (n * step) % max(1, len(joined) - size)
        out.append(joined[start : start + size])
    return out


def per_call_ms(function: Callable[[T], object], items: Sequence[T], rounds: int = 5) -> float:
    """The best over ``rounds`` of the mean milliseconds of ``function`` per item.

    The best, not the median: other processes on a shared machine only ever add time.
    """
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            function(item)
        times.append((time.perf_counter() - start) / len(items) * 1e3)
    return min(times)


def fingerprint_speed() -> None:
    """Milliseconds per fingerprint by text size, with the steps and datasketch beside it."""
    bodies = real_texts()
    print(f"## fingerprint() on real text ({len(bodies)} bodies, {sum(map(len, bodies))} chars)\n")
    print(
        "| chars | shingles | fingerprint ms | tokens+shingles | signature | numbers "
        "| datasketch update_batch (identity hash / sha1) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    try:
        from datasketch import MinHash
    except ImportError:  # pragma: no cover - datasketch is optional
        MinHash = None  # noqa: N806
    for size in (500, 2000, 10000):
        texts = texts_of(size, 40, bodies)
        hashes = [fpm.shingle_hashes(t) for t in texts]
        total = per_call_ms(lambda t: fpm.fingerprint("标题", t), texts)
        shingling = per_call_ms(fpm.shingle_hashes, texts)
        sign = per_call_ms(lambda t: fpm.signature(fpm.shingle_hashes(t)), texts) - shingling
        numbers = per_call_ms(fpm.numbers, texts)
        reference = "–"
        if MinHash is not None:
            permutations = fpm.permutations()
            lists = [h.tolist() for h in hashes]
            encoded = [[s.encode() for s in sorted(fpm.shingles(t))] for t in texts]

            def identity(values: list[int], permutations: object = permutations) -> None:
                m = MinHash(
                    fpm.NUM_PERM, permutations=permutations, scheme="affine32", hashfunc=int
                )
                m.update_batch(values)

            def sha1(values: list[bytes]) -> None:
                MinHash(num_perm=fpm.NUM_PERM).update_batch(values)

            ident_ms = per_call_ms(identity, lists, 3)
            sha_ms = per_call_ms(sha1, encoded, 3)
            reference = f"{ident_ms:.3f} / {sha_ms:.3f}"
        mean_shingles = statistics.mean(h.size for h in hashes)
        print(
            f"| {size} | {mean_shingles:.0f} | **{total:.3f}** | {shingling:.3f} | {sign:.3f} "
            f"| {numbers:.3f} | {reference} |"
        )
    print()


def index_speed(articles: int, probes: int, seed: int) -> None:
    """Build a database of ``articles`` fingerprints and time look-ups in it."""
    rng = random.Random(seed)
    print(f"## Band index: {articles:,} generated articles in a SQLite file\n")
    start = time.perf_counter()
    corpus = [generated_article(rng, rng.choice((300, 600, 1200, 2400))) for _ in range(articles)]
    generate_s = time.perf_counter() - start
    mean_chars = statistics.mean(len(body) for _, body in corpus)
    start = time.perf_counter()
    prints = [fpm.fingerprint(title, body) for title, body in corpus]
    fingerprint_s = time.perf_counter() - start
    print(
        f"- generated in {generate_s:.1f} s (mean {mean_chars:.0f} chars); fingerprinted in "
        f"{fingerprint_s:.1f} s ({fingerprint_s / articles * 1e3:.3f} ms/article)"
    )

    with tempfile.TemporaryDirectory() as workdir:
        batches = (
            ("one call", articles),
            ("batches of 10,000", 10_000),
            ("batches of 1,000", 1000),
        )
        for label, batch in batches:
            path = Path(workdir) / f"fp-{batch}.db"
            engine = open_database(f"sqlite:///{path}")
            with session_factory(engine)() as session:
                # Articles without their bodies: the file holds the fingerprint tables.
                ids = add_articles(session, ((title, "") for title, _ in corpus))
                session.commit()
                before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                start = time.perf_counter()
                for first in range(0, articles, batch):
                    index.store_fingerprints(
                        session,
                        zip(ids[first : first + batch], prints[first : first + batch], strict=True),
                    )
                    session.commit()
                store_s = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                bands = session.scalar(select(func.count()).select_from(index.FingerprintBand))
            engine.dispose()  # the last connection closed checkpoints the WAL into the file
            size = path.stat().st_size
            print(
                f"- store_fingerprints, {label}: {store_s:.1f} s "
                f"({store_s / articles * 1e3:.3f} ms/article), {bands:,} band rows, "
                f"file {size / 1e6:.0f} MB, peak memory +{after - before:.0f} MB"
            )
            if batch != articles:
                path.unlink()
        engine = open_database(f"sqlite:///{Path(workdir) / f'fp-{articles}.db'}")
        with session_factory(engine)() as session:
            lookups(session, corpus, ids, probes, rng)
        engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nPeak resident memory of the whole run (corpus included): {peak:.0f} MB")


def lookups(
    session: Session, corpus: list[tuple[str, str]], ids: list[int], probes: int, rng: random.Random
) -> None:
    """Time candidate look-ups for near duplicates and for unrelated articles."""
    chosen = rng.sample(range(len(corpus)), probes)
    cases: dict[str, list[tuple[int | None, str]]] = {
        "paragraph dropped": [(ids[i], drop_paragraph(corpus[i][1], 1)) for i in chosen],
        "second half cut": [(ids[i], trim(corpus[i][1], 0.5)) for i in chosen],
        "unrelated new": [(None, generated_article(rng, 800)[1]) for _ in chosen],
    }
    print(
        f"\n| {probes} look-ups: | found | candidates (mean / max) | rows matched (mean) "
        "| ms per look-up (mean / p95) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for label, items in cases.items():
        found = 0
        sizes: list[int] = []
        matched: list[int] = []
        times: list[float] = []
        for target, body in items:
            fp = fpm.fingerprint("", body)
            start = time.perf_counter()
            result = index.band_matches(session, fp, limit=50)
            times.append((time.perf_counter() - start) * 1e3)
            found += any(article_id == target for article_id, _ in result)
            sizes.append(len(result))
            matched.append(sum(count for _, count in result))
        p95 = float(np.quantile(times, 0.95))
        rate = f"{found}/{len(items)}" if label != "unrelated new" else "–"
        print(
            f"| {label} | {rate} | {statistics.mean(sizes):.1f} / {max(sizes)} "
            f"| {statistics.mean(matched):.1f} | {statistics.mean(times):.3f} / {p95:.3f} |"
        )

    # One new article at a time, as a crawl's pipeline stores them.
    new = [generated_article(rng, 800) for _ in range(200)]
    new_ids = add_articles(session, ((title, "") for title, _ in new))
    session.commit()
    steps = {
        "fingerprint": 0.0,
        "store_fingerprint": 0.0,
        "candidates_by_bands": 0.0,
        "commit": 0.0,
    }
    for article_id, (title, body) in zip(new_ids, new, strict=True):
        start = time.perf_counter()
        fp = fpm.fingerprint(title, body)
        middle = time.perf_counter()
        index.candidates_by_bands(session, fp, exclude=article_id)
        looked = time.perf_counter()
        index.store_fingerprint(session, article_id, fp)
        stored = time.perf_counter()
        session.commit()
        steps["fingerprint"] += middle - start
        steps["candidates_by_bands"] += looked - middle
        steps["store_fingerprint"] += stored - looked
        steps["commit"] += time.perf_counter() - stored
    parts = ", ".join(f"{name} {total / len(new) * 1e3:.2f}" for name, total in steps.items())
    each = sum(steps.values()) / len(new) * 1e3
    print(f"\nOne new 800-character article at a time, ms: {parts}; total {each:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--skip-text", action="store_true", help="only the index part")
    options = parser.parse_args()
    if not options.skip_text:
        fingerprint_speed()
    index_speed(options.articles, options.probes, options.seed)


if __name__ == "__main__":
    main()
