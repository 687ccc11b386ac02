"""Store behaviour on real PostgreSQL."""

from pathlib import Path

from sqlalchemy import select

from newswatch import models, store
from newswatch.config.load import load_config
from newswatch.settings import Settings
from newswatch.store import db


def test_feed_removed_from_config_is_disabled_not_deleted(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "topics.yaml").write_text(Path(settings.config_dir / "topics.yaml").read_text())
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n  - {name: A, url: 'https://a.example/feed'}\n  - {name: B, url: 'https://b.example/feed'}\n"
    )
    factory = db.session_factory(settings)
    with db.transaction(factory) as session:
        store.config.sync_config(session, load_config(tmp_path))
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - {name: A, url: 'https://a.example/feed'}\n")
    with db.transaction(factory) as session:
        store.config.sync_config(session, load_config(tmp_path))
        feeds = {f.name: f.enabled for f in session.scalars(select(models.Feed))}
    assert feeds == {"A": True, "B": False}


def test_migrations_are_idempotent(settings: Settings) -> None:
    url = db.database_url(settings)
    db.upgrade(url)
    db.upgrade(url)
