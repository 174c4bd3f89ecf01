"""Linking at scale: generated articles linked from scratch, then new articles linked one by one.

    python -m benchmarks.linking.scale [--sizes 10000,100000] [--new 1000]
        [--modes relink,rows] [--workers N] [--seed 0] [--workdir DIR]

For each size N, ``generate.py`` makes N articles (about 10% portal reposts) that
are bulk-inserted into a fresh SQLite file (ORM ``insert(Article)`` and
``insert(ArticleUrl)``, no links, no fingerprints: the insert time is reported on
its own). A copy of that file is then linked from scratch in each mode:

- ``relink``: ``govnews.link.relink.relink`` (what ``scrapy relink`` runs), which
  fingerprints in ``--workers`` processes (default: one per core);
- ``rows``: ``Linker.link`` on every article in arrival order (published time),
  one commit per 100 articles, as a crawl's pipeline does.

Each phase runs in its own process, so that its peak resident memory
(``ru_maxrss``) is its own; the baseline (interpreter, imports, open database)
is shown beside it. Links are checked against the generator's truth (precision
and recall of first originals). Then ``--new`` more articles, generated after the
largest set, are saved and linked one at a time into the linked largest database:
milliseconds per article, mean and 95th percentile. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from benchmarks.linking.generate import Generated, generate, sites
from govnews import items
from govnews.core.timezone import utcnow
from govnews.link.agencies import AgencyRegistry
from govnews.link.linker import Linker
from govnews.link.relink import relink
from govnews.store import Repository, models, open_database, session_factory

CHUNK = 2000
BATCH = 100
RESULT = "RESULT "


def rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def database_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def close(engine: Engine) -> None:
    """Fold the WAL into the database file and close, so the file can be copied alone."""
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()


# --- phases (each in its own process) ---------------------------------------------------------


def build(path: Path, size: int, new: int, seed: int) -> dict[str, Any]:
    """Generate ``size + new`` articles, insert the first ``size``, keep the rest for later."""
    engine = open_database(database_url(path))
    truth: dict[str, str | None] = {}
    held_back: list[dict[str, Any]] = []
    inserting = 0.0
    started = time.perf_counter()
    with session_factory(engine)() as session:
        seed_registry(session)
        for chunk in chunks(generate(size + new, seed), CHUNK):
            kept = [a for a in chunk if a.id <= size]
            held_back += [new_record(a) for a in chunk if a.id > size]
            truth |= {a.url: a.original_url for a in kept if a.kind == "portal"}
            if not kept:
                continue
            now = utcnow()
            rows = [a.row(now) for a in kept]
            urls = [a.url_row() for a in kept]
            tick = time.perf_counter()
            session.execute(insert(models.ArticleRow), rows)
            session.execute(insert(models.ArticleUrl), urls)
            session.commit()
            inserting += time.perf_counter() - tick
    total = time.perf_counter() - started
    close(engine)
    path.with_suffix(".truth.json").write_text(json.dumps(truth), encoding="utf-8")
    path.with_suffix(".new.json").write_text(json.dumps(held_back), encoding="utf-8")
    reposts = sum(1 for original in truth.values() if original is not None)
    return {
        "articles": size,
        "portal": len(truth),
        "reposts": reposts,
        "insert_s": inserting,
        "build_s": total,
        "megabytes": path.stat().st_size / 2**20,
    }


def link(path: Path, mode: str, workers: int | None) -> dict[str, Any]:
    """Link every stored article from scratch in ``mode``; time, memory and accuracy."""
    engine = open_database(database_url(path))
    baseline = rss_mb()
    with session_factory(engine)() as session:
        started = time.perf_counter()
        if mode == "relink":
            relink(session, AgencyRegistry.load(session), workers=workers)
        else:
            linker = Linker(session)
            ids = list(
                session.scalars(
                    select(models.ArticleRow.id).order_by(
                        models.ArticleRow.published_at, models.ArticleRow.id
                    )
                )
            )
            for position, article_id in enumerate(ids, start=1):
                row = session.get(models.ArticleRow, article_id)
                if row is not None:
                    linker.link(row)
                if position % BATCH == 0:
                    session.commit()
                    session.expunge_all()
            session.commit()
        seconds = time.perf_counter() - started
        peak = rss_mb()
        truth = json.loads(path.with_suffix(".truth.json").read_text(encoding="utf-8"))
        quality = accuracy(session, truth)
    close(engine)
    return {"mode": mode, "seconds": seconds, "peak_mb": peak, "baseline_mb": baseline, **quality}


def link_new(path: Path) -> dict[str, Any]:
    """Save and link the held-back articles one at a time; per-article milliseconds."""
    records = json.loads(path.with_suffix(".new.json").read_text(encoding="utf-8"))
    engine = open_database(database_url(path))
    linking: list[float] = []
    whole: list[float] = []
    truth: dict[str, str | None] = {}
    with session_factory(engine)() as session:
        repository = Repository(session)
        linker = Linker(session)
        for record in records:
            original = record.pop("original_url")
            published = datetime.fromisoformat(record.pop("published_at"))
            article = items.Article(**record, published_at=published)
            if article.kind == "portal":
                truth[article.url] = original
            started = time.perf_counter()
            row = repository.save_article(article).row
            tick = time.perf_counter()
            linker.link(row, article.site_meta)
            linking.append((time.perf_counter() - tick) * 1000)
            session.commit()
            whole.append((time.perf_counter() - started) * 1000)
        quality = accuracy(session, truth)
    close(engine)
    return {
        "count": len(records),
        "link_mean_ms": statistics.fmean(linking),
        "link_p95_ms": percentile(linking, 95),
        "total_mean_ms": statistics.fmean(whole),
        "total_p95_ms": percentile(whole, 95),
        "peak_mb": rss_mb(),
        **quality,
    }


# --- helpers -------------------------------------------------------------------------------


def seed_registry(session: Session) -> None:
    """Teach the agency registry every generated site, as crawling their pages would have."""
    registry = AgencyRegistry.load(session)
    for site in sites():
        registry.learn(site.name, site.host, site.code, site.name, site.host)
    registry.save(session)
    session.commit()


def chunks(articles: Iterator[Generated], size: int) -> Iterator[list[Generated]]:
    """Consecutive lists of ``size`` articles."""
    chunk: list[Generated] = []
    for article in articles:
        chunk.append(article)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def new_record(article: Generated) -> dict[str, Any]:
    """A held-back article as JSON: ``items.Article`` fields and its true original."""
    return {
        "url": article.url,
        "site": article.site,
        "kind": article.kind,
        "title": article.title,
        "body_text": article.body_text,
        "body_html": "".join(f"<p>{p}</p>" for p in article.paragraphs),
        "published_at": article.published_at.isoformat(),
        "source_name": article.source_name,
        "original_title": article.original_title,
        "category": article.category,
        "declared_original_url": article.declared_original_url,
        "site_meta": article.site_meta,
        "original_url": article.original_url,
    }


def accuracy(session: Session, truth: dict[str, str | None]) -> dict[str, Any]:
    """Precision and recall of the first originals of the portal articles in ``truth``."""
    urls = dict(session.execute(select(models.ArticleRow.id, models.ArticleRow.url)).all())
    rows = session.execute(select(models.Repost.repost_id, models.Repost.original_id))
    up = {repost: original for repost, original in rows if original is not None}
    made = right = 0
    for article_id, url in urls.items():
        if article_id not in up or url not in truth:
            continue
        seen = {article_id}
        current = article_id
        while current in up and up[current] not in seen:
            current = up[current]
            seen.add(current)
        made += 1
        right += urls.get(current) == truth[url]
    positives = sum(1 for original in truth.values() if original is not None)
    return {
        "links": made,
        "right": right,
        "positives": positives,
        "precision": right / made if made else 1.0,
        "recall": right / positives if positives else 1.0,
    }


def percentile(values: list[float], share: int) -> float:
    """The ``share``-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share / 100 * len(ordered)) - 1))]


def phase(*args: str) -> dict[str, Any]:
    """Run one phase in a fresh interpreter and return its result."""
    command = [sys.executable, "-m", "benchmarks.linking.scale", "--phase", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"phase {args[0]} failed ({done.returncode})")
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith(RESULT))
    result: dict[str, Any] = json.loads(line[len(RESULT) :])
    return result


def run(
    sizes: list[int],
    new: int,
    modes: list[str],
    seed: int,
    workdir: Path,
    workers_option: int | None = None,
) -> None:
    """Every phase for every size, then the tables."""
    builds: dict[int, dict[str, Any]] = {}
    links: dict[tuple[int, str], dict[str, Any]] = {}
    fresh: dict[str, Any] | None = None
    largest = max(sizes)
    for size in sizes:
        base = workdir / f"articles-{size}.db"
        extra = new if size == largest else 0
        builds[size] = phase("build", str(base), str(size), str(extra), str(seed))
        print(f"built {size}: insert {builds[size]['insert_s']:.1f} s", file=sys.stderr)
        for mode in modes:
            copy = workdir / f"articles-{size}-{mode}.db"
            for suffix in (".db", ".truth.json", ".new.json"):
                shutil.copyfile(base.with_suffix(suffix), copy.with_suffix(suffix))
            workers = "-" if workers_option is None else str(workers_option)
            links[size, mode] = phase("link", str(copy), mode, workers)
            print(f"linked {size} ({mode}): {links[size, mode]['seconds']:.1f} s", file=sys.stderr)
            if size == largest and new and fresh is None:
                fresh = phase("new", str(copy))
    print(report(sizes, modes, builds, links, fresh))


def report(
    sizes: list[int],
    modes: list[str],
    builds: dict[int, dict[str, Any]],
    links: dict[tuple[int, str], dict[str, Any]],
    fresh: dict[str, Any] | None,
) -> str:
    """The Markdown tables of a run."""
    lines = [
        "| articles | reposts | insert s | DB MB | mode | link s | ms/article | peak MB "
        "| baseline MB | links | precision | recall |",
        "|" + " --- |" * 12,
    ]
    for size in sizes:
        built = builds[size]
        for mode in modes:
            r = links[size, mode]
            lines.append(
                f"| {size:,} | {built['reposts']:,} | {built['insert_s']:.1f} "
                f"| {built['megabytes']:.0f} | {mode} | {r['seconds']:.1f} "
                f"| {r['seconds'] / size * 1000:.2f} | {r['peak_mb']:.0f} | {r['baseline_mb']:.0f} "
                f"| {r['links']:,} | {r['precision']:.3f} | {r['recall']:.3f} |"
            )
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        for mode in modes:
            ratio = links[large, mode]["seconds"] / links[small, mode]["seconds"]
            lines.append(
                f"\nGrowth {small:,} → {large:,} ({mode}): {ratio:.1f}× the time "
                f"for {large / small:.0f}× the articles."
            )
    if fresh is not None:
        lines += [
            "",
            f"{fresh['count']:,} new articles saved and linked one at a time into the "
            f"{max(sizes):,}-article database:",
            "",
            "| step | mean ms | p95 ms |",
            "| --- | --- | --- |",
            f"| link | {fresh['link_mean_ms']:.1f} | {fresh['link_p95_ms']:.1f} |",
            f"| save + link + commit | {fresh['total_mean_ms']:.1f} "
            f"| {fresh['total_p95_ms']:.1f} |",
            "",
            f"Their links: {fresh['links']} made, {fresh['right']} right of {fresh['positives']} "
            f"reposts with a stored original (precision {fresh['precision']:.3f}, "
            f"recall {fresh['recall']:.3f}); peak {fresh['peak_mb']:.0f} MB.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the options; run the whole benchmark or one phase of it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--modes", default="relink,rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="keep the databases here")
    parser.add_argument("--workers", type=int, help="relink's fingerprint processes (all cores)")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        name, path, *rest = args.phase
        if name == "build":
            result = build(Path(path), int(rest[0]), int(rest[1]), int(rest[2]))
        elif name == "link":
            result = link(Path(path), rest[0], int(rest[1]) if rest[1] != "-" else None)
        else:
            result = link_new(Path(path))
        print(RESULT + json.dumps(result))
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    modes = [mode for mode in args.modes.split(",") if mode]
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run(sizes, args.new, modes, args.seed, args.workdir, args.workers)
        return
    with tempfile.TemporaryDirectory(prefix="govnews-scale-") as workdir:
        run(sizes, args.new, modes, args.seed, Path(workdir), args.workers)


if __name__ == "__main__":
    main()
