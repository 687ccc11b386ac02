"""Signed JSON webhooks: one POST per message to the URL in the variable a subscriber's
`webhook_env` names, signed with the secret in `<name>_SECRET`; both are read at send time, so
neither is stored in the database or in topics.yaml.

The signature is Stripe's scheme: `X-Newswatch-Signature: sha256=<hex>`, the HMAC-SHA256 of
"<X-Newswatch-Timestamp>.<body>", so a receiver that checks the timestamp against its clock
(verify_signature) refuses a replay outside its window. A 2xx is delivered; a 408, a 429, a
5xx or no answer (refused, timed out, address refused by the guard) raises ChannelError and is
retried with the outbox's backoff; any other answer, redirects included (never followed: the
signed body would go where the operator did not send it), raises Undeliverable and fails at once.
Neither the URL (it may carry a token) nor the secret is ever put in an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from newswatch.delivery.channels import ChannelError
from newswatch.delivery.messages.webhook import body_bytes
from newswatch.delivery.transports import Undeliverable
from newswatch.sanitize import clean_line
from newswatch.settings import Settings

SIGNATURE_HEADER = "X-Newswatch-Signature"
TIMESTAMP_HEADER = "X-Newswatch-Timestamp"
SECRET_SUFFIX = "_SECRET"
MIN_SECRET_CHARS = 32  # secrets.token_urlsafe(32) gives 43
REPLAY_WINDOW = 300
RETRIED = frozenset({408, 429})  # and every 5xx
ANSWER_CHARS = 300  # of the receiver's answer, kept in last_error


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Newswatch-Signature value of `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str, timestamp: str, body: bytes, header: str, now: float, window: int = REPLAY_WINDOW
) -> bool:
    """A receiver's check, pure: the signature is ours for this body and timestamp, and the
    timestamp is within `window` seconds of `now` (either way), so a replay is refused."""
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        return False
    if not abs(now - int(timestamp)) <= window:  # written so, a NaN clock is refused too
        return False
    expected = signature(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


def post(settings: Settings, channel: str, env: str, event: dict[str, Any], now: datetime) -> None:
    """POST the event, signed, to the URL in the variable `env`; ChannelError to retry later,
    Undeliverable when this message can never go there."""
    url = os.environ.get(env, "").strip()
    if not url:
        raise ChannelError(f"{channel}: environment variable {env} is not set")
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # "http://[::1": an unbalanced bracket, a bad port
        usable = False
    if not usable:
        raise ChannelError(f"{channel}: {env} does not hold an http(s) URL")
    secret = os.environ.get(env + SECRET_SUFFIX, "")
    if len(secret) < MIN_SECRET_CHARS or not _encodable(secret):
        said = (
            "is not set"
            if not secret
            else f"is shorter than {MIN_SECRET_CHARS} characters"
            if len(secret) < MIN_SECRET_CHARS
            else "is not valid UTF-8"
        )
        raise ChannelError(
            f"{channel}: environment variable {env}{SECRET_SUFFIX} (the signing secret) {said}"
        )
    body = body_bytes(event)
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        "Idempotency-Key": str(event["idempotency_key"]),
    }
    try:
        status, answer = asyncio.run(_post(settings, url, body, headers))
    except Exception as exc:  # httpx's, the guard's, the deadline's: none is this message's fault
        reason = _scrubbed(f"{type(exc).__name__}: {exc}", url, secret)
        raise ChannelError(f"{channel}: POST to {env} failed: {reason}") from None
    if 200 <= status < 300:
        return
    said = f"{channel}: {env} answered HTTP {status}"
    if 300 <= status < 400:
        said += " (a redirect, not followed: set the URL it points to)"
    elif answer := _scrubbed(answer, url, secret):
        said += f": {answer}"
    if status in RETRIED or status >= 500:
        raise ChannelError(said)
    raise Undeliverable(said)


async def _post(
    settings: Settings, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    """The status and the start of the answer, within the whole-request deadline."""
    from newswatch.http_client import make_client

    async with make_client(settings) as client, asyncio.timeout(settings.total_timeout):
        request = client.stream("POST", url, content=body, headers=headers, follow_redirects=False)
        async with request as response:
            if 200 <= response.status_code < 300:
                return response.status_code, ""  # delivered: its body is not waited for
            answer = b""
            async for chunk in response.aiter_bytes():
                answer += chunk
                if len(answer) >= ANSWER_CHARS:
                    break
            return response.status_code, answer[:ANSWER_CHARS].decode("utf-8", "replace")


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # an environment value that is not UTF-8 (surrogateescape)
        return False
    return True


def _scrubbed(text: str, url: str, secret: str) -> str:
    """One bounded line of `text` without the URL or the secret in it."""
    for hidden in (url, secret):
        if hidden:
            text = text.replace(hidden, "…")
    return clean_line(text, ANSWER_CHARS)
