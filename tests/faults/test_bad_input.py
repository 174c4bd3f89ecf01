"""Bad input gets one clean line: every govnews command, every bad setting, file or URL.

Each case runs a command in a subprocess, as a person would, with one bad
setting, file or URL, and asserts that it exits non-zero, that the last line
of its stderr is ``govnews: <what is wrong>`` (said once), and that no
traceback is printed anywhere. ``scrapy extract`` reads at most
DOWNLOAD_MAXSIZE bytes of whatever it is given, endless inputs included, in
bounded memory. A missing database is not created by the commands that only
read one, and an empty sites file is said to be empty.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from govnews.store.database import open_database
from tests.conftest import ROOT, SNAPSHOT

PAGE = "data/snapshot/www.nmgfzw.cn/shgz/20220818/24915.html"
SITE = """
[[sites]]
name = "a"
kind = "gov"
start_urls = ["http://a.gov.cn/"]
allowed_hosts = ["a.gov.cn"]
article = ['/art/']
"""
#: Files a case names as {tmp}/NAME, made in a fresh directory for each case.
FILES = {
    "file.txt": "no database, no TOML: just text\n" * 50,
    "bad.toml": "sites = [\n",
    "sites-not-a-list.toml": "sites = 3\n",
    "site-name-a-number.toml": SITE.replace('name = "a"', "name = 3"),
    "site-bad-url.toml": SITE.replace("http://a.gov.cn/", "javascript:alert(1)"),
    "sites-duplicate.toml": SITE + SITE.replace("a.gov.cn", "b.gov.cn"),
    "agencies-bad-region.toml": '[[agency]]\nname = "某局"\nregion_code = "999999"\n'
    'region_name = "某市"\n',
}
#: How a crawl runs here: from the snapshot (nothing reaches the network), into {tmp}.
CRAWL = [
    "-s",
    f"GOVNEWS_MIRROR={SNAPSHOT}",
    "-s",
    "GOVNEWS_DATABASE_URL=sqlite:///{tmp}/ok.db",
    "-s",
    "LOG_LEVEL=WARNING",
    "-s",
    "FEEDS={}",
]


def case(name: str, line: str, says: str) -> Any:
    """A bad input: a command line and what its error line says.

    The line is split as a shell would; ``CRAWL`` stands for the crawl settings
    above, ``{db}`` for ``GOVNEWS_DATABASE_URL=sqlite:///{tmp}``, and ``{tmp}``
    for the case's directory, which holds :data:`FILES`.
    """
    return pytest.param(line, says, id=name)


CASES = [
    # GOVNEWS_DATABASE_URL
    case("summary-unknown-dialect", "summary -s GOVNEWS_DATABASE_URL=foo://x", "dialect 'foo'"),
    case("crawl-unknown-dialect", "crawl sites CRAWL -s GOVNEWS_DATABASE_URL=foo://x", "dialect"),
    case("migrate-unparseable", "migrate -s GOVNEWS_DATABASE_URL=nourl", "not a database URL"),
    case("crawl-unparseable", "crawl sites CRAWL -s GOVNEWS_DATABASE_URL=nourl", "not a database"),
    case("crawl-unreachable", "crawl sites CRAWL -s {db}/file.txt/x.db", "is not a directory"),
    case("migrate-unreachable", "migrate -s {db}/file.txt/x.db", "cannot create the directory"),
    case("summary-directory", "summary -s {db}", "is a directory"),
    case("crawl-directory", "crawl sites CRAWL -s {db}", "is a directory"),
    case("crawl-not-a-database", "crawl sites CRAWL -s {db}/file.txt", "file is not a database"),
    case("relink-not-a-database", "relink -s {db}/file.txt", "file is not a database"),
    case("migrate-not-a-database", "migrate -s {db}/file.txt", "file is not a database"),
    case("summary-newer-schema", "summary -s {db}/newer.db", "a newer govnews made it"),
    case("crawl-newer-schema", "crawl sites CRAWL -s {db}/newer.db", "a newer govnews made it"),
    case("crawlall-newer-schema", "crawlall CRAWL -s {db}/newer.db", "a newer govnews made it"),
    case("export-newer-schema", "export -o {tmp}/out.json -s {db}/newer.db", "a newer govnews"),
    case("migrate-sql-newer-schema", "migrate --sql -s {db}/newer.db", "a newer govnews made it"),
    # GOVNEWS_SITES
    case("sites-missing", "crawl sites CRAWL -s GOVNEWS_SITES={tmp}/none.toml", "cannot read"),
    case("sites-unreadable", "crawl sites CRAWL -s GOVNEWS_SITES={tmp}", "cannot read"),
    case("sites-not-toml", "crawl sites CRAWL -s GOVNEWS_SITES={tmp}/bad.toml", "not valid TOML"),
    case(
        "sites-not-a-list",
        "crawl sites CRAWL -s GOVNEWS_SITES={tmp}/sites-not-a-list.toml",
        "must be an array of tables",
    ),
    case(
        "sites-name-a-number",
        "crawl sites CRAWL -s GOVNEWS_SITES={tmp}/site-name-a-number.toml",
        "key 'name': must be a non-empty string",
    ),
    case(
        "sites-bad-url",
        "crawl sites CRAWL -s GOVNEWS_SITES={tmp}/site-bad-url.toml",
        "'javascript:alert(1)' is not an http(s) URL",
    ),
    case(
        "sites-duplicate-name",
        "crawl sites CRAWL -s GOVNEWS_SITES={tmp}/sites-duplicate.toml",
        "duplicate name",
    ),
    case("sites-unknown-name", "crawl sites CRAWL -a name=nope", "no site named 'nope'"),
    case(
        "crawlall-sites-not-toml",
        "crawlall sites CRAWL -s GOVNEWS_SITES={tmp}/bad.toml",
        "sites: {tmp}/bad.toml: not valid TOML",
    ),
    # numbers and flags
    case(
        "crawl-batch-size-abc",
        "crawl sites CRAWL -s GOVNEWS_BATCH_SIZE=abc",
        "GOVNEWS_BATCH_SIZE='abc' is not a whole number",
    ),
    case(
        "crawl-batch-size-negative",
        "crawl sites CRAWL -s GOVNEWS_BATCH_SIZE=-1",
        "GOVNEWS_BATCH_SIZE='-1': must be a whole number at least 1",
    ),
    case(
        "crawl-timeout-negative",
        "crawl sites CRAWL -s GOVNEWS_EXTRACT_TIMEOUT=-5",
        "GOVNEWS_EXTRACT_TIMEOUT='-5': must be a number at least 0",
    ),
    case(
        "crawl-workers-not-a-number",
        "crawl sites CRAWL -s GOVNEWS_EXTRACT_WORKERS=two",
        "GOVNEWS_EXTRACT_WORKERS='two' is not a whole number",
    ),
    case(
        "crawlall-relink-days-negative",
        "crawlall CRAWL -s GOVNEWS_CRAWLALL_RELINK_DAYS=-1",
        "GOVNEWS_CRAWLALL_RELINK_DAYS='-1'",
    ),
    case(
        "summary-share-over-one",
        "summary -s {db}/ok.db -s GOVNEWS_MAX_FAILURE_SHARE=2",
        "GOVNEWS_MAX_FAILURE_SHARE='2': must be a number from 0 to 1",
    ),
    case(
        "relink-flag-maybe",
        "relink -s {db}/ok.db -s GOVNEWS_INCREMENTAL=maybe",
        "GOVNEWS_INCREMENTAL='maybe' is not a flag",
    ),
    case("extract-maxsize-abc", f"extract {PAGE} -s DOWNLOAD_MAXSIZE=abc", "DOWNLOAD_MAXSIZE"),
    # GOVNEWS_AGENCIES_FILE
    case(
        "crawl-agencies-missing",
        "crawl sites CRAWL -s GOVNEWS_AGENCIES_FILE={tmp}/none.toml",
        "GOVNEWS_AGENCIES_FILE='{tmp}/none.toml': cannot read it",
    ),
    case(
        "relink-agencies-not-toml",
        "relink -s {db}/ok.db -s GOVNEWS_AGENCIES_FILE={tmp}/bad.toml",
        "not valid TOML",
    ),
    case(
        "crawlall-agencies-bad-region",
        "crawlall CRAWL -s GOVNEWS_AGENCIES_FILE={tmp}/agencies-bad-region.toml",
        "region 999999 is not",
    ),
    # GOVNEWS_MIRROR
    case("crawl-mirror-missing", "crawl sites CRAWL -s GOVNEWS_MIRROR={tmp}/none", "MIRROR"),
    case(
        "extract-mirror-a-file",
        "extract http://www.nmgfzw.cn/ -s GOVNEWS_MIRROR={tmp}/file.txt",
        "is not a directory",
    ),
    # where feeds and locks are written
    case("crawl-feed-unwritable", "crawl sites CRAWL -O {tmp}/file.txt/f.jsonl", "the feed"),
    case(
        "crawlall-feed-unwritable",
        """crawlall CRAWL -s 'FEEDS={"{tmp}/file.txt/%(name)s.jsonl": {"format": "jsonl"}}'""",
        "cannot write the feed",
    ),
    case(
        "crawl-lock-unwritable",
        "crawl sites CRAWL -s GOVNEWS_LOCK_FILE={tmp}/file.txt/x.lock",
        "cannot write the run lock",
    ),
    # scrapy extract's addresses
    case("extract-url-javascript", f"extract {PAGE} --url javascript:alert(1)", "http(s) URL"),
    case("extract-url-no-host", f"extract {PAGE} --url http:///x.html", "http(s) URL with a host"),
    case("extract-argument-no-host", "extract http:///x.html", "http(s) URL with a host"),
]


def command_line(line: str, tmp: Path) -> list[str]:
    """The arguments of a case's command line, for the case's directory ``tmp``."""
    args: list[str] = []
    for word in shlex.split(line):
        args.extend(CRAWL if word == "CRAWL" else [word])
    database = f"GOVNEWS_DATABASE_URL=sqlite:///{tmp}"
    return [arg.replace("{db}", database).replace("{tmp}", str(tmp)) for arg in args]


def scrapy(
    *args: str, stdin: int | None = subprocess.DEVNULL, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``scrapy ARGS`` in the project, as a person would."""
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=ROOT,
        stdin=stdin,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def assert_one_clean_line(done: subprocess.CompletedProcess[str], says: str) -> None:
    """Exit status non-zero, no traceback, and the error once, as stderr's last line."""
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    assert lines[-1].startswith("govnews: "), output[-3000:]
    assert says in lines[-1]
    assert sum(line.startswith("govnews: ") for line in lines) == 1, done.stderr


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    """A directory with the files the cases name, a govnews database and a newer one."""
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    open_database(f"sqlite:///{tmp_path / 'ok.db'}").dispose()
    with sqlite3.connect(tmp_path / "newer.db") as newer:  # stamped by a govnews to come
        newer.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        newer.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
    return tmp_path


@pytest.mark.parametrize(("line", "says"), CASES)
def test_bad_input_is_one_clean_line(tmp: Path, line: str, says: str) -> None:
    done = scrapy(*command_line(line, tmp))
    assert_one_clean_line(done, says.replace("{tmp}", str(tmp)))


@pytest.mark.parametrize(
    "command", [["summary"], ["relink"], ["export", "-o", "-", "--format", "json"]]
)
def test_a_missing_database_is_not_created(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "none" / "govnews.db"
    done = scrapy(*command, "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{missing}")
    assert_one_clean_line(done, f"no database at {missing}")
    assert not missing.parent.exists()


def test_an_empty_sites_file_is_said_to_be_empty(tmp_path: Path) -> None:
    """No [[sites]]: a warning, and the run finishes with nothing to do (exit code 0)."""
    empty = tmp_path / "sites.toml"
    empty.write_text("# every site was removed\n", encoding="utf-8")
    done = scrapy(*command_line("crawl sites CRAWL", tmp_path), "-s", f"GOVNEWS_SITES={empty}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"WARNING: {empty} has no [[sites]] tables" in done.stderr
    assert "nothing to crawl" in done.stderr and "Traceback" not in done.stderr


# --- scrapy extract: at most DOWNLOAD_MAXSIZE bytes, in bounded memory ------------------

#: Runs a command in a process of its own and reports its exit, output and peak RSS: the
#: test process's own RUSAGE_CHILDREN holds the largest of all the children it ever had.
#: The address space is capped at 1 GiB, so that a reader without a bound fails fast
#: (MemoryError) instead of taking the machine's memory.
MEASURE = """
import json, resource, subprocess, sys
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
stdin = open(sys.argv[1], "rb") if sys.argv[1] != "-" else subprocess.DEVNULL
done = subprocess.run(sys.argv[2:], stdin=stdin, capture_output=True, preexec_fn=cap, timeout=120)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"code": done.returncode, "stdout": done.stdout.decode(errors="replace"),
                  "stderr": done.stderr.decode(errors="replace"), "peak": peak}))
"""
PEAK_LIMIT = 200 * 1024 * 1024


def measured_extract(*args: str, stdin: str = "-") -> tuple[subprocess.CompletedProcess[str], int]:
    """``scrapy extract ARGS`` (standard input from the file ``stdin``) and its peak RSS."""
    command = [sys.executable, "-c", MEASURE, stdin, sys.executable, "-m", "scrapy", "extract"]
    wrapper = subprocess.run(
        [*command, *args], cwd=ROOT, capture_output=True, encoding="utf-8", timeout=180
    )
    assert wrapper.returncode == 0, wrapper.stderr
    report = json.loads(wrapper.stdout)
    done = subprocess.CompletedProcess(args, report["code"], report["stdout"], report["stderr"])
    return done, report["peak"]


def assert_bounded(done: subprocess.CompletedProcess[str], peak: int, bound: int) -> None:
    assert_one_clean_line(done, f"larger than DOWNLOAD_MAXSIZE ({bound} bytes)")
    assert done.stdout == ""
    assert peak < PEAK_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB"


def test_dev_zero_is_read_up_to_the_bound() -> None:
    done, peak = measured_extract("/dev/zero")
    assert_bounded(done, peak, 16 * 1024 * 1024)  # the default DOWNLOAD_MAXSIZE
    assert "/dev/zero is larger" in done.stderr


def test_endless_standard_input_is_read_up_to_the_bound() -> None:
    done, peak = measured_extract("-", "-s", "DOWNLOAD_MAXSIZE=1000000", stdin="/dev/zero")
    assert_bounded(done, peak, 1_000_000)
    assert "standard input is larger" in done.stderr


@pytest.fixture
def endless_fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO that a thread of this process writes HTML into until its reader goes away."""
    fifo = tmp_path / "page.html"
    os.mkfifo(fifo)

    def feed() -> None:
        chunk = b"<p>\xe6\xad\xa3\xe6\x96\x87</p>" * 4096
        try:
            with fifo.open("wb") as pipe:
                while True:
                    pipe.write(chunk)
        except OSError:  # the reader closed its end (EPIPE): done
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    yield fifo
    # A writer still waiting for a reader is let through (its first write then fails).
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    os.close(reader)
    writer.join(timeout=10)
    assert not writer.is_alive()


def test_an_endless_fifo_is_read_up_to_the_bound(endless_fifo: Path) -> None:
    done, peak = measured_extract(str(endless_fifo), "-s", "DOWNLOAD_MAXSIZE=2000000")
    assert_bounded(done, peak, 2_000_000)


def test_a_file_one_byte_over_the_bound(tmp_path: Path) -> None:
    page = (ROOT / PAGE).read_bytes()
    exact, over = tmp_path / "exact.html", tmp_path / "over.html"
    exact.write_bytes(page)
    over.write_bytes(page + b"\n")
    bound = str(len(page))
    done = scrapy("extract", str(exact), "-s", f"DOWNLOAD_MAXSIZE={bound}")
    assert done.returncode == 0, done.stderr  # exactly the bound is read
    assert json.loads(done.stdout)["title"]
    done, peak = measured_extract(str(over), "-s", f"DOWNLOAD_MAXSIZE={bound}")
    assert_bounded(done, peak, len(page))


class _Endless(BaseHTTPRequestHandler):
    """Answers every page with HTML that never ends; robots.txt is not found."""

    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        try:
            for _ in range(100_000):  # 6.5 GB at most: bounded, far over any bound
                self.wfile.write(b"<p>" + b"x" * 65536 + b"</p>")
        except OSError:  # the client hung up
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endless_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_endless_url_is_read_up_to_the_bound(endless_server: str) -> None:
    url = f"{endless_server}/page.html"
    done, peak = measured_extract(
        url,
        *("-s", "DOWNLOAD_MAXSIZE=500000", "-s", "RETRY_ENABLED=False"),
        # the test's server, on this machine: let through by the outbound policy
        *("-s", f"GOVNEWS_OUTBOUND_ALLOW={endless_server.removeprefix('http://')}"),
    )
    assert_bounded(done, peak, 500_000)
    assert f"cannot fetch {url}" in done.stderr
