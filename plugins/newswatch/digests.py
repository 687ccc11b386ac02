"""Digests on an operator's demand: which period a day's digest covers, a preview that sends
nothing, and sending (or resending) a past period's digest through the usual outbox.

The news_digest DAG plans the digest of the day ending at each digest time; these functions
name the same periods, so `newswatch digest send --day D` is the digest the DAG sent or would
have sent that morning, and a second send is the same rows, never a duplicate (unless resent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import update

from newswatch import clock, models, store
from newswatch.config.load import load_config
from newswatch.config.models import Config, SubscriberConfig
from newswatch.delivery import send, transports
from newswatch.pipeline import config_channels
from newswatch.records import Digest
from newswatch.settings import Settings
from newswatch.store import db


class DigestRequestError(ValueError):
    """A digest the config cannot give (no such subscriber, none at all, a day to come)."""


def period_end(
    settings: Settings, day: date | None, now: datetime, upcoming: bool = False
) -> datetime:
    """When the digest of `day` is due (digest time there, in the digest time zone); without a
    day, the latest digest time up to now, or with `upcoming` the next one (the digest still
    gathering, which a preview may show and a send may not)."""
    zone = ZoneInfo(settings.digest_timezone)
    hour, minute = (int(part) for part in settings.digest_time.split(":"))
    if day is None:
        local = now.astimezone(zone)
        at = datetime.combine(local.date(), time(hour, minute), zone)
        if upcoming:
            end = at if at > local else at + timedelta(days=1)
        else:
            end = at if at <= local else at - timedelta(days=1)
    else:
        end = datetime.combine(day, time(hour, minute), zone)
        if end > now and not upcoming:
            raise DigestRequestError(
                f"the digest of {day} is not due until {end:%Y-%m-%d %H:%M %Z}: "
                "`newswatch digest preview` shows it as it stands"
            )
    return end.astimezone(UTC)


def subscriber(config: Config, name: str | None, where: Path) -> SubscriberConfig:
    """The named digest subscriber, or the first one; a clear error otherwise."""
    digests = config.digest_subscribers()
    names = ", ".join(sub.name for sub in digests) or "none"
    if name is None:
        if not digests:
            raise DigestRequestError(
                f"no subscriber has mode: digest in {where / 'topics.yaml'}; "
                "config/README.md shows how to add one"
            )
        return digests[0]
    for sub in digests:
        if sub.name == name:
            return sub
    raise DigestRequestError(f"no digest subscriber {name!r}; digest subscribers: {names}")


def preview(settings: Settings, name: str | None, day: date | None) -> Digest:
    """The digest `name` gets (its first address) for the period, as delivery would build it
    now, neither stored nor sent; without a day, the next one to go, as it stands."""
    sub = subscriber(load_config(settings.config_dir), name, settings.config_dir)
    end = period_end(settings, day, clock.now(), upcoming=True)
    channel, recipients = (
        ("email", [str(sub.emails[0])]) if sub.emails else next(iter(sub.channel_env().items()))
    )
    row = models.DigestMail(
        subscriber=sub.name,
        channel=channel,
        recipients=recipients,
        topics=list(sub.topics),
        send_empty=True,
        period_start=end - timedelta(days=1),
        period_end=end,
        overflow=False,
    )
    with db.read(settings) as session:
        return store.views.digest_view(session, row, send.addressing(settings))


@dataclass(frozen=True)
class Sent:
    """What `send_period` did: whose digest, for which period, and the delivery."""

    subscriber: str
    period_end: datetime
    delivery: send.Delivery


def send_period(
    settings: Settings, name: str | None, day: date | None, resend: bool = False
) -> Sent:
    """Queue the subscriber's digest of the period (a no-op when already queued) and deliver
    every due digest; `resend` makes that period's rows pending again first, for everyone."""
    sub = subscriber(load_config(settings.config_dir), name, settings.config_dir)
    end = period_end(settings, day, clock.now())
    with db.transaction(db.session_factory(settings)) as session:
        store.outbox.plan_digest(session, sub, end - timedelta(days=1), end, clock.now())
        if resend:
            session.execute(
                update(models.DigestMail)
                .where(
                    models.DigestMail.subscriber == sub.name,
                    models.DigestMail.period_end == end,
                )
                .values(
                    state="pending",
                    attempts=0,
                    outcomes={},
                    last_error=None,
                    next_attempt_at=clock.now(),
                )
            )
    factory = db.session_factory(settings)
    chat, _ = config_channels(settings)  # the config loaded above: it is valid
    delivery = send.deliver_digests(factory, transports.make_transport(settings), settings, chat)
    return Sent(sub.name, end, delivery)
