"""Every query parameter of the dashboard, the Atom feeds and the read API, checked once: bounded,
valid UTF-8, no control characters, and parsed into numbers, names and days with a 400 that says
what is wrong."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, TypeVar
from urllib.parse import unquote_to_bytes

from fastapi import Depends, HTTPException, Request, status

from newswatch.config.models import FEED_NAME_CHARS, TOPIC_NAME_CHARS
from newswatch.dashboard import render
from newswatch.store.reads import Filters
from newswatch.unsubscribe import MAX_TOKEN_CHARS

# Longest value of any parameter (the search has its own, smaller limits in store/search.py);
# an unsubscribe token names an address and a subscriber, and may be longer.
MAX_PARAMETER_CHARS = 1000
LONGER_PARAMETERS = {"token": MAX_TOKEN_CHARS}
MAX_NAME_CHARS = max(FEED_NAME_CHARS, TOPIC_NAME_CHARS)  # the store holds no longer name
T = TypeVar("T", bound=str)
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def refuse(message: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, message)


def shown(value: str) -> str:
    """A request value quoted for a message, cut short (the page escapes it)."""
    return repr(value if len(value) <= 40 else value[:40] + "…")


def check_parameters(request: Request) -> None:
    """Every parameter of every page, before any page reads it: valid UTF-8 once percent-decoded,
    no control characters (PostgreSQL refuses NUL in text), at most MAX_PARAMETER_CHARS."""
    for pair in request.scope.get("query_string", b"").split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = _parameter("a query parameter's name", raw_name)
        _parameter(shown(name), raw_value, LONGER_PARAMETERS.get(name, MAX_PARAMETER_CHARS))


def _parameter(label: str, raw: bytes, limit: int = MAX_PARAMETER_CHARS) -> str:
    """One name or value of the query string, decoded, or a 400 saying what is wrong with it."""
    try:
        value = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise refuse(f"{label}: not valid UTF-8") from None
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise refuse(f"{label}: holds a control character")
    if len(value) > limit:
        raise refuse(f"{label}: longer than {limit} characters")
    return value


def whole(name: str, value: str | None, default: int, low: int, high: int) -> int:
    """A whole number from low to high; absent or empty gives the default."""
    if not value:
        return default
    if value.isascii() and value.isdigit() and len(value) <= len(str(high)):
        if low <= (number := int(value)) <= high:
            return number
    raise refuse(f"{name}: expected a whole number from {low} to {high}, got {shown(value)}")


def short_name(name: str, value: str | None) -> str | None:
    if value and len(value) > MAX_NAME_CHARS:
        raise refuse(f"{name}: at most {MAX_NAME_CHARS} characters, got {len(value)}")
    return value or None


def day(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise refuse(
            f"{name}: expected a date like 2025-12-17 (from {FIRST_DAY} to {LAST_DAY}), "
            f"got {shown(value)}"
        )
    return day


def choice(name: str, value: str | None, allowed: tuple[T, ...]) -> T:
    """One of `allowed` (the first when absent or empty)."""
    if not value:
        return allowed[0]
    for option in allowed:
        if value == option:
            return option
    raise refuse(f"{name}: expected one of {', '.join(map(str, allowed))}, got {shown(value)}")


def flag(name: str, value: str | None) -> bool:
    """A checkbox: absent or empty is off, "1" (what the form sends) is on."""
    if value in (None, "", "0"):
        return False
    if value == "1":
        return True
    raise refuse(f"{name}: expected 1 or nothing, got {shown(value)}")


def refusal(exc: Exception) -> str:
    """What a refused request is told: a validation error as `name: what is wrong` per
    parameter, never FastAPI's repr of it (which holds the server's file paths)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for error in errors():
        where = [str(part) for part in error.get("loc", ()) if part not in ("path", "query")]
        parts.append(f"{'.'.join(where) or 'request'}: {error.get('msg', 'not valid')}")
    return "; ".join(parts) or "the request is not valid"


def filters(
    topic: str | None = None,
    feed: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Filters:
    """A listing's filters: names bounded, days parsed, each refused with a 400 saying why."""
    return Filters(
        topic=short_name("topic", topic),
        feed=short_name("feed", feed),
        since=day("since", since),
        until=day("until", until),
    )


def pager(
    page: str | None, size: str | None, keep: dict[str, str | None] | None = None
) -> render.Pager:
    """Which page of a listing, its links keeping the `keep` filters."""
    return render.Pager.of(
        whole("page", page, 1, 1, render.MAX_PAGE),
        whole("size", size, render.PAGE_SIZE, 1, render.MAX_PAGE_SIZE),
        keep or {},
    )


def in_airflow(request: Request) -> bool:
    """Whether the page is shown inside Airflow's UI (its plugin view frames it): then Airflow's
    own header is above it and ours would be a second one."""
    return request.headers.get("sec-fetch-dest") == "iframe"


InAirflow = Annotated[bool, Depends(in_airflow)]
