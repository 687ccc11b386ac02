"""Kept connections over real loopback HTTP: one small pool per site, the oldest site's closed."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from newswatch.fetch import fetch_page
from newswatch.http_client import AddressGuard, Downloader, SiteTransports, max_site_pools
from newswatch.settings import Settings

LOOPBACK = Settings(
    connect_timeout=2, read_timeout=2, allow_hosts="127.0.0.0/8", per_host_interval=0
)


class KeepAliveSite(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (werkzeug's test server closes every connection); records the
    client port of each request: one port per connection the client opened."""

    protocol_version = "HTTP/1.1"
    ports: list[int]
    closed: list[int] = []  # client ports of the connections the client closed

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.ports.append(self.client_address[1])
        body = b"" if self.path == "/robots.txt" else b"<p>x</p>"
        self.send_response(404 if self.path == "/robots.txt" else 200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body) * (20 if self.path == "/slow" else 1)))
        self.end_headers()
        for _ in range(20 if self.path == "/slow" else 1):  # a second's drip
            self.wfile.write(body)
            self.wfile.flush()
            if self.path == "/slow":
                time.sleep(0.05)

    def finish(self) -> None:
        super().finish()
        self.closed.append(self.client_address[1])

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(
    address: str, ports: list[int], site: type[KeepAliveSite] = KeepAliveSite
) -> ThreadingHTTPServer:
    handler = type("Site", (site,), {"ports": ports})
    server = ThreadingHTTPServer((address, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def sites() -> Iterator[tuple[list[str], list[int]]]:
    """Base URLs of twelve keep-alive sites on 127.0.0.2-13, and the client ports of the
    requests they answered so far."""
    ports: list[int] = []
    servers = {f"127.0.0.{k}": serve(f"127.0.0.{k}", ports) for k in range(2, 14)}
    yield [f"http://{host}:{s.server_address[1]}" for host, s in servers.items()], ports
    for server in servers.values():
        server.shutdown()
        server.server_close()


def test_a_sites_pages_come_over_the_connection_its_last_page_used(
    sites: tuple[list[str], list[int]],
) -> None:
    """Sites take turns, so a site's next page comes after every other site's: its connection
    is kept for it meanwhile (one shared pool of 8 dropped it first) instead of each page
    opening and closing one."""
    urls, ports = sites

    async def go() -> None:
        async with Downloader(LOOPBACK) as downloader:
            for _ in range(3):
                for url in urls:
                    got = await downloader.get(f"{url}/p", max_bytes=1000)
                    assert got.body == b"<p>x</p>"

    asyncio.run(go())
    assert len(ports) == 36 and len(set(ports)) == 12


def test_past_its_limit_of_sites_the_least_recently_used_sites_connection_is_closed(
    sites: tuple[list[str], list[int]],
) -> None:
    urls, ports = sites
    one, other = f"{urls[0]}/p", f"{urls[1]}/p"

    async def go() -> None:
        transports = SiteTransports(AddressGuard("127.0.0.0/8"), per_site=2, sites=1)
        async with httpx.AsyncClient(transport=transports) as client:
            for url in (one, one, other, one):
                assert (await client.get(url)).content == b"<p>x</p>"

    asyncio.run(go())
    first, again, _, after_other = ports
    assert first == again  # kept while it was the one site
    assert after_other != first  # closed when another site took the only place


def test_kept_connections_take_at_most_half_the_processs_file_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert max_site_pools(per_site=2) == 64
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert max_site_pools(per_site=2) <= 512


def test_a_download_in_flight_is_not_cut_short_when_another_site_takes_its_place(
    sites: tuple[list[str], list[int]],
) -> None:
    """Past the limit of sites only idle pools close: a hostile page redirecting through many
    sites must not end another site's download midway."""
    urls, _ = sites

    async def go() -> bytes:
        transports = SiteTransports(AddressGuard("127.0.0.0/8"), per_site=2, sites=1)
        async with httpx.AsyncClient(transport=transports) as client:
            async with client.stream("GET", f"{urls[0]}/slow") as slow:
                body = b""
                async for chunk in slow.aiter_bytes():
                    if not body:  # the download is under way: other sites come and go
                        for url in urls[1:]:
                            assert (await client.get(f"{url}/p")).content == b"<p>x</p>"
                    body += chunk
                return body

    assert asyncio.run(go()) == b"<p>x</p>" * 20


def test_a_site_unused_past_the_keepalive_has_its_connection_closed(
    sites: tuple[list[str], list[int]],
) -> None:
    urls, ports = sites

    async def go() -> None:
        transports = SiteTransports(AddressGuard("127.0.0.0/8"), per_site=2, keepalive=0.2)
        async with httpx.AsyncClient(transport=transports) as client:
            await client.get(f"{urls[0]}/p")
            await asyncio.sleep(0.4)
            await client.get(f"{urls[1]}/p")  # the first site is not asked again
            for _ in range(20):
                if ports[0] in KeepAliveSite.closed:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("the idle site's connection is still open")

    asyncio.run(go())


def test_robots_txt_of_another_port_of_a_host_waits_for_the_hosts_turn(
    sites: tuple[list[str], list[int]],
) -> None:
    """Only a host's first request may be robots.txt without starting an interval: a feed
    listing many ports of one host must not have them asked all at once (a port scan)."""
    urls, _ = sites
    host = urls[0].rsplit(":", 1)[0]
    other_port = serve(host.removeprefix("http://"), [])
    try:
        paced = LOOPBACK.model_copy(update={"per_host_interval": 0.5})

        async def go() -> float:
            async with Downloader(paced) as downloader:
                await downloader.robots_refusal(f"{urls[0]}/p")
                started = time.monotonic()
                await downloader.robots_refusal(f"{host}:{other_port.server_address[1]}/p")
                return time.monotonic() - started

        assert asyncio.run(go()) >= 0.45
    finally:
        other_port.shutdown()
        other_port.server_close()


def test_a_robots_txt_pass_is_spent_when_another_port_of_the_host_takes_the_turn() -> None:
    """The pass robots.txt gives its origin's next request lasts only until the host's next
    turn: left over while another port's robots.txt went, it let its holder follow that one
    at once, two requests to one host together."""
    arrivals: list[tuple[float, int, str]] = []  # (when, server port, path)

    class Logged(KeepAliveSite):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            _, port = self.connection.getsockname()  # the port this site listens on
            arrivals.append((time.monotonic(), port, self.path))
            super().do_GET()

    servers = [serve("127.0.0.2", [], Logged) for _ in range(2)]
    try:
        interval = 0.5
        paced = LOOPBACK.model_copy(
            update={"per_host_interval": interval, "per_host_concurrency": 1}
        )

        async def go() -> None:
            async with Downloader(paced) as downloader:
                await asyncio.gather(
                    *(
                        fetch_page(downloader, f"http://127.0.0.2:{port}/p", max_bytes=10_000)
                        for port in (s.server_address[1] for s in servers)
                    )
                )

        asyncio.run(go())
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert sorted(path for _, _, path in arrivals) == ["/p", "/p", "/robots.txt", "/robots.txt"]
    for (at, port, path), (later, next_port, next_path) in itertools.pairwise(arrivals):
        cleared = path == "/robots.txt" and next_path == "/p" and next_port == port
        # Half the interval: the server may see a request a moment late on a loaded machine,
        # while a broken turn shows as two requests at once.
        assert cleared or later - at >= interval / 2, arrivals
