"""Topics as stored: ids and recipients of the enabled ones."""

from __future__ import annotations

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from newswatch import models


def topic_ids(session: Session) -> dict[str, tuple[int, list[str]]]:
    rows = session.execute(
        select(models.Topic.name, models.Topic.id, models.Topic.recipients).where(
            models.Topic.enabled
        )
    )
    return {name: (topic_id, list(recipients)) for name, topic_id, recipients in rows}
