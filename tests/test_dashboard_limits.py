"""What an outsider's request can cost: hostile parameters are a 400, never a 500; a search is
capped in characters and terms; every read is cut by the statement timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from helpers import dashboard_after_a_run
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from newswatch.cli.main import app as cli_app
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db
from newswatch.store.search import MAX_SEARCH_CHARS, MAX_SEARCH_TERMS

ROUTES = ["/", "/chart", "/feeds", "/search", "/rules", "/rules/preview"]
PARAMETERS = ["topic", "feed", "since", "until", "page", "size", "days", "q"]

# Raw (already percent-encoded) values that must be refused whichever parameter carries them.
ALWAYS_REFUSED = {
    "nul": "%00",
    "nul inside": "taiwan%00x",
    "newline": "a%0Ab",
    "escape": "%1B%5B31m",
    "delete": "%7F",
    "C1 control": "%C2%85",
    "invalid UTF-8": "%ff",
    "truncated UTF-8": "caf%C3",
    "UTF-8 surrogate": "%ED%A0%80",
    "overlong": "x" * 5000,
}
# Values that are refused where a number or a date is expected, harmless elsewhere.
NOT_A_NUMBER_OR_DATE = {
    "huge": "99999999999999999999",
    "negative": "-1",
    "zero": "0",
    "words": "abc",
    "float": "1.5",
    "exponent": "1e3",
    "signed": "%2B5",
    "spaces": "%201",
    "invalid date": "2025-13-45",
    "far-future date": "9999-12-31",
    "year zero": "0000-01-01",
    "full-width digit": "%EF%BC%91",
}
NUMBERS = {"page", "size", "days"}
DATES = {"since", "until"}


@pytest.fixture
def client(settings: Settings, news_day: SampleDay) -> Iterator[TestClient]:
    """The dashboard over the stored sample day, past the login (tested in the browser test)."""
    with dashboard_after_a_run(raise_server_exceptions=False) as test_client:
        yield test_client


def expected_refused(parameter: str, route: str, name: str) -> bool:
    """Whether the value named `name` must be refused in `parameter` on `route`."""
    if name in ALWAYS_REFUSED:
        return True
    if route.startswith("/rules") and parameter == "topic":
        return True  # none of these values names a stored topic
    takes = {
        "/": {"topic", "feed", "since", "until", "page", "size"},
        "/chart": {"days"},
        "/search": {"q", "topic", "since", "until", "page", "size"},
        "/rules": {"q", "topic", "days"},
        "/rules/preview": {"q", "topic", "days"},
    }
    return parameter in takes.get(route, set()) and parameter in NUMBERS | DATES


def test_every_route_refuses_every_hostile_parameter_with_a_400_never_a_500(
    client: TestClient,
) -> None:
    values = {**ALWAYS_REFUSED, **NOT_A_NUMBER_OR_DATE}
    seen: dict[int, int] = {}
    for route in ROUTES:
        for parameter in PARAMETERS:
            for name, raw in values.items():
                response = client.get(f"{route}?{parameter}={raw}")
                where = (route, parameter, name)
                seen[response.status_code] = seen.get(response.status_code, 0) + 1
                if expected_refused(parameter, route, name):
                    assert response.status_code == 400, where
                    assert response.headers["content-type"].startswith("text/html"), where
                    assert '<p class="error" role="alert"><strong>400</strong>' in response.text
                    assert "Traceback" not in response.text
                else:
                    assert response.status_code == 200, where
    assert set(seen) == {200, 400}
    for name in ["%00", "%ff", "n" * 2000]:  # the parameter's name, not its value
        assert client.get(f"/feeds?{name}=1").status_code == 400, name


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=99999999999999999999", "page: expected a whole number from 1 to 1000"),
        ("page=-3", "page: expected a whole number from 1 to 1000"),
        ("size=501", "size: expected a whole number from 1 to 500"),
        ("since=yesterday", "since: expected a date like 2025-12-17"),
        ("until=9999-12-31", "until: expected a date like 2025-12-17"),
        ("topic=%00", "&#39;topic&#39;: holds a control character"),
        ("feed=%ff", "&#39;feed&#39;: not valid UTF-8"),
        (f"q={'q' * 1001}", "&#39;q&#39;: longer than 1000 characters"),
        ("%ff=1", "a query parameter&#39;s name: not valid UTF-8"),
        (f"topic={'t' * 201}", "topic: at most 200 characters"),
    ],
)
def test_a_refused_parameter_says_which_and_why(
    client: TestClient, query: str, message: str
) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 400 and message in response.text


def test_a_search_with_many_terms_is_refused_quickly(client: TestClient) -> None:
    many = " ".join(f"w{n}" for n in range(MAX_SEARCH_TERMS + 1))
    assert len(many) <= MAX_SEARCH_CHARS
    started = time.perf_counter()
    response = client.get("/search", params={"q": many})
    refused_in = time.perf_counter() - started
    assert response.status_code == 400
    assert f"{MAX_SEARCH_TERMS + 1} terms, at most {MAX_SEARCH_TERMS}" in response.text
    assert refused_in < 1.0

    long_words = "rare earth " * 30
    response = client.get("/search", params={"q": long_words})
    assert response.status_code == 400 and f"at most {MAX_SEARCH_CHARS}" in response.text

    thousands = " ".join(f"w{n}" for n in range(3000))  # 28 s of database CPU before the cap
    started = time.perf_counter()
    assert client.get("/search", params={"q": thousands}).status_code == 400
    assert time.perf_counter() - started < 1.0

    hyphens = "-".join("ab" for _ in range(40))  # one word to the eye, 40 lexemes to PostgreSQL
    assert client.get("/search", params={"q": hyphens}).status_code == 400

    fine = " ".join(["rare", "earth"] * (MAX_SEARCH_TERMS // 2))
    assert client.get("/search", params={"q": fine}).status_code == 200


def test_cli_search_has_the_same_cap_and_says_so_in_one_line(settings: Settings) -> None:
    many = " ".join(f"w{n}" for n in range(3000))
    started = time.perf_counter()
    result = CliRunner().invoke(cli_app, ["search", many])
    assert time.perf_counter() - started < 1.0
    assert result.exit_code == 2
    expected = f"search too long: {len(many)} characters, at most {MAX_SEARCH_CHARS} allowed"
    assert result.output.strip() == expected
    result = CliRunner().invoke(cli_app, ["search", "a b c d e f g h i j k l m n o p q r s t " * 2])
    assert result.exit_code == 2 and result.output.strip().endswith("at most 32 allowed")
    result = CliRunner().invoke(cli_app, ["search", "rare\x1b[2Jearth"])
    assert result.exit_code == 2 and "control character" in result.output


@pytest.fixture
def short_reads(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSWATCH_DB_READ_TIMEOUT", "0.5")
    return get_settings()


def test_a_slow_read_is_cut_by_the_statement_timeout(short_reads: Settings) -> None:
    started = time.perf_counter()
    with pytest.raises(db.ReadTimedOut, match=r"longer than 0.5 s"):
        with db.read(short_reads) as session:
            session.execute(text("select pg_sleep(30)"))
    assert time.perf_counter() - started < 3


def test_reads_cannot_write_and_leave_no_timeout_on_the_pooled_connection(
    short_reads: Settings,
) -> None:
    with pytest.raises(Exception, match="read-only transaction"):
        with db.read(short_reads) as session:
            session.execute(text("delete from feeds"))
    with db.read(short_reads) as session:
        assert session.scalar(text("show statement_timeout")) == "500ms"
    with db.transaction(db.session_factory(short_reads)) as session:
        assert session.scalar(text("show statement_timeout")) == "0"  # writers are not cut
        assert session.scalar(text("show transaction_read_only")) == "off"


def _plain_url(settings: Settings) -> str:
    url = make_url(db.database_url(settings)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def test_a_dashboard_page_stuck_behind_a_lock_is_a_clear_503_not_a_500(
    client: TestClient, short_reads: Settings
) -> None:
    """A migration or a VACUUM FULL holding a table: the page gives up instead of hanging."""
    with psycopg.connect(_plain_url(short_reads)) as blocker:
        blocker.execute("lock table feeds, articles in access exclusive mode")
        for path in ["/feeds", "/", "/search?q=taiwan", "/chart", "/rules?q=taiwan"]:
            started = time.perf_counter()
            response = client.get(path)
            assert response.status_code == 503, path
            assert time.perf_counter() - started < 3, path
            assert "longer than 0.5 s" in response.text and response.headers["retry-after"]
        blocker.rollback()
    assert client.get("/feeds").status_code == 200


def test_cli_listings_read_under_the_timeout(client: TestClient, short_reads: Settings) -> None:
    with psycopg.connect(_plain_url(short_reads)) as blocker:
        blocker.execute("lock table articles, feeds, runs in access exclusive mode")
        started = time.perf_counter()
        for command in (["search", "taiwan"], ["feeds", "list"], ["alerts"], ["stats"]):
            result = CliRunner().invoke(cli_app, command)
            assert result.exit_code == 1, command
            (line,) = result.output.splitlines()
            assert "the database took longer than 0.5 s" in line, command
        assert time.perf_counter() - started < 10
        blocker.rollback()
