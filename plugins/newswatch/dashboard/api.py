"""The read-only JSON API beside the dashboard: stories, alerts, matches, feed health and
search, with the dashboard's filters, paging, limits and statement timeout, opened by an API
token (`newswatch tokens create api`) as `Authorization: Bearer …`. Its OpenAPI description is
at /api/v1/openapi.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from newswatch import access
from newswatch.dashboard import params, render
from newswatch.dashboard.outputs import check_token, record_use
from newswatch.records import StoryView
from newswatch.settings import get_settings
from newswatch.store import db, published, reads
from newswatch.store.search import (
    MARK_END,
    MARK_START,
    SearchRefused,
    check_search,
    search_articles,
)

PREFIX = "/api/v1"
T = TypeVar("T")
API = access.Grant("api")
bearer = HTTPBearer(auto_error=False, description="an API token from `newswatch tokens create api`")


class ErrorDetail(BaseModel):
    status: int
    message: str


class ErrorBody(BaseModel):
    """Every refusal: a 400 for a bad parameter, 401 without a token, 403 for a token that does
    not open the API, 404 for an unknown story, 503 for a read cut by the statement timeout."""

    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": what}
    for code, what in [
        (400, "a parameter is refused; the message names it"),
        (401, "no API token"),
        (403, "the token is unknown, revoked or opens only an Atom feed"),
        (503, "the read took longer than the statement timeout"),
    ]
}


class Page(BaseModel, Generic[T]):
    """One page of a listing, newest (or best) first; `next` is the next page's path, or null."""

    items: list[T]
    page: int
    size: int
    next: str | None


@dataclass(frozen=True)
class SearchResult:
    """A search hit: `headline` is plain text, `marks` the [start, end) spans of the hits in it."""

    id: int
    title: str
    url: str
    feed: str
    at: str
    rank: float
    headline: str
    marks: list[tuple[int, int]]


def require_api_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    if credentials is None and "token" in request.query_params:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send the API token as the header `Authorization: Bearer nw_…`, not in the URL",
            headers={"WWW-Authenticate": "Bearer"},
        )
    settings = get_settings()
    with db.read(settings) as session:
        given = credentials.credentials if credentials else ""
        row = check_token(session, given, API, HTTPException)
    record_use(settings, row)


def error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        {"error": {"status": exc.status_code, "message": str(exc.detail)}},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def bad_request(request: Request, exc: Exception) -> JSONResponse:
    return error(request, HTTPException(status.HTTP_400_BAD_REQUEST, params.refusal(exc)))


def timed_out(request: Request, exc: Exception) -> JSONResponse:
    return error(
        request,
        HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"{exc} Narrow the filters or the search, or try again later.",
            headers={"Retry-After": "30"},
        ),
    )


@dataclass(frozen=True)
class Listing:
    """A listing's filters and page, from the dashboard's parameters."""

    filters: reads.Filters
    pager: render.Pager


def listing(
    topic: str | None = None,
    feed: str | None = None,
    since: str | None = None,
    until: str | None = None,
    page: str | None = None,
    size: str | None = None,
) -> Listing:
    """`since` and `until` are days (2025-12-17), inclusive, of the article's date in UTC."""
    return Listing(params.filters(topic, feed, since, until), params.pager(page, size))


ListingQuery = Annotated[Listing, Depends(listing)]


def _page(request: Request, rows: list[T], pager: render.Pager) -> Page[T]:
    """The page's rows and the path of the next one, keeping every other parameter."""
    following = None
    if len(rows) > pager.size and pager.number < render.MAX_PAGE:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        query = urlencode([*kept, ("page", str(pager.number + 1))])
        following = f"{request.url.path}?{query}"
    return Page[T](items=rows[: pager.size], page=pager.number, size=pager.size, next=following)


def _marks(headline: str) -> tuple[str, list[tuple[int, int]]]:
    """ts_headline's marked fragment as plain text and the spans of its marks."""
    text: list[str] = []
    spans: list[tuple[int, int]] = []
    at, start = 0, None
    for char in headline:
        if char == MARK_START:
            start = at
        elif char == MARK_END:
            if start is not None:
                spans.append((start, at))
            start = None
        else:
            text.append(char)
            at += 1
    return "".join(text), spans


def create_api() -> FastAPI:
    api = FastAPI(
        title="newswatch read API",
        version="1",
        description=__doc__,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        responses=ERRORS,
        # The token first: a stranger learns nothing from which parameters are refused.
        dependencies=[Depends(require_api_token), Depends(params.check_parameters)],
    )
    api.add_exception_handler(StarletteHTTPException, error)
    api.add_exception_handler(RequestValidationError, bad_request)
    api.add_exception_handler(SearchRefused, bad_request)
    api.add_exception_handler(db.ReadTimedOut, timed_out)

    @api.get("/stories", response_model=Page[reads.StoryRow])
    def stories(request: Request, asked: ListingQuery) -> Page[reads.StoryRow]:
        """Stories, newest first, each once (by its lead article) with every outlet and topic.
        `since` and `until` are days (2025-12-17), inclusive, of the article's date in UTC."""
        with db.read(get_settings()) as session:
            rows = reads.latest_stories(
                session, asked.filters, asked.pager.fetch, asked.pager.offset
            )
        return _page(request, rows, asked.pager)

    @api.get("/stories/{story_id}", response_model=StoryView)
    def story(story_id: int) -> StoryView:
        """One story: every topic it hit with the terms and snippet, and every outlet."""
        with db.read(get_settings()) as session:
            found = published.story(session, story_id) if 0 < story_id < 2**63 else None
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no story {story_id}")
        return found

    @api.get("/alerts", response_model=Page[reads.AlertRow])
    def alerts(request: Request, asked: ListingQuery) -> Page[reads.AlertRow]:
        """Alerts (one per story and reader), newest first, with their delivery state."""
        with db.read(get_settings()) as session:
            rows = reads.latest_alerts(
                session, asked.filters, asked.pager.fetch, asked.pager.offset
            )
        return _page(request, rows, asked.pager)

    @api.get("/matches", response_model=Page[published.MatchRow])
    def matches(request: Request, asked: ListingQuery) -> Page[published.MatchRow]:
        """Matches (an article hitting a topic), newest first, with the terms and the snippet;
        `highlights` are [start, end) offsets of the terms in the snippet."""
        with db.read(get_settings()) as session:
            rows = published.matches(session, asked.filters, asked.pager.fetch, asked.pager.offset)
        return _page(request, rows, asked.pager)

    @api.get("/feeds", response_model=list[reads.FeedHealth])
    def feeds() -> list[reads.FeedHealth]:
        """Every feed's health, feeds with the watchdog's findings first."""
        with db.read(get_settings()) as session:
            return reads.feed_health(session)

    @api.get("/search", response_model=Page[SearchResult])
    def search(
        request: Request, q: str = "", page: str | None = None, size: str | None = None
    ) -> Page[SearchResult]:
        """Full-text search over stored articles, best first (web-search syntax: "a phrase",
        or, -not)."""
        if not q.strip():
            raise params.refuse("q: give something to search for")
        check_search(q)
        pager = params.pager(page, size)
        with db.read(get_settings()) as session:
            hits = search_articles(session, q, pager.fetch, offset=pager.offset)
        results = [
            SearchResult(
                h.id, h.title, h.url, h.feed, h.at.isoformat(), h.rank, *_marks(h.headline)
            )
            for h in hits
        ]
        return _page(request, results, pager)

    return api
