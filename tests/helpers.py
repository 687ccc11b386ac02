"""Helpers shared by test modules, so no test module imports another."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from newswatch import models, pipeline, store, stories
from newswatch.config.load import load_config
from newswatch.records import Article, Match
from newswatch.settings import Settings, get_settings
from newswatch.store import db

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
# A feed with a title and no items: a feed URL that answers, for the feed commands.
EMPTY_RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Kyodo Test</title></channel></rss>'
)


def page_article(
    url: str, feed_id: int, title: str, text: str, at: datetime, *, signed: bool = True
) -> Article:
    """An article extracted from its page, as the pipeline stores it: its content hash and,
    when `signed`, the story signature of its text."""
    return Article(
        url=url,
        feed_id=feed_id,
        title=title,
        author=None,
        published_at=at,
        language="en",
        text=text,
        text_source="page",
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        summary="",
        minhash=stories.to_bytes(stories.signature(text)) if signed else None,
    )


def states(settings: Settings) -> list[tuple[str, int]]:
    with db.transaction(db.session_factory(settings)) as session:
        return [
            (a.state, a.attempts)
            for a in session.scalars(select(models.Alert).order_by(models.Alert.id))
        ]


def stored_alerts(settings: Settings) -> set[tuple[str, str]]:
    """(topic, title) of everything alerts tell of, whichever reader and message."""
    with db.transaction(db.session_factory(settings)) as session:
        rows = session.execute(
            select(models.Topic.name, models.Article.title)
            .join(models.AlertTopic, models.AlertTopic.topic_id == models.Topic.id)
            .join(models.Alert, models.Alert.id == models.AlertTopic.alert_id)
            .join(models.Article, models.Alert.article_id == models.Article.id)
        )
        return {(topic, title) for topic, title in rows}


def seed_alerts(
    settings: Settings,
    *titles: str,
    text_of: Callable[[int, str], str] = lambda i, title: f"{title} about Taiwan.",
) -> None:
    """Store one article per title, each matching the 'taiwan' topic, so each has a pending alert."""
    with db.transaction(db.session_factory(settings)) as session:
        store.config.sync_config(session, load_config(settings.config_dir))
        feed = session.scalars(select(models.Feed).order_by(models.Feed.id)).first()
        assert feed is not None
        match = Match(
            topic="taiwan", terms={"Taiwan": 1}, snippet="about Taiwan.", highlights=[(6, 12)]
        )
        tagged = [
            (
                Article(
                    url=f"https://news.example/{i}",
                    feed_id=feed.id,
                    title=title,
                    author=None,
                    published_at=T0,
                    language="en",
                    text=text_of(i, title),
                    text_source="page",
                    content_hash=f"h{i}",
                    summary="",
                ),
                [match],
            )
            for i, title in enumerate(titles)
        ]
        store.articles.save_articles(session, tagged, T0)


def copy_config(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the config folder in tmp_path, NEWSWATCH_CONFIG_DIR pointing at it."""
    folder = tmp_path / "cfg"
    folder.mkdir()
    for name in ("feeds.yaml", "topics.yaml"):
        (folder / name).write_text((settings.config_dir / name).read_text())
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(folder))
    return folder


@contextmanager
def dashboard_after_a_run(raise_server_exceptions: bool = True) -> Iterator[TestClient]:
    """The dashboard over what one pipeline run stores, past Airflow's login (the browser test
    signs in for real); without raise_server_exceptions a 500 is a response, as a browser sees."""
    from newswatch.dashboard import create_app
    from newswatch.dashboard.auth import require_airflow_viewer

    pipeline.run_once(get_settings())
    app = create_app()
    app.dependency_overrides[require_airflow_viewer] = lambda: None
    with TestClient(app, raise_server_exceptions=raise_server_exceptions) as client:
        yield client
