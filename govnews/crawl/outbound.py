"""The outbound policy: what the crawl may request, and which addresses it may connect to.

Pages choose the URLs a crawl follows (links, a repost's 原文链接, redirects), so a page
could point the crawler at the machine it runs on or at its network: a cloud's metadata
service (169.254.169.254), a database's port, an admin page on 127.0.0.1. Every request
is judged here, in two places that share one rule (:class:`OutboundPolicy`):

* :class:`OutboundMiddleware`, a downloader middleware, judges each request before any
  connection, including redirects, retries and the failures of earlier runs: http(s)
  only; port 80 or 443, unless the sites file (``GOVNEWS_SITES``) has a start URL with
  another port on that host; the host read as the downloader reads it
  (``w3lib.url.safe_url_string``: ``http://127.0.0.1\\x.gov.cn/`` is host 127.0.0.1);
  a host or proxy that is an IP address refused when the address is not public
  (:func:`address_refusal`). An IP address cannot change between this check and the
  connection; what a name resolves to can, so names are judged when they are resolved:
* :class:`OutboundResolver` (``TWISTED_DNS_RESOLVER``) hands a connection only the
  public addresses a name resolves to, at the moment it connects, so a name that
  resolves to 127.0.0.1, at once or on a second lookup (DNS rebinding), gets no
  connection. The middleware turns the lookup error that follows into a refusal.

A refusal is an :class:`OutboundRefused`: the spider's errback records it as a failure of
stage ``policy`` and ``govnews/policy_refused`` counts it; ``RetryFailedPagesMiddleware``
never requests it again. The exceptions: the mirror (``GOVNEWS_MIRROR``), whose
``MirrorMiddleware`` runs after this one and points every request at its own server on
127.0.0.1, which nothing else can; and ``GOVNEWS_OUTBOUND_ALLOW``, exact ``address:port``
pairs for the servers tests and benchmarks start on 127.0.0.1 (none by default).
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from typing import Any, NoReturn, Self, cast
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.resolver import CachingHostnameResolver
from scrapy.settings import BaseSettings
from scrapy.utils.datatypes import LocalCache
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.reactor import is_reactor_installed
from scrapy.utils.url import add_http_if_no_scheme
from twisted.internet.base import ReactorBase
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import (
    IAddress,
    IHostResolution,
    IResolutionReceiver,
)
from w3lib.url import safe_url_string

from govnews.core.errors import ConfigError
from govnews.crawl.sitesfile import SitesConfigError, load_sites

logger = logging.getLogger(__name__)

Address = IPv4Address | IPv6Address

#: The failure stage of a refused request.
POLICY = "policy"
DEFAULT_PORTS = {"http": 80, "https": 443}
_STANDARD_PORTS = frozenset(DEFAULT_PORTS.values())
# Hosts the system resolver reads as IPv4 without asking DNS (inet_aton): 127.1,
# 0x7f000001, 2130706433, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"[0-9][0-9a-fx.]*", re.IGNORECASE)
# IPv6 prefixes that carry an IPv4 address a gateway connects to (NAT64, RFC 6052).
_NAT64 = IPv6Network("64:ff9b::/96")
# Where clouds answer with credentials, so a refusal says so.
_METADATA = frozenset({IPv4Address("169.254.169.254"), IPv6Address("fd00:ec2::254")})
# What an address is, by the ipaddress property that says so, most telling first.
_KINDS = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_reserved", "a reserved address"),
    ("is_private", "a private address"),
)
# How a failed lookup reaches the middleware: Scrapy's download handlers wrap Twisted's error.
_LOOKUP_FAILED = (CannotResolveHostError, DNSLookupError)
# Names whose addresses were refused, remembered this long (one crawl's hosts fit).
_REFUSALS_KEPT = 10_000


class OutboundRefused(IgnoreRequest):
    """A request the outbound policy refuses; recorded as a failure of stage ``policy``."""

    stage = POLICY


def literal_address(host: str) -> Address | None:
    """The IP address that ``host`` spells, as the system resolver reads it; None for a name.

    Besides the usual forms (``127.0.0.1``, ``[::1]``), the IPv4 spellings that
    ``inet_aton``, and so ``getaddrinfo``, read without asking DNS: ``127.1``,
    ``0x7f000001``, ``2130706433``.
    """
    text = host.removeprefix("[").removesuffix("]")
    try:
        return ip_address(text)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(text):
        try:
            return IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def address_refusal(address: Address) -> str | None:
    """Why the crawl may not connect to ``address`` (a sentence); None when it is public.

    Refused: unspecified, loopback, link-local (169.254.169.254, the metadata service),
    multicast, reserved, private and any other address that is not global. An IPv4
    address inside IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64) is judged as that IPv4 address.
    """
    embedded = _embedded_ipv4(address)
    judged: Address = embedded or address
    kind = next((kind for test, kind in _KINDS if getattr(judged, test)), None)
    if kind is None and not judged.is_global:
        kind = "not a public address"
    if kind is None:
        return None
    where = f"{address} (IPv4 {embedded})" if embedded else str(address)
    metadata = " (cloud metadata)" if judged in _METADATA else ""
    return f"{where} is {kind}{metadata}"


def _embedded_ipv4(address: Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if any (mapped, 6to4, NAT64)."""
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def allowances(settings: BaseSettings) -> frozenset[tuple[Address, int]]:
    """The ``address:port`` pairs of ``GOVNEWS_OUTBOUND_ALLOW``; a ConfigError names a bad one."""
    pairs = set()
    for entry in settings.getlist("GOVNEWS_OUTBOUND_ALLOW"):
        problem = ConfigError(
            f"GOVNEWS_OUTBOUND_ALLOW: {entry!r} is not an IP address and a port "
            "(e.g. 127.0.0.1:8765 or [::1]:8765)"
        )
        try:
            parts = urlsplit(f"//{entry.strip()}")
            address, port = ip_address(parts.hostname or ""), parts.port
        except ValueError:
            raise problem from None
        if port is None:
            raise problem
        pairs.add((address, port))
    return frozenset(pairs)


def site_ports(path: str | None) -> dict[str, frozenset[int]]:
    """Ports other than 80 and 443 that the sites file at ``path`` uses, per host.

    A site whose start URL carries a port (``http://www.x.gov.cn:8080/``) is served
    there, so that port is allowed on that host. A sites file that cannot be read
    allows none (and says so): the ``sites`` spider reports it as an error.
    """
    if not path:
        return {}
    try:
        sites = load_sites(path).sites
    except SitesConfigError as exc:
        logger.warning("No site ports allowed (only 80 and 443): %s", exc)
        return {}
    ports: dict[str, set[int]] = {}
    for url in (url for site in sites for url in site.start_urls):
        parts = urlsplit(safe_url_string(url))
        if parts.port is not None and parts.port not in _STANDARD_PORTS:
            ports.setdefault((parts.hostname or "").rstrip("."), set()).add(parts.port)
    return {host: frozenset(found) for host, found in ports.items()}


@dataclass(frozen=True)
class OutboundPolicy:
    """What the crawl may request (:meth:`refusal`) and connect to (:meth:`connection_refusal`)."""

    #: Ports besides 80 and 443 allowed on a host: those of the sites file's start URLs.
    ports: Mapping[str, frozenset[int]] = field(default_factory=dict)
    #: Exact (address, port) pairs allowed whatever the address (``GOVNEWS_OUTBOUND_ALLOW``).
    allowed: frozenset[tuple[Address, int]] = frozenset()

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        return cls(ports=site_ports(settings.get("GOVNEWS_SITES")), allowed=allowances(settings))

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be requested (a sentence), or None.

        ``url`` is read as Scrapy reads it, so that the host judged is the host the
        downloader connects to. A host name's addresses are judged when it is resolved.
        """
        try:
            parts = urlsplit(safe_url_string(url.strip()))
            port = parts.port
        except ValueError as exc:
            return f"not a URL the crawl can request: {exc}"
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            return f"{scheme or 'no'} scheme: only http and https are requested"
        host = (parts.hostname or "").rstrip(".")
        if not host:
            return "no host"
        port = DEFAULT_PORTS[scheme] if port is None else port
        address = literal_address(host)
        if address is not None:
            if (address, port) in self.allowed:
                return None
            refused = address_refusal(address)
            if refused is not None:
                return refused
        if port in _STANDARD_PORTS or port in self.ports.get(host, ()):
            return None
        return f"port {port} of {host}: no configured site is served there (only 80 and 443)"

    def connection_refusal(self, address: Address, port: int) -> str | None:
        """Why the crawl may not connect to ``address`` on ``port``, or None."""
        if (address, port) in self.allowed:
            return None
        return address_refusal(address)


class OutboundMiddleware:
    """Downloader middleware: refuses, before any connection, what :class:`OutboundPolicy` refuses.

    Registered after ``HttpProxyMiddleware`` (750), so that it judges the proxy a request
    will use, and before ``MirrorMiddleware`` (950), which sends a mirrored crawl to the
    mirror's own address: ``{"govnews.crawl.outbound.OutboundMiddleware": 880}``.
    """

    def __init__(self, crawler: Crawler, policy: OutboundPolicy) -> None:
        self.crawler = crawler
        self.policy = policy
        #: A mirrored crawl connects to the mirror only, whatever the request's host or proxy.
        self.mirrored = bool(crawler.settings.get("GOVNEWS_MIRROR"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler, OutboundPolicy.from_settings(crawler.settings))

    def process_request(self, request: Request) -> None:
        reason = self.policy.refusal(request.url)
        if reason is None and not self.mirrored:
            reason = self._connection_refusal(request)
        if reason is not None:
            self._refuse(request, reason)

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A lookup that failed because the resolver refused every address is a refusal."""
        if self.mirrored or not isinstance(exception, _LOOKUP_FAILED):
            return
        resolver = installed_resolver()
        reason = resolver.refused.get(_connection_host(request)) if resolver else None
        if reason is not None:
            self._refuse(request, reason)

    def _connection_refusal(self, request: Request) -> str | None:
        """Why the connection ``request`` needs may not be made: its proxy, or an unchecked name."""
        proxy = request.meta.get("proxy")
        host = _connection_host(request)
        if proxy:
            parts = urlsplit(add_http_if_no_scheme(proxy))
            address = literal_address(host)
            if address is not None:
                try:
                    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
                except ValueError:
                    return f"proxy {proxy!r} has no valid port"
                refused = self.policy.connection_refusal(address, port)
                return None if refused is None else f"proxy {refused}"
        elif literal_address(host) is not None:
            return None  # judged by refusal()
        if installed_resolver() is None:
            return (
                f"{host} would be resolved unchecked: TWISTED_DNS_RESOLVER is not "
                "govnews.crawl.outbound.OutboundResolver"
            )
        return None

    def _refuse(self, request: Request, reason: str) -> NoReturn:
        redirects = request.meta.get("redirect_urls")
        if redirects:
            reason = f"{reason} (redirected from {redirects[0]})"
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("govnews/policy_refused")
        logger.debug("Refused %s: %s", request.url, reason)
        raise OutboundRefused(reason)


def _connection_host(request: Request) -> str:
    """The host the download connects to: the proxy's, or the URL's."""
    proxy = request.meta.get("proxy")
    if proxy:
        return (urlsplit(add_http_if_no_scheme(proxy)).hostname or "").rstrip(".")
    return (urlparse_cached(request).hostname or "").rstrip(".")


def installed_resolver() -> OutboundResolver | None:
    """The :class:`OutboundResolver` the reactor resolves names with, if it is that one."""
    if not is_reactor_installed():
        return None
    from twisted.internet import reactor

    resolver = getattr(reactor, "nameResolver", None)
    return resolver if isinstance(resolver, OutboundResolver) else None


class OutboundResolver(CachingHostnameResolver):
    """Scrapy's caching resolver that hands a connection only the public addresses of a name.

    Installed for the whole process by ``TWISTED_DNS_RESOLVER``. Every lookup, from the
    cache or not, is filtered when the connection asks for it, so the address judged is
    the address connected to. IP addresses are passed on as they are: the middleware has
    judged them, and the mirror's own address is one of them. ``refused`` says, per name,
    why its addresses were refused, for the middleware to record.
    """

    def __init__(
        self,
        reactor: ReactorBase,
        cache_size: int,
        allowed: frozenset[tuple[Address, int]] = frozenset(),
    ) -> None:
        super().__init__(reactor, cache_size)
        self.policy = OutboundPolicy(allowed=allowed)
        self.refused: LocalCache[str, str] = LocalCache(_REFUSALS_KEPT)
        #: Names some of whose addresses were left out, and said so once.
        self.trimmed: LocalCache[str, str] = LocalCache(_REFUSALS_KEPT)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        """Built from the process's settings; a bad ``GOVNEWS_OUTBOUND_ALLOW`` allows nothing
        here (the middleware reports it, once, when the crawl is built)."""
        settings = crawler.settings
        size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        try:
            allowed = allowances(settings)
        except ConfigError:
            allowed = frozenset()
        return cls(reactor, size, allowed)

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IHostResolution:
        if literal_address(hostName) is None:
            filtered = _PublicAddresses(self, resolutionReceiver, hostName, portNumber)
            resolutionReceiver = cast(IResolutionReceiver, filtered)
        return super().resolveHostName(
            resolutionReceiver, hostName, portNumber, addressTypes, transportSemantics
        )

    def settle(self, host: str, refusals: list[str], passed: int) -> None:
        """Remember why ``host`` got no address, or forget an earlier refusal."""
        said = "; ".join(refusals)
        if refusals and not passed:
            self.refused[host] = f"{host} resolves to no public address: {said}"
            return
        self.refused.pop(host, None)
        if refusals and self.trimmed.get(host) != said:
            self.trimmed[host] = said
            logger.warning("%s: connecting to its public addresses only, not to %s", host, said)


class _PublicAddresses:
    """An ``IResolutionReceiver`` passing on the addresses of one lookup the policy allows."""

    def __init__(
        self, resolver: OutboundResolver, receiver: IResolutionReceiver, host: str, port: int
    ) -> None:
        self.resolver = resolver
        self.receiver: Any = receiver  # a zope interface, which mypy cannot call through
        self.host = host
        self.port = port
        self.refusals: list[str] = []
        self.passed = 0

    def resolutionBegan(self, resolution: IHostResolution) -> None:
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address: IAddress) -> None:
        host = getattr(address, "host", "")
        try:
            refused = self.resolver.policy.connection_refusal(ip_address(host), self.port)
        except ValueError:
            refused = f"{host!r} is no IP address"
        if refused is None:
            self.passed += 1
            self.receiver.addressResolved(address)
        else:
            self.refusals.append(refused)

    def resolutionComplete(self) -> None:
        self.resolver.settle(self.host, self.refusals, self.passed)
        self.receiver.resolutionComplete()
