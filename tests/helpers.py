"""Helpers shared by test modules, so no test module imports another."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from newswatch import database, models, store
from newswatch.config import load_config
from newswatch.records import Article, Match
from newswatch.settings import Settings

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def seed_alerts(
    settings: Settings,
    *titles: str,
    text_of: Callable[[int, str], str] = lambda i, title: f"{title} about Taiwan.",
) -> None:
    """Store one article per title, each matching the 'taiwan' topic, so each has a pending alert."""
    with database.transaction(database.session_factory(settings)) as session:
        store.sync_config(session, load_config(settings.config_dir))
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
        store.save_articles(session, tagged, T0)
