"""The snapshot layout: which file under a snapshot directory answers which request.

:func:`snapshot_path` is the one rule. The server answers from it; tests and benchmarks
that read or write snapshot files use it too, so that they find the files the server serves.

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

import hashlib
import mimetypes
import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from w3lib.url import safe_url_string

HTML_EXTENSIONS = frozenset({"", ".html", ".htm", ".shtml", ".asp", ".aspx", ".jsp", ".php"})
SIDECAR_SUFFIX = ".http"
POST_SUFFIX = ".post-"
# Sidecar headers dropped because the server itself frames every response.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_MIME = mimetypes.MimeTypes()  # built-in table only, independent of /etc/mime.types


def snapshot_path(root: str | os.PathLike[str], url: str, post_body: bytes = b"") -> Path:
    """The snapshot file under ``root`` for ``url`` (it may not exist).

    With a ``post_body``, the file keyed by it, ``<file>.post-<key>``: where a POST's own
    answer goes. (The server falls back to ``<file>`` when that one does not exist.)
    Raises ValueError for URLs without a host or that would leave the snapshot: ``.`` and
    ``..`` segments, also percent-encoded or in the query string, and NUL bytes are refused.
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
    found = Path(root).joinpath(*segments)
    if post_body:
        return found.with_name(f"{found.name}{POST_SUFFIX}{post_key(post_body)}")
    return found


def sidecar_path(file: Path) -> Path:
    """The sidecar ``<file>.http`` that gives ``file`` its status line and headers."""
    return file.with_name(file.name + SIDECAR_SUFFIX)


def post_key(body: bytes) -> str:
    """The file-name key of a POST body: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(body).hexdigest()[:16]


def content_type(url: str) -> str:
    """The default Content-Type for ``url``, judged by the extension of its path."""
    path = urlsplit(url).path
    suffix = "" if path.endswith("/") else PurePosixPath(unquote(path)).suffix.lower()
    if suffix in HTML_EXTENSIONS:
        return "text/html"
    return _MIME.guess_type("file" + suffix, strict=False)[0] or "application/octet-stream"


def parse_sidecar(data: bytes) -> tuple[int, str | None, list[tuple[str, str]]]:
    """Parse a sidecar's status line and header lines into (status, reason, headers).

    Framing headers (``Content-Length`` and the like) are left out. Raises ValueError for a
    bad status line or header line.
    """
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
        if name.strip().lower() not in FRAMING_HEADERS:
            headers.append((name.strip(), value.strip()))
    return status, reason, headers
