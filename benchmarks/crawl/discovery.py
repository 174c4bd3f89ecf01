"""What discovery costs: a site added by its address alone against the same site configured.

    python -m benchmarks.crawl.discovery [--articles 5000] [--hosts 2] [--seed 0] [--workdir DIR]

Generates the crawl benchmark's snapshot of Fujian CMS sites (``benchmarks/crawl/site.py``)
and crawls it with ``scrapy crawl sites`` three ways, in subprocesses against its mirror:

1. **configured**: each site with ``listing``, ``article`` and ``pagination`` written out,
   as ``data/sites.toml`` does for its sites;
2. **discovered**: each site with ``name``, ``kind``, ``start_urls`` and ``allowed_hosts``
   only (:mod:`govnews.extract.discovery` finds the rest);
3. **re-run**: the discovered crawl again on its database and the unchanged snapshot.

Prints the requests of each (``downloader/request_count``), discovery's overhead over the
configured crawl and the re-run's share of a full crawl, and checks that both full crawls
stored every generated article. Targets (issue 13): overhead ≤ 10 %, re-run ≤ 5 %.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.crawl.__main__ import STAT, stored
from benchmarks.crawl.site import Snapshot, generate
from govnews.core.urls import url_key

ROOT = Path(__file__).resolve().parents[2]


def sites_file(snapshot: Snapshot, path: Path, configured: bool) -> Path:
    """A sites file of the snapshot's hosts: with patterns and paging, or address alone."""
    tables = []
    for number, host in enumerate(snapshot.hosts, start=1):
        table = (
            f'[[sites]]\nname = "gen-{number}"\nkind = "gov"\n'
            f'start_urls = ["http://{host}/"]\nallowed_hosts = ["{host}"]\n'
        )
        if configured:
            quoted = re.escape(host)
            table += (
                f"listing = ['^https?://{quoted}/cms/html/[^/]+/[a-z]+/index\\.html$']\n"
                f"article = ['^https?://{quoted}/cms/html/[^/]+/\\d{{4}}-\\d\\d-\\d\\d/\\d+\\.html$']\n"
                '[sites.pagination]\nkind = "fujian"\n'
            )
        tables.append(table)
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


def requests_of(snapshot: Snapshot, sites: Path, database: Path) -> int:
    """Run ``scrapy crawl sites`` on the snapshot's mirror; its request count."""
    command = [
        sys.executable, "-m", "scrapy", "crawl", "sites",
        "-s", f"GOVNEWS_SITES={sites}",
        "-s", f"GOVNEWS_MIRROR={snapshot.root}",
        "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{database}",
        "-s", "LOG_LEVEL=INFO",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    dumped = done.stderr[done.stderr.rindex("Dumping Scrapy stats") :]
    stats = dict(STAT.findall(dumped))
    return int(float(stats["downloader/request_count"]))


def run(articles: int, hosts: int, seed: int, workdir: Path) -> bool:
    """Generate, crawl three ways, print the figures; False when a check failed."""
    snapshot = generate(workdir / f"snapshot-{articles}-{hosts}-{seed}", articles, hosts, seed)
    wanted = {url_key(article.url) for article in snapshot.articles}
    figures: dict[str, int] = {}
    ok = True
    for name, configured in (("configured", True), ("discovered", False)):
        database = workdir / f"{name}.db"
        database.unlink(missing_ok=True)
        sites = sites_file(snapshot, workdir / f"{name}.toml", configured)
        figures[name] = requests_of(snapshot, sites, database)
        missing = wanted - stored(database)
        if missing:
            print(f"{name}: {len(missing)} of {len(wanted)} articles not stored", file=sys.stderr)
            ok = False
        if not configured:
            figures["re-run"] = requests_of(snapshot, sites, database)
    overhead = figures["discovered"] / figures["configured"] - 1
    share = figures["re-run"] / figures["discovered"]
    print(f"snapshot: {len(snapshot.articles):,} articles on {', '.join(snapshot.hosts)}\n")
    print("| crawl | requests |\n| --- | ---: |")
    for name, count in figures.items():
        print(f"| {name} | {count:,} |")
    print(f"\ndiscovery overhead: {overhead:+.1%} (target ≤ 10 %)")
    print(f"re-run share of a full crawl: {share:.1%} (target ≤ 5 %)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govnews-discovery-") as scratch:
        workdir = options.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        if not run(options.articles, options.hosts, options.seed, workdir):
            sys.exit(1)
    print("\nBoth full crawls stored every generated article.")


if __name__ == "__main__":
    main()
