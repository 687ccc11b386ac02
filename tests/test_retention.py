"""Retention on the real store: old article text blanked, everything alerts point at kept."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from expected import SAMPLE_DAY_ALERTS, SAMPLE_DAY_MESSAGES
from helpers import stored_alerts
from sqlalchemy import func, select, text

from newswatch import clock, models, pipeline, store
from newswatch.records import Article
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db, retention

OLD_DAY = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
TODAY = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
FRESH_URL = "https://example.com/news/fresh-story"


def _store_fresh_article(settings: Settings) -> None:
    fresh = Article(
        url=FRESH_URL,
        feed_id=1,
        title="A story from this week",
        author=None,
        published_at=TODAY,
        language="en",
        text="Body text that is still within the retention window.",
        text_source="page",
        content_hash="f" * 64,
        summary="",
    )
    with db.transaction(db.session_factory(settings)) as session:
        store.articles.save_articles(session, [(fresh, [])], TODAY)


@pytest.fixture
def old_and_fresh(settings: Settings, news_day: SampleDay) -> Settings:
    """The sample day stored on OLD_DAY (with its matches and alerts), plus one article from TODAY."""
    clock.freeze(OLD_DAY)
    pipeline.run_once(get_settings())
    _store_fresh_article(settings)
    clock.freeze(TODAY)
    return get_settings()


def _articles(settings: Settings) -> dict[str, models.Article]:
    with db.transaction(db.session_factory(settings)) as session:
        return {a.url: a for a in session.scalars(select(models.Article))}


def _count(settings: Settings, model: type[models.Base]) -> int:
    with db.transaction(db.session_factory(settings)) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_text_older_than_retention_is_blanked_and_fresh_text_kept(old_and_fresh: Settings) -> None:
    settings = old_and_fresh
    before = _articles(settings)
    report = retention.purge(settings)

    after = _articles(settings)
    old_urls = [url for url in after if url != FRESH_URL]
    assert report.articles_purged == len(old_urls) and report.articles_kept == 1
    assert report.cutoff == TODAY - timedelta(days=180)
    for url in old_urls:
        assert after[url].text == "" and after[url].text_purged_at == TODAY
        assert after[url].title == before[url].title and before[url].text != ""
    assert after[FRESH_URL].text == before[FRESH_URL].text
    assert after[FRESH_URL].text_purged_at is None


def test_purge_keeps_titles_matches_and_alerts(old_and_fresh: Settings) -> None:
    settings = old_and_fresh
    matches, alerts = _count(settings, models.Match), _count(settings, models.Alert)
    retention.purge(settings)
    assert stored_alerts(settings) == SAMPLE_DAY_ALERTS
    assert _count(settings, models.Match) == matches
    assert _count(settings, models.Alert) == alerts == SAMPLE_DAY_MESSAGES


def test_second_purge_changes_nothing(old_and_fresh: Settings) -> None:
    settings = old_and_fresh
    first = retention.purge(settings)
    purged_at = {url: a.text_purged_at for url, a in _articles(settings).items()}
    clock.freeze(TODAY + timedelta(days=1))
    second = retention.purge(get_settings())
    assert first.articles_purged > 0 and second.articles_purged == 0
    assert {url: a.text_purged_at for url, a in _articles(settings).items()} == purged_at


def test_retention_days_setting_moves_the_cutoff(
    old_and_fresh: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_RETENTION_DAYS", "365")
    report = retention.purge(get_settings())
    assert report.articles_purged == 0
    assert all(a.text for a in _articles(old_and_fresh).values())


def test_vacuum_runs_outside_a_transaction(settings: Settings) -> None:
    engine = db.get_engine(db.database_url(settings))

    def vacuums() -> int:
        with engine.connect() as conn:
            conn.execute(text("select pg_stat_clear_snapshot()"))
            return int(
                conn.scalar(
                    text("select vacuum_count from pg_stat_user_tables where relname = 'articles'")
                )
            )

    before = vacuums()
    retention.vacuum(settings)
    assert vacuums() == before + 1


def test_maintenance_dag_purges_old_text(old_and_fresh: Settings, airflow_db: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    dags = Path(__file__).resolve().parents[1] / "dags"
    dag = DagBag(dag_folder=str(dags / "news_maintenance.py")).dags["news_maintenance"]
    assert dag.test().state == "success"
    texts = {url: a.text for url, a in _articles(old_and_fresh).items()}
    assert texts.pop(FRESH_URL) and set(texts.values()) == {""}
