"""Signed, expiring one-click unsubscribe tokens (RFC 8058), pure.

A token names a reader (store.readers key) and a subscription ("alerts", or "digest:<name>")
and carries its expiry; an HMAC-SHA256 over them with the store's secret (migration 0017) means
nobody can unsubscribe another reader by editing a link. The dashboard answers the link without
an Airflow login, so the token is the only authority it needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

ALERTS = "alerts"
TOKEN_DAYS = 90  # a link in a three-month-old message still works
MAX_TOKEN_CHARS = 2000
MAX_EXPIRY = 2**36  # seconds since 1970: beyond the year 4000


def digest_subscription(subscriber: str) -> str:
    return f"digest:{subscriber}"


@dataclass(frozen=True)
class Unsubscription:
    """What a valid token asks for."""

    reader: str
    subscription: str
    expires: datetime


class BadToken(ValueError):
    """A token that is malformed, forged or expired; the message says which, for the page."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode("ascii"), hashlib.sha256).digest()
    return _b64(digest)


def sign(secret: str, reader: str, subscription: str, now: datetime) -> str:
    """A token for `reader` to leave `subscription`, valid for TOKEN_DAYS from `now`."""
    expires = int((now + timedelta(days=TOKEN_DAYS)).timestamp())
    payload = _b64(json.dumps([reader, subscription, expires], ensure_ascii=False).encode())
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: str, token: str, now: datetime) -> Unsubscription:
    """What the token asks for; BadToken when it is malformed, forged or expired."""
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise BadToken("This unsubscribe link is not one newswatch made.")
    payload, _, mac = token.partition(".")
    if not hmac.compare_digest(mac.encode(), _mac(secret, payload).encode()):
        raise BadToken("This unsubscribe link is not one newswatch made, or was cut short.")
    try:
        reader, subscription, expires = json.loads(_unb64(payload))
        seconds = int(expires)
        if not 0 < seconds < MAX_EXPIRY:  # fromtimestamp raises OSError past the platform's range
            raise ValueError(expires)
        when = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, TypeError, OverflowError, OSError):
        raise BadToken("This unsubscribe link is not one newswatch made.") from None
    if not (isinstance(reader, str) and isinstance(subscription, str)):
        raise BadToken("This unsubscribe link is not one newswatch made.")
    if when <= now:
        raise BadToken(
            "This unsubscribe link has expired. Use the link in a newer message, "
            "or ask the newswatch operator."
        )
    return Unsubscription(reader, subscription, when)


def unsubscribe_url(public_url: str, token: str) -> str:
    """The one-click URL the dashboard answers (dashboard/app.py: /unsubscribe)."""
    return f"{public_url.rstrip('/')}/unsubscribe?token={quote(token)}"
