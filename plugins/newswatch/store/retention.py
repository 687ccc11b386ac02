"""Retention: blank the text of old articles, keep what alerts and matches point at.

Titles, URLs, hashes, matches (with their snippets) and alerts stay; only `articles.text`, the
bulk of the store, is emptied and `text_purged_at` records when. Age counts from `fetched_at`,
the time the article entered the store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from newswatch import clock, models
from newswatch.search_vector import ascii_folds, search_vector
from newswatch.settings import Settings
from newswatch.store import db


@dataclass(frozen=True)
class PurgeReport:
    """What one purge did; plain data so it can travel as an XCom."""

    cutoff: datetime
    articles_purged: int
    articles_kept: int

    def as_dict(self) -> dict[str, object]:
        values = asdict(self)
        values["cutoff"] = self.cutoff.isoformat()
        return values


def purge_old_text(session: Session, older_than: timedelta, now: datetime) -> PurgeReport:
    """Blank the text of articles fetched before `now - older_than`; already purged ones are left alone."""
    cutoff = now - older_than
    purged = session.scalars(
        update(models.Article)
        .where(models.Article.fetched_at < cutoff, models.Article.text_purged_at.is_(None))
        # The search vector keeps the title only, folded in SQL as search_document does
        # (titles are short: translate()'s cost is per character).
        .values(
            text="",
            text_purged_at=now,
            search=search_vector(
                func.translate(func.lower(models.Article.title + " "), *ascii_folds())
            ),
        )
        .returning(models.Article.id)
    ).all()
    kept = session.scalar(select(func.count()).where(models.Article.text_purged_at.is_(None)))
    return PurgeReport(cutoff=cutoff, articles_purged=len(purged), articles_kept=kept or 0)


def vacuum_articles(engine: Engine) -> None:
    """VACUUM (ANALYZE) the articles table so the blanked text's space is reusable."""
    # VACUUM cannot run inside a transaction block: use an autocommit connection of its own.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("vacuum (analyze) articles"))


def purge(settings: Settings) -> PurgeReport:
    """Blank text older than `retention_days` in one transaction (migrating first, as runs do)."""
    db.upgrade(db.database_url(settings))
    with db.transaction(db.session_factory(settings)) as session:
        return purge_old_text(session, timedelta(days=settings.retention_days), clock.now())


def vacuum(settings: Settings) -> None:
    vacuum_articles(db.get_engine(db.database_url(settings)))
