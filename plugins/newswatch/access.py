"""Access tokens for what readers outside Airflow take away: an Atom feed per topic or
subscriber, and the read-only JSON API. A token is a random secret shown once; the store keeps
only its SHA-256, so a copy of the database opens nothing. Pure: store.tokens keeps them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

Scope = Literal["topic", "subscriber", "api"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
PREFIX = "nw_"  # so a token pasted where it should not be is recognisable (secret scanners)
TOKEN_CHARS = len(PREFIX) + 43  # 32 random bytes, URL-safe base64
LABEL_CHARS = 100  # access_tokens.label


@dataclass(frozen=True)
class Grant:
    """What one token opens: the Atom feed of one topic or subscriber, or the read API."""

    scope: Scope
    target: str | None = None  # the topic's or subscriber's name; None for the API

    def __post_init__(self) -> None:
        if (self.scope == "api") != (self.target is None):
            raise ValueError("a feed token names its topic or subscriber; an API token nothing")

    def __str__(self) -> str:
        return "read API" if self.target is None else f"{self.scope} {self.target} (Atom)"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The stored form: a token has 256 random bits, so one unsalted hash is enough."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def well_formed(token: str) -> bool:
    """Whether a presented value can be a token at all, before the store is asked."""
    return (
        len(token) == TOKEN_CHARS
        and token.startswith(PREFIX)
        and token.isascii()
        and all(c.isalnum() or c in "-_" for c in token[len(PREFIX) :])
    )
