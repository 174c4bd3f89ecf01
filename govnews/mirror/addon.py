"""Offline transport: answer every request of a crawl from a snapshot directory.

With ``GOVNEWS_MIRROR=<dir>`` the crawl starts a :class:`SnapshotServer`, an HTTP forward
proxy on 127.0.0.1, and :class:`MirrorMiddleware` routes every http(s) request through it.
Spiders keep their real URLs; Scrapy's downloader, retries, redirects, robots.txt handling
and encoding detection all run as they do against the network.

Snapshot layout (``<dir>`` is the snapshot root):

* ``http://HOST/a/b.html`` is ``<dir>/HOST/a/b.html``; HOST is lower-cased, the scheme and
  the port are ignored (``http``, ``https`` and any port share one folder per host).
* A path ending in ``/`` is ``index.html`` in that folder.
* The path is percent-decoded (UTF-8, undecodable bytes kept as raw file-name bytes); a
  query string is appended verbatim, in the percent-encoded form Scrapy sends:
  ``http://h/list.shtml?siteId=1&page=2`` is ``<dir>/h/list.shtml?siteId=1&page=2``.
* ``<file>.http`` beside a body file holds a raw status line and header lines that replace
  the defaults (status 200, a ``Content-Type`` guessed from the URL). It may exist without a
  body file, e.g. for a redirect. ``Content-Length``, ``Transfer-Encoding``, ``Connection``
  and ``Keep-Alive`` lines are ignored: the server frames responses itself. URLs whose file
  name ends in ``.http``, or is too long for the file system, are 404s.
* HTML (``.html .htm .shtml .asp .aspx .jsp .php`` or no extension) is sent as
  ``text/html`` without a charset: the page declares its own. Missing files are 404s.
* A POST is answered by ``<file>.post-<key>`` when that file (or its sidecar) exists, where
  ``<key>`` is :func:`post_key` of the request body: one URL answering each form differently
  (大汉 JCMS's ``dataproxy.jsp`` takes the column in the form). Else the body is ignored and
  ``<file>`` answers, as for a GET.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import html
import ipaddress
import logging
import mimetypes
import os
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.httpobj import urlparse_cached
from w3lib.url import safe_url_string

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import Settings

logger = logging.getLogger(__name__)

HTML_EXTENSIONS = frozenset({"", ".html", ".htm", ".shtml", ".asp", ".aspx", ".jsp", ".php"})
SIDECAR_SUFFIX = ".http"
POST_SUFFIX = ".post-"
# Sidecar headers dropped because the server itself frames every response.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_NO_BODY_STATUSES = frozenset({HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED})
# Printable ASCII stays as sent; other request-target bytes are percent-encoded.
_PRINTABLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))
_MIME = mimetypes.MimeTypes()  # built-in table only, independent of /etc/mime.types


def _content_type(url: str) -> str:
    """The default Content-Type for ``url``, judged by the extension of its path."""
    path = urlsplit(url).path
    suffix = "" if path.endswith("/") else PurePosixPath(unquote(path)).suffix.lower()
    if suffix in HTML_EXTENSIONS:
        return "text/html"
    return _MIME.guess_type("file" + suffix, strict=False)[0] or "application/octet-stream"


def post_key(body: bytes) -> str:
    """The file-name key of a POST body: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(body).hexdigest()[:16]


def _parse_sidecar(data: bytes) -> tuple[int, str | None, list[tuple[str, str]]]:
    """Parse a sidecar's status line and header lines into (status, reason, headers)."""
    lines = data.decode("latin-1").splitlines()  # latin-1: header bytes pass through as-is
    status_line = lines[0].split(None, 2) if lines else []
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        raise ValueError(f"bad sidecar status line: {lines[:1]!r}")
    status = int(status_line[1])
    reason = status_line[2] if len(status_line) == 3 else None
    headers = []
    for line in lines[1:]:
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"bad sidecar header line: {line!r}")
        if name.strip().lower() not in _FRAMING_HEADERS:
            headers.append((name.strip(), value.strip()))
    return status, reason, headers


class _Certificates:
    """Server-side TLS contexts with self-signed certificates, one per host, made on demand.

    A certificate naming the host keeps Scrapy from warning that it does not match.
    """

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context_for(self, host: str) -> ssl.SSLContext:
        with self._lock:
            if host not in self._contexts:
                self._contexts[host] = self._make_context(host)
            return self._contexts[host]

    def _make_context(self, host: str) -> ssl.SSLContext:
        try:
            alt_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            alt_name = x509.DNSName(host)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([alt_name]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ) + cert.public_bytes(serialization.Encoding.PEM)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # load_cert_chain reads only files: use a private (0600) temp file, deleted at once.
        with tempfile.NamedTemporaryFile(suffix=".pem", delete=False) as handle:
            handle.write(pem)
        try:
            context.load_cert_chain(handle.name)
        finally:
            os.unlink(handle.name)
        return context


class _Handler(BaseHTTPRequestHandler):
    """Answers proxy requests (absolute URIs), CONNECT tunnels and plain requests."""

    protocol_version = "HTTP/1.1"
    server_version = "govnews-mirror"
    disable_nagle_algorithm = True  # headers and body are separate writes
    server: _ProxyServer
    tunnel: str | None = None  # "host:port" of the CONNECT this connection runs inside

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_POST(self) -> None:
        try:
            if "Transfer-Encoding" in self.headers:
                raise ValueError("chunked request bodies are not supported")
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            logger.debug("Refusing POST %s: %s", self.path, exc)
            self.close_connection = True  # the unread body would garble the next request
            self._send_error(HTTPStatus.BAD_REQUEST, self.path)
            return
        body = self.rfile.read(length)
        logger.debug("POST body for %s: %r", self.path, body[:200])
        self._serve(send_body=True, post_body=body)

    def do_CONNECT(self) -> None:
        host = urlsplit("//" + self.path).hostname
        if self.tunnel is not None or not host:
            self._send_error(HTTPStatus.BAD_REQUEST, self.path)
            return
        self.send_response(HTTPStatus.OK, "Connection established")
        self.end_headers()
        self.close_connection = True  # after the tunnel this connection is done
        try:
            tls = self.server.certificates.context_for(host).wrap_socket(
                self.connection, server_side=True
            )
        except OSError as exc:
            logger.debug("TLS handshake in CONNECT %s failed: %s", self.path, exc)
            return
        self.server.retrack(self.request, tls)
        with tls:
            _TunnelHandler(tls, self.client_address, self.server, self.path)

    def _url(self) -> str:
        """The absolute URL asked for, whatever the form of the request target."""
        target = quote(self.path.encode("latin-1"), safe=_PRINTABLE_ASCII)
        if not target.startswith("/"):
            return target  # absolute-form: a proxy request
        if self.tunnel is not None:
            return f"https://{self.tunnel}{target}"
        return f"http://{self.headers.get('Host', '')}{target}"

    def _serve(self, send_body: bool, post_body: bytes = b"") -> None:
        url = self._url()
        try:
            if urlsplit(url).scheme not in ("http", "https"):
                raise ValueError("not an http(s) URL")
            path = self.server.snapshot.path_for(url, post_body)
        except ValueError as exc:
            logger.debug("Refusing %s: %s", url, exc)
            self._send_error(HTTPStatus.BAD_REQUEST, url, send_body)
            return
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        try:
            has_body, has_sidecar = path.is_file(), sidecar.is_file()
        except OSError:  # e.g. a query string too long for a file name
            has_body = has_sidecar = False
        if path.name.endswith(SIDECAR_SUFFIX) or not (has_body or has_sidecar):
            self._send_error(HTTPStatus.NOT_FOUND, url, send_body)
            return
        status, reason = int(HTTPStatus.OK), None
        headers = [("Content-Type", _content_type(url))]
        if has_sidecar:
            try:
                status, reason, extra = _parse_sidecar(sidecar.read_bytes())
            except ValueError as exc:
                logger.error("Bad sidecar %s: %s", sidecar, exc)
                self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, url, send_body)
                return
            names = {name.lower() for name, _ in extra}
            headers = [h for h in headers if h[0].lower() not in names] + extra
        body = path.read_bytes() if has_body else b""
        if self.server.snapshot.latency:
            time.sleep(self.server.snapshot.latency)
        self._send(status, headers, body, send_body, reason)

    def _send_error(self, status: HTTPStatus, url: str, send_body: bool = True) -> None:
        title = f"{status.value} {status.phrase}"
        page = (
            f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f"<p>{html.escape(url)}</p></body></html>\n"
        )
        headers = [("Content-Type", "text/html; charset=utf-8")]
        self._send(status, headers, page.encode(), send_body)

    def _send(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        send_body: bool = True,
        reason: str | None = None,
    ) -> None:
        """Write one response; ``headers`` may replace the default Server and Date."""
        names = {name.lower() for name, _ in headers}
        defaults = [("Server", self.version_string()), ("Date", self.date_time_string())]
        self.log_request(status, len(body))
        self.send_response_only(status, reason)
        for name, value in [d for d in defaults if d[0].lower() not in names] + headers:
            self.send_header(name, value)
        if status not in _NO_BODY_STATUSES:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and status not in _NO_BODY_STATUSES:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        where = f" [CONNECT {self.tunnel}]" if self.tunnel else ""
        logger.debug("mirror%s: %s", where, format % args)


class _TunnelHandler(_Handler):
    """Serves the requests sent inside a CONNECT tunnel, after the TLS handshake."""

    def __init__(
        self,
        request: ssl.SSLSocket,
        client_address: Any,
        server: _ProxyServer,
        tunnel: str,
    ) -> None:
        self.tunnel = tunnel
        super().__init__(request, client_address, server)


class _ProxyServer(socketserver.ThreadingTCPServer):
    """Thread-per-connection server that can close its open connections on stop."""

    daemon_threads = True
    request_queue_size = 128  # Scrapy opens many connections at once

    def __init__(self, address: tuple[str, int], snapshot: SnapshotServer) -> None:
        self.snapshot = snapshot
        self.certificates = _Certificates()
        self._lock = threading.Lock()
        self._open: dict[Any, socket.socket] = {}  # accepted socket -> socket now in use
        self._handlers: set[threading.Thread] = set()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self._run, args=(request, client_address), daemon=True)
        with self._lock:
            self._open[request] = request
            self._handlers.add(thread)
        thread.start()

    def _run(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._open.pop(request, None)
                self._handlers.discard(threading.current_thread())

    def retrack(self, request: Any, live: socket.socket) -> None:
        """Record that connection ``request`` now talks through ``live`` (a TLS socket)."""
        with self._lock:
            self._open[request] = live

    def close_connections(self, timeout: float = 2.0) -> None:
        """Shut down every open connection and wait for the handler threads to end."""
        with self._lock:
            live, threads = list(self._open.values()), list(self._handlers)
        for sock in live:
            # The plain socket method: SSLSocket.shutdown would drop its TLS state
            # under the feet of the handler thread still reading from it.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        level = logging.DEBUG if isinstance(sys.exception(), OSError) else logging.ERROR
        logger.log(level, "Error serving %s", client_address, exc_info=True)


class SnapshotServer:
    """Serves a snapshot directory over HTTP on 127.0.0.1 as a forward proxy."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
    ) -> None:
        self.root = Path(root).resolve()
        #: Seconds each answer waits before it is sent, as a network and a server would.
        self.latency = latency
        self.host = host
        self.port = port
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and start serving in a background thread; returns once listening."""
        if self._server is not None:
            raise RuntimeError("SnapshotServer already started")
        self._server = _ProxyServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"govnews-mirror:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close open connections and release the port."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def proxy_url(self) -> str:
        """The proxy address for ``request.meta["proxy"]``, e.g. ``http://127.0.0.1:43121``."""
        if self._server is None:
            raise RuntimeError("SnapshotServer is not running")
        return f"http://{self.host}:{self.port}"

    def path_for(self, url: str, post_body: bytes = b"") -> Path:
        """The snapshot file that answers ``url`` (it may not exist).

        With a ``post_body``, the file keyed by it when there is one (see the module doc).
        Raises ValueError for URLs without a host or that would leave the snapshot.
        """
        parts = urlsplit(safe_url_string(url))  # the form Scrapy puts on the wire
        host = parts.hostname or ""
        path = unquote(parts.path or "/", errors="surrogateescape")
        if path.endswith("/"):
            path += "index.html"
        if parts.query:
            path += "?" + parts.query
        segments = [host, *(s for s in path.split("/") if s)]
        if not host or "\0" in path or any(s in (".", "..") for s in segments):
            raise ValueError(f"URL outside the snapshot: {url!r}")
        found = self.root.joinpath(*segments)
        if post_body:
            keyed = found.with_name(f"{found.name}{POST_SUFFIX}{post_key(post_body)}")
            with contextlib.suppress(OSError):  # e.g. a name too long for the file system
                if keyed.is_file() or keyed.with_name(keyed.name + SIDECAR_SUFFIX).is_file():
                    return keyed
        return found

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class MirrorMiddleware:
    """Downloader middleware: routes every request through a SnapshotServer.

    Enabled by the GOVNEWS_MIRROR setting (the snapshot directory).

    Register it after HttpProxyMiddleware (750) so that no other middleware can
    point a request at a real proxy: ``{"govnews.mirror.addon.MirrorMiddleware": 950}``.
    """

    def __init__(self, server: SnapshotServer) -> None:
        self.server = server

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        root = crawler.settings.get("GOVNEWS_MIRROR")
        if not root:
            raise NotConfigured("GOVNEWS_MIRROR is not set")
        if not Path(root).is_dir():
            # Not NotConfigured: that would disable the mirror and crawl the live sites.
            raise ValueError(f"GOVNEWS_MIRROR={root!r} is not a directory")
        latency = crawler.settings.getfloat("GOVNEWS_MIRROR_LATENCY")
        middleware = cls(SnapshotServer(root, latency=latency))
        crawler.signals.connect(middleware.engine_started, signal=signals.engine_started)
        crawler.signals.connect(middleware.engine_stopped, signal=signals.engine_stopped)
        return middleware

    def engine_started(self) -> None:
        self.server.start()
        logger.info("Serving snapshot %s on %s", self.server.root, self.server.proxy_url)

    def engine_stopped(self) -> None:
        self.server.stop()

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Point http(s) requests at the mirror; refuse other schemes that reach the network."""
        scheme = urlparse_cached(request).scheme
        if scheme in ("http", "https"):
            request.meta["proxy"] = self.server.proxy_url
            request.headers.pop(b"Proxy-Authorization", None)  # meant for a real proxy
        elif scheme not in ("data", "file"):
            raise IgnoreRequest(f"GOVNEWS_MIRROR cannot serve {scheme}: URLs: {request.url}")


class MirrorAddon:
    """Scrapy add-on: a mirrored crawl runs at full speed.

    The snapshot server is on this machine, so the politeness settings meant for
    real sites (``DOWNLOAD_DELAY``, AutoThrottle, backing off before retries) only
    slow it down. They are turned off above the project's settings, but below
    ``-s`` on the command line.
    """

    def update_settings(self, settings: Settings) -> None:
        if settings.get("GOVNEWS_MIRROR"):
            settings.set("DOWNLOAD_DELAY", 0, priority="spider")
            settings.set("AUTOTHROTTLE_ENABLED", False, priority="spider")
            settings.set("GOVNEWS_RETRY_BACKOFF", 0, priority="spider")
