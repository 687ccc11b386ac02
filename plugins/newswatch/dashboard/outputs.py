"""The Atom feeds a feed reader follows without an Airflow login: one per topic and one per
subscriber, each opened by its own token in the URL (`newswatch tokens create`), answered with
an ETag and Last-Modified so a reader polling every few minutes mostly gets a 304."""

from __future__ import annotations

import hashlib
from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import PlainTextResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from newswatch import access, clock, models
from newswatch.config.load import ConfigError, load_config
from newswatch.dashboard import atom, params
from newswatch.settings import Settings, get_settings
from newswatch.store import db, published, tokens

ATOM_TYPE = "application/atom+xml; charset=utf-8"
# The feed's URL holds its token: no shared cache may keep it, and a reader asks each time.
CACHE_CONTROL = "private, no-cache"


class FeedRefused(HTTPException):
    """A feed request refused: answered in plain text, which a feed reader shows as it is."""


def plain_refusal(request: Request, exc: Exception) -> PlainTextResponse:
    assert isinstance(exc, HTTPException)
    return PlainTextResponse(
        f"{exc.detail}\n", status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


def make_command(grant: access.Grant) -> str:
    return "newswatch tokens create " + (
        grant.scope if grant.target is None else f"{grant.scope} {grant.target}"
    )


def check_token(
    session: Session, token: str, wanted: access.Grant, refused: type[HTTPException] = FeedRefused
) -> tokens.TokenRow:
    """The live token that opens `wanted`, or a 401 (none given) or 403 (any other)."""
    if not token:
        raise refused(
            status.HTTP_401_UNAUTHORIZED,
            f"the {wanted} needs its token: make one with `{make_command(wanted)}`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    row = tokens.holder(session, token)
    if row is None or row.grant != wanted:
        raise refused(
            status.HTTP_403_FORBIDDEN,
            f"this token does not open the {wanted}: unknown, revoked, or made for another",
        )
    return row


def record_use(settings: Settings, row: tokens.TokenRow) -> None:
    """Note the token's use; a feed reader polling every few minutes costs no write each time."""
    now = clock.now()
    if row.last_used_at is not None and row.last_used_at >= now - tokens.TOUCH_EVERY:
        return
    with db.transaction(db.session_factory(settings)) as session:
        tokens.touch(session, row.id, now)


def atom_feeds() -> APIRouter:
    router = APIRouter(dependencies=[Depends(params.check_parameters)])

    # HEAD too: feed validators and some readers probe with it.
    @router.api_route("/feeds/topic/{name}.atom", methods=["GET", "HEAD"])
    def topic_feed(name: str, request: Request, token: str = "") -> Response:
        """The newest stories that hit one topic."""
        settings = get_settings()
        with db.read(settings) as session:
            row = check_token(session, token, access.Grant("topic", name))
            # A topic gone from topics.yaml stays in the store, disabled: its feed is gone too.
            title = session.scalar(
                select(models.Topic.title).where(models.Topic.name == name, models.Topic.enabled)
            )
            if title is None:
                raise FeedRefused(status.HTTP_404_NOT_FOUND, f"no topic {params.shown(name)}")
            head = atom.FeedHead(
                key=f"topic:{name}",
                title=f"newswatch · {title}",
                subtitle=f"Stories that hit {title}, newest first",
                self_url=_url(settings, f"/feeds/topic/{quote(name)}.atom", token=token),
                alternate_url=_url(settings, "/", topic=name),
            )
            body, updated = _feed(session, head, [name])
        record_use(settings, row)
        return _answer(request, body, updated)

    @router.api_route("/feeds/subscriber/{name}.atom", methods=["GET", "HEAD"])
    def subscriber_feed(name: str, request: Request, token: str = "") -> Response:
        """The newest stories that hit a subscriber's topics, as topics.yaml has them now."""
        settings = get_settings()
        with db.read(settings) as session:
            row = check_token(session, token, access.Grant("subscriber", name))
            follows = _subscriber_topics(settings, name)
            head = atom.FeedHead(
                key=f"subscriber:{name}",
                title=f"newswatch · {name}",
                subtitle=f"Stories for {name}, newest first",
                self_url=_url(settings, f"/feeds/subscriber/{quote(name)}.atom", token=token),
                alternate_url=_url(settings, "/"),
            )
            body, updated = _feed(session, head, follows or None)
        record_use(settings, row)
        return _answer(request, body, updated)

    return router


def _subscriber_topics(settings: Settings, name: str) -> list[str]:
    """The subscriber's topics (empty: every topic); a 404 when topics.yaml no longer has
    them, a 503 while it cannot be read."""
    try:
        config = load_config(settings.config_dir)
    except ConfigError as exc:
        raise FeedRefused(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the config cannot be read, so the subscriber's topics are unknown: {exc}",
            headers={"Retry-After": "300"},
        ) from None
    for sub in config.subscribers:
        if sub.name == name:
            return list(sub.topics)
    raise FeedRefused(status.HTTP_404_NOT_FOUND, f"no subscriber {params.shown(name)}")


def _feed(session: Session, head: atom.FeedHead, topics: list[str] | None) -> tuple[bytes, str]:
    stories = published.feed_stories(session, topics)
    body = atom.render_atom(head, stories, tokens.installation(session))
    return body, format_datetime(atom.updated(stories).astimezone(UTC), usegmt=True)


def _url(settings: Settings, path: str, **query: str) -> str | None:
    """An absolute link to a page of ours, when NEWSWATCH_PUBLIC_URL says where we are."""
    if not settings.public_url:
        return None
    wanted = urlencode({k: v for k, v in query.items() if v})
    return settings.public_url.rstrip("/") + path + (f"?{wanted}" if wanted else "")


def _answer(request: Request, body: bytes, last_modified: str) -> Response:
    """The feed, or a 304 when the reader's copy is current (RFC 9110: If-None-Match first)."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Last-Modified": last_modified, "Cache-Control": CACHE_CONTROL}
    if _not_modified(request, etag, last_modified):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(body, media_type=ATOM_TYPE, headers=headers)


def _not_modified(request: Request, etag: str, last_modified: str) -> bool:
    if (match := request.headers.get("if-none-match")) is not None:
        given = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return etag in given or "*" in given
    if (since := request.headers.get("if-modified-since")) is not None:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
    return False
