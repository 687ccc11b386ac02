"""The one place that decides what "now" is, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    """Pin now() to a fixed UTC time (None releases it); for tests."""
    global _frozen
    _frozen = at
