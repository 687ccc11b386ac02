"""Download article pages with bounded concurrency; a failed page is reported, never raised."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import httpx

from newswatch.http_client import FetchError, download
from newswatch.records import Page


def fetch_pages(
    client: httpx.Client, urls: Iterable[str], *, max_bytes: int, concurrency: int
) -> dict[str, Page]:
    """Fetch each distinct URL once, at most `concurrency` at a time; keyed by requested URL."""
    distinct = list(dict.fromkeys(urls))
    if not distinct:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(distinct)))) as pool:
        pages = pool.map(lambda url: fetch_page(client, url, max_bytes=max_bytes), distinct)
        return {page.url: page for page in pages}


def fetch_page(client: httpx.Client, url: str, *, max_bytes: int) -> Page:
    try:
        got = download(client, url, max_bytes=max_bytes, headers={"Accept": "text/html,*/*;q=0.5"})
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
