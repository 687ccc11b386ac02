"""The dashboard's FastAPI app: parse the request, run queries, render a page. Airflow mounts it."""

from __future__ import annotations

from importlib import resources
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newswatch import clock
from newswatch.dashboard import params, render
from newswatch.dashboard.api import PREFIX as API_PREFIX
from newswatch.dashboard.api import create_api
from newswatch.dashboard.auth import LoginRequired, login_redirect, require_airflow_viewer
from newswatch.dashboard.outputs import FeedRefused, atom_feeds, plain_refusal
from newswatch.dashboard.rules import rule_pages
from newswatch.settings import get_settings
from newswatch.store import db, readers, reads, story_pages
from newswatch.store.search import (
    MAX_SEARCH_CHARS,
    SearchHit,
    SearchRefused,
    check_search,
    search_articles,
)
from newswatch.unsubscribe import BadToken, Unsubscription, verify

# Scripts and styles only from our own files (no inline script, no eval); the rule editor's script
# may fetch its preview from us; framed only by Airflow's UI (same origin).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'self'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every response (pages, errors, the stylesheet)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


MAX_CHART_DAYS = 90
MAX_ID = 2**63 - 1  # stories.id is a bigint


def _error_page(
    request: Request, code: int, message: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    title = {400: "Bad request", 404: "Not found", 503: "Try again later"}.get(code, "Error")
    body = render.page(
        "error.html", title=title, code=code, message=message, embedded=params.in_airflow(request)
    )
    return HTMLResponse(body, status_code=code, headers=headers)


def _unsubscribe_page(
    state: str, asked: Unsubscription | None = None, token: str = "", message: str = ""
) -> HTMLResponse:
    code = status.HTTP_400_BAD_REQUEST if asked is None else status.HTTP_200_OK
    body = render.page(
        "unsubscribe.html",
        title="Unsubscribe",
        state=state,
        token=token,
        code=code,
        message=message,
        who=render.masked_reader(asked.reader) if asked else "",
        what=render.subscription_label(asked.subscription) if asked else "",
    )
    # A reader's own page: no shared cache may keep it.
    return HTMLResponse(body, status_code=code, headers={"Cache-Control": "no-store"})


def bad_token(request: Request, exc: Exception) -> HTMLResponse:
    """A malformed, forged or expired unsubscribe link: a 400 page saying which."""
    return _unsubscribe_page("refused", message=str(exc))


def http_error(request: Request, exc: Exception) -> HTMLResponse:
    """An HTML page for every refused request (400, 403, 404 …), saying why."""
    assert isinstance(exc, StarletteHTTPException)
    return _error_page(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))


def bad_parameter(request: Request, exc: Exception) -> HTMLResponse:
    return _error_page(request, status.HTTP_400_BAD_REQUEST, params.refusal(exc))


def read_timed_out(request: Request, exc: Exception) -> HTMLResponse:
    """A read cut by the statement timeout: the page, not the server, is at fault; no 500."""
    return _error_page(
        request,
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"{exc} Narrow the filters or the search, or try again later.",
        {"Retry-After": "30"},
    )


def create_app() -> FastAPI:
    """The dashboard: every page needs an Airflow login (see auth.py); the unsubscribe link,
    whose token is its own authority, and the stylesheet do not."""
    app = FastAPI(
        title="newswatch dashboard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_exception_handler(LoginRequired, login_redirect)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_parameter)
    app.add_exception_handler(SearchRefused, bad_parameter)
    app.add_exception_handler(db.ReadTimedOut, read_timed_out)
    app.add_exception_handler(BadToken, bad_token)
    app.add_exception_handler(FeedRefused, plain_refusal)
    static = resources.files("newswatch.dashboard") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    app.add_middleware(SecurityHeaders)
    # Routes are copied when included, so each router is complete before it is.
    app.include_router(pages())
    app.include_router(unsubscribe_pages())
    app.include_router(atom_feeds())
    app.mount(API_PREFIX, create_api())
    return app


def pages() -> APIRouter:
    """The dashboard's pages, each behind Airflow's login."""
    router = APIRouter(
        # Login first: a stranger is sent to log in whatever the parameters say.
        dependencies=[Depends(require_airflow_viewer), Depends(params.check_parameters)],
    )

    @router.get("/", response_class=HTMLResponse)
    def stories(
        framed: params.InAirflow,
        topic: str | None = None,
        feed: str | None = None,
        since: str | None = None,
        until: str | None = None,
        order: str | None = None,
        unmatched: str | None = None,
        page: str | None = None,
        size: str | None = None,
    ) -> str:
        filters = params.filters(topic, feed, since, until)
        ordered = params.choice("order", order, story_pages.ORDERS)
        also_unmatched = params.flag("unmatched", unmatched)
        keep = {
            "topic": topic,
            "feed": feed,
            "since": since,
            "until": until,
            "order": order if ordered != "newest" else None,
            "unmatched": "1" if also_unmatched else None,
        }
        pager = params.pager(page, size, keep)
        settings = get_settings()
        with db.read(settings) as session:
            rows = story_pages.story_list(
                session,
                filters,
                ordered,
                pager.fetch,
                pager.offset,
                also_unmatched,
                settings.digest_timezone,
            )
            return render.page(
                "stories.html",
                title="Stories",
                embedded=framed,
                zone=settings.digest_timezone,
                filters=filters,
                order=ordered,
                unmatched=also_unmatched,
                topics=reads.topic_labels(session),
                feeds=reads.feed_names(session),
                stories=rows[: pager.size],
                pager=pager.after(rows),
            )

    @router.get("/story", response_class=HTMLResponse)
    def story(framed: params.InAirflow, id: str | None = None) -> str:  # noqa: A002 (the page's ?id=)
        if not id:
            raise params.refuse("id: which story? (a story's page is story?id=N)")
        story_id = params.whole("id", id, 0, 1, MAX_ID)
        settings = get_settings()
        with db.read(settings) as session:
            found = story_pages.story_page(session, story_id)
            titles = dict(reads.topic_labels(session))
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no story {story_id}")
        return render.page(
            "story.html",
            title=found.story.title or "(untitled)",
            embedded=framed,
            zone=settings.digest_timezone,
            page=found,
            titles=titles,
        )

    @router.get("/chart", response_class=HTMLResponse)
    def chart(framed: params.InAirflow, days: str | None = None) -> str:
        settings = get_settings()
        zone = settings.digest_timezone
        today = clock.now().astimezone(ZoneInfo(zone)).date()
        span = params.whole("days", days, 14, 1, MAX_CHART_DAYS)
        with db.read(settings) as session:
            hits = reads.daily_hits(session, today, span, zone)
        return render.page(
            "chart.html",
            title="Hits per day",
            embedded=framed,
            hits=hits,
            svg=render.chart_svg(hits),
        )

    @router.get("/feeds", response_class=HTMLResponse)
    def feeds(framed: params.InAirflow) -> str:
        with db.read(get_settings()) as session:
            rows = reads.feed_health(session)
        return render.page("feeds.html", title="Feed health", embedded=framed, feeds=rows)

    @router.get("/search", response_class=HTMLResponse)
    def search(
        framed: params.InAirflow,
        q: str = "",
        topic: str | None = None,
        since: str | None = None,
        until: str | None = None,
        page: str | None = None,
        size: str | None = None,
    ) -> str:
        keep = {"q": q, "topic": topic, "since": since, "until": until}
        filters = params.filters(topic, since=since, until=until)
        pager = params.pager(page, size, keep)
        hits: list[SearchHit] = []
        if q.strip():
            check_search(q)  # refused before a connection is taken
        with db.read(get_settings()) as session:
            if q.strip():
                hits = search_articles(
                    session,
                    q,
                    pager.fetch,
                    offset=pager.offset,
                    topic=filters.topic,
                    since=reads.day_start(filters.since),
                    until=reads.day_start(filters.until, after=True),
                    one_per_story=True,
                )
            topics = reads.topic_labels(session)
        return render.page(
            "search.html",
            title="Search",
            embedded=framed,
            zone=get_settings().digest_timezone,
            q=q,
            filters=filters,
            topics=topics,
            max_chars=MAX_SEARCH_CHARS,
            hits=hits[: pager.size],
            pager=pager.after(hits),
        )

    router.include_router(rule_pages())
    return router


def unsubscribe_pages() -> APIRouter:
    """The one-click unsubscribe link of every message (RFC 8058), answered without a login:
    the signed token names the reader and the subscription, and nothing else is needed."""
    router = APIRouter(dependencies=[Depends(params.check_parameters)])

    @router.get("/unsubscribe", response_class=HTMLResponse)
    def confirm_unsubscribe(token: str = "") -> HTMLResponse:
        """Ask first: link checkers and mail scanners follow every link in a message."""
        with db.read(get_settings()) as session:
            asked = verify(readers.secret(session), token, clock.now())
            left = readers.unsubscribed(session, asked.reader, asked.subscription)
        return _unsubscribe_page("already" if left else "confirm", asked, token)

    @router.post("/unsubscribe", response_class=HTMLResponse)
    def unsubscribe(token: str = "") -> HTMLResponse:
        """The mail client's one-click POST (body List-Unsubscribe=One-Click) and the page's
        button alike; the token is the authority, so the body is not read."""
        now = clock.now()
        with db.transaction(db.session_factory(get_settings())) as session:
            asked = verify(readers.secret(session), token, now)
            new = readers.unsubscribe(session, asked.reader, asked.subscription, now)
        return _unsubscribe_page("done" if new else "already", asked, token)

    return router
