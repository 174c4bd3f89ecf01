"""The mirror's server: an HTTP forward proxy on 127.0.0.1 answering from a snapshot directory.

:class:`SnapshotServer` answers proxy requests (absolute URIs), CONNECT tunnels (https,
with a self-signed certificate per host) and plain requests, each from the file that
:func:`~govnews.mirror.paths.snapshot_path` names (see :mod:`govnews.mirror.paths` for the
layout). It listens on 127.0.0.1 (the default ``host``, which the crawl keeps), and refuses
URLs that would leave the snapshot directory (``..`` segments, also percent-encoded) with a 400.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlsplit

from govnews.mirror.certificates import Certificates
from govnews.mirror.paths import (
    SIDECAR_SUFFIX,
    content_type,
    parse_sidecar,
    sidecar_path,
    snapshot_path,
)

logger = logging.getLogger(__name__)

_NO_BODY_STATUSES = frozenset({HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED})
# Printable ASCII stays as sent; other request-target bytes are percent-encoded.
_PRINTABLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))


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
        sidecar = sidecar_path(path)
        try:
            has_body, has_sidecar = path.is_file(), sidecar.is_file()
        except OSError:  # e.g. a query string too long for a file name
            has_body = has_sidecar = False
        if path.name.endswith(SIDECAR_SUFFIX) or not (has_body or has_sidecar):
            self._send_error(HTTPStatus.NOT_FOUND, url, send_body)
            return
        status, reason = int(HTTPStatus.OK), None
        headers = [("Content-Type", content_type(url))]
        if has_sidecar:
            try:
                status, reason, extra = parse_sidecar(sidecar.read_bytes())
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
        self.certificates = Certificates()
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

        :func:`~govnews.mirror.paths.snapshot_path` under :attr:`root`; with a ``post_body``,
        the file keyed by it when there is one, else the file a GET gets (see the layout in
        :mod:`govnews.mirror.paths`). Raises ValueError for URLs without a host or that would
        leave the snapshot.
        """
        found = snapshot_path(self.root, url)
        if post_body:
            keyed = snapshot_path(self.root, url, post_body)
            with contextlib.suppress(OSError):  # e.g. a name too long for the file system
                if keyed.is_file() or sidecar_path(keyed).is_file():
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
