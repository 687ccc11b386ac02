"""The dashboard's FastAPI app: parse the request, run queries, render a page. Airflow mounts it."""

from __future__ import annotations

from datetime import date
from importlib import resources
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newswatch import clock, database
from newswatch.dashboard import queries, render
from newswatch.dashboard.auth import LoginRequired, login_redirect, require_airflow_viewer
from newswatch.settings import get_settings

# No script at all; styles only from our own stylesheet; framed only by Airflow's UI (same origin).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
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


def _day(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            400, f"{name}: expected a date like 2025-12-17, got {value!r}"
        ) from None


def create_app() -> FastAPI:
    """The dashboard; every page needs an Airflow login (see auth.py), the stylesheet does not."""
    app = FastAPI(
        title="newswatch dashboard",
        dependencies=[Depends(require_airflow_viewer)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_exception_handler(LoginRequired, login_redirect)
    static = resources.files("newswatch.dashboard") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    app.add_middleware(SecurityHeaders)

    @app.get("/", response_class=HTMLResponse)
    def alerts(
        topic: str | None = None,
        feed: str | None = None,
        since: str | None = None,
        until: str | None = None,
        page: int = 1,
        size: int = render.PAGE_SIZE,
    ) -> str:
        filters = queries.Filters(
            topic=topic or None,
            feed=feed or None,
            since=_day("since", since),
            until=_day("until", until),
        )
        keep = {"topic": topic, "feed": feed, "since": since, "until": until}
        pager = render.Pager.of(page, size, keep)
        with database.session_factory(get_settings())() as session:
            alerts = queries.latest_alerts(session, filters, pager.fetch, pager.offset)
            stories = queries.latest_stories(session, filters, pager.fetch, pager.offset)
            return render.page(
                "alerts.html",
                title="Alerts & stories",
                filters=filters,
                topics=queries.topic_names(session),
                feeds=queries.feed_names(session),
                alerts=alerts[: pager.size],
                stories=stories[: pager.size],
                pager=pager.after(alerts, stories),
            )

    @app.get("/chart", response_class=HTMLResponse)
    def chart(days: int = 14) -> str:
        settings = get_settings()
        zone = settings.digest_timezone
        today = clock.now().astimezone(ZoneInfo(zone)).date()
        with database.session_factory(settings)() as session:
            hits = queries.daily_hits(session, today, min(max(days, 1), 90), zone)
        return render.page(
            "chart.html", title="Hits per day", hits=hits, svg=render.chart_svg(hits)
        )

    @app.get("/feeds", response_class=HTMLResponse)
    def feeds() -> str:
        with database.session_factory(get_settings())() as session:
            rows = queries.feed_health(session)
        return render.page("feeds.html", title="Feed health", feeds=rows)

    @app.get("/search", response_class=HTMLResponse)
    def search(q: str = "", page: int = 1, size: int = render.PAGE_SIZE) -> str:
        pager = render.Pager.of(page, size, {"q": q})
        hits: list[queries.SearchHit] = []
        if q.strip():
            with database.session_factory(get_settings())() as session:
                hits = queries.search_articles(session, q, pager.fetch, offset=pager.offset)
        return render.page(
            "search.html", title="Search", q=q, hits=hits[: pager.size], pager=pager.after(hits)
        )

    return app
