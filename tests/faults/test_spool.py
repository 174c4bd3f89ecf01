"""The spool on its own: where it is, files written whole, entries read back, the reserve."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.settings import Settings

from govnews.crawl.spool import (
    DEFAULT_SPOOL_DIR,
    Spool,
    article_entry,
    article_of,
    failure_entry,
    run_entry,
    spool_dir,
)
from govnews.items import Article


def settings(url: str, directory: str | None = None) -> Settings:
    return Settings({"GOVNEWS_DATABASE_URL": url, "GOVNEWS_SPOOL_DIR": directory})


def test_the_spool_is_beside_the_database_file_unless_configured(tmp_path: Path) -> None:
    assert spool_dir(settings(f"sqlite:///{tmp_path}/g.db")) == tmp_path / "g.db.spool"
    assert spool_dir(settings("sqlite://", str(tmp_path / "s"))) == tmp_path / "s"
    assert spool_dir(settings("postgresql://host/db")) == DEFAULT_SPOOL_DIR
    assert spool_dir(settings("sqlite://")) is None  # in memory: no next run to store it


def test_entries_are_read_back_as_written(tmp_path: Path) -> None:
    published = datetime(2022, 8, 18, 2, 20, tzinfo=UTC)
    article = Article(
        url="http://a.gov.cn/1.html", site="a.gov.cn", kind="gov", title="标题",
        body_text="正文", published_at=published,
    )  # fmt: skip
    failure = failure_entry(
        "http://a.gov.cn/2.html", spider="sites", stage="http", reason="HTTP 404", callback=None
    )
    run = run_entry(7, status="failed", finish_reason="database_locked", counts={"items_new": 1})
    spool = Spool(tmp_path / "spool")
    path = spool.write([article_entry(article), failure, run])
    assert spool.files() == [path] and not list(spool.directory.glob("*.tmp"))
    read = spool.read(path)
    assert article_of(read[0]) == article
    assert read[1:] == [failure, run]
    spool.remove(path)
    assert spool.files() == []


def test_a_line_that_is_no_entry_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"kind": "failure", "url": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not JSON"):
        Spool.read(path)
    path.write_text('{"kind": "other"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not a spool entry"):
        Spool.read(path)
    with pytest.raises(ValueError, match="not an article"):
        article_of({"kind": "article", "item": {"url": "x", "colour": "red"}})


def test_the_reserve_is_made_once_and_released_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    assert spool.reserve(65536)
    assert spool.reserve_path.stat().st_size == 65536
    assert spool.reserve_path.stat().st_blocks * 512 >= 65536  # allocated, not sparse
    assert not spool.reserve(65536)  # it exists
    assert spool.files() == []  # no spool file
    assert spool.release() and not spool.release()
    assert not spool.reserve(0)  # none configured
