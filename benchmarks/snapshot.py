"""Benchmark the seed pipeline on the bundled snapshot: extraction speed and whole crawls.

    python benchmarks/snapshot.py [--rounds N]

Prints milliseconds per page for extraction alone (every article page of
``tests/expected``), then, for each round, the wall time of ``scrapy crawl
zhangzhou`` and ``scrapy crawl nmgfzw`` into a fresh database (subprocesses,
as a user runs them) with requests, items and pages per second.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from govnews.extract import extract_article  # noqa: E402
from tests.conftest import expected_records, snapshot_file, snapshot_headers  # noqa: E402


def extraction(repeat: int = 20) -> None:
    pages = [
        (record["url"], snapshot_file(record["url"]).read_bytes(), snapshot_headers(record["url"]))
        for record in expected_records()
    ]
    started = time.perf_counter()
    for _ in range(repeat):
        for url, body, headers in pages:
            extract_article(body, url, headers=headers)
    elapsed = time.perf_counter() - started
    per_page = elapsed / (repeat * len(pages)) * 1000
    print(f"extraction: {len(pages)} article pages x {repeat}: {per_page:.2f} ms/page")


def crawl(spider: str, database: str) -> dict[str, float]:
    command = [
        sys.executable, "-m", "scrapy", "crawl", spider,
        "-s", f"GOVNEWS_MIRROR={ROOT / 'data' / 'snapshot'}",
        "-s", f"GOVNEWS_DATABASE_URL={database}",
        "-s", "LOG_LEVEL=INFO",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    stats = {}
    for name in ("downloader/request_count", "item_scraped_count", "elapsed_time_seconds"):
        line = next(line for line in done.stderr.splitlines() if f"'{name}'" in line)
        stats[name] = float(line.split(":", 1)[1].strip(" ,"))
    return {"wall": wall, **stats}


def crawls(rounds: int) -> None:
    for spider in ("zhangzhou", "nmgfzw"):
        results = []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as tmp:
                results.append(crawl(spider, f"sqlite:///{tmp}/bench.db"))
        engine = statistics.median(r["elapsed_time_seconds"] for r in results)
        wall = statistics.median(r["wall"] for r in results)
        requests = results[0]["downloader/request_count"]
        items = results[0]["item_scraped_count"]
        print(
            f"crawl {spider:<9}: {requests:.0f} requests, {items:.0f} items; "
            f"crawl {engine:.2f} s ({requests / engine:.0f} requests/s), "
            f"process {wall:.2f} s (median of {rounds})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    extraction()
    crawls(args.rounds)


if __name__ == "__main__":
    main()
