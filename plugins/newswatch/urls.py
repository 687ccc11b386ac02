"""Canonical article URLs, so the same story behind different tracking links is stored once."""

from __future__ import annotations

import html
import re
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


HEAD_BYTES = 256 * 1024  # a canonical link belongs in <head>; never scan a whole page for it
_LINK_TAG = re.compile(rb"<link\b[^<>]*>", re.IGNORECASE)
_REL_CANONICAL = re.compile(rb"""\brel\s*=\s*["']?\s*canonical\b""", re.IGNORECASE)
_HREF = re.compile(rb"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_SAME_SITE_PREFIXES = ("www.", "m.", "amp.", "mobile.")


def page_canonical(page: bytes, page_url: str) -> str | None:
    """The page's `<link rel="canonical">` in canonical form, when it points into the same site.

    A page may only rename itself within its own host (ignoring www., m., amp., mobile.): a
    canonical link to another host would let any page claim another outlet's article.
    """
    for tag in _LINK_TAG.findall(page[:HEAD_BYTES]):
        href = _HREF.search(tag)
        if not _REL_CANONICAL.search(tag) or href is None:
            continue
        raw = next(group for group in href.groups() if group is not None)
        found = canonical_url(html.unescape(raw.decode("utf-8", "replace")), page_url)
        if found and _site(found) == _site(page_url):
            return found
        return None
    return None


def _site(url: str) -> str:
    host = (urlsplit(url).hostname or "").rstrip(".")
    for prefix in _SAME_SITE_PREFIXES:
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host
