"""``scrapy report`` as a person uses it: built from the snapshot's database, opened in Chromium.

The page must load from disk with no request beyond the file and no console
message, draw its charts, and show the figures that plain SQL over the same
tables counts. The snapshot's database is crawled once; a copy of it is given
what the snapshot lacks (a miscredited repost, one waiting for its original, a
portal article whose government 来源 matched nothing, a silent spider), so that
every part of the page has something to show.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import html
from playwright.sync_api import sync_playwright
from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from govnews.report.queries import Filters, links
from govnews.store.database import open_database
from govnews.store.models import ArticleRow, Base, Repost, RepostSource
from tests.conftest import ROOT, SEED_ORIGINAL, SEED_REPOST, SNAPSHOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The portal article the copy makes wait for its original, and the one whose 来源 is changed
#: to a government agency that published nothing like it (both 来源 工人日报 in the snapshot).
WAITING = "http://www.nmgfzw.cn/shgz/20220802/24731.html"
UNMATCHED = "http://www.nmgfzw.cn/ldbz/20220728/24689.html"


def crawl_snapshot(directory: Path) -> Path:
    """``scrapy crawlall`` over the snapshot into a new SQLite file; its path."""
    path = directory / "govnews.db"
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawlall", "-s", f"GOVNEWS_MIRROR={SNAPSHOT}",
         "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{path}", "-s", "LOG_LEVEL=WARNING",
         "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return path


def doctor(path: Path) -> None:
    """Give the snapshot's database what it lacks, in its own tables."""
    with sqlite3.connect(path) as db:
        (seed,) = db.execute("SELECT id FROM articles WHERE url = ?", (SEED_REPOST,)).fetchone()
        db.execute(
            "UPDATE repost_sources SET source_name = '漳州市人民政府', "
            "agency_host = 'www.zhangzhou.gov.cn', resolution = 'exact' WHERE article_id = ?",
            (seed,),
        )
        (waiting,) = db.execute("SELECT id FROM articles WHERE url = ?", (WAITING,)).fetchone()
        db.execute(
            "INSERT INTO reposts (repost_id, original_id, declared_url, declared_key, method, "
            "confidence, created_at) VALUES (?, NULL, ?, ?, 'declared_url', 1.0, "
            "'2026-01-01 00:00:00')",
            (waiting, "http://jsj.zhangzhou.gov.cn/cms/html/x/1.html",
             "jsj.zhangzhou.gov.cn/cms/html/x/1.html"),
        )  # fmt: skip
        (unmatched,) = db.execute("SELECT id FROM articles WHERE url = ?", (UNMATCHED,)).fetchone()
        db.execute(
            "UPDATE repost_sources SET source_name = '漳州市教育局', "
            "agency_host = 'jyj.zhangzhou.gov.cn', resolution = 'exact' WHERE article_id = ?",
            (unmatched,),
        )
        # A later run of nmgfzw that stored nothing: with GOVNEWS_REPORT_QUIET_RUNS=1 its
        # sites are silent.
        db.execute(
            "INSERT INTO crawl_runs (spider, started_at, finished_at, status, requests, "
            "items_new, items_updated, items_unchanged, failures, links, finish_reason) VALUES "
            "('nmgfzw', '2099-01-01 00:00:00', '2099-01-01 00:01:00', 'finished', 5, 0, 0, 5, "
            "0, 0, 'finished')"
        )


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The snapshot's database with the doctored rows."""
    path = crawl_snapshot(tmp_path_factory.mktemp("report"))
    doctor(path)
    return path


def scrapy(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "scrapy", *args, "-s", f"GOVNEWS_DATABASE_URL={database}"]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def sql(path: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(query, params).fetchall()


def count(path: Path, query: str, *params: Any) -> int:
    return int(sql(path, query, *params)[0][0])


# Plain SQL, written apart from the report's queries (the snapshot has no chain of links).
EXPECTED_FIGURES = {
    "articles_gov": "SELECT count(*) FROM articles WHERE kind = 'gov'",
    "articles_portal": "SELECT count(*) FROM articles WHERE kind = 'portal'",
    "reposts_linked": "SELECT count(*) FROM reposts WHERE original_id IS NOT NULL",
    "originals_reposted": "SELECT count(DISTINCT original_id) FROM reposts",
    "reposts_waiting": "SELECT count(*) FROM reposts WHERE original_id IS NULL",
    "unmatched": """SELECT count(*) FROM articles a JOIN repost_sources s ON s.article_id = a.id
        WHERE a.kind = 'portal' AND s.agency_host IS NOT NULL
        AND a.id NOT IN (SELECT repost_id FROM reposts)""",
    "suggestions": "SELECT count(*) FROM link_suggestions",
    "miscredited": """SELECT count(*) FROM reposts l JOIN articles o ON o.id = l.original_id
        JOIN repost_sources s ON s.article_id = l.repost_id
        WHERE s.agency_host IS NOT NULL AND s.agency_host != o.site""",
    "failures_open": "SELECT count(*) FROM page_failures WHERE resolved_at IS NULL",
}
#: Reposts of 漳州市农业农村局 published 2022-09-01 to 2022-10-31, Beijing days (UTC-8 h).
AGENCY_AUTUMN = """
    SELECT count(*) FROM reposts l JOIN articles r ON r.id = l.repost_id
    JOIN articles o ON o.id = l.original_id
    WHERE o.site = 'nyncj.zhangzhou.gov.cn'
    AND r.published_at >= '2022-08-31 16:00:00' AND r.published_at < '2022-10-31 16:00:00'
"""
CREDIT_BY_SITE = """
    SELECT r.site, count(*),
           sum(s.agency_host = o.site),
           sum(s.agency_host IS NOT NULL AND s.agency_host != o.site),
           sum(r.declared_original_url IS NOT NULL),
           sum(CASE WHEN r.declared_original_key IN (SELECT url_key FROM article_urls u
                                                     WHERE u.article_id = o.id)
               THEN 1 ELSE 0 END)
    FROM reposts l JOIN articles r ON r.id = l.repost_id JOIN articles o ON o.id = l.original_id
    LEFT JOIN repost_sources s ON s.article_id = r.id
    GROUP BY r.site
"""


def figures(page: html.HtmlElement) -> dict[str, int]:
    return {
        element.get("data-figure"): int(element.text_content())
        for element in page.xpath("//*[@data-figure]")
    }


def cells(page: html.HtmlElement, table: str, key: str) -> dict[str, dict[str, int]]:
    """``{row key: {column: the number it shows}}`` of a table of the page."""
    rows = page.xpath(f"//table[@data-table='{table}']//tr[@{key}]")
    return {
        row.get(key): {
            cell.get("data-col"): int(cell.text_content().split()[0].rstrip("次"))
            for cell in row.xpath("td[@data-col]")
        }
        for row in rows
    }


def cjk_glyphs(context: Any, page: Any, selector: str) -> int:
    """Glyphs of the first ``selector`` element drawn with a CJK font, as Chromium reports."""
    cdp = context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return sum(font["glyphCount"] for font in fonts if "CJK" in font["familyName"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_the_report_opens_in_a_browser_and_shows_the_sql_counts(
    database: Path, browser: Any, tmp_path: Path
) -> None:
    output = tmp_path / "out" / "report.html"
    done = scrapy(f"sqlite:///{database}", "report", "-o", str(output),
                  "-s", "GOVNEWS_REPORT_QUIET_RUNS=1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"report written to {output} (")
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    messages: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.goto(output.as_uri())
    page.wait_for_load_state("load")
    assert requests == [output.as_uri()]  # nothing fetched beyond the file itself
    assert messages == []
    # Every chart is drawn: an SVG with marks, of a real size on the page.
    for chart in ("over_time", "delays", "credit", "timeline"):
        svg = page.locator(f"figure[data-chart={chart}] svg")
        assert svg.count() == 1, chart
        box = svg.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, chart
        assert svg.locator("path, rect, use").count() > 10, chart
    # The Chinese text is drawn with a CJK font (without one, every character is a box).
    assert cjk_glyphs(context, page, "h1") >= len("政府新闻转载报告")
    assert cjk_glyphs(context, page, "figure[data-chart=credit] svg text") > 0
    shown = figures(html.fromstring(page.content()))
    expected = {name: count(database, query) for name, query in EXPECTED_FIGURES.items()}
    assert {name: shown[name] for name in expected} == expected
    assert expected["miscredited"] == expected["reposts_waiting"] == expected["unmatched"] == 1
    assert shown["sites_silent"] == 3  # nmgfzw's three sites: its last run stored nothing
    credit = cells(html.fromstring(page.content()), "credit", "data-site")
    assert credit == {
        site: {"reposts": total, "right": right, "wrong": wrong, "gives_link": gives,
               "link_resolves": reaches}
        for site, total, right, wrong, gives, reaches in sql(database, CREDIT_BY_SITE)
    }  # fmt: skip
    context.close()


def test_filters_select_the_reposts_sql_selects(database: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{database}"
    output = tmp_path / "agency.html"
    done = scrapy(url, "report", "--agency", "漳州市农业农村局", "--since", "2022-09-01",
                  "--until", "2022-10-31", "-o", str(output))  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = figures(html.fromstring(output.read_text(encoding="utf-8")))
    # Beijing days: 2022-09-01 00:00 +08:00 is 2022-08-31 16:00 UTC.
    assert shown["reposts_linked"] == count(
        database,
        AGENCY_AUTUMN,
    )
    assert 0 < shown["reposts_linked"] < count(database, EXPECTED_FIGURES["reposts_linked"])
    page = html.fromstring(output.read_text(encoding="utf-8"))
    assert set(cells(page, "agencies", "data-agency")) == {"漳州市农业农村局"}
    assert "机构 agency 漳州市农业农村局" in page.text_content()

    output = tmp_path / "site.html"
    done = scrapy(url, "report", "--site", "nynct.fujian.gov.cn", "-o", str(output))
    assert done.returncode == 0, done.stderr
    page = html.fromstring(output.read_text(encoding="utf-8"))
    assert set(cells(page, "credit", "data-site")) == {"nynct.fujian.gov.cn"}
    assert figures(page)["reposts_linked"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agency", "不存在的局", "-o", "x.html"], "govnews: --agency '不存在的局': no agency"),
        (["--since", "soon", "-o", "x.html"], "--since 'soon' is not a date"),
        (["--since", "2022-10-01", "--until", "2022-09-01", "-o", "x.html"], "is before --since"),
        ([], "give the file to write: -o FILE.html"),
    ],
)
def test_bad_input_is_one_line(
    database: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "report", *args, "-s",
         f"GOVNEWS_DATABASE_URL=sqlite:///{database}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_repost_of_a_repost_counts_for_the_first_original(session: Session) -> None:
    """The chain is followed to its end in SQL; 来源 naming the copy taken is credit too."""
    from datetime import UTC, datetime

    def article(id_: int, site: str, kind: str, day: int) -> ArticleRow:
        when = datetime(2022, 8, day, tzinfo=UTC)
        return ArticleRow(
            id=id_, url=f"http://{site}/{id_}.html", url_key=f"{site}/{id_}.html", site=site,
            kind=kind, title="标题", published_at=when, body_text="正文", body_html="",
            images=[], attachments=[], provenance={}, fingerprint=str(id_), fetched_at=when,
        )  # fmt: skip

    session.add_all(
        [
            article(1, "a.gov.cn", "gov", 1),
            article(2, "b.gov.cn", "gov", 2),
            article(3, "portal.cn", "portal", 4),
        ]
    )
    session.flush()
    session.add_all(
        [
            Repost(repost_id=2, original_id=1, method="content", confidence=0.9),
            Repost(repost_id=3, original_id=2, method="content", confidence=0.9),
            RepostSource(
                article_id=3, source_name="B", agency_host="b.gov.cn", resolution="exact"
            ),  # fmt: skip
        ]
    )
    session.commit()
    found = {link.repost_id: link for link in links(session, Filters())}
    assert {repost: link.original_id for repost, link in found.items()} == {2: 1, 3: 1}
    assert found[3].delay_hours == 72.0
    assert found[3].credit == "right"  # it names the copy it took
    assert found[2].credit == "unknown"  # no 来源 at all


def test_the_same_report_from_postgresql(database: Path, postgres_url: str, tmp_path: Path) -> None:
    """The snapshot's rows copied to PostgreSQL give the same figures and tables."""
    source = create_engine(f"sqlite:///{database}")
    target = open_database(postgres_url)
    with source.connect() as reading, target.begin() as writing:
        present = set(Base.metadata.tables)
        for table in Base.metadata.sorted_tables:
            if table.name not in present:
                continue
            rows = [dict(row) for row in reading.execute(select(table)).mappings()]
            writing.execute(table.delete())
            if rows:
                writing.execute(insert(table), rows)
    source.dispose()
    target.dispose()
    pages = {}
    for name, url in (("sqlite", f"sqlite:///{database}"), ("postgresql", postgres_url)):
        output = tmp_path / f"{name}.html"
        done = scrapy(url, "report", "-o", str(output), "-s", "GOVNEWS_REPORT_QUIET_RUNS=1")
        assert done.returncode == 0, done.stderr
        pages[name] = html.fromstring(output.read_text(encoding="utf-8"))
    sqlite_page, postgres_page = pages["sqlite"], pages["postgresql"]
    assert figures(postgres_page) == figures(sqlite_page)
    for table, key in (("credit", "data-site"), ("agencies", "data-agency"),
                       ("originals", "data-original"), ("runs", "data-run")):  # fmt: skip
        assert cells(postgres_page, table, key) == cells(sqlite_page, table, key), table
    assert figures(sqlite_page)["miscredited"] == 1


def test_seed_story_is_reported(database: Path) -> None:
    """The seed repost (now miscredited) is listed under its original with its delay."""
    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        found = {link.repost_url: link for link in links(session, Filters())}
    engine.dispose()
    seed = found[SEED_REPOST]
    assert seed.original_url == SEED_ORIGINAL
    assert seed.credit == "wrong" and seed.gives_link and seed.link_resolves
    assert seed.delay_hours == pytest.approx(-10 - 20 / 60)  # dated the day, not the hour
