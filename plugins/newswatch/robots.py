"""robots.txt kept per site in the news database, so each is read once a day, not once per run.

Every mapped task and hourly tick opens its own Downloader; without this table each of them
would ask every site for robots.txt again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from protego import Protego
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import clock, database, models
from newswatch.settings import Settings

ROBOTS_MAX_AGE = timedelta(days=1)
# An unreachable robots.txt blocks its whole site (RFC 9309), so that outcome is kept only
# briefly: a short outage should not keep a site unread for the rest of the day.
UNREACHABLE_MAX_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class RobotsFile:
    """What GET /robots.txt gave: its status (None when no response came) and, for a 200, its text."""

    status: int | None
    text: str | None = None

    @property
    def reachable(self) -> bool:
        return self.status == 200 or (self.status is not None and 400 <= self.status < 500)

    def rules(self) -> Protego | bool:
        """Parsed rules for a 200; as RFC 9309 says, True (allow all) when there is none (4xx)
        and False (disallow all, for now) when it cannot be read (5xx, network error)."""
        if self.status == 200:
            return Protego.parse(self.text or "")
        return self.reachable


def is_fresh(robots: RobotsFile, fetched_at: datetime, now: datetime) -> bool:
    max_age = ROBOTS_MAX_AGE if robots.reachable else UNREACHABLE_MAX_AGE
    return now - fetched_at < max_age


def recall(session: Session, origin: str, now: datetime) -> RobotsFile | None:
    """The origin's stored robots.txt while it is fresh, else None (read it again)."""
    row = session.scalars(select(models.RobotsTxt).where(models.RobotsTxt.origin == origin)).first()
    if row is None:
        return None
    robots = RobotsFile(row.status, row.body)
    return robots if is_fresh(robots, row.fetched_at, now) else None


def remember(session: Session, origin: str, robots: RobotsFile, now: datetime) -> None:
    # PostgreSQL text cannot hold NUL; robots.txt directives never contain one.
    body = robots.text.replace("\x00", "") if robots.text is not None else None
    stmt = insert(models.RobotsTxt).values(
        origin=origin, fetched_at=now, status=robots.status, body=body
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[models.RobotsTxt.origin],
            set_={
                "fetched_at": stmt.excluded.fetched_at,
                "status": stmt.excluded.status,
                "body": stmt.excluded.body,
            },
        )
    )


class RobotsTable:
    """The Downloader's robots.txt cache in the news database, queried in a thread so the
    event loop keeps downloading meanwhile."""

    def __init__(self, settings: Settings) -> None:
        self.sessions = database.session_factory(settings)

    async def recall(self, origin: str) -> RobotsFile | None:
        return await asyncio.to_thread(self._recall, origin)

    async def remember(self, origin: str, robots: RobotsFile) -> None:
        await asyncio.to_thread(self._remember, origin, robots)

    def _recall(self, origin: str) -> RobotsFile | None:
        with database.transaction(self.sessions) as session:
            return recall(session, origin, clock.now())

    def _remember(self, origin: str, robots: RobotsFile) -> None:
        with database.transaction(self.sessions) as session:
            remember(session, origin, robots, clock.now())
