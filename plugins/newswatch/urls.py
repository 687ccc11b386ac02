"""Canonical article URLs, so the same story behind different tracking links is stored once."""

from __future__ import annotations

import functools
import html
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import courlan
import httpx

from newswatch.sanitize import URL_CHARS

_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_NOT_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f\\\ud800-\udfff]")


@dataclass(frozen=True)
class ParsedUrl:
    """A URL from the outside, parsed once: its canonical form, or why it was refused."""

    url: str | None
    refused: str | None = None


def parse_url(url: str, base: str | None = None) -> ParsedUrl:
    """Absolute, normalised http(s) URL without tracking parameters or fragment, or the reason
    it cannot be fetched (scheme, host, port, length, characters, a form httpx refuses)."""
    if not isinstance(url, str) or not isinstance(base, str | None):
        return ParsedUrl(None, "no URL")
    return _parse_url(url, base)


# A page's URL is checked when it is requested, when its robots.txt is asked, and as the URL it
# was answered from: ~60 µs each, 5 % of the downloading process's CPU (py-spy, N = 1,000
# pages), so the answer is kept.
@functools.lru_cache(maxsize=4096)
def _parse_url(url: str, base: str | None) -> ParsedUrl:
    raw = url.strip()
    if not raw:
        return ParsedUrl(None, "no URL")
    if len(raw) > URL_CHARS:
        return ParsedUrl(None, f"URL longer than {URL_CHARS} characters")
    try:
        # A space in a link is common and harmless: encode it as browsers do.
        absolute = (urljoin(base, raw) if base else raw).replace(" ", "%20")
        parts = urlsplit(absolute)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as exc:
        return ParsedUrl(None, f"unreadable URL: {exc}")
    if parts.scheme not in ("http", "https"):
        return ParsedUrl(None, f"non-http(s) URL {raw[:100]!r}")
    if not parts.hostname:
        return ParsedUrl(None, "URL without a host")
    if _NOT_IN_URL.search(absolute):
        return ParsedUrl(None, "URL with spaces or control characters")
    reason = _host_refusal(parts.hostname)
    if reason:
        return ParsedUrl(None, reason)
    if port == 0:
        return ParsedUrl(None, "URL with port 0")
    # strict=False keeps meaningful parameters (?id=) and drops only known trackers (utm_*, fbclid).
    try:
        normalized: str = courlan.normalize_url(absolute, strict=False)
        canonical = urlunsplit(urlsplit(normalized)._replace(fragment=""))
        httpx.URL(canonical)  # what the downloader will parse: refuse here what it would refuse
    except (ValueError, httpx.InvalidURL) as exc:
        return ParsedUrl(None, f"unreadable URL: {exc}")
    if len(canonical) > URL_CHARS:
        return ParsedUrl(None, f"URL longer than {URL_CHARS} characters")
    return ParsedUrl(canonical)


def _host_refusal(host: str) -> str | None:
    """Why a host name is not one DNS could answer for (an IP literal or LDH labels), or None."""
    host = host.rstrip(".")
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return f"invalid host name {host[:100]!r}"
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return f"invalid host name {host[:100]!r}"
    if labels[-1].isdigit():  # 0177.0.0.1, 1.2.3: numeric forms that are not a plain IPv4
        return f"ambiguous numeric host {host[:100]!r}"
    return None


def canonical_url(url: str, base: str | None = None) -> str | None:
    """parse_url's URL, or None when it is refused."""
    return parse_url(url, base).url


def address_key(url: str) -> str:
    """Where two spellings of one address meet (a feed's, say): its canonical form (lower-case
    host, no trackers), with repeated slashes and a trailing slash dropped from its path."""
    parts = urlsplit(canonical_url(url) or url)
    return urlunsplit(parts._replace(path=re.sub(r"/{2,}", "/", parts.path).rstrip("/")))


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
