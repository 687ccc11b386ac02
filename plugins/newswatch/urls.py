"""Canonical article URLs, so the same story behind different tracking links is stored once."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

import courlan


def canonical_url(url: str, base: str | None = None) -> str | None:
    """Absolute, normalised http(s) URL without tracking parameters or fragment; None if unusable."""
    url = url.strip()
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    # strict=False keeps meaningful parameters (?id=) and drops only known trackers (utm_*, fbclid).
    normalized: str = courlan.normalize_url(url, strict=False)
    return urlunsplit(urlsplit(normalized)._replace(fragment=""))
