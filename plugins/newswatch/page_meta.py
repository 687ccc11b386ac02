"""What a page says about itself in its head: title, author, date, language (pure functions).

The feed's own title, author and date come first; these fill in only what an item lacks, so
they run for few pages. trafilatura's metadata search (with_metadata) did it for every page
and cost more than a quarter of extraction on real pages (bench/extract_cost.py); the head's
meta tags hold what we store. The language is read from `<html lang>` for every page: it is
one bounded regex.
"""

from __future__ import annotations

import html
import re

from newswatch.urls import HEAD_BYTES  # what is read of a page's head: its start, bounded

# [^<>] keeps each scan linear on hostile input: a match attempt never runs past the next "<".
_META = re.compile(rb"<meta\b[^<>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    rb"""\b(name|property|itemprop|content)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""",
    re.IGNORECASE,
)
_TITLE = re.compile(rb"<title\b[^<>]*>([^<]*)<", re.IGNORECASE)
_HTML_LANG = re.compile(
    rb"<html[^>]*?\blang=[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)", re.IGNORECASE
)
TITLE_KEYS = ("og:title", "twitter:title")
AUTHOR_KEYS = ("author", "article:author", "parsely-author", "dc.creator", "sailthru.author")


def meta_tags(page: bytes) -> dict[str, str]:
    """The head's `<meta name|property|itemprop=KEY content=VALUE>` as {key (lower case): value},
    first one of each key, entities decoded."""
    found: dict[str, str] = {}
    for tag in _META.findall(page[:HEAD_BYTES]):
        values: dict[str, str] = {}
        for match in _ATTRIBUTE.finditer(tag):
            raw = next(group for group in match.groups()[1:] if group is not None)
            values[match.group(1).decode("ascii").lower()] = _text(raw)
        key = values.get("name") or values.get("property") or values.get("itemprop")
        if key and values.get("content"):
            found.setdefault(key.lower(), values["content"])
    return found


def page_title(page: bytes) -> str | None:
    """og:title or twitter:title, else `<title>`."""
    tags = meta_tags(page)
    for key in TITLE_KEYS:
        if tags.get(key):
            return tags[key]
    found = _TITLE.search(page[:HEAD_BYTES])
    return _text(found.group(1)) or None if found else None


def page_author(page: bytes) -> str | None:
    tags = meta_tags(page)
    return next((tags[key] for key in AUTHOR_KEYS if tags.get(key)), None)


def page_date(page: bytes, url: str | None) -> str | None:
    """The page's publication date as YYYY-MM-DD (htmldate: meta tags, JSON-LD, <time>, the
    URL; not its extensive search, which runs regexes over all the page's text)."""
    from htmldate import find_date

    try:
        found = find_date(page, url=url, extensive_search=False, original_date=True)
    except Exception:  # htmldate raises many types on hostile HTML; no date is the answer
        return None
    return found or None


def page_language(page: bytes) -> str | None:
    found = _HTML_LANG.search(page[:4096])
    return found.group(1).decode("ascii") if found else None


def _text(raw: bytes) -> str:
    return " ".join(html.unescape(raw.decode("utf-8", "replace")).split())
