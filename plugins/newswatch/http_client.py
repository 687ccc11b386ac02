"""The one HTTP client: asynchronous, polite (global and per-host limits), bounded, SSRF-guarded.

Every connection goes through GuardedBackend, which resolves the host itself and refuses
loopback, private, link-local, multicast, unspecified and carrier-grade NAT addresses unless
allowlisted, then connects to the address it checked: DNS rebinding cannot slip a private
address in between, and each redirect hop is checked again because each opens its own
connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import resource
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import httpcore
import httpx
from protego import Protego

from newswatch.robots import RobotsFile
from newswatch.sanitize import HEADER_CHARS, clean_line
from newswatch.settings import Settings
from newswatch.urls import parse_url

MAX_REDIRECTS = 5
MAX_ROBOTS_BYTES = 512 * 1024
ROBOTS_AGENT = "newswatch"
# Kept connections (SiteTransports): a site's are closed once unused for KEEPALIVE_SECONDS, and
# past max_site_pools() sites the least recently used idle site's.
KEEPALIVE_SECONDS = 30.0
MAX_SITE_POOLS = 512
CGNAT = ipaddress.ip_network("100.64.0.0/10")
# IPv6 forms that carry an IPv4 address a router or the kernel may deliver to: NAT64's
# well-known prefix and the deprecated IPv4-compatible form (6to4 and Teredo have properties).
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """A download failed; the message says why (scheme, size, address, network, deadline)."""


class AddressRefused(FetchError):
    """The SSRF guard refused the host's address; no request was sent."""


class _Refused(httpcore.ConnectError):
    """GuardedBackend's refusal, told apart from a network failure once httpx has wrapped it."""


@dataclass(frozen=True)
class Download:
    status: int
    final_url: str
    headers: Mapping[str, str]
    body: bytes
    moved_to: str | None = None  # the new URL when every redirect hop was permanent (301/308)


class AddressGuard:
    """Decides which resolved addresses a request may connect to."""

    def __init__(self, allow: str = "") -> None:
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in (part.strip().lower() for part in allow.split(",")):
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry)

    def refusal(self, host: str, address: str) -> str | None:
        """Why connecting to address (resolved from host) is refused, or None when it is allowed."""
        ip = carried_ipv4(ipaddress.ip_address(address.split("%")[0]))
        if host.lower().rstrip(".") in self.hosts or any(ip in net for net in self.networks):
            return None
        site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
        if ip.is_global and not ip.is_multicast and ip not in CGNAT and not site_local:
            return None
        named = "" if host.strip("[]") == address else f"{host} resolves to "
        return (
            f"{named}{ip}, a non-public address ({_kind(ip)}); allow it with NEWSWATCH_ALLOW_HOSTS"
        )

    def literal_refusal(self, host: str) -> str | None:
        """refusal for a host known without asking DNS (an IP literal, `localhost` and its
        subdomains, RFC 6761), or None: a URL checked before it is ever fetched."""
        name = host.lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            return self.refusal(host, "127.0.0.1")
        try:
            ipaddress.ip_address(name.strip("[]").split("%")[0])
        except ValueError:
            return None
        return self.refusal(host, name.strip("[]"))


def carried_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (::ffff:127.0.0.1, 2002:7f00:1::, 64:ff9b::7f00:1,
    ::127.0.0.1, Teredo's client), judged as that address; else the address itself."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):  # not :: or ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _kind(ip: IPAddress) -> str:
    """Which non-public range ip is in, in the words an operator knows it by."""
    for kind, inside in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("carrier-grade NAT", ip in CGNAT),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if inside:
            return kind
    return "not globally routed"


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = [host] if _is_ip_literal(host) else await _resolve(host, port, timeout)
        for address in addresses:
            reason = self.guard.refusal(host, address)
            if reason:
                raise _Refused(f"refused: {reason}")
        return await self.inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _is_ip_literal(host: str) -> bool:
    """Whether host is an address already (no resolver thread needed; the guard still checks
    it). Forms only inet_aton reads, such as 127.1, go through the resolver as before."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except (OSError, TimeoutError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose every connection goes through the guard."""

    def __init__(
        self, backend: GuardedBackend, ssl_context: ssl.SSLContext, max_connections: int
    ) -> None:
        super().__init__(verify=ssl_context)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=KEEPALIVE_SECONDS,
            network_backend=backend,
        )


@dataclass
class _SitePool:
    transport: GuardedTransport
    in_flight: int = 0  # requests sent and responses not yet closed
    last_used: float = 0.0


class _Counted(httpx.AsyncByteStream):
    """A response body that tells its site's pool when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, site: _SitePool) -> None:
        self.stream = stream
        self.site = site
        self.open = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.stream.aclose()
        finally:
            if self.open:
                self.open = False
                self.site.in_flight -= 1


class SiteTransports(httpx.AsyncBaseTransport):
    """A small connection pool per site (scheme, host, port).

    Downloads take turns between sites, so one shared pool either dropped a site's connection
    before the site's next turn, or, made large, scanned hundreds of idle connections on every
    request (httpcore keeps its pool as a list): each page opened and closed a connection.
    Here a site's connection waits for its next turn.

    Pools with nothing in flight are closed once unused for `keepalive` seconds, and, past
    `sites` pools, the least recently used first. A pool with a request in flight (connecting
    or reading) is never closed: a hostile page redirecting through many sites would otherwise
    cut other sites' downloads short, or leave the sockets it was opening to no pool.
    """

    def __init__(
        self,
        guard: AddressGuard,
        per_site: int,
        sites: int | None = None,
        keepalive: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.backend = GuardedBackend(guard)
        self.ssl_context = httpx.create_ssl_context()  # one for all: each costs ~50 ms
        self.per_site = per_site
        self.sites = sites or max_site_pools(per_site)
        self.keepalive = keepalive
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], _SitePool] = OrderedDict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.raw_scheme, request.url.raw_host, request.url.port)
        now = time.monotonic()
        site = self._pools.get(key)
        if site is None:
            site = self._pools[key] = _SitePool(
                GuardedTransport(self.backend, self.ssl_context, self.per_site)
            )
        self._pools.move_to_end(key)
        site.last_used = now
        site.in_flight += 1
        try:
            await self._close_unused(now)
            response = await site.transport.handle_async_request(request)
        except BaseException:
            site.in_flight -= 1
            raise
        response.stream = _Counted(cast(httpx.AsyncByteStream, response.stream), site)
        return response

    async def _close_unused(self, now: float) -> None:
        """Close idle pools, oldest first: those unused past keepalive, and as many more as
        keep the count within `sites` (busy ones are passed over, and the count may stay over
        while they are busy: it is bounded by the requests in flight)."""
        excess = len(self._pools) - self.sites
        closing = []
        for key, site in self._pools.items():
            if excess <= 0 and now - site.last_used <= self.keepalive:
                break  # last-used order: the rest are newer
            if site.in_flight == 0:
                closing.append(key)
                excess -= 1
        for key in closing:
            await self._pools.pop(key).transport.aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for site in pools:
            await site.transport.aclose()


def max_site_pools(per_site: int) -> int:
    """How many sites keep connections: MAX_SITE_POOLS, or fewer when the process's file
    limit is low, so kept connections never take more than half of it (1,024 is common)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_SITE_POOLS
    return max(1, min(MAX_SITE_POOLS, soft // (2 * per_site)))


def make_client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    return httpx.AsyncClient(
        transport=SiteTransports(AddressGuard(settings.allow_hosts), settings.per_host_concurrency),
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": settings.user_agent},
        trust_env=False,
    )


class RobotsCache(Protocol):
    """Where robots.txt answers outlive one Downloader (store.robots.RobotsTable: a day)."""

    async def recall(self, origin: str) -> RobotsFile | None: ...

    async def remember(self, origin: str, robots: RobotsFile) -> None: ...

    async def save(self) -> None:
        """Keep what was remembered; the Downloader calls it as it closes."""


class Downloader:
    """Capped downloads under a global limit, a per-host limit and a minimum interval per host."""

    def __init__(self, settings: Settings, *, robots_cache: RobotsCache | None = None) -> None:
        """Without a robots_cache each downloader reads robots.txt once per origin."""
        self.settings = settings
        self.robots_cache = robots_cache
        self.client = make_client(settings)
        self._slots = asyncio.Semaphore(max(1, settings.fetch_concurrency))
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._passes: dict[str, str] = {}  # host -> the origin whose robots.txt just went
        self._robots: dict[str, asyncio.Future[tuple[RobotsFile, Protego | bool]]] = {}

    async def __aenter__(self) -> Downloader:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.robots_cache is not None:
                await self.robots_cache.save()
        finally:
            await self.client.aclose()

    async def get(
        self,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        paced: bool = True,
    ) -> Download:
        """GET url politely; 304 and errors return no body; every failure raises FetchError.

        An unpaced request (robots.txt) lets the next request to its origin go right after it
        (`_take_turn`): the request robots.txt cleared follows it, as Nutch and StormCrawler
        fetch them, instead of a whole interval later."""
        url = _require_http(url)
        host = urlsplit(url).hostname or ""
        origin = origin_of(url)
        per_host = self._hosts.setdefault(
            host, asyncio.Semaphore(max(1, self.settings.per_host_concurrency))
        )
        async with per_host:
            # A request waits for its host's turn before it takes one of the global slots: held
            # while waiting, they let a few busy hosts pace every other host's downloads too.
            while True:
                await self._until_turn(host, origin)
                async with self._slots:
                    if not self._take_turn(host, origin, paced):
                        continue  # the other request to this host went first: wait again
                    try:
                        async with asyncio.timeout(self.settings.total_timeout):
                            return await self._get(url, max_bytes=max_bytes, headers=headers)
                    except TimeoutError:
                        raise FetchError(
                            f"deadline of {self.settings.total_timeout:g}s exceeded"
                        ) from None

    async def robots_refusal(self, url: str) -> str | None:
        """Why robots.txt keeps newswatch from url, or None when it may fetch it; read once per
        origin per downloader, or once a day when remembered (RobotsFile.rules says what a
        missing one means). FetchError when the site itself cannot be asked (the address guard)."""
        url = _require_http(url)
        origin = origin_of(url)
        if origin not in self._robots:
            self._robots[origin] = asyncio.ensure_future(self._robots_rules(origin))
        robots, rules = await self._robots[origin]
        if isinstance(rules, Protego):
            return None if rules.can_fetch(url, ROBOTS_AGENT) else "disallowed by robots.txt"
        if rules:
            return None
        got = f"HTTP {robots.status}" if robots.status else robots.error or "no answer"
        return f"robots.txt could not be read ({got}); the site is skipped until it can"

    async def _robots_rules(self, origin: str) -> tuple[RobotsFile, Protego | bool]:
        """The origin's robots.txt and its rules, parsed once (a large one took milliseconds,
        and every page of the site asks)."""
        robots = await self._robots_file(origin)
        return robots, robots.rules()

    async def _robots_file(self, origin: str) -> RobotsFile:
        if self.robots_cache is None:
            return await self._read_robots(origin)
        robots = await self.robots_cache.recall(origin)
        if robots is None:
            robots = await self._read_robots(origin)
            await self.robots_cache.remember(origin, robots)
        return robots

    async def _read_robots(self, origin: str) -> RobotsFile:
        try:
            got = await self.get(f"{origin}/robots.txt", max_bytes=MAX_ROBOTS_BYTES, paced=False)
        except AddressRefused:
            raise  # not robots.txt's answer: the page itself is refused, and says why
        except FetchError as exc:
            return RobotsFile(status=None, error=str(exc)[:300])
        text = got.body.decode("utf-8", errors="replace") if got.status == 200 else None
        return RobotsFile(status=got.status, text=text)

    async def _until_turn(self, host: str, origin: str) -> None:
        if self._passes.get(host) == origin:
            return
        delay = self._next_start.get(host, 0.0) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def _take_turn(self, host: str, origin: str, paced: bool) -> bool:
        """Start a request to `host` now if per_host_interval has passed since the last one,
        and start the next interval. robots.txt (unpaced) gives its origin's next request a
        pass: what robots.txt cleared follows it at once, as Nutch and StormCrawler fetch them.
        robots.txt itself waits for the host's turn unless it is the host's first request, so
        a feed listing many ports of a host does not have them asked all at once. A pass is
        spent by any other request's turn: left over, it let its holder go right after that
        request."""
        now = time.monotonic()
        if paced and self._passes.get(host) == origin:
            del self._passes[host]
        elif now < self._next_start.get(host, 0.0):
            return False
        else:
            self._passes.pop(host, None)
            if not paced:
                self._passes[host] = origin
        self._next_start[host] = now + self.settings.per_host_interval
        return True

    async def _get(
        self, url: str, *, max_bytes: int, headers: Mapping[str, str] | None
    ) -> Download:
        try:
            async with self.client.stream("GET", url, headers=headers) as response:
                final_url = _require_http(str(response.url))
                body = bytearray()
                if response.status_code == 200:
                    async for chunk in response.aiter_bytes():  # decoded: the cap holds after gzip
                        body += chunk
                        if len(body) > max_bytes:
                            raise FetchError(f"body larger than {max_bytes} bytes")
                history = [r.status_code for r in response.history]
                moved = history and all(code in (301, 308) for code in history)
                return Download(
                    status=response.status_code,
                    final_url=final_url,
                    headers=_clean_headers(response.headers),
                    body=bytes(body),
                    moved_to=final_url if moved else None,
                )
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, _Refused):
                raise AddressRefused(str(exc)) from None
            raise FetchError(f"ConnectError: {exc}") from None
        except httpx.TooManyRedirects:
            raise FetchError(f"more than {MAX_REDIRECTS} redirects") from None
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out ({type(exc).__name__})") from None
        except httpx.DecodingError as exc:
            raise FetchError(f"undecodable body: {exc}") from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise FetchError(f"{type(exc).__name__}: {clean_line(str(exc), 500)}") from None


def _clean_headers(headers: httpx.Headers) -> dict[str, str]:
    """Response headers as the rest of newswatch sees them: lower-case names, values one clean
    bounded line each (a repeated header joined by commas, as HTTP allows)."""
    return {name.lower(): clean_line(value, HEADER_CHARS) for name, value in headers.items()}


def origin_of(url: str) -> str:
    """The scheme and authority robots.txt is kept for: `http://example.com:8080`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _require_http(url: str) -> str:
    """The URL when it is one newswatch may request (parsed as everywhere else), else FetchError."""
    parsed = parse_url(url)
    if parsed.url is None:
        raise FetchError(f"refusing URL: {parsed.refused}")
    return url
