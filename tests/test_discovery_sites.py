"""Discovery on a site of every CMS family variant (``tests/fixtures/sites``, whole sites).

Each fixture site comes with what it holds (``<host>.json``): its articles with title,
date and 来源, its listings and their further pages. Given by address alone, the
``sites`` spider must store exactly those articles with those fields and fail nowhere;
``scrapy probesite`` must name the paging the family's lists carry, and its entry,
pasted into a sites file, must crawl every article too; a second run must fetch no
article again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govnews.store import models
from govnews.store.database import open_database
from tests.conftest import ROOT

SITES = ROOT / "tests" / "fixtures" / "sites"
EXPECTED = {path.stem: json.loads(path.read_text("utf-8")) for path in SITES.glob("*.json")}
#: The paging kind probesite must report, by family (UCAP lists call TRS's createPageHTML).
KINDS = {"trs": "trs", "hanweb": "hanweb", "fujian": "fujian", "ucap": "trs", "xxgk": "links"}


def scrapy(*args: str, database: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``scrapy ARGS`` on the fixture sites' mirror (into ``database``)."""
    command = [
        sys.executable, "-m", "scrapy", *args,
        "-s", f"GOVNEWS_MIRROR={SITES}",
        "-s", "LOG_LEVEL=DEBUG",
    ]  # fmt: skip
    if database is not None:
        command += ["-s", f"GOVNEWS_DATABASE_URL=sqlite:///{database}"]
    return subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def address_only(hosts: list[str]) -> str:
    """A sites file naming each site by its start URL and host alone."""
    return "\n".join(
        f'[[sites]]\nname = "{host.replace(".", "-")}"\n'
        f'kind = "{"gov" if host.endswith(".gov.cn") else "portal"}"\n'
        f'start_urls = ["{EXPECTED[host]["start_url"]}"]\nallowed_hosts = ["{host}"]\n'
        for host in hosts
    )


def assert_stored_exactly(database: Path) -> None:
    """Every fixture site's articles with their title, date and 来源; nothing else; no failure."""
    engine = open_database(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            rows = session.scalars(select(models.ArticleRow)).all()
            failures = session.scalars(select(models.PageFailure)).all()
            stored = {row.url: (row.title, row.published_at, row.source_name) for row in rows}
    finally:
        engine.dispose()
    wanted = {
        url: (
            fields["title"],
            datetime.fromisoformat(fields["published_at"]),
            fields["source_name"],
        )
        for site in EXPECTED.values()
        for url, fields in site["articles"].items()
    }
    assert stored == wanted
    assert [(f.url, f.stage, f.reason) for f in failures] == []


def fetched(log: str) -> list[str]:
    """The URLs a crawl's DEBUG log says were downloaded."""
    return re.findall(r"Crawled \(\d+\) <(?:GET|POST) ([^>]+)>", log)


def test_every_fixture_site_is_described() -> None:
    assert len(EXPECTED) >= 9
    assert {site["family"] for site in EXPECTED.values()} >= {*KINDS, None}


def test_every_site_by_its_address_alone(tmp_path: Path) -> None:
    sites = tmp_path / "sites.toml"
    sites.write_text(address_only(sorted(EXPECTED)), encoding="utf-8")
    database = tmp_path / "govnews.db"
    first = scrapy("crawl", "sites", "-s", f"GOVNEWS_SITES={sites}", database=database)
    assert first.returncode == 0, first.stderr[-3000:]
    assert_stored_exactly(database)
    pages = {url for site in EXPECTED.values() for url in site["pages"]}
    assert pages <= set(fetched(first.stderr))  # every further list page, by its paging
    again = scrapy("crawl", "sites", "-s", f"GOVNEWS_SITES={sites}", database=database)
    assert again.returncode == 0, again.stderr[-3000:]
    articles = {url for site in EXPECTED.values() for url in site["articles"]}
    refetched = set(fetched(again.stderr))
    assert not refetched & articles  # the stored articles are not fetched again
    assert not refetched & pages  # nor the further list pages: nothing new on the first


@pytest.mark.parametrize("host", sorted(EXPECTED))
def test_probesite_names_the_paging_and_its_entry_crawls_every_article(
    tmp_path: Path, host: str
) -> None:
    expected: dict[str, Any] = EXPECTED[host]
    done = scrapy("probesite", expected["start_url"])
    assert done.returncode == 0, done.stderr[-3000:]
    (site,) = tomllib.loads(done.stdout)["sites"]
    assert site["allowed_hosts"] == [host] and site["article"]
    kind = KINDS.get(expected["family"], "links")
    assert site["pagination"] == {"kind": kind}
    for url in expected["listings"]:  # the evidence: each listing found (one page: none)
        assert re.search(rf"^#   {re.escape(url)}  ({kind}|none),", done.stdout, re.MULTILINE)
    sites = tmp_path / "sites.toml"
    sites.write_text(done.stdout, encoding="utf-8")
    database = tmp_path / "govnews.db"
    crawled = scrapy("crawl", "sites", "-s", f"GOVNEWS_SITES={sites}", database=database)
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    engine = open_database(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            stored = set(session.scalars(select(models.ArticleRow.url)))
            failures = session.scalars(select(models.PageFailure)).all()
    finally:
        engine.dispose()
    assert stored == set(expected["articles"])
    assert not failures
