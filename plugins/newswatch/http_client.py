"""The one HTTP client factory, and a capped download that never trusts the server."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from newswatch.settings import Settings

MAX_REDIRECTS = 5


class FetchError(Exception):
    """A download failed; the message says why (scheme, size, network, timeout)."""


@dataclass(frozen=True)
class Download:
    status: int
    final_url: str
    headers: Mapping[str, str]
    body: bytes


def make_client(settings: Settings) -> httpx.Client:
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    return httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": settings.user_agent},
        limits=httpx.Limits(max_connections=max(settings.fetch_concurrency, 1) * 2),
    )


def download(
    client: httpx.Client, url: str, *, max_bytes: int, headers: Mapping[str, str] | None = None
) -> Download:
    """GET url, reading at most max_bytes of decoded body; 304 and errors return no body."""
    _require_http(url)
    try:
        with client.stream("GET", url, headers=headers) as response:
            _require_http(str(response.url))
            body = bytearray()
            if response.status_code == 200:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchError(f"body larger than {max_bytes} bytes")
            return Download(
                status=response.status_code,
                final_url=str(response.url),
                headers=dict(response.headers),
                body=bytes(body),
            )
    except httpx.TooManyRedirects:
        raise FetchError(f"more than {MAX_REDIRECTS} redirects") from None
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from None


def _require_http(url: str) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"refusing non-http(s) URL {url!r}")
