"""Topics as stored: the ids of the enabled ones."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from newswatch import models


def topic_ids(session: Session) -> dict[str, int]:
    """Id by name of every enabled topic (who follows them is the readers table's)."""
    rows = session.execute(select(models.Topic.name, models.Topic.id).where(models.Topic.enabled))
    return {name: topic_id for name, topic_id in rows}
