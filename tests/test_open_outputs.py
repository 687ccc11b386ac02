"""Getting matches out without an Airflow login: an Atom feed per topic and per subscriber, and
the read-only JSON API, each opened by a token (`newswatch tokens`), on the real dashboard app
over a store filled by one pipeline run over the sample news day."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
import rnc2rng
from expected import TAKAICHI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from lxml import etree
from typer.testing import CliRunner

from newswatch import pipeline
from newswatch.cli.main import app
from newswatch.dashboard import create_app
from newswatch.dashboard.atom import FeedHead, render_atom
from newswatch.records import Outlet, StoryView, TopicHit
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db, published
from newswatch.store.published import FeedStory

TOYOTA = "Toyota warns U.S. tariffs will cut profit by $9 billion"
RARE_EARTH = "China tightens export controls on rare earth magnets"
SEOUL = "Seoul raises defence spending for fourth year"
CHERRY = "Cherry blossoms forecast to open early in Tokyo"
PINEAPPLE = "Taiwanese pineapple growers expect bumper harvest"
EVERY_STORY = {TAKAICHI, TOYOTA, RARE_EARTH, SEOUL, CHERRY, PINEAPPLE}
ATOM_SCHEMA = Path(__file__).parent / "data" / "atom" / "atom.rnc"
SUBSCRIBER = """
subscribers:
  - name: minerals-desk
    emails: [desk@example.com]
    topics: [rare-earths, tariffs]
"""


def atom_schema() -> etree.RelaxNG:
    """RFC 4287's schema. rnc2rng declares the empty namespace as a prefix, which XML forbids."""
    rng = rnc2rng.dumps(rnc2rng.loads(ATOM_SCHEMA.read_text()))
    return etree.RelaxNG(etree.fromstring(rng.replace('xmlns:local=""', "").encode()))


SCHEMA = atom_schema()


def valid_atom(body: bytes) -> feedparser.FeedParserDict:
    """The feed parsed, once RFC 4287's schema and feedparser both took it without a fault."""
    document = etree.fromstring(body)
    assert SCHEMA.validate(document), SCHEMA.error_log
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def make_token(*args: str) -> str:
    result = CliRunner().invoke(app, ["tokens", "create", *args, "--json"])
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["token"])


@pytest.fixture
def client(settings: Settings, news_day: SampleDay) -> Iterator[TestClient]:
    """The dashboard app over the stored sample day, with a subscriber in topics.yaml."""
    topics = get_settings().config_dir / "topics.yaml"
    topics.write_text(topics.read_text() + SUBSCRIBER)
    pipeline.run_once(get_settings())
    with TestClient(create_app()) as test_client:
        yield test_client


def titles(parsed: feedparser.FeedParserDict) -> list[str]:
    return [entry.title for entry in parsed.entries]


def test_topic_feed_is_valid_atom_with_each_story_once(client: TestClient) -> None:
    token = make_token("topic", "tariffs")
    response = client.get("/feeds/topic/tariffs.atom", params={"token": token})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert "private" in response.headers["cache-control"]
    parsed = valid_atom(response.content)
    assert sorted(titles(parsed)) == sorted([TAKAICHI, TOYOTA])
    assert parsed.feed.title == "newswatch · Tariffs"
    assert len({entry.id for entry in parsed.entries}) == 2
    summit = next(entry for entry in parsed.entries if entry.title == TAKAICHI)
    # The syndicated summit story: both outlets, its topics, the snippet with its terms marked.
    assert [author.name for author in summit.authors] == ["AloJapan", "Asia Wire"]
    assert "tariffs" in {tag.term for tag in summit.tags}
    assert {tag.label for tag in summit.tags} >= {"Tariffs"}
    assert summit.link.startswith("http://127.0.0.1")
    assert "<b>tariff</b>" in summit.content[0].value and "Carried by" in summit.content[0].value
    assert summit.published_parsed and summit.updated_parsed
    # Published when the outlet published it (the sample day is dated December 2025), not when
    # the run first saw it.
    assert {entry.published_parsed.tm_year for entry in parsed.entries} == {2025}


def test_a_second_request_gets_the_same_ids_and_a_304_for_its_etag(client: TestClient) -> None:
    token = make_token("topic", "taiwan")
    first = client.get("/feeds/topic/taiwan.atom", params={"token": token})
    again = client.get("/feeds/topic/taiwan.atom", params={"token": token})
    assert first.content == again.content
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    not_modified = client.get(
        "/feeds/topic/taiwan.atom", params={"token": token}, headers={"If-None-Match": etag}
    )
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    by_date = client.get(
        "/feeds/topic/taiwan.atom",
        params={"token": token},
        headers={"If-Modified-Since": modified},
    )
    assert by_date.status_code == 304
    stale = client.get(
        "/feeds/topic/taiwan.atom",
        params={"token": token},
        headers={"If-None-Match": '"something-else"', "If-Modified-Since": modified},
    )
    assert stale.status_code == 200  # If-None-Match decides when both are sent (RFC 9110)
    garbage = client.get(
        "/feeds/topic/taiwan.atom",
        params={"token": token},
        headers={"If-Modified-Since": "not a date"},
    )
    assert garbage.status_code == 200


def test_a_feed_opens_only_with_its_own_live_token(client: TestClient) -> None:
    taiwan = make_token("topic", "taiwan")
    tariffs = make_token("topic", "tariffs")
    path = "/feeds/topic/taiwan.atom"
    missing = client.get(path)
    assert missing.status_code == 401 and missing.headers["content-type"].startswith("text/plain")
    assert "newswatch tokens create topic taiwan" in missing.text
    assert client.head(path, params={"token": taiwan}).status_code == 200
    assert client.get(path, params={"token": tariffs}).status_code == 403
    assert client.get(path, params={"token": "nw_" + "x" * 43}).status_code == 403
    assert client.get(path, params={"token": "garbage\u00e9"}).status_code == 403
    assert client.get(path, params={"token": taiwan}).status_code == 200
    # The same token cannot open another topic's feed or the subscriber's.
    assert client.get("/feeds/topic/tariffs.atom", params={"token": taiwan}).status_code == 403
    sub = "/feeds/subscriber/taiwan.atom"
    assert client.get(sub, params={"token": taiwan}).status_code == 403
    listed = json.loads(CliRunner().invoke(app, ["tokens", "list", "--json"]).output)
    mine = next(row for row in listed if row["target"] == "taiwan")
    assert mine["last_used_at"] is not None and mine["revoked_at"] is None
    revoked = CliRunner().invoke(app, ["tokens", "revoke", str(mine["id"])])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert client.get(path, params={"token": taiwan}).status_code == 403
    assert client.get("/feeds/topic/tariffs.atom", params={"token": tariffs}).status_code == 200


def test_subscriber_feed_follows_the_subscribers_topics(client: TestClient) -> None:
    token = make_token("subscriber", "minerals-desk")
    response = client.get("/feeds/subscriber/minerals-desk.atom", params={"token": token})
    parsed = valid_atom(response.content)
    assert set(titles(parsed)) == {TAKAICHI, TOYOTA, RARE_EARTH}
    # Only the topics the subscriber follows show as categories.
    terms = {tag.term for entry in parsed.entries for tag in entry.tags}
    assert terms == {"tariffs", "rare-earths"}


def test_a_feed_holds_the_newest_stories_up_to_its_cap(client: TestClient) -> None:
    with db.read(get_settings()) as session:
        every = published.feed_stories(session, None)
        newest = published.feed_stories(session, None, limit=2)
    assert {s.story.title for s in every} == EVERY_STORY - {CHERRY, PINEAPPLE}  # no topic hit
    assert [s.story.story_id for s in newest] == [s.story.story_id for s in every[:2]]
    assert published.FEED_ENTRIES == 100


def test_a_topic_or_subscriber_gone_from_the_config_is_a_404(
    client: TestClient, settings: Settings
) -> None:
    token = make_token("subscriber", "minerals-desk")
    topics = get_settings().config_dir / "topics.yaml"
    topics.write_text(topics.read_text().replace(SUBSCRIBER, ""))
    response = client.get("/feeds/subscriber/minerals-desk.atom", params={"token": token})
    assert response.status_code == 404


def test_public_url_gives_the_feed_its_self_and_dashboard_links(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_PUBLIC_URL", "https://watch.example/newswatch")
    token = make_token("topic", "taiwan")
    parsed = valid_atom(client.get("/feeds/topic/taiwan.atom", params={"token": token}).content)
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["self"] == f"https://watch.example/newswatch/feeds/topic/taiwan.atom?token={token}"
    assert links["alternate"] == "https://watch.example/newswatch/?topic=taiwan"


def test_tokens_cli_refuses_what_it_cannot_make(client: TestClient) -> None:
    runner = CliRunner()
    for args, says in [
        (["topic", "no-such-topic"], "no topic 'no-such-topic'"),
        (["subscriber", "nobody"], "no subscriber 'nobody'"),
        (["topic"], "which topic?"),
        (["api", "extra"], "give no name"),
        (["everything"], "expected topic, subscriber or api"),
    ]:
        result = runner.invoke(app, ["tokens", "create", *args])
        assert result.exit_code == 2, (args, result.output)
        assert says in result.output
        assert "Traceback" not in result.output
    assert runner.invoke(app, ["tokens", "revoke", "999"]).exit_code == 2
    made = runner.invoke(app, ["tokens", "create", "api", "--label", "newsroom bot"])
    assert made.exit_code == 0 and "Authorization: Bearer nw_" in made.output
    listed = runner.invoke(app, ["tokens", "list"]).output
    assert "read API · label: newsroom bot" in listed and "never used" in listed
    assert "nw_" not in listed  # a token is shown once, when made


# The read API


def api(client: TestClient, path: str, token: str | None, **params: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get(f"/api/v1{path}", params=params, headers=headers)
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


def test_api_needs_an_api_token(client: TestClient) -> None:
    code, body = api(client, "/stories", None)
    assert code == 401 and "needs its token" in body["error"]["message"]
    feed_token = make_token("topic", "taiwan")
    assert api(client, "/stories", feed_token)[0] == 403
    assert api(client, "/stories", make_token("api"))[0] == 200


def test_api_pages_through_stories_each_once(client: TestClient) -> None:
    token = make_token("api")
    seen: list[str] = []
    path, params = "/stories", {"size": "4"}
    while True:
        code, body = api(client, path, token, **params)
        assert code == 200
        assert isinstance(body, dict)
        seen += [story["title"] for story in body["items"]]
        if not body["next"]:
            break
        assert body["next"].startswith("/api/v1/stories?")
        path, query = body["next"].removeprefix("/api/v1").split("?")
        params = dict(pair.split("=") for pair in query.split("&"))
    assert sorted(seen) == sorted(EVERY_STORY)
    code, body = api(client, "/stories", token, topic="tariffs")
    assert {story["title"] for story in body["items"]} == {TAKAICHI, TOYOTA}


def test_api_story_alerts_matches_feeds_and_search(client: TestClient) -> None:
    token = make_token("api")
    _, stories = api(client, "/stories", token, topic="tariffs")
    story_id = next(s["id"] for s in stories["items"] if s["title"] == TAKAICHI)
    _, matches = api(client, "/matches", token, topic="tariffs")
    match = next(m for m in matches["items"] if m["title"] == TAKAICHI)
    story = client.get(
        f"/api/v1/stories/{match['story_id']}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert story["title"] == TAKAICHI and story_id  # the story list shows its lead article
    assert {o["name"] for o in story["outlets"]} == {"AloJapan", "Asia Wire"}
    hit = next(t for t in story["topics"] if t["name"] == "tariffs")
    start, end = hit["highlights"][0]
    assert hit["snippet"][start:end].lower().startswith("tariff")
    assert match["terms"] and match["snippet"]
    code, missing = api(client, "/stories/999999", token)
    assert code == 404 and "no story" in missing["error"]["message"]
    _, alerts = api(client, "/alerts", token)
    readers = [alert["reader"] for alert in alerts["items"]]
    assert readers.count("email:analyst@example.com") == 4  # one per story and reader
    assert readers.count("email:desk@example.com") == 3
    _, feeds = api(client, "/feeds", token)
    broken = next(f for f in feeds if f["name"] == "Broken Times")
    assert broken["consecutive_failures"] == 1
    _, found = api(client, "/search", token, q="rare earth")
    hit = found["items"][0]
    assert hit["title"] == RARE_EARTH
    start, end = hit["marks"][0]
    assert hit["headline"][start:end].lower() in {"rare", "earth"}


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/stories", {"since": "garbage"}, "since: expected a date"),
        ("/stories", {"size": "0"}, "size: expected a whole number"),
        ("/alerts", {"page": "x"}, "page: expected a whole number"),
        ("/matches", {"topic": "t" * 300}, "topic: at most"),
        ("/search", {"q": ""}, "q: give something"),
        ("/search", {"q": "a " * 400}, "search too long"),
        ("/stories", {"topic": "a\x00b"}, "control character"),
        ("/stories/abc", {}, "story_id"),
    ],
)
def test_api_answers_bad_parameters_with_a_400_in_json(
    client: TestClient, path: str, params: dict[str, str], says: str
) -> None:
    code, body = api(client, path, make_token("api"), **params)
    assert code == 400, body
    assert says in body["error"]["message"]
    assert ".py" not in body["error"]["message"] and "{'type'" not in body["error"]["message"]


def test_openapi_describes_every_path_and_the_bearer_token(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert set(spec["paths"]) == {
        "/stories",
        "/stories/{story_id}",
        "/alerts",
        "/matches",
        "/feeds",
        "/search",
    }
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "items" in json.dumps(spec["components"]["schemas"])


# Hostile text from feeds, through the renderer


def story_of(title: str, snippet: str, outlet: str, url: str) -> FeedStory:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    hit = TopicHit("t", "T", {"x": 1}, snippet, [(0, min(3, len(snippet)))])
    view = StoryView(1, title, url, at, None, [hit], [Outlet(outlet, url)])
    return FeedStory(view, at)


@given(
    title=st.text(max_size=200),
    snippet=st.text(max_size=300),
    outlet=st.text(max_size=50),
    url=st.one_of(st.just("https://example.com/a?b=<c>&d"), st.text(max_size=60)),
)
@hypothesis_settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_renders_as_valid_atom(title: str, snippet: str, outlet: str, url: str) -> None:
    head = FeedHead("topic:t", title, snippet)
    body = render_atom(
        head, [story_of(title, snippet, outlet, url)], "2f1b2c9e-6f1e-4c41-9d7e-0c3f1a2b3c4d"
    )
    document = etree.fromstring(body)
    assert SCHEMA.validate(document), SCHEMA.error_log
    links = document.findall(
        ".//{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}link"
    )
    assert all(link.get("href", "").startswith(("http://", "https://")) for link in links)
