"""One-click unsubscribe (RFC 8058): signed tokens, the dashboard's /unsubscribe page answered
without an Airflow login over a real store, and `newswatch readers` to see and undo it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from helpers import T0
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from starlette.routing import Mount
from typer.testing import CliRunner

from newswatch import clock, models, store
from newswatch.cli.main import app as cli_app
from newswatch.config.models import Config, SubscriberConfig, TopicConfig
from newswatch.dashboard import create_app
from newswatch.dashboard.api import require_api_token
from newswatch.dashboard.auth import require_airflow_viewer
from newswatch.settings import Settings
from newswatch.store import db
from newswatch.unsubscribe import (
    ALERTS,
    TOKEN_DAYS,
    BadToken,
    Unsubscription,
    _mac,
    digest_subscription,
    sign,
    unsubscribe_url,
    verify,
)

ANALYST = "email:analyst@example.com"
DESK = "email:desk@example.com"
MORNING = digest_subscription("morning-desk")
SECRET = "0f" * 32
ONE_CLICK = b"List-Unsubscribe=One-Click"  # RFC 8058's POST body
ONE_CLICK_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
NOT_OURS = "not one newswatch made"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.fixture
def readers_stored(settings: Settings) -> Settings:
    """The store with two readers, and nobody unsubscribed: the analyst gets immediate alerts of
    one topic, the desk the morning-desk digest, with updates, in its own time zone."""
    config = Config(
        feeds=[],
        topics=[TopicConfig(name="taiwan", query="Taiwan")],
        default_recipients=["Analyst@Example.com"],
        subscribers=[
            SubscriberConfig(
                name="morning-desk",
                emails=["desk@example.com"],
                mode="digest",
                updates=True,
                timezone="Europe/Paris",
            )
        ],
    )
    with db.transaction(db.session_factory(settings)) as session:
        session.execute(text("truncate unsubscribes"))  # conftest empties the other tables
        store.config.sync_readers(session, config)
    clock.freeze(T0)  # the settings fixture releases it
    return settings


@pytest.fixture
def client(readers_stored: Settings) -> Iterator[TestClient]:
    """The dashboard as a reader's mail client reaches it: no Airflow login, none overridden."""
    app = create_app()
    assert not app.dependency_overrides
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def airflow_login() -> None:
    """Airflow's auth manager as a fresh install has it (the simple one), so a page without a
    login is sent to Airflow's login page."""
    from airflow.api_fastapi.app import init_auth_manager

    init_auth_manager()


def token_for(settings: Settings, reader: str, subscription: str, now: datetime = T0) -> str:
    with db.read(settings) as session:
        return sign(store.readers.secret(session), reader, subscription, now)


def recorded(settings: Settings) -> list[tuple[str, str, datetime]]:
    with db.read(settings) as session:
        rows = session.execute(
            select(
                models.Unsubscribe.reader, models.Unsubscribe.subscription, models.Unsubscribe.at
            ).order_by(models.Unsubscribe.reader)
        )
        return [(reader, subscription, at) for reader, subscription, at in rows]


# Tokens, pure.


def test_a_token_round_trips_to_its_reader_and_subscription() -> None:
    for reader, subscription in [(ANALYST, ALERTS), ("email:аnalyst@例え.jp", MORNING)]:
        token = sign(SECRET, reader, subscription, T0)
        expires = T0 + timedelta(days=TOKEN_DAYS)
        assert verify(SECRET, token, T0 + timedelta(days=1)) == Unsubscription(
            reader, subscription, expires
        )
    url = unsubscribe_url("https://airflow.example.com/newswatch/", token)
    assert url == f"https://airflow.example.com/newswatch/unsubscribe?token={token}"


def test_a_token_signed_with_another_key_or_cut_short_is_refused() -> None:
    forged = sign("a guess at the key", ANALYST, ALERTS, T0)
    with pytest.raises(BadToken, match=NOT_OURS):
        verify(SECRET, forged, T0)
    token = sign(SECRET, ANALYST, ALERTS, T0)
    for cut in (token[:-1], token.partition(".")[0], ""):
        with pytest.raises(BadToken, match="cut short"):
            verify(SECRET, cut, T0)


def test_an_expired_token_is_refused() -> None:
    token = sign(SECRET, ANALYST, ALERTS, T0)
    last = T0 + timedelta(days=TOKEN_DAYS) - timedelta(seconds=1)
    assert verify(SECRET, token, last).reader == ANALYST
    with pytest.raises(BadToken, match="expired"):
        verify(SECRET, token, last + timedelta(seconds=1))


def test_a_token_cannot_be_edited_to_name_another_reader_or_subscription() -> None:
    payload, _, mac = sign(SECRET, ANALYST, ALERTS, T0).partition(".")
    reader, subscription, expires = json.loads(base64.urlsafe_b64decode(payload + "=="))
    assert (reader, subscription) == (ANALYST, ALERTS)
    for edited in ([DESK, ALERTS, expires], [ANALYST, MORNING, expires], [ANALYST, ALERTS, 2**40]):
        tampered = f"{_b64(json.dumps(edited).encode())}.{mac}"
        with pytest.raises(BadToken, match=NOT_OURS):
            verify(SECRET, tampered, T0)


TOKENISH = st.from_regex(r"[A-Za-z0-9_=-]{0,300}(\.[A-Za-z0-9_=.-]{0,80})?", fullmatch=True)


@hypothesis_settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=400), TOKENISH, st.text(min_size=1990, max_size=2100)))
def test_any_string_as_a_token_is_refused_with_bad_token_only(token: str) -> None:
    with pytest.raises(BadToken):
        verify(SECRET, token, T0)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), JSON.map(lambda value: json.dumps(value).encode())))
def test_any_payload_under_our_own_signature_gives_a_request_or_bad_token(payload: bytes) -> None:
    """Past the signature, whatever the payload holds raises nothing but BadToken either."""
    encoded = _b64(payload)
    try:
        asked = verify(SECRET, f"{encoded}.{_mac(SECRET, encoded)}", T0)
    except BadToken:
        return
    assert isinstance(asked.reader, str) and isinstance(asked.subscription, str)
    assert asked.expires > T0


@pytest.mark.parametrize("expires", [67768036191676800, 2**70, -1, 0, 1.5e300])
def test_an_expiry_out_of_any_calendar_is_a_bad_token(expires: float) -> None:
    """datetime.fromtimestamp raises OSError, not ValueError, past the platform's range."""
    encoded = _b64(json.dumps(["email:a@example.com", "alerts", expires]).encode())
    with pytest.raises(BadToken):
        verify(SECRET, f"{encoded}.{_mac(SECRET, encoded)}", T0)


# The dashboard's page, over the store.


def test_the_link_asks_first_and_needs_no_airflow_login(
    client: TestClient, readers_stored: Settings
) -> None:
    for reader, subscription, question in [
        (ANALYST, ALERTS, "Stop all immediate alerts to a•••@example.com?"),
        (DESK, MORNING, "Stop the daily digest morning-desk to d•••@example.com?"),
    ]:
        token = token_for(readers_stored, reader, subscription)
        page = client.get("/unsubscribe", params={"token": token})
        assert page.status_code == 200, page.text
        assert question in page.text
        assert f'<form method="post" action="?token={token}">' in page.text
        assert "analyst@example.com" not in page.text and "desk@example.com" not in page.text
        assert 'href="feeds"' not in page.text  # no links into the pages behind the login
        assert "form-action 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
    assert recorded(readers_stored) == []  # a link checker's GET unsubscribes nobody


def test_every_other_page_still_needs_the_airflow_login(
    client: TestClient, airflow_login: None
) -> None:
    for path in ["/", "/chart", "/feeds", "/search?q=taiwan", "/rules", "/rules/preview?q=x"]:
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/auth/login?next="), path
    routes = [route for route in create_app().routes if isinstance(route, APIRoute)]
    needs_login = {
        route.path: require_airflow_viewer in {dep.call for dep in route.dependant.dependencies}
        for route in routes
    }
    assert needs_login == {
        "/": True,
        "/chart": True,
        "/feeds": True,
        "/search": True,
        "/story": True,
        "/rules": True,
        "/rules/preview": True,
        "/unsubscribe": False,
        # A feed reader has no Airflow login: each feed checks its own token (test_open_outputs).
        "/feeds/topic/{name}.atom": False,
        "/feeds/subscriber/{name}.atom": False,
    }
    # The read API, mounted beside the pages, checks an API token on every route.
    (api,) = [
        route.app
        for route in create_app().routes
        if isinstance(route, Mount) and isinstance(route.app, FastAPI)
    ]
    api_routes = [route for route in api.routes if isinstance(route, APIRoute)]
    assert {route.path for route in api_routes} >= {"/stories", "/alerts", "/search"}
    for route in api_routes:
        assert require_api_token in {dep.call for dep in route.dependant.dependencies}


def test_one_click_post_records_the_unsubscribe_and_a_second_is_harmless(
    client: TestClient, readers_stored: Settings
) -> None:
    token = token_for(readers_stored, ANALYST, ALERTS)
    done = client.post(f"/unsubscribe?token={token}", content=ONE_CLICK, headers=ONE_CLICK_HEADERS)
    assert done.status_code == 200, done.text
    assert "You are unsubscribed" in done.text and "all immediate alerts" in done.text
    assert "newswatch readers resubscribe" in done.text
    assert recorded(readers_stored) == [(ANALYST, ALERTS, T0)]

    clock.freeze(T0 + timedelta(hours=1))
    again = client.post(f"/unsubscribe?token={token}", content=ONE_CLICK, headers=ONE_CLICK_HEADERS)
    assert again.status_code == 200 and "You already were unsubscribed" in again.text
    assert recorded(readers_stored) == [(ANALYST, ALERTS, T0)]
    asked = client.get("/unsubscribe", params={"token": token})
    assert "You already were unsubscribed" in asked.text and "<form" not in asked.text


def test_the_page_button_and_a_multipart_one_click_post_unsubscribe_too(
    client: TestClient, readers_stored: Settings
) -> None:
    token = token_for(readers_stored, DESK, MORNING)
    page = client.get("/unsubscribe", params={"token": token})
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
    button = client.post(f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"})
    assert button.status_code == 200 and "the daily digest morning-desk" in button.text
    other = token_for(readers_stored, ANALYST, ALERTS)
    multipart = client.post(
        f"/unsubscribe?token={other}", files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert multipart.status_code == 200 and "You are unsubscribed" in multipart.text
    assert recorded(readers_stored) == [(ANALYST, ALERTS, T0), (DESK, MORNING, T0)]


def test_a_reader_no_longer_in_the_config_can_still_unsubscribe(
    client: TestClient, readers_stored: Settings
) -> None:
    gone = "email:gone@example.com"
    token = token_for(readers_stored, gone, ALERTS)
    assert client.post(f"/unsubscribe?token={token}", content=ONE_CLICK).status_code == 200
    assert recorded(readers_stored)[-1] == (gone, ALERTS, T0)
    listed = CliRunner().invoke(cli_app, ["readers", "list"])
    assert "gone@example.com\n  no longer in topics.yaml\n  unsubscribed from: alerts" in (
        listed.output
    )


def test_a_long_link_for_a_long_international_address_still_works(
    client: TestClient, readers_stored: Settings
) -> None:
    reader = "email:" + "日" * 64 + "@" + "例" * 180 + ".jp"
    token = token_for(readers_stored, reader, digest_subscription("d" * 192))
    assert len(token) > 1000  # longer than any other parameter may be
    page = client.get("/unsubscribe", params={"token": token})
    assert page.status_code == 200 and "Stop the daily digest ddd" in page.text


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("forged", NOT_OURS),
        ("expired", "has expired"),
        ("tampered", NOT_OURS),
        ("garbage", NOT_OURS),
        ("missing", "cut short"),
    ],
)
def test_a_bad_link_is_a_400_page_saying_why(
    client: TestClient, readers_stored: Settings, kind: str, message: str
) -> None:
    good = token_for(readers_stored, ANALYST, ALERTS)
    query = {
        "forged": f"?token={sign('guess', ANALYST, ALERTS, T0)}",
        "expired": f"?token={token_for(readers_stored, ANALYST, ALERTS, T0 - timedelta(days=91))}",
        "tampered": f"?token={_b64(json.dumps([DESK, ALERTS, 2**40]).encode())}."
        + good.partition(".")[2],
        "garbage": "?token=%F0%9F%92%A5.%E2%80%A6",
        "missing": "",
    }[kind]
    for response in (
        client.get(f"/unsubscribe{query}"),
        client.post(f"/unsubscribe{query}", content=ONE_CLICK, headers=ONE_CLICK_HEADERS),
    ):
        assert response.status_code == 400, (kind, response.text)
        assert response.headers["content-type"].startswith("text/html")
        assert message in response.text and "Traceback" not in response.text
    assert recorded(readers_stored) == []


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.text(st.characters(exclude_categories=["Cs"]), max_size=200), TOKENISH))
def test_any_token_on_the_page_is_a_400_never_a_500(client: TestClient, token: str) -> None:
    for response in (
        client.get("/unsubscribe", params={"token": token}),
        client.post("/unsubscribe", params={"token": token}, content=ONE_CLICK),
    ):
        assert response.status_code == 400, (token, response.text)
        assert "Traceback" not in response.text


# `newswatch readers`.


def test_readers_list_shows_who_left_what_and_resubscribe_undoes_it(
    readers_stored: Settings,
) -> None:
    with db.transaction(db.session_factory(readers_stored)) as session:
        assert store.readers.unsubscribe(session, ANALYST, ALERTS, T0)
        assert store.readers.unsubscribe(session, DESK, MORNING, T0)
        assert not store.readers.unsubscribe(session, DESK, MORNING, T0)
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["readers", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output == (
        "Analyst@Example.com\n  channel: email\n  alerts on: taiwan\n  digests: —\n"
        "  updates: no\n  timezone: Asia/Tokyo (NEWSWATCH_DIGEST_TIMEZONE)\n"
        "  unsubscribed from: alerts\n"
        "desk@example.com\n  channel: email\n  alerts on: — (no immediate alerts)\n  digests: morning-desk\n"
        "  updates: yes\n  timezone: Europe/Paris\n  unsubscribed from: digest:morning-desk\n"
    )

    again = runner.invoke(cli_app, ["readers", "resubscribe", "desk@example.com"])
    assert again.exit_code == 0 and "email:desk@example.com: resubscribed" in again.output
    one = runner.invoke(
        cli_app, ["readers", "resubscribe", "ANALYST@example.com", "--subscription", "alerts"]
    )
    assert one.exit_code == 0, one.output
    rows = json.loads(runner.invoke(cli_app, ["readers", "list", "--json"]).output)
    assert [(row["key"], row["unsubscribed"]) for row in rows] == [(ANALYST, []), (DESK, [])]
    assert rows[1]["digests"] == ["morning-desk"] and rows[1]["timezone"] == "Europe/Paris"
    with db.read(readers_stored) as session:
        assert not store.readers.unsubscribed(session, DESK, MORNING)


def test_resubscribing_what_was_never_left_is_one_clear_line(readers_stored: Settings) -> None:
    runner = CliRunner()
    for args, code, line in [
        (
            ["nobody@example.com"],
            1,
            "newswatch: no reader 'email:nobody@example.com' in the store, and no unsubscribe "
            "of it (see `newswatch readers list`)",
        ),
        (
            ["desk@example.com", "--subscription", "alerts"],
            1,
            "newswatch: 'email:desk@example.com' is not unsubscribed from alerts "
            "(see `newswatch readers list`)",
        ),
        (["nobody"], 2, "'nobody' is neither an email address nor a reader key"),
        (["desk@example.com", "--subscription", "digest"], 2, "expected alerts or digest:NAME"),
    ]:
        result = runner.invoke(cli_app, ["readers", "resubscribe", *args])
        assert result.exit_code == code, (args, result.output)
        assert line in result.output and len(result.output.splitlines()) == 1
        assert "Traceback" not in result.output
