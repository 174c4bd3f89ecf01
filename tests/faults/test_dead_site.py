"""A dead site is seen: a first run that gets nothing but errors from a site is degraded.

End to end, ``scrapy crawl sites`` in a subprocess into an empty database, against real
HTTP servers on 127.0.0.1 (reached through the test allowance ``GOVNEWS_OUTBOUND_ALLOW``):
a configured site on ``127.0.0.1`` whose every page answers 500, or whose port refuses
connections, beside a healthy site on ``localhost`` in the same run. A site is a host
(``articles.site``), so the two are told apart by name, not by port.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govnews.crawl.health import EXIT_CODES
from govnews.store.database import open_database
from govnews.store.models import ArticleRow, CrawlRun, PageFailure
from tests.conftest import ROOT, SEED_ORIGINAL, snapshot_file

ARTICLE = snapshot_file(SEED_ORIGINAL).read_bytes()
HOME = b'<html><body><a href="/art/1.html">news</a></body></html>'


class Server(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1: ``pages`` by path, anything else ``status``."""

    def __init__(self, pages: dict[str, bytes], status: int = 404) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pages = pages
        self.status = status
        self.asked: list[str] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def __enter__(self) -> Server:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        self.server.asked.append(self.path)
        body = self.server.pages.get(self.path)
        self.send_response(200 if body is not None else self.server.status)
        body = body if body is not None else b"server error"
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def crawl_sites(
    tmp_path: Path, dead_port: int, healthy_port: int
) -> subprocess.CompletedProcess[str]:
    """``scrapy crawl sites`` of the dead site (127.0.0.1) and the healthy one (localhost)."""
    sites = tmp_path / "sites.toml"
    sites.write_text(
        "".join(
            f'[[sites]]\nname = "{name}"\nkind = "gov"\nstart_urls = ["http://{host}:{port}/"]\n'
            f"allowed_hosts = [\"{host}\"]\narticle = ['/art/\\d+\\.html$']\n\n"
            for name, host, port in (
                ("dead", "127.0.0.1", dead_port),
                ("healthy", "localhost", healthy_port),
            )
        ),
        encoding="utf-8",
    )
    allow = f"127.0.0.1:{dead_port},127.0.0.1:{healthy_port}"
    command = [
        sys.executable, "-m", "scrapy", "crawl", "sites",
        "-s", f"GOVNEWS_SITES={sites}",
        "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{tmp_path / 'govnews.db'}",
        "-s", f"GOVNEWS_OUTBOUND_ALLOW={allow}",
        "-s", "DOWNLOAD_DELAY=0",
        "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "GOVNEWS_RETRY_BACKOFF=0",
        "-s", "GOVNEWS_EXTRACT_WORKERS=0",
    ]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def assert_dead_site_blamed(
    tmp_path: Path, done: subprocess.CompletedProcess[str], stage: str
) -> None:
    """Degraded (exit 2), for the dead site only; the healthy site's article is stored."""
    assert done.returncode == EXIT_CODES["degraded"] == 2, done.stderr[-3000:]
    problem = "no articles from 127.0.0.1: 1 of its 1 pages failed"
    assert problem in done.stderr
    assert "no articles from localhost" not in done.stderr
    with Session(open_database(f"sqlite:///{tmp_path / 'govnews.db'}")) as session:
        [run] = session.scalars(select(CrawlRun))
        assert run.status == "degraded"
        assert problem in (run.finish_reason or "")
        assert "localhost" not in (run.finish_reason or "")
        [failure] = session.scalars(select(PageFailure))
        assert failure.url.startswith("http://127.0.0.1:") and failure.stage == stage
        assert {row.site for row in session.scalars(select(ArticleRow))} == {"localhost"}


def test_a_site_whose_every_page_answers_500_is_degraded_on_its_first_run(
    tmp_path: Path,
) -> None:
    with Server({}, status=500) as dead, Server({"/": HOME, "/art/1.html": ARTICLE}) as healthy:
        done = crawl_sites(tmp_path, dead.port, healthy.port)
    assert "/" in dead.asked and "/art/1.html" in healthy.asked  # both were crawled
    assert_dead_site_blamed(tmp_path, done, "http")


def test_a_site_whose_port_refuses_connections_is_degraded_on_its_first_run(
    tmp_path: Path,
) -> None:
    with Server({"/": HOME, "/art/1.html": ARTICLE}) as healthy:
        done = crawl_sites(tmp_path, closed_port(), healthy.port)
    assert "/art/1.html" in healthy.asked
    assert_dead_site_blamed(tmp_path, done, "download")
