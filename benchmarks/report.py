"""How long ``scrapy report`` takes, and how large its page is, on a database of 100,000 articles.

    python -m benchmarks.report [--size 100000] [--share 0.3] [--seed 0] [--workdir DIR]

The database is the linking benchmark's (``benchmarks/linking/generate.py``):
``--size`` articles over two years of fifty agency sites, ``--share`` of them
portal reposts (8 % of those of an original that is not stored), inserted as
``benchmarks/linking/scale.py`` does and linked by ``scrapy relink``'s
``relink``. It is kept in ``--workdir`` (default: a directory in /tmp), so that
a second run measures the report alone. Then ``scrapy report`` runs on it, in
its own process as a person runs it, three times; the wall time of each and the
page's size are printed. The issue's bound: under 10 s and under 5 MB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from benchmarks.linking.generate import generate
from benchmarks.linking.scale import CHUNK, chunks, close, seed_registry
from govnews.core.timezone import utcnow
from govnews.link.agencies import AgencyRegistry
from govnews.link.relink import relink
from govnews.store import models, open_database, session_factory

ROOT = Path(__file__).resolve().parents[1]


def build(path: Path, size: int, share: float, seed: int) -> None:
    """Generate, insert and link ``size`` articles into a new SQLite file."""
    engine = open_database(f"sqlite:///{path}")
    started = time.perf_counter()
    with session_factory(engine)() as session:
        seed_registry(session)
        for chunk in chunks(generate(size, seed, repost_share=share), CHUNK):
            now = utcnow()
            session.execute(insert(models.ArticleRow), [article.row(now) for article in chunk])
            session.execute(insert(models.ArticleUrl), [article.url_row() for article in chunk])
            session.commit()
        inserted = time.perf_counter()
        relink(session, AgencyRegistry.load(session))
    print(f"built: inserted in {inserted - started:.0f} s, linked in "
          f"{time.perf_counter() - inserted:.0f} s")  # fmt: skip
    close(engine)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--share", type=float, default=0.3, help="share of portal reposts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    path = args.workdir / f"govnews-report-{args.size}-{args.share}-{args.seed}.db"
    if not path.exists():
        build(path, args.size, args.share, args.seed)
    engine = open_database(f"sqlite:///{path}", create=False)
    with session_factory(engine)() as session:
        articles = session.scalar(select(func.count()).select_from(models.ArticleRow))
        linked = session.scalar(select(func.count()).where(models.Repost.original_id.is_not(None)))
    engine.dispose()
    print(f"database: {path} ({path.stat().st_size / 2**20:.0f} MB), "
          f"{articles:,} articles, {linked:,} linked reposts")  # fmt: skip
    output = args.workdir / "govnews-report.html"
    print("| run | seconds | page (MB) |\n|---|---|---|")
    for run in range(1, 4):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "scrapy", "report", "-o", str(output),
             "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{path}"],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        print(f"| {run} | {seconds:.2f} | {output.stat().st_size / 2**20:.2f} |")


if __name__ == "__main__":
    main()
