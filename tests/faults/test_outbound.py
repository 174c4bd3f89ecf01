"""Outbound requests: nobody let in. A page cannot point the crawl at the machine or its network.

End to end, `scrapy crawl` in a subprocess against real HTTP servers on 127.0.0.1 (the
test allowance ``GOVNEWS_OUTBOUND_ALLOW`` lets the crawl reach the one that plays a
government site, nothing else) or the mirror of a snapshot written here; then the policy,
the middleware and the address classification on their own.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.utils.test import get_crawler
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from govnews import settings as defaults
from govnews.core.errors import ConfigError
from govnews.crawl.outbound import (
    OutboundMiddleware,
    OutboundPolicy,
    OutboundRefused,
    address_refusal,
    allowances,
    literal_address,
    site_ports,
)
from govnews.mirror.paths import sidecar_path, snapshot_path
from govnews.store.database import open_database, session_factory
from govnews.store.models import ArticleRow, PageFailure
from govnews.store.repository import Repository
from tests.conftest import ROOT, SEED_ORIGINAL, SEED_REPOST, snapshot_file

Crawl = Callable[..., subprocess.CompletedProcess[str]]

#: A government article and a portal's repost of it (with a 原文链接), from the snapshot.
ARTICLE = snapshot_file(SEED_ORIGINAL).read_bytes()
REPOST = snapshot_file(SEED_REPOST).read_text(encoding="utf-8")


# --- helpers ---------------------------------------------------------------------------------


class Server(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 answering GETs from ``pages``, logging every path asked for."""

    def __init__(self, pages: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pages = pages
        self.requests: list[str] = []

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
        self.server.requests.append(self.path)
        status, headers, body = self.server.pages.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in {"Content-Type": "text/html", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def sites_file(tmp_path: Path, *sites: tuple[str, str, str]) -> Path:
    """A sites file of (name, start URL, host) gov sites whose articles are /…/art/N.html."""
    tables = "".join(
        f'[[sites]]\nname = "{name}"\nkind = "gov"\nstart_urls = ["{start}"]\n'
        f"allowed_hosts = [\"{host}\"]\narticle = ['/art/\\d+\\.html$', '/orig\\.html$']\n\n"
        for name, start, host in sites
    )
    path = tmp_path / "sites.toml"
    path.write_text(tables, encoding="utf-8")
    return path


def crawl_live(
    tmp_path: Path, spider: str, *settings: str, code: int = 0
) -> subprocess.CompletedProcess[str]:
    """``scrapy crawl`` without the mirror: it connects to what the policy lets through.

    ``code``: the exit code the run must end with.
    """
    command = [
        sys.executable, "-m", "scrapy", "crawl", spider,
        "-s", f"GOVNEWS_DATABASE_URL=sqlite:///{tmp_path / 'govnews.db'}",
        "-s", "LOG_LEVEL=DEBUG",
        "-s", "DOWNLOAD_DELAY=0",
        "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "GOVNEWS_RETRY_BACKOFF=0",
        "-s", "GOVNEWS_EXTRACT_WORKERS=0",
        "-s", "GOVNEWS_MAX_FAILURE_SHARE=1",
        *(part for setting in settings for part in ("-s", setting)),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stderr[-3000:]
    return done


def failures(engine: Engine) -> dict[str, PageFailure]:
    with Session(engine) as session:
        return {row.url: row for row in session.scalars(select(PageFailure))}


def stored_urls(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(ArticleRow.url)))


def crawled(log: str) -> list[str]:
    """Every URL a crawl's DEBUG log says was answered (by a server or the mirror)."""
    return re.findall(r"Crawled \(\d+\) <GET ([^>]+)>", log)


def stat(log: str, name: str) -> int | None:
    found = re.search(rf"'{re.escape(name)}': (\d+)", log)
    return int(found.group(1)) if found else None


# --- a redirect to another port of this machine ------------------------------------------------


def test_a_redirect_to_another_local_port_never_reaches_it(tmp_path: Path) -> None:
    """A site the crawl may reach (by the test allowance) redirects an article to a secret
    page on another port of 127.0.0.1: the secret server is never asked for anything."""
    secret = Server({"/art/2.html": (200, {}, ARTICLE)})
    with secret:
        site = Server({})
        with site:
            moved = f"http://127.0.0.1:{secret.port}/art/2.html"
            site.pages.update(
                {
                    "/": (200, {}, b'<html><body><a href="/art/1.html">news</a></body></html>'),
                    "/art/1.html": (302, {"Location": moved}, b""),
                }
            )
            start = f"http://127.0.0.1:{site.port}/"
            done = crawl_live(
                tmp_path,
                "sites",
                f"GOVNEWS_SITES={sites_file(tmp_path, ('local', start, '127.0.0.1'))}",
                f"GOVNEWS_OUTBOUND_ALLOW=127.0.0.1:{site.port}",
            )
    assert "/art/1.html" in site.requests  # the crawl did reach the allowed site
    assert secret.requests == []
    engine = open_database(f"sqlite:///{tmp_path / 'govnews.db'}")
    failed = failures(engine)
    assert set(failed) == {moved}
    assert failed[moved].stage == "policy"
    assert failed[moved].reason == (
        f"127.0.0.1 is a loopback address (redirected from {start}art/1.html)"
    )
    assert stored_urls(engine) == set()
    assert (stat(done.stderr, "govnews/policy_refused") or 0) >= 1


def test_a_name_that_resolves_to_this_machine_is_refused_when_it_is_resolved(
    tmp_path: Path,
) -> None:
    """The resolver's path: a configured site on ``localhost`` (its port is the site's own)
    passes every check on its URL; its addresses are refused when the connection asks."""
    server = Server({"/": (200, {}, b"<html><body>home</body></html>")})
    with server:
        start = f"http://localhost:{server.port}/"
        sites = sites_file(tmp_path, ("lo", start, "localhost"))
        # Its only page refused, the site gave nothing: a dead site, the run degraded (2).
        done = crawl_live(tmp_path, "sites", f"GOVNEWS_SITES={sites}", code=2)
    assert server.requests == []
    failed = failures(open_database(f"sqlite:///{tmp_path / 'govnews.db'}"))
    assert set(failed) == {start}
    assert failed[start].stage == "policy"
    assert failed[start].reason.startswith("localhost resolves to no public address: 127.0.0.1")
    assert "loopback" in failed[start].reason
    assert (stat(done.stderr, "govnews/policy_refused") or 0) >= 1


# --- reposts whose declared originals lead inside, on the mirror ----------------------------

METADATA = "http://169.254.169.254/latest/meta-data/"
SECRET = "http://127.0.0.1:8765/secret.html"
BACKSLASH = "http://127.0.0.1\\secret-F.gov.cn/"  # http://127.0.0.1/secret-F.gov.cn/ to Scrapy
BACKSLASH_MOVED = "http://127.0.0.1\\secret-C.gov.cn/"
ODD_PORT = "http://www.d.gov.cn:8080/orig.html"
SITE_PORT = "http://www.e.gov.cn:8081/orig.html"
#: The 原文链接 of each repost, and where the page there sends the crawl (None: nowhere).
ORIGINALS = {
    "http://www.a.gov.cn/orig.html": METADATA,
    "http://www.b.gov.cn/orig.html": SECRET,
    "http://www.c.gov.cn/orig.html": BACKSLASH_MOVED,
    BACKSLASH: None,
    ODD_PORT: None,
    SITE_PORT: None,
}


def write(root: Path, url: str, body: bytes | None, headers: str = "") -> None:
    """The snapshot's answer to ``url``: a body, a sidecar of status and headers, or both."""
    path = snapshot_path(root, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    if body is not None:
        path.write_bytes(body)
    if headers:
        sidecar_path(path).write_text(headers, encoding="latin-1")


@pytest.fixture
def hostile_snapshot(tmp_path: Path) -> Path:
    """A portal whose reposts declare originals that lead to this machine and its network.

    Every page the crawl must not reach is in the snapshot, as a government article, so
    that a crawl that reached it would store it.
    """
    root = tmp_path / "snapshot"
    reposts = [f"http://www.nmgfzw.cn/shgz/20220818/{n}.html" for n in range(1, 7)]
    links = "".join(f'<a href="{url}">{n}</a>' for n, url in enumerate(reposts))
    write(root, "http://www.nmgfzw.cn/", f"<html><body>{links}</body></html>".encode())
    for n, (repost, (original, target)) in enumerate(zip(reposts, ORIGINALS.items(), strict=True)):
        page = REPOST.replace(SEED_ORIGINAL, original).replace("动员会", f"动员会（{n}）")
        write(root, repost, page.encode())
        if target is None:
            write(root, original, ARTICLE)
        else:
            write(root, original, None, f"HTTP/1.1 302 Found\nLocation: {target}\n")
            write(root, target, ARTICLE)
    return root


def test_originals_that_lead_inside_are_refused_recorded_once_and_never_retried(
    hostile_snapshot: Path, tmp_path: Path, crawl: Crawl, crawl_engine: Engine
) -> None:
    sites = sites_file(tmp_path, ("e", "http://www.e.gov.cn:8081/", "www.e.gov.cn"))
    options = [
        "-s", f"GOVNEWS_MIRROR={hostile_snapshot}",
        "-s", f"GOVNEWS_SITES={sites}",
        "-s", "LOG_LEVEL=DEBUG",
        "-s", "GOVNEWS_EXTRACT_WORKERS=0",
        "-s", "GOVNEWS_MAX_FAILURE_SHARE=1",
    ]  # fmt: skip
    first = crawl("nmgfzw", *options)

    refused = {
        METADATA: "169.254.169.254 is a link-local address (cloud metadata)"
        " (redirected from http://www.a.gov.cn/orig.html)",
        SECRET: "127.0.0.1 is a loopback address (redirected from http://www.b.gov.cn/orig.html)",
        "http://127.0.0.1/secret-C.gov.cn/": "127.0.0.1 is a loopback address"
        " (redirected from http://www.c.gov.cn/orig.html)",
        ODD_PORT: "port 8080 of www.d.gov.cn: no configured site is served there (only 80 and 443)",
    }
    failed = failures(crawl_engine)  # besides the portal's own links, 404s in this snapshot
    assert {
        url: (row.stage, row.reason, row.attempts)
        for url, row in failed.items()
        if not url.startswith("http://www.nmgfzw.cn/")
    } == {url: ("policy", reason, 1) for url, reason in refused.items()}
    # Not one of them reached the mirror, the stand-in for the network.
    inside = [url for url in crawled(first.stderr) if re.match(r"http://(127|169)\.|.*:8080", url)]
    assert inside == []
    # A 原文链接 that only looks like a gov.cn host (secret-F) is no government page: the
    # spider does not follow it (no request, so no failure either).
    stored = stored_urls(crawl_engine)
    assert SITE_PORT in stored  # a configured site's port is allowed
    assert not {url for url in stored if re.match(r"http://(127|169)\.|.*d\.gov\.cn", url)}
    assert (stat(first.stderr, "govnews/policy_refused") or 0) >= len(refused)

    # A failure stored before the policy, of a URL it refuses now: not requested either.
    with session_factory(crawl_engine)() as session:
        Repository(session).record_failure(
            "http://10.0.0.1/admin/", spider="nmgfzw", stage="download", reason="timeout"
        )
        session.commit()
    second = crawl("nmgfzw", *options)
    after = failures(crawl_engine)
    assert {url: after[url].attempts for url in refused} == dict.fromkeys(refused, 1)
    assert (after["http://10.0.0.1/admin/"].stage, after["http://10.0.0.1/admin/"].reason) == (
        "policy",
        "10.0.0.1 is a private address",
    )
    assert [url for url in crawled(second.stderr) if url not in crawled(first.stderr)] == []
    assert stat(second.stderr, "govnews/policy_refused") is None
    assert stat(second.stderr, "govnews/policy_retries_skipped") == len(refused) + 1


# --- the policy on its own ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a link-local address (cloud metadata)"),
        ("169.254.1.1", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("100.64.0.1", "not a public address"),
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a private address"),
        ("fd00:ec2::254", "a private address (cloud metadata)"),
        ("ff02::1", "a multicast address"),
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str, kind: str) -> None:
    assert address_refusal(ip_address(address)) == f"{address} is {kind}"


@pytest.mark.parametrize(
    ("address", "inside", "kind"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1", "a loopback address"),
        ("::ffff:169.254.169.254", "169.254.169.254", "a link-local address (cloud metadata)"),
        ("2002:a00:1::", "10.0.0.1", "a private address"),  # 6to4
        ("64:ff9b::7f00:1", "127.0.0.1", "a loopback address"),  # NAT64
    ],
)
def test_ipv4_inside_ipv6_is_judged_as_ipv4(address: str, inside: str, kind: str) -> None:
    spelled = ip_address(address)
    assert address_refusal(spelled) == f"{spelled} (IPv4 {inside}) is {kind}"


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "114.114.114.114", "2400:3200::1", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("localhost", None),
        ("www.zhangzhou.gov.cn", None),
        ("face.cafe", None),
    ],
)
def test_ip_hosts_are_read_as_the_system_resolver_reads_them(
    host: str, address: str | None
) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address


POLICY = OutboundPolicy(
    ports={"www.e.gov.cn": frozenset({8081})},
    allowed=frozenset({(ip_address("127.0.0.1"), 8765)}),
)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # the host as the downloader reads it: a backslash ends it
        ("http://127.0.0.1\\secret-F.gov.cn/", "127.0.0.1 is a loopback address"),
        ("http://0x7f000001/", "127.0.0.1 is a loopback address"),
        ("http://[::ffff:169.254.169.254]/", "(IPv4 169.254.169.254) is a link-local address"),
        ("http://127.0.0.1:8766/", "127.0.0.1 is a loopback address"),  # not the allowed port
        # ports: 80 and 443, or a configured site's
        ("http://www.d.gov.cn:8080/a.html", "port 8080 of www.d.gov.cn: no configured site"),
        ("https://www.d.gov.cn:22/", "port 22 of www.d.gov.cn"),
        ("http://www.e.gov.cn:8082/", "port 8082 of www.e.gov.cn"),
        ("http://www.e.gov.cn.:6379/", "port 6379 of www.e.gov.cn"),
        # schemes: http and https only
        ("ftp://www.d.gov.cn/a.txt", "ftp scheme: only http and https are requested"),
        ("file:///etc/passwd", "file scheme"),
        ("data:text/html,<p>x</p>", "data scheme"),
        ("s3://bucket/key", "s3 scheme"),
        ("gopher://www.d.gov.cn:70/", "gopher scheme"),
    ],
)
def test_refused_urls(url: str, reason: str) -> None:
    assert reason in (POLICY.refusal(url) or "")


@pytest.mark.parametrize(
    "url",
    [
        "http://www.d.gov.cn/a.html",
        "https://www.d.gov.cn/a.html",
        "http://www.d.gov.cn:443/a.html",
        "http://www.e.gov.cn:8081/a.html",
        "http://127.0.0.1:8765/a.html",  # the test allowance, exactly
        "http://8.8.8.8/a.html",
    ],
)
def test_allowed_urls(url: str) -> None:
    assert POLICY.refusal(url) is None


def test_a_configured_site_s_start_url_allows_its_port(tmp_path: Path) -> None:
    path = sites_file(
        tmp_path,
        ("e", "http://www.e.gov.cn:8081/", "www.e.gov.cn"),
        ("f", "https://www.f.gov.cn/", "www.f.gov.cn"),
    )
    assert site_ports(str(path)) == {"www.e.gov.cn": frozenset({8081})}


@pytest.mark.parametrize("entry", ["localhost:8765", "127.0.0.1", "127.0.0.1:http", "8765"])
def test_a_bad_allowance_is_one_clear_error(entry: str) -> None:
    with pytest.raises(ConfigError, match="is not an IP address and a port") as error:
        allowances(get_crawler(Spider, {"GOVNEWS_OUTBOUND_ALLOW": [entry]}).settings)
    assert "\n" not in str(error.value)


def test_the_allowance_is_empty_by_default() -> None:
    assert list(defaults.GOVNEWS_OUTBOUND_ALLOW) == []


# --- the middleware: every request, before any connection --------------------------------------


@pytest.fixture
def middleware() -> Iterator[OutboundMiddleware]:
    crawler = get_crawler(Spider, {"GOVNEWS_OUTBOUND_ALLOW": ["127.0.0.1:8765"]})
    yield OutboundMiddleware.from_crawler(crawler)


@pytest.mark.parametrize(
    "url", ["ftp://www.a.gov.cn/f.txt", "file:///etc/passwd", "data:,secret", "s3://b/k"]
)
def test_other_schemes_are_refused_before_any_connection(
    middleware: OutboundMiddleware, url: str
) -> None:
    with pytest.raises(OutboundRefused, match="scheme: only http and https") as refused:
        middleware.process_request(Request(url))
    assert refused.value.stage == "policy"
    assert middleware.crawler.stats.get_value("govnews/policy_refused") == 1  # type: ignore[union-attr]


def test_a_proxy_on_this_machine_is_refused(middleware: OutboundMiddleware) -> None:
    request = Request("http://8.8.8.8/", meta={"proxy": "http://127.0.0.1:3128"})
    with pytest.raises(OutboundRefused, match="proxy 127.0.0.1 is a loopback address"):
        middleware.process_request(request)
    allowed = Request("http://8.8.8.8/", meta={"proxy": "http://127.0.0.1:8765"})
    assert middleware.process_request(allowed) is None


def test_without_the_checking_resolver_a_name_is_not_requested(
    middleware: OutboundMiddleware,
) -> None:
    """Outside a crawl process (no OutboundResolver installed) a name would go unchecked."""
    with pytest.raises(OutboundRefused, match="TWISTED_DNS_RESOLVER"):
        middleware.process_request(Request("http://www.a.gov.cn/"))
    assert middleware.process_request(Request("http://127.0.0.1:8765/")) is None
