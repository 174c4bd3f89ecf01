"""``scrapy browse``: Datasette on 127.0.0.1 with the shipped metadata; canned queries checked.

The server is the real one the command starts; the canned queries are run
through Datasette's JSON API and their rows compared with plain SQL and with
what ``scrapy report`` shows of the same database (tests/test_report.py's).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import ROOT
from tests.test_report import AGENCY_AUTUMN, EXPECTED_FIGURES, count, crawl_snapshot, doctor

TOP_ORIGINAL = "http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-10-12/2101211342.html"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = crawl_snapshot(tmp_path_factory.mktemp("browse"))
    doctor(path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(database: Path) -> Iterator[str]:
    """``scrapy browse`` on a free port; its base URL once it answers (30 s at most)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "scrapy", "browse", "--port", str(port),
         "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{database}"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/-/versions.json", timeout=2).close()
            break
        except (urllib.error.URLError, ConnectionError) as error:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.stderr.read().decode() if process.stderr else ""
                raise AssertionError(f"scrapy browse did not answer: {output}") from error
            time.sleep(0.2)
    yield f"{base}/{database.stem}"
    process.terminate()
    process.wait(timeout=20)


def get(path: str, /, **params: str) -> Any:
    """Datasette's JSON at ``path``: rows as an array unless ``_shape`` says otherwise."""
    query = urlencode({"_shape": "array", **params})
    with urllib.request.urlopen(f"{path}?{query}", timeout=30) as response:
        return json.load(response)


def test_canned_queries_answer_what_sql_and_the_report_count(server: str, database: Path) -> None:
    miscredited = get(f"{server}/miscredited.json")
    assert len(miscredited) == count(database, EXPECTED_FIGURES["miscredited"]) == 1
    assert miscredited[0]["source_name"] == "漳州市人民政府"
    assert miscredited[0]["original_site"] == "nyncj.zhangzhou.gov.cn"

    unresolved = get(f"{server}/unresolved.json")
    states = sorted(row["state"] for row in unresolved)
    assert states == ["unmatched", "waiting"]

    failures = get(f"{server}/open_failures.json")
    assert len(failures) == count(database, EXPECTED_FIGURES["failures_open"]) == 2
    assert {row["stage"] for row in failures} == {"http", "extract"}

    runs = get(f"{server}/recent_runs.json")
    assert [row["id"] for row in runs] == [4, 3, 2, 1]
    assert runs[-1]["spider"] == "nmgfzw" and runs[-1]["items_new"] == 27

    tree = get(f"{server}/original_reposts.json", url=TOP_ORIGINAL)
    assert [row["depth"] for row in tree] == [0, 1, 1]
    assert tree[0]["url"] == TOP_ORIGINAL and tree[0]["delay_hours"] == 0
    assert {row["site"] for row in tree[1:]} == {"nynct.fujian.gov.cn", "www.nmgfzw.cn"}

    agency = get(f"{server}/agency_reposts.json", agency="漳州市农业农村局",
                 since="2022-09-01", until="2022-10-31")  # fmt: skip
    assert len(agency) == count(database, AGENCY_AUTUMN)
    assert len(agency) > 0
    by_host = get(f"{server}/agency_reposts.json", agency="nyncj.zhangzhou.gov.cn",
                  since="2022-09-01", until="2022-10-31")  # fmt: skip
    assert by_host == agency


def test_tables_carry_descriptions_and_facets(server: str) -> None:
    articles = get(f"{server}/articles.json", _shape="objects", _size="0")
    assert set(articles["facet_results"]) >= {"site", "kind"}
    kinds = {item["value"]: item["count"] for item in articles["facet_results"]["kind"]["results"]}
    assert kinds == {"gov": 33, "portal": 21}
    reposts = get(f"{server}/reposts.json", _shape="objects", _size="0")
    assert "method" in reposts["facet_results"]
    base = server.rsplit("/", 1)[0]
    with urllib.request.urlopen(f"{base}/-/metadata.json", timeout=10) as response:
        metadata = json.load(response)
    (database,) = metadata["databases"].values()
    assert "原文链接" in database["tables"]["articles"]["columns"]["declared_original_url"]
    assert set(database["queries"]) == {
        "original_reposts", "agency_reposts", "miscredited", "unresolved", "open_failures",
        "recent_runs",
    }  # fmt: skip


def test_browse_refuses_a_server_database_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "browse", "-s",
         "GOVNEWS_DATABASE_URL=postgresql+psycopg://u@127.0.0.1:1/x"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("govnews: scrapy browse opens SQLite files only")
    assert "Traceback" not in done.stderr
