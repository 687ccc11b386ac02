"""Download one article page under the downloader's limits; a failure is reported, never raised."""

from __future__ import annotations

from newswatch.http_client import Downloader, FetchError
from newswatch.records import Page


async def fetch_page(downloader: Downloader, url: str, *, max_bytes: int) -> Page:
    """The page at url, or a Page saying why not (robots.txt, the network, the status)."""
    try:
        refusal = await downloader.robots_refusal(url)
        if refusal:
            return Page(url=url, final_url=None, status=None, html=None, error=refusal)
        got = await downloader.get(
            url, max_bytes=max_bytes, headers={"Accept": "text/html,*/*;q=0.5"}
        )
    except FetchError as exc:
        return Page(url=url, final_url=None, status=None, html=None, error=str(exc))
    if got.status != 200:
        return Page(
            url=url,
            final_url=got.final_url,
            status=got.status,
            html=None,
            error=f"HTTP {got.status}",
        )
    return Page(url=url, final_url=got.final_url, status=200, html=got.body)
