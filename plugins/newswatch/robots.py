"""robots.txt as a site answered it, and how long that answer stays good (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from protego import Protego

ROBOTS_MAX_AGE = timedelta(days=1)
# An unreachable robots.txt blocks its whole site (RFC 9309), so that outcome is kept only
# briefly: a short outage should not keep a site unread for the rest of the day.
UNREACHABLE_MAX_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class RobotsFile:
    """What GET /robots.txt gave: its status (None when no response came) and, for a 200, its text."""

    status: int | None
    text: str | None = None
    error: str | None = None  # why no response came (not stored: a remembered one says "no answer")

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
