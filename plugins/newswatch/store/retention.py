"""Retention: blank the text of old articles, keep what alerts and matches point at.

Titles, URLs, hashes, matches (with their snippets) and alerts stay; only `articles.text`, the
bulk of the store, is emptied and `text_purged_at` records when. Age counts from `fetched_at`,
the time the article entered the store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Engine, Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from newswatch import clock, models
from newswatch.search_vector import search_document, search_vector
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
    # Locked, so a concurrent purge cannot blank a row between this read and the update.
    titles = session.execute(
        select(models.Article.id, models.Article.title)
        .where(models.Article.fetched_at < cutoff, models.Article.text_purged_at.is_(None))
        .with_for_update()
    ).all()
    if titles:
        table = cast(Table, models.Article.__table__)
        # The search vector keeps the title only, folded as search_document folds every
        # article (SQL's translate() cannot fold ß to ss or a ligature to two letters).
        session.execute(
            update(table)
            .where(table.c.id == bindparam("article_id"))
            .values(text="", text_purged_at=now, search=search_vector(bindparam("document"))),
            [{"article_id": id_, "document": search_document(title, "")} for id_, title in titles],
        )
    kept = session.scalar(select(func.count()).where(models.Article.text_purged_at.is_(None)))
    return PurgeReport(cutoff=cutoff, articles_purged=len(titles), articles_kept=kept or 0)


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
