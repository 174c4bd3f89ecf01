"""``scrapy extract``: one page (a file or a URL through the mirror) in, its JSON record out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SEED_ORIGINAL, SEED_REPOST, SNAPSHOT, expected_records

SEED_FILE = "data/snapshot/www.nmgfzw.cn/shgz/20220818/24915.html"
GBK_URL = "http://www.nmgfzw.cn/fzdt/20220810/24786.html"
REDIRECT = (
    "http://nyncj.zhangzhou.gov.cn/cms/siteresource/article.shtml?id=2101207718&siteId=60434401"
)
REDIRECT_TARGET = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-09-06/2101207718.html"
FIELDS = [
    "url",
    "site",
    "kind",
    "title",
    "published_at",
    "source_name",
    "author",
    "editor",
    "original_title",
    "category",
    "declared_original_url",
    "body_text",
    "images",
    "attachments",
]


def scrapy_extract(
    *args: str, database: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``scrapy extract ARGS`` in the project; stdout decoded as UTF-8."""
    settings = ["-s", f"GOVNEWS_DATABASE_URL=sqlite:///{database}"] if database else []
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "extract", *settings, *args],
        cwd=ROOT,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def expected(url: str) -> dict[str, Any]:
    """The hand-written record of ``url``."""
    return next(record for record in expected_records() if record["url"] == url)


def assert_matches_expected(printed: dict[str, Any], url: str) -> None:
    record = expected(url)
    for name in FIELDS:
        if name == "published_at":
            assert datetime.fromisoformat(printed[name]) == datetime.fromisoformat(record[name])
        else:
            assert printed[name] == record[name], name


def test_file_with_url_prints_the_expected_record(tmp_path: Path) -> None:
    database = tmp_path / "govnews.db"
    ascii_locale = {"PYTHONIOENCODING": "ascii"}  # the JSON is UTF-8 whatever the locale
    done = scrapy_extract(SEED_FILE, "--url", SEED_REPOST, database=database, env=ascii_locale)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["title"] == "漳州召开2022年度全国文明城市创建工作动员会"
    assert printed["published_at"] == "2022-08-18T00:00:00+08:00"
    assert printed["declared_original_url"] == SEED_ORIGINAL
    assert_matches_expected(printed, SEED_REPOST)
    assert printed["fetched_at"] is None  # a file was not fetched
    assert printed["provenance"]["title"] and len(printed["fingerprint"]) == 64
    assert "漳州召开" in done.stdout  # readable UTF-8, not \u escapes
    assert '\n  "url": ' in done.stdout  # indented
    assert not database.exists()  # read-only: no pipelines, no run record


def test_standard_input_with_url() -> None:
    """``-`` reads the page from standard input (at most DOWNLOAD_MAXSIZE bytes of it)."""
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "extract", "-", "--url", SEED_REPOST],
        cwd=ROOT,
        input=(ROOT / SEED_FILE).read_bytes(),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert_matches_expected(json.loads(done.stdout), SEED_REPOST)


def test_gbk_file() -> None:
    path = SNAPSHOT / "www.nmgfzw.cn" / "fzdt" / "20220810" / "24786.html"
    assert b"charset=gb2312" in path.read_bytes()[:1000]
    done = scrapy_extract(str(path), "--url", GBK_URL)
    assert done.returncode == 0, done.stderr
    assert_matches_expected(json.loads(done.stdout), GBK_URL)


def test_file_without_url_gets_its_file_url() -> None:
    done = scrapy_extract(SEED_FILE)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["url"] == (ROOT / SEED_FILE).as_uri()
    assert printed["site"] == "" and printed["kind"] == "portal"
    assert printed["title"] == expected(SEED_REPOST)["title"]


def test_url_through_the_mirror(tmp_path: Path) -> None:
    database = tmp_path / "govnews.db"
    done = scrapy_extract("-s", "GOVNEWS_MIRROR=data/snapshot", SEED_REPOST, database=database)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert_matches_expected(printed, SEED_REPOST)
    fetched_at = datetime.fromisoformat(printed["fetched_at"])
    assert fetched_at.utcoffset() is not None
    assert printed["redirect_urls"] == []
    assert not database.exists()


def test_redirect_is_followed_through_the_mirror() -> None:
    done = scrapy_extract("-s", "GOVNEWS_MIRROR=data/snapshot", REDIRECT)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["url"] == REDIRECT_TARGET
    assert printed["redirect_urls"] == [REDIRECT]
    assert_matches_expected(printed, REDIRECT_TARGET)


def test_page_without_article_prints_the_error_object() -> None:
    done = scrapy_extract(
        "data/snapshot/www.nmgfzw.cn/index.html", "--url", "http://www.nmgfzw.cn/"
    )
    assert done.returncode == 1
    printed = json.loads(done.stdout)
    assert list(printed) == ["url", "error", "reason"]
    assert printed["url"] == "http://www.nmgfzw.cn/"
    assert printed["error"] in ("NotAnArticle", "ErrorPage", "ExtractionError")
    assert printed["reason"]


def test_missing_file() -> None:
    done = scrapy_extract("data/snapshot/no/such/page.html")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].startswith("govnews: cannot read")
    assert "page.html" in done.stderr


def test_missing_page_in_the_mirror() -> None:
    done = scrapy_extract("-s", "GOVNEWS_MIRROR=data/snapshot", "http://www.nmgfzw.cn/nope.html")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "cannot fetch http://www.nmgfzw.cn/nope.html: HTTP 404" in done.stderr


def test_unreachable_url() -> None:
    done = scrapy_extract("--nolog", "-s", "RETRY_ENABLED=False", "http://127.0.0.1:1/page.html")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("govnews: cannot fetch http://127.0.0.1:1/page.html")


@pytest.mark.parametrize(
    "args",
    [(), (SEED_FILE, SEED_FILE), (SEED_REPOST, "--url", SEED_REPOST)],
    ids=["none", "two", "url-with-url"],
)
def test_usage_errors(args: tuple[str, ...]) -> None:
    done = scrapy_extract(*args)
    assert done.returncode == 2
    assert done.stdout == "" or "usage" in done.stdout.lower()


def test_help_explains_url() -> None:
    done = scrapy_extract("-h")
    assert done.returncode == 0
    assert "--url" in done.stdout and "site" in done.stdout and "GOVNEWS_MIRROR" in done.stdout
