"""URL keys: one normalised spelling per page, used for uniqueness and matching."""

from __future__ import annotations

import re
import string
from urllib.parse import SplitResult, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = frozenset({80, 443})
_SCHEME_PORTS = {"http": 80, "https": 443}
_INDEX_PAGES = frozenset({"index.html", "index.htm", "index.shtml"})
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# A host name under gov.cn: labels of letters, digits, hyphens (and underscores, which
# some sites use), nothing a resolver would read as something else.
_GOV_HOST = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)*gov\.cn")


def url_key(url: str) -> str:
    """Return the key of ``url``: the same for every spelling of the same page.

    The key has no scheme (``http`` and ``https`` are one page), a lower-case
    IDNA host, no default port (80/443) and no fragment; ``…/index.html``,
    ``…/index.htm`` and ``…/index.shtml`` are keyed as their directory;
    percent-escapes are normalised (non-ASCII as upper-case UTF-8 escapes,
    unreserved characters decoded). The query is kept in its order, minus a
    bare trailing ``?``. User info is left out.

    >>> url_key("HTTPS://Nyncj.Zhangzhou.gov.cn:443/cms/index.html#top")
    'nyncj.zhangzhou.gov.cn/cms/'

    Raises ``ValueError`` for anything but an absolute http(s) URL with a host.
    """
    parts = _split(url)
    canonical = _canonical(parts)
    path = canonical.path
    directory, _, page = path.rpartition("/")
    if page in _INDEX_PAGES:
        path = f"{directory}/"
    query = _normalise_escapes(urlsplit(safe_url_string(url.strip())).query)
    return f"{_authority(canonical)}{path}" + (f"?{query}" if query else "")


def clean_url(url: str) -> str:
    """``url`` as a crawler should request it: lower-case host, no default port, no fragment.

    Unlike :func:`url_key` it keeps the scheme and the path as written.
    """
    parts = _split(url)
    port = parts.port
    host = parts.hostname or ""
    netloc = host if port is None or port == _SCHEME_PORTS[parts.scheme] else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def site_of(url: str) -> str:
    """Return the lower-case (IDNA) host of ``url``, without its port.

    Raises ``ValueError`` like :func:`url_key`.
    """
    return _host(_canonical(_split(url)))


def request_host(url: str) -> str:
    """The host a downloader connects to for ``url``, lower case, without a final dot.

    ``url`` is read as Scrapy reads it (``w3lib.url.safe_url_string``, the form of
    ``Request.url``), not as written: ``http://127.0.0.1\\x.gov.cn/`` is host
    ``127.0.0.1``, since ``\\`` ends the host as ``/`` does. "" when there is none.
    """
    try:
        host = urlsplit(safe_url_string(url.strip())).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".")


def is_gov_url(url: str) -> bool:
    """True when ``url`` leads to ``gov.cn`` or a host under it, read as :func:`request_host`."""
    return _GOV_HOST.fullmatch(request_host(url)) is not None


def _split(url: str) -> SplitResult:
    """Split ``url`` and check it is an absolute http(s) URL with a host and valid port."""
    parts = urlsplit(url.strip())
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"URL has no host: {url!r}")
    try:
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError as exc:
        raise ValueError(f"URL has an invalid port: {url!r}") from exc
    return parts


def _canonical(parts: SplitResult) -> SplitResult:
    """Canonicalise scheme, host and path with w3lib (the query is handled apart,
    because ``canonicalize_url`` sorts it and query order can matter to a CMS)."""
    without_query = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return urlsplit(canonicalize_url(without_query))


def _host(parts: SplitResult) -> str:
    """Host of canonical ``parts``, with brackets kept around an IPv6 address."""
    host = parts.hostname or ""
    return f"[{host}]" if ":" in host else host


def _authority(parts: SplitResult) -> str:
    """Host and non-default port of canonical ``parts``."""
    port = parts.port
    return _host(parts) if port is None or port in _DEFAULT_PORTS else f"{_host(parts)}:{port}"


def _normalise_escapes(text: str) -> str:
    """Decode escaped unreserved characters, upper-case other escapes (RFC 3986 §6.2.2)."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else match.group(0).upper()

    return _ESCAPE.sub(fix, text)
