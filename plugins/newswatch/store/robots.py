"""robots.txt kept per site in the news database, so each is read once a day, not once per run.

Every mapped task and hourly tick opens its own Downloader; without this table each of them
would ask every site for robots.txt again. RobotsTable is the Downloader's RobotsCache."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import clock, models
from newswatch.robots import RobotsFile, is_fresh
from newswatch.settings import Settings
from newswatch.store import db

log = logging.getLogger(__name__)


def recall(session: Session, origin: str, now: datetime) -> RobotsFile | None:
    """The origin's stored robots.txt while it is fresh, else None (read it again)."""
    return recall_many(session, [origin], now)[origin]


def recall_many(
    session: Session, origins: Iterable[str], now: datetime
) -> dict[str, RobotsFile | None]:
    """recall for each origin, in one query per thousand."""
    wanted = sorted(set(origins))
    found: dict[str, RobotsFile | None] = dict.fromkeys(wanted)
    for start in range(0, len(wanted), 1000):
        rows = session.scalars(
            select(models.RobotsTxt).where(
                models.RobotsTxt.origin.in_(wanted[start : start + 1000])
            )
        )
        for row in rows:
            robots = RobotsFile(row.status, row.body)
            found[row.origin] = robots if is_fresh(robots, row.fetched_at, now) else None
    return found


def remember(session: Session, origin: str, robots: RobotsFile, now: datetime) -> None:
    remember_many(session, {origin: (robots, now)})


def remember_many(session: Session, answers: Mapping[str, tuple[RobotsFile, datetime]]) -> None:
    """Store each origin's robots.txt as read at its time, in one statement."""
    if not answers:
        return
    rows = [
        {
            "origin": origin,
            "fetched_at": at,
            "status": robots.status,
            # PostgreSQL text cannot hold NUL; robots.txt directives never contain one.
            "body": robots.text.replace("\x00", "") if robots.text is not None else None,
        }
        for origin, (robots, at) in answers.items()
    ]
    stmt = insert(cast(Table, models.RobotsTxt.__table__))  # Core: one statement for all rows
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[models.RobotsTxt.origin],
            set_={
                "fetched_at": stmt.excluded.fetched_at,
                "status": stmt.excluded.status,
                "body": stmt.excluded.body,
            },
        ),
        rows,
    )


class RobotsTable:
    """The Downloader's robots.txt cache in the news database, queried in a thread so the
    event loop keeps downloading meanwhile.

    `recall_all` asks for a batch's sites in one query before their first requests; one query
    a site, as each was first contacted, held up the start of a run of 500 sites. New answers
    are written together by `save` (the Downloader calls it as it closes): a transaction a
    site, as each was read, held up the page robots.txt had cleared and cost ~1 ms of CPU each.
    One not saved (the process killed first) is only read again by the next run."""

    def __init__(self, settings: Settings) -> None:
        self.sessions = db.session_factory(settings)
        self._recalled: dict[str, RobotsFile | None] = {}
        self._unsaved: dict[str, tuple[RobotsFile, datetime]] = {}

    async def recall_all(self, origins: Iterable[str]) -> None:
        """Recall these origins' answers now; `recall` then gives them without a query."""
        wanted = set(origins) - self._recalled.keys()
        if wanted:
            self._recalled.update(await asyncio.to_thread(self._recall_many, wanted))

    async def recall(self, origin: str) -> RobotsFile | None:
        if origin not in self._recalled:
            await self.recall_all([origin])
        return self._recalled[origin]

    def _recall_many(self, origins: set[str]) -> dict[str, RobotsFile | None]:
        with db.transaction(self.sessions) as session:
            return recall_many(session, origins, clock.now())

    async def remember(self, origin: str, robots: RobotsFile) -> None:
        self._recalled[origin] = robots
        self._unsaved[origin] = (robots, clock.now())

    async def save(self) -> None:
        """Write the answers remembered since the last save, in one transaction. A failure is
        logged, not raised: the next run reads those sites' robots.txt again."""
        unsaved, self._unsaved = self._unsaved, {}
        if not unsaved:
            return
        try:
            await asyncio.to_thread(self._save, unsaved)
        except Exception:
            log.exception("robots.txt of %d site(s) not remembered", len(unsaved))

    def _save(self, answers: dict[str, tuple[RobotsFile, datetime]]) -> None:
        with db.transaction(self.sessions) as session:
            remember_many(session, answers)
