"""Tests for govnews.mirror: the snapshot layout, the proxy server and the Scrapy middleware."""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.test import get_crawler

from govnews.mirror import SnapshotServer, post_key, snapshot_path
from govnews.mirror.addon import MirrorMiddleware

HOST = "www.example.gov.cn"
SITE = f"http://{HOST}"
REPO = Path(__file__).resolve().parents[1]

GBK_TITLE = "关于开展政务公开工作的通知"
GBK_PAGE = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    f"<title>{GBK_TITLE}</title></head><body><p>内蒙古自治区人民政府办公厅</p></body></html>"
).encode("gbk")
GBK_NAME = "公告.html".encode("gbk")  # a file name that is not valid UTF-8
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n"


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small snapshot: two hosts, a redirect, a GBK page, robots.txt, a query URL."""
    base = tmp_path_factory.mktemp("mirror")
    _write(base / "outside.txt", "secret outside the snapshot")
    root = base / "snapshot"
    site = root / HOST
    _write(site / "index.html", "<html><head><title>首页</title></head></html>")
    _write(site / "robots.txt", "User-agent: *\nDisallow: /private/\n")
    _write(site / "a/b.html", "<html><head><title>B</title></head></html>")
    _write(site / "private/secret.html", "<html><head><title>secret</title></head></html>")
    _write(site / "cms/sitemanage/index.shtml?siteId=1&page=2", "page two")
    _write(site / "新闻/通知.html", "<p>notice</p>")
    _write(site / os.fsdecode(b"gbk/" + GBK_NAME), "gbk-named file")
    _write(site / "gbk.html", GBK_PAGE)
    _write(site / "files/report.pdf", PDF)
    _write(
        site / "old.html.http",
        f"HTTP/1.1 301 Moved Permanently\nLocation: {SITE}/a/b.html\n",
    )
    _write(site / "list.shtml?page=3.http", f"HTTP/1.1 302 Found\nLocation: {SITE}/\n")
    _write(site / "charset.html", GBK_TITLE.encode("gbk"))
    _write(
        site / "charset.html.http",
        "HTTP/1.1 200 OK\nContent-Type: text/html; charset=GBK\nX-Snapshot: yes\n"
        "Content-Length: 999\n",
    )
    _write(root / "zwgk.example.gov.cn/secure.html", "<html><head><title>TLS</title></head>")
    return root


@pytest.fixture(scope="module")
def server(snapshot: Path) -> Iterator[SnapshotServer]:
    with SnapshotServer(snapshot) as running:
        yield running


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch(
    server: SnapshotServer, url: str, method: str = "GET", data: bytes | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """Request ``url`` through the mirror proxy with urllib; return status, headers, body."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": server.proxy_url, "https": server.proxy_url}),
        urllib.request.HTTPSHandler(context=tls),
        _NoRedirect,
    )
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


@pytest.mark.parametrize(
    ("url", "relative"),
    [
        ("http://WWW.Example.gov.cn/", f"{HOST}/index.html"),
        ("http://www.example.gov.cn:8080/a/b.html", f"{HOST}/a/b.html"),
        ("https://www.example.gov.cn/a/", f"{HOST}/a/index.html"),
        ("http://h/?page=2", "h/index.html?page=2"),
        ("http://h/x.shtml?siteId=1&page=2#top", "h/x.shtml?siteId=1&page=2"),
        ("http://h/%E6%96%B0%E9%97%BB/a.html", "h/新闻/a.html"),
        ("http://h/新闻/a.html?kw=%E6%96%B0", "h/新闻/a.html?kw=%E6%96%B0"),
        ("http://h/新闻/a.html?kw=新", "h/新闻/a.html?kw=%E6%96%B0"),
    ],
)
def test_path_for(snapshot: Path, url: str, relative: str) -> None:
    assert SnapshotServer(snapshot).path_for(url) == snapshot.resolve() / relative


@pytest.mark.parametrize(
    "url",
    [
        "http://h/../x",
        "http://h/a/%2e%2e/%2E%2E/x",
        "http://h/a%2F..%2F..%2Fx",
        "http://h/x?q=/../../y",
    ],
)
def test_path_for_rejects_traversal(snapshot: Path, url: str) -> None:
    with pytest.raises(ValueError, match="outside the snapshot"):
        SnapshotServer(snapshot).path_for(url)


def test_server_answers_from_snapshot_path(tmp_path: Path) -> None:
    """The server's rule is snapshot_path: a file written where it says is what is served."""
    root = tmp_path / "snapshot"
    form = b"col=1&columnid=1589295"
    gets = {  # the URL a file is written for: the URL requested
        f"{SITE}/list.shtml?siteId=1&page=2": f"{SITE}/list.shtml?siteId=1&page=2",
        f"{SITE}/col/": f"{SITE}/col/",
        # https, a port, a path and a query in Chinese (sent percent-encoded)
        f"https://{HOST}:8443/新闻/a.html?kw=新闻": (
            f"https://{HOST}:8443/{quote('新闻/a.html')}?kw={quote('新闻')}"
        ),
    }
    for written in gets:
        _write(snapshot_path(root, written), f"GET {written}")
    post = f"{SITE}/module/web/jpage/dataproxy.jsp?startrecord=1&endrecord=2"
    _write(snapshot_path(root, post), "any form")
    _write(snapshot_path(root, post, form), b"form " + form)
    with SnapshotServer(root) as server:
        for written, requested in gets.items():
            assert server.path_for(requested) == snapshot_path(server.root, written)
            assert fetch(server, requested)[::2] == (200, f"GET {written}".encode())
        assert server.path_for(post, form) == snapshot_path(server.root, post, form)
        assert fetch(server, post, "POST", form)[::2] == (200, b"form " + form)
        assert fetch(server, post, "POST", b"columnid=9")[::2] == (200, b"any form")
        assert fetch(server, post)[::2] == (200, b"any form")
    assert snapshot_path(root, post, form).name.endswith(f".post-{post_key(form)}")
    with pytest.raises(ValueError, match="outside the snapshot"):
        snapshot_path(root, "http://h/a/%2E%2E/%2E%2E/x")


def test_serves_site_root_and_pages(server: SnapshotServer, snapshot: Path) -> None:
    status, headers, body = fetch(server, f"{SITE}/")
    assert status == 200
    assert body == (snapshot / HOST / "index.html").read_bytes()
    assert headers["Content-Type"] == "text/html"
    assert headers["Content-Length"] == str(len(body))
    assert fetch(server, f"{SITE}/a/b.html")[2] == b"<html><head><title>B</title></head></html>"


def test_query_string_and_encoded_paths(server: SnapshotServer) -> None:
    status, headers, body = fetch(server, f"{SITE}/cms/sitemanage/index.shtml?siteId=1&page=2")
    assert (status, body, headers["Content-Type"]) == (200, b"page two", "text/html")
    assert fetch(server, f"{SITE}/cms/sitemanage/index.shtml?siteId=1&page=3")[0] == 404
    assert fetch(server, f"{SITE}/{quote('新闻/通知.html')}")[2] == b"<p>notice</p>"
    assert fetch(server, f"{SITE}/gbk/{quote(GBK_NAME)}")[2] == b"gbk-named file"


def test_exact_bytes_and_content_types(server: SnapshotServer) -> None:
    status, headers, body = fetch(server, f"{SITE}/gbk.html")
    assert (status, body, headers["Content-Type"]) == (200, GBK_PAGE, "text/html")
    status, headers, body = fetch(server, f"{SITE}/robots.txt")
    assert (status, headers["Content-Type"]) == (200, "text/plain")
    status, headers, body = fetch(server, f"{SITE}/files/report.pdf")
    assert (status, body, headers["Content-Type"]) == (200, PDF, "application/pdf")


def test_missing_traversal_and_sidecar_files(server: SnapshotServer) -> None:
    status, headers, body = fetch(server, f"{SITE}/nope.html")
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert b"404 Not Found" in body
    assert fetch(server, f"{SITE}/old.html.http")[0] == 404
    assert fetch(server, f"{SITE}/list.shtml?q={'x' * 300}")[0] == 404  # name too long
    for path in ("/../outside.txt", "/a/%2E%2E/%2E%2E/outside.txt"):
        status, _, body = fetch(server, SITE + path)
        assert status == 400
        assert b"secret" not in body


def test_sidecar_redirect(server: SnapshotServer) -> None:
    status, headers, body = fetch(server, f"{SITE}/old.html")
    assert (status, headers["Location"], body) == (301, f"{SITE}/a/b.html", b"")
    status, headers, _ = fetch(server, f"{SITE}/list.shtml?page=3")
    assert (status, headers["Location"]) == (302, f"{SITE}/")


def test_sidecar_headers(server: SnapshotServer) -> None:
    status, headers, body = fetch(server, f"{SITE}/charset.html")
    assert status == 200
    assert headers.get_all("Content-Type") == ["text/html; charset=GBK"]
    assert headers["X-Snapshot"] == "yes"
    assert headers["Content-Length"] == str(len(body))  # the sidecar's 999 is ignored
    assert body.decode("gbk") == GBK_TITLE


def test_head_and_post(server: SnapshotServer) -> None:
    status, headers, body = fetch(server, f"{SITE}/gbk.html", method="HEAD")
    assert (status, body, headers["Content-Length"]) == (200, b"", str(len(GBK_PAGE)))
    status, _, body = fetch(server, f"{SITE}/gbk.html", data=b"searchword=%CD%A8%D6%AA")
    assert (status, body) == (200, GBK_PAGE)


def test_post_answered_per_body(server: SnapshotServer, snapshot: Path) -> None:
    """One URL, one file per POST body (大汉 JCMS's dataproxy.jsp: the column is in the form)."""
    url = f"{SITE}/module/web/jpage/dataproxy.jsp?startrecord=3&endrecord=4&perpage=2"
    column_1, column_2 = b"col=1&columnid=1589295", b"col=1&columnid=1589297"
    plain = SnapshotServer(snapshot).path_for(url)
    _write(plain, "<datastore>any form</datastore>")
    for form in (column_1, column_2):
        _write(plain.with_name(f"{plain.name}.post-{post_key(form)}"), b"<datastore>" + form)
    _write(
        plain.with_name(f"{plain.name}.post-{post_key(column_2)}.http"),
        "HTTP/1.1 200 OK\nContent-Type: text/xml;charset=UTF-8\n",
    )
    assert SnapshotServer(snapshot).path_for(url, column_1).name.endswith(post_key(column_1))
    assert fetch(server, url, "POST", column_1)[2] == b"<datastore>" + column_1
    status, headers, body = fetch(server, url, "POST", column_2)
    assert (status, body) == (200, b"<datastore>" + column_2)
    assert headers["Content-Type"] == "text/xml;charset=UTF-8"
    assert fetch(server, url, "POST", b"columnid=9")[2] == b"<datastore>any form</datastore>"
    assert fetch(server, url)[2] == b"<datastore>any form</datastore>"  # a GET


def test_https_through_connect(server: SnapshotServer) -> None:
    status, headers, body = fetch(server, "https://zwgk.example.gov.cn/secure.html")
    assert (status, headers["Content-Type"]) == (200, "text/html")
    assert body == b"<html><head><title>TLS</title></head>"
    assert fetch(server, f"https://{HOST}/old.html")[0] == 301


def test_keep_alive(server: SnapshotServer) -> None:
    host, port = server.proxy_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        for path in ("/a/b.html", "/missing", "/gbk.html", "/old.html"):
            connection.request("GET", SITE + path)
            response = connection.getresponse()
            response.read()
            assert not response.will_close
        connection.request("HEAD", f"{SITE}/gbk.html")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"")
        connection.request("GET", f"{SITE}/a/b.html")
        assert connection.getresponse().read() == b"<html><head><title>B</title></head></html>"
    finally:
        connection.close()


def test_stop_closes_port_and_connections(snapshot: Path) -> None:
    server = SnapshotServer(snapshot)
    server.start()
    port = server.port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", f"{SITE}/a/b.html")
    assert connection.getresponse().read().startswith(b"<html>")
    assert connection.sock is not None  # kept alive
    server.stop()
    assert connection.sock.recv(1) == b""  # closed by stop()
    connection.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(RuntimeError):
        _ = server.proxy_url


def test_middleware_configuration(snapshot: Path, tmp_path: Path) -> None:
    with pytest.raises(NotConfigured):
        MirrorMiddleware.from_crawler(get_crawler(settings_dict={"GOVNEWS_MIRROR": ""}))
    missing = {"GOVNEWS_MIRROR": str(tmp_path / "absent")}
    with pytest.raises(ValueError, match="not a directory"):
        MirrorMiddleware.from_crawler(get_crawler(settings_dict=missing))
    crawler = get_crawler(settings_dict={"GOVNEWS_MIRROR": str(snapshot)})
    middleware = MirrorMiddleware.from_crawler(crawler)
    middleware.engine_started()
    try:
        request = Request(f"{SITE}/", meta={"proxy": "http://real-proxy:3128"})
        request.headers["Proxy-Authorization"] = "Basic dXNlcjpwdw=="
        assert middleware.process_request(request) is None
        assert request.meta["proxy"] == middleware.server.proxy_url
        assert b"Proxy-Authorization" not in request.headers
        with pytest.raises(IgnoreRequest):
            middleware.process_request(Request("ftp://ftp.example.gov.cn/file.doc"))
    finally:
        middleware.engine_stopped()


CRAWL_SPIDER = """
import scrapy


class DeadProxyMiddleware:
    # Like a proxy-rotation middleware: points requests at a real (here: dead) proxy.
    def process_request(self, request, spider=None):
        request.meta["proxy"] = "http://127.0.0.1:9"


class MirrorCrawlSpider(scrapy.Spider):
    name = "mirror_crawl"
    handle_httpstatus_list = [404]
    start_urls = [
        "http://www.example.gov.cn/",
        "http://www.example.gov.cn/old.html",
        "http://www.example.gov.cn/missing.html",
        "http://www.example.gov.cn/gbk.html",
        "https://zwgk.example.gov.cn/secure.html",
    ]

    def parse(self, response):
        if response.url == "http://www.example.gov.cn/":
            # Asked once robots.txt is parsed: Scrapy 2.19 skips the robots.txt check for
            # the third and later requests to a host that arrive while it is downloading.
            yield scrapy.Request("http://www.example.gov.cn/private/secret.html")
        yield {
            "url": response.url,
            "status": response.status,
            "redirect_urls": response.meta.get("redirect_urls", []),
            "title": response.css("title::text").get(),
        }
"""


def test_scrapy_crawl_through_mirror(snapshot: Path, tmp_path: Path) -> None:
    (tmp_path / "mirror_crawl.py").write_text(textwrap.dedent(CRAWL_SPIDER))
    middlewares = {
        "govnews.mirror.addon.MirrorMiddleware": 950,
        "mirror_crawl.DeadProxyMiddleware": 610,
    }
    settings = {
        "GOVNEWS_MIRROR": str(snapshot),
        "DOWNLOADER_MIDDLEWARES": json.dumps(middlewares),
        "ROBOTSTXT_OBEY": "True",
        "LOG_LEVEL": "DEBUG",
        "TELNETCONSOLE_ENABLED": "False",
        "RETRY_ENABLED": "False",
        "DOWNLOAD_TIMEOUT": "10",
    }
    command = [sys.executable, "-m", "scrapy", "runspider", "mirror_crawl.py", "-O", "out.jsonl"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO)])
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    log = result.stderr
    assert result.returncode == 0, log

    items = {
        item["url"]: item
        for item in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())
    }
    assert set(items) == {
        f"{SITE}/",
        f"{SITE}/a/b.html",
        f"{SITE}/missing.html",
        f"{SITE}/gbk.html",
        "https://zwgk.example.gov.cn/secure.html",
    }
    assert items[f"{SITE}/"]["title"] == "首页"
    assert items[f"{SITE}/a/b.html"]["redirect_urls"] == [f"{SITE}/old.html"]
    assert items[f"{SITE}/missing.html"]["status"] == 404
    assert items[f"{SITE}/gbk.html"]["title"] == GBK_TITLE
    assert items["https://zwgk.example.gov.cn/secure.html"]["title"] == "TLS"

    served = [line for line in log.splitlines() if "govnews.mirror." in line]
    assert any("Serving snapshot" in line for line in served)
    assert any(f'"GET {SITE}/robots.txt HTTP/1.1" 200' in line for line in served)
    assert any(
        '[CONNECT zwgk.example.gov.cn:443]: "GET /robots.txt HTTP/1.1" 404' in line
        for line in served
    )
    assert not any("/private/" in line for line in served)
    assert "Forbidden by robots.txt: <GET http://www.example.gov.cn/private/secret.html>" in log
    assert "Remote certificate is not valid" not in log


def test_addon_drops_politeness_delays_only_for_mirrored_crawls() -> None:
    from scrapy.settings import Settings

    from govnews.mirror.addon import MirrorAddon

    live = Settings({"DOWNLOAD_DELAY": 0.5, "AUTOTHROTTLE_ENABLED": True}, priority="project")
    MirrorAddon().update_settings(live)
    assert live.getfloat("DOWNLOAD_DELAY") == 0.5 and live.getbool("AUTOTHROTTLE_ENABLED")

    mirrored = Settings({"DOWNLOAD_DELAY": 0.5, "GOVNEWS_MIRROR": "data/snapshot"}, "project")
    MirrorAddon().update_settings(mirrored)
    assert mirrored.getfloat("DOWNLOAD_DELAY") == 0
    assert not mirrored.getbool("AUTOTHROTTLE_ENABLED")

    chosen = Settings({"GOVNEWS_MIRROR": "data/snapshot"}, "project")
    chosen.set("DOWNLOAD_DELAY", 2, priority="cmdline")
    MirrorAddon().update_settings(chosen)
    assert chosen.getfloat("DOWNLOAD_DELAY") == 2  # -s on the command line still wins


def test_latency_delays_every_answer(snapshot: Path) -> None:
    with SnapshotServer(snapshot, latency=0.3) as slow:
        started = time.monotonic()
        status, _, _ = fetch(slow, f"{SITE}/a/b.html")
        assert status == 200 and time.monotonic() - started >= 0.3
