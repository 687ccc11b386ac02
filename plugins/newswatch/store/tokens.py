"""Access tokens (newswatch.access) as the store keeps them: made, listed, revoked, and
recognised for one request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from newswatch import access, models
from newswatch.store import readers

INSTALLATION_SECRET = "installation"  # the secrets row migration 0020 made
# A feed reader polls every few minutes: last_used_at is written at most this often.
TOUCH_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class TokenRow:
    id: int
    grant: access.Grant
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: models.AccessToken) -> TokenRow:
        grant = access.Grant(row.scope, row.target)  # type: ignore[arg-type]
        return cls(row.id, grant, row.label, row.created_at, row.last_used_at, row.revoked_at)


def create(session: Session, grant: access.Grant, label: str, at: datetime) -> tuple[int, str]:
    """A new token for `grant`: its id, and the token itself, which nothing can show again."""
    token = access.new_token()
    row = models.AccessToken(
        scope=grant.scope,
        target=grant.target,
        label=label[: access.LABEL_CHARS],
        digest=access.digest(token),
        created_at=at,
    )
    session.add(row)
    session.flush()
    return row.id, token


def listing(session: Session) -> list[TokenRow]:
    return [
        TokenRow.of(row)
        for row in session.scalars(select(models.AccessToken).order_by(models.AccessToken.id))
    ]


def revoke(session: Session, token_id: int, at: datetime) -> TokenRow | None:
    """Revoke a token at once (a revoked one stays listed); None when there is no such token."""
    row = session.get(models.AccessToken, token_id, with_for_update=True)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = at
    return TokenRow.of(row)


def holder(session: Session, token: str) -> TokenRow | None:
    """The live token presented, or None (malformed, unknown or revoked alike)."""
    if not access.well_formed(token):
        return None
    row = session.scalar(
        select(models.AccessToken).where(
            models.AccessToken.digest == access.digest(token),
            models.AccessToken.revoked_at.is_(None),
        )
    )
    return None if row is None else TokenRow.of(row)


def touch(session: Session, token_id: int, at: datetime) -> None:
    """Record that a token was used, at most once per TOUCH_EVERY."""
    session.execute(
        update(models.AccessToken)
        .where(models.AccessToken.id == token_id)
        .where(
            or_(
                models.AccessToken.last_used_at.is_(None),
                models.AccessToken.last_used_at < at - TOUCH_EVERY,
            )
        )
        .values(last_used_at=at)
    )


def installation(session: Session) -> str:
    """This installation's id (a UUID), so its Atom ids never collide with another's."""
    return readers.secret(session, INSTALLATION_SECRET)
