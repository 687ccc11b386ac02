"""Deliver pending alerts exactly once: claim a row, send, mark it sent, in one transaction.

Guarantee: an alert is marked sent only after the mail server accepted it. If the process dies
between acceptance and our commit, the next run sends it again with the same Message-ID, which
mail clients use to drop the repeat. With the server down, alerts stay pending for the next run;
a message the server refuses is retried with exponential backoff and marked failed after
`alert_max_attempts` tries. A message that can never go as it is (a header the email library
refuses) fails at once, alone. Each recipient of an email has its own outcome (`outcomes`): one
the server cannot take (an internationalised address without SMTPUTF8) or refuses with a 5xx
while taking the others is refused for good; one given a 4xx is retried, and a retry goes only
to those still owed the message.
"""

from __future__ import annotations

import copy
import email.policy
import os
import smtplib
import ssl
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any, ParamSpec, Protocol
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.orm import Session, sessionmaker

from newswatch import clock, models, store
from newswatch.alerts import AlertView, mailboxes, render_alert
from newswatch.database import transaction
from newswatch.digest import (
    Digest,
    chart_days,
    digest_message_id,
    digest_text,
    digest_title,
    render_digest,
)
from newswatch.settings import Settings

P = ParamSpec("P")

# Refusals of one message; anything else (connection lost, server down) stops the whole delivery.
MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused)


class TransportDown(Exception):
    """The mail server cannot be reached; nothing more can be sent this run."""


class Undeliverable(Exception):
    """This one message can never go as it is; it fails now and the others still go."""


# What rendering or serialising one message raises when a header or address is unusable.
RENDER_ERRORS = (ValueError, LookupError, MessageError)


@dataclass(frozen=True)
class Wire:
    """A message as it goes out: the envelope and the bytes."""

    sender: str
    recipients: list[str]
    data: bytes
    utf8: bool  # an address is not ASCII: the server must offer SMTPUTF8


def to_wire(msg: EmailMessage, linesep: str = "\r\n") -> Wire:
    """Serialise once, before any connection is used, so a message that cannot be written
    fails alone; non-ASCII addresses are written as UTF-8 (RFC 6532), as smtplib would."""
    try:
        ((_, sender),) = getaddresses([str(msg["From"])])
        recipients = [addr for _, addr in getaddresses([str(v) for v in msg.get_all("To", [])])]
        utf8 = not "".join([sender, *recipients]).isascii()
        data = msg.as_bytes(policy=email.policy.default.clone(linesep=linesep, utf8=utf8))
    except RENDER_ERRORS as exc:
        raise Undeliverable(f"cannot serialise the message: {type(exc).__name__}: {exc}") from None
    return Wire(sender, recipients, data, utf8)


@dataclass(frozen=True)
class Refusal:
    """Why one recipient did not get a message: the server's reply, or code None when the
    address was never offered to this server, which cannot take it (no SMTPUTF8)."""

    code: int | None
    reason: str


@dataclass(frozen=True)
class Receipt:
    """What became of each envelope recipient of one message."""

    delivered: list[str] = field(default_factory=list)
    refused: dict[str, Refusal] = field(default_factory=dict)


class Transport(Protocol):
    where: str

    def send_each(self, msg: EmailMessage, skip: Collection[str] = ()) -> Receipt:
        """Send to the To addresses not in `skip`; the server's answer for each."""
        ...

    def send(self, msg: EmailMessage) -> None:
        """Send to every recipient, or raise Undeliverable: for a notice with no outbox row."""
        ...

    def close(self) -> None: ...


def send_all(transport: Transport, msg: EmailMessage) -> None:
    refused = transport.send_each(msg).refused
    if refused:
        raise Undeliverable(refusals_text(refused))


def refusals_text(refused: Mapping[str, Refusal]) -> str:
    return "; ".join(f"{addr}: {r.reason}" for addr, r in refused.items())


def _without(msg: EmailMessage, dropped: Collection[str]) -> EmailMessage:
    """A copy of `msg` whose To no longer lists `dropped` (and has no To if nobody is left)."""
    kept = [
        address
        for header in msg.get_all("To", [])
        for address in header.addresses
        if address.addr_spec not in dropped
    ]
    out = copy.deepcopy(msg)
    del out["To"]
    if kept:
        out["To"] = kept
    return out


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    tls: bool = False
    starttls: bool = False

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"NEWSWATCH_SMTP_URL must look like smtp://host:port, got {url!r}")
        query = parse_qs(parts.query)
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            starttls=query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"),
        )


class SmtpTransport:
    def __init__(self, target: SmtpTarget, mail_from: str) -> None:
        self.target = target
        self.mail_from = mail_from
        self.where = f"smtp://{target.host}:{target.port}"
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        try:
            smtp: smtplib.SMTP
            if t.tls:
                smtp = smtplib.SMTP_SSL(
                    t.host, t.port, timeout=30, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(t.host, t.port, timeout=30)
                if t.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if t.user:
                smtp.login(t.user, t.password or "")
            smtp.ehlo_or_helo_if_needed()  # so has_extn() knows what the server offers
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportDown(f"{self.where}: {type(exc).__name__}: {exc}") from None
        return smtp

    def send(self, msg: EmailMessage) -> None:
        send_all(self, msg)

    def send_each(self, msg: EmailMessage, skip: Collection[str] = ()) -> Receipt:
        wire = to_wire(msg)
        if not wire.recipients:
            raise Undeliverable("the message has no recipient address")
        if self._smtp is None:
            self._smtp = self._connect()
        cannot: dict[str, Refusal] = {}
        if wire.utf8 and not self._smtp.has_extn("smtputf8"):
            # Permanent for this server, but only for these addresses: they leave To (a server
            # without SMTPUTF8 cannot carry them in a header either) and the rest still go.
            if not wire.sender.isascii():
                raise Undeliverable(
                    f"{self.where} does not offer SMTPUTF8, needed for the internationalised "
                    f"sender {ascii(wire.sender)[:200]}"
                )
            reason = f"{self.where} does not offer SMTPUTF8, needed for this address"
            cannot = {r: Refusal(None, reason) for r in wire.recipients if not r.isascii()}
            msg = _without(msg, cannot)
            cannot = {addr: r for addr, r in cannot.items() if addr not in skip}
            if msg["To"] is None:
                return Receipt(refused=cannot)
            wire = to_wire(msg)
            if wire.utf8:  # an address that To and the envelope spell differently
                raise Undeliverable(f"{self.where} does not offer SMTPUTF8")
        envelope = [r for r in wire.recipients if r not in skip]
        if not envelope:
            return Receipt(refused=cannot)
        options = ["SMTPUTF8", "BODY=8BITMIME"] if wire.utf8 else []
        try:
            answers = self._smtp.sendmail(wire.sender, envelope, wire.data, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            if any(code == 421 for code, _ in exc.recipients.values()):
                self._smtp = None  # smtplib closed it: a fault of the session, not the message
                raise TransportDown(f"{self.where}: {exc}") from None
            answers = exc.recipients  # every one refused: nobody got it
        except smtplib.SMTPNotSupportedError as exc:
            raise Undeliverable(f"{self.where}: {exc}") from None
        except MESSAGE_ERRORS as exc:
            if getattr(exc, "smtp_code", None) != 421:
                raise
            # 421: the server is closing the connection, a fault of the session, not the message.
            self._smtp = None
            raise TransportDown(f"{self.where}: {exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            self._smtp = None
            raise TransportDown(f"{self.where}: {type(exc).__name__}: {exc}") from None
        refused = {
            addr: Refusal(code, f"{code} {reply.decode('utf-8', 'replace')}")
            for addr, (code, reply) in answers.items()
        }
        return Receipt([r for r in envelope if r not in refused], cannot | refused)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None


class OutboxTransport:
    """No mail server configured: each message becomes an .eml file, named by its Message-ID."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where = str(folder)

    def send(self, msg: EmailMessage) -> None:
        send_all(self, msg)

    def send_each(self, msg: EmailMessage, skip: Collection[str] = ()) -> Receipt:
        """The file holds the whole message; every recipient not yet settled counts as served."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = "".join(
            c if c.isalnum() or c in ".-" else "_" for c in str(msg["Message-ID"]).strip("<>")
        )
        path = self.folder / f"{name}.eml"
        partial = path.with_suffix(".tmp")
        wire = to_wire(msg, linesep="\n")
        partial.write_bytes(wire.data)
        os.replace(partial, path)
        return Receipt(delivered=[r for r in wire.recipients if r not in skip])

    def close(self) -> None:
        pass


def make_transport(settings: Settings) -> Transport:
    """NEWSWATCH_SMTP_URL, else Airflow's smtp_default connection, else the file outbox."""
    if settings.smtp_url:
        return SmtpTransport(SmtpTarget.from_url(settings.smtp_url), settings.mail_from)
    target = _airflow_smtp_target()
    if target is not None:
        return SmtpTransport(target, settings.mail_from)
    return OutboxTransport(settings.outbox_dir)


def _airflow_smtp_target() -> SmtpTarget | None:
    """The smtp_default connection, when Airflow defines one (env or secrets backend)."""
    if "airflow" not in sys.modules and "AIRFLOW_CONN_SMTP_DEFAULT" not in os.environ:
        # Not in an Airflow task, where only the environment could define it: importing
        # Airflow to find nothing costs seconds of CPU.
        return None
    try:
        from airflow.sdk import Connection

        conn = Connection.get("smtp_default")
    except Exception:  # outside a task, or no such connection: both mean "not configured"
        return None
    if not conn.host:
        return None
    extra = conn.extra_dejson
    # Same defaults as Airflow's SMTP provider: SSL unless disable_ssl, else STARTTLS unless disable_tls.
    tls = not extra.get("disable_ssl", False)
    return SmtpTarget(
        host=conn.host,
        port=conn.port or (465 if tls else 25),
        user=conn.login or None,
        password=conn.password or None,
        tls=tls,
        starttls=not tls and not extra.get("disable_tls", False),
    )


@dataclass
class Delivery:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    where: str = ""
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "alerts_sent": self.sent,
            "alerts_retrying": self.retrying,
            "alerts_failed": self.failed,
        }


CLAIM = text(
    (
        Path(__file__).resolve().parents[2] / "sql" / "queries" / "claim_pending_alert.sql"
    ).read_text()
)


class ChannelError(Exception):
    """An Apprise channel could not take a notification (unset variable, bad URL, refusal)."""


class AppriseChannels:
    """Sends alerts to subscribers' Apprise URLs, read from the environment at send time."""

    def __init__(self, env_names: Mapping[str, list[str]] | None = None) -> None:
        self.env_names = dict(env_names or {})

    def send(self, channel: str, title: str, body: str) -> None:
        import apprise

        names = self.env_names.get(channel)
        if not names:
            raise ChannelError(
                f"{channel}: no subscriber with apprise_env by that name in topics.yaml"
            )
        notifier = apprise.Apprise()
        for name in names:
            url = os.environ.get(name)
            if not url:
                raise ChannelError(f"{channel}: environment variable {name} is not set")
            if not notifier.add(url):
                raise ChannelError(f"{channel}: {name} does not hold a valid Apprise URL")
        if not notifier.notify(title=title, body=body):
            raise ChannelError(f"{channel}: the service did not accept the notification")


def deliver_pending(
    factory: sessionmaker[Session],
    transport: Transport,
    settings: Settings,
    channels: AppriseChannels | None = None,
) -> Delivery:
    """Send every due pending alert, one transaction per alert, until none is left.

    With the mail server down, email alerts stay pending and the other channels still go.
    """
    result = Delivery(where=transport.where)
    apprise_channels = channels or AppriseChannels()
    if not _sender_usable(settings, result):
        transport.close()
        return result
    email_ok = True
    try:
        while True:
            with transaction(factory) as session:
                alert_id = session.scalar(CLAIM, {"now": clock.now(), "email_ok": email_ok})
                if alert_id is None:
                    return result
                alert = session.get_one(models.Alert, alert_id)
                view = alert_view(session, alert)
                try:
                    msg = rendered(
                        render_alert,
                        view,
                        settings.mail_from,
                        clock.now(),
                        settings.list_unsubscribe,
                    )
                    if alert.channel == "email":
                        attempt = attempt_of(transport.send_each(msg, set(alert.outcomes)))
                        where = transport.where
                    else:
                        body = msg.get_body(("plain",))
                        text_body = body.get_content() if isinstance(body, EmailMessage) else ""
                        apprise_channels.send(alert.channel, str(msg["Subject"]), text_body)
                        attempt, where = Attempt(delivered=[alert.channel]), alert.channel
                except TransportDown as exc:
                    result.errors.append(str(exc))
                    email_ok = False  # the row stays pending; other channels go on
                    continue
                except Undeliverable as exc:
                    _settle(alert, Attempt(hopeless=str(exc)), settings, result)
                except (*MESSAGE_ERRORS, ChannelError) as exc:
                    _settle(alert, Attempt(retry=f"{type(exc).__name__}: {exc}"), settings, result)
                else:
                    _settle(alert, attempt, settings, result, str(msg["Message-ID"]), where)
    finally:
        transport.close()


def rendered(render: Callable[P, EmailMessage], *args: P.args, **kwargs: P.kwargs) -> EmailMessage:
    """An email from its renderer; Undeliverable when a header or address is unusable."""
    try:
        return render(*args, **kwargs)
    except RENDER_ERRORS as exc:
        raise Undeliverable(f"cannot render the message: {type(exc).__name__}: {exc}") from None


def _sender_usable(settings: Settings, result: Delivery) -> bool:
    """False, with the reason in result.errors, when NEWSWATCH_MAIL_FROM is not one usable
    address: a fault of the configuration, not of any message (every message, Apprise ones
    too, is rendered with it), so everything waits, pending, until it is fixed."""
    try:
        usable = len(mailboxes([settings.mail_from])) == 1
    except ValueError:
        usable = False
    if not usable:
        result.errors.append(
            f"NEWSWATCH_MAIL_FROM {ascii(settings.mail_from)[:200]} is not one usable email "
            "address; nothing is sent until it is fixed"
        )
    return usable


@dataclass(frozen=True)
class Attempt:
    """One try at a row: who got it now, who never will, and why the others must wait."""

    delivered: list[str] = field(default_factory=list)  # addresses, or the Apprise channel
    refused: dict[str, str] = field(default_factory=dict)  # refused for good: address -> reason
    retry: str | None = None  # why those still owed it must wait: tried again after a backoff
    hopeless: str | None = None  # why the message can never go as it is: the row ends now


def attempt_of(receipt: Receipt) -> Attempt:
    """A 5xx is final for its recipient when the server took the message for another one in
    the same transaction; when it took it for nobody, the refusal may be the server's own
    (relay, policy, quota) and is retried like any refusal of the whole message."""
    for_good = {
        addr: refusal.reason
        for addr, refusal in receipt.refused.items()
        if refusal.code is None or (refusal.code >= 500 and receipt.delivered)
    }
    later = {addr: r for addr, r in receipt.refused.items() if addr not in for_good}
    retry = f"SMTPRecipientsRefused: {refusals_text(later)}" if later else None
    return Attempt(receipt.delivered, for_good, retry)


def _settle(
    row: models.Alert | models.DigestMail,
    attempt: Attempt,
    settings: Settings,
    result: Delivery,
    message_id: str | None = None,
    where: str | None = None,
) -> None:
    """Record one try at a claimed row, in the transaction that claimed it: `sent` once
    nobody is owed it any more and someone got it, `failed` if nobody ever can, else pending
    again after a backoff for those still owed it, and only them."""
    kind = "digest" if isinstance(row, models.DigestMail) else "alert"
    now = clock.now()
    row.attempts += 1
    outcomes = dict(row.outcomes)
    outcomes |= {addr: {"state": "sent"} for addr in attempt.delivered}
    outcomes |= {addr: {"state": "refused", "reason": r} for addr, r in attempt.refused.items()}
    row.outcomes = outcomes
    if attempt.delivered:
        row.sent_at = now
        row.message_id = message_id
        row.delivered_to = where
    refused = {addr: o["reason"] for addr, o in outcomes.items() if o["state"] == "refused"}
    reason = f"Undeliverable: {attempt.hopeless}" if attempt.hopeless else attempt.retry
    row.last_error = _summary(reason, refused)
    if attempt.retry and not attempt.hopeless and row.attempts < settings.alert_max_attempts:
        row.next_attempt_at = now + timedelta(minutes=2**row.attempts)
        result.retrying += 1
        return
    if any(o["state"] == "sent" for o in outcomes.values()):
        row.state = "sent"
        result.sent += 1
        if row.last_error:
            result.errors.append(f"{kind} {row.id} sent, not to everyone: {row.last_error}")
        return
    row.state = "failed"
    result.failed += 1
    after = f" after {row.attempts} attempts" if attempt.retry and not attempt.hopeless else ""
    result.errors.append(f"{kind} {row.id} failed{after}: {row.last_error}")


def _summary(reason: str | None, refused: Mapping[str, str]) -> str | None:
    """last_error: why the last try fell short, and who was refused for good."""
    parts = [reason] if reason else []
    if refused:
        parts.append("not delivered to " + "; ".join(f"{a}: {r}" for a, r in refused.items()))
    return "; ".join(parts)[:1000] or None


def alert_view(session: Session, alert: models.Alert) -> AlertView:
    """What an alert shows, in one query (not the article's text: an alert never needs it)."""
    row = session.execute(
        select(
            models.Topic.name,
            models.Topic.title,
            models.Article.title,
            models.Article.url,
            models.Feed.name,  # the configured name: a feed's own <title> could claim any outlet
            models.Article.published_at,
            models.Match.terms,
            models.Match.snippet,
            models.Match.highlights,
            models.Article.text_source,
        )
        .select_from(models.Match)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .join(models.Topic, models.Topic.id == models.Match.topic_id)
        .join(models.Feed, models.Feed.id == models.Article.feed_id)
        .where(models.Match.id == alert.match_id)
    ).one()
    topic, topic_title, title, url, source, published_at, terms, snippet, spans, text_source = row
    return AlertView(
        alert_id=alert.id,
        topic=topic,
        topic_title=topic_title,
        recipients=list(alert.recipients),
        title=title,
        url=url,
        source=source,
        published_at=published_at,
        terms=dict(terms),
        snippet=snippet,
        highlights=[(int(a), int(b)) for a, b in spans],
        text_source=text_source,
        copies=store.story_copies(session, alert.story_id),
    )


def requeue(session: Session, alert_id: int) -> bool:
    """Make an alert pending again with fresh attempts, due now, for those who did not get it
    (for everyone when all did); False if there is no such alert."""
    alert = session.get(models.Alert, alert_id)
    if alert is None:
        return False
    everyone_got_it = alert.state == "sent" and alert.last_error is None
    alert.outcomes = {} if everyone_got_it else _only_sent(alert.outcomes)
    alert.state = "pending"
    alert.attempts = 0
    alert.last_error = None
    alert.next_attempt_at = clock.now()
    return True


def _only_sent(outcomes: Mapping[str, Any]) -> dict[str, Any]:
    return {addr: o for addr, o in outcomes.items() if o["state"] == "sent"}


def list_alerts(
    session: Session, state: str | None = None, limit: int = 100, undelivered: bool = False
) -> list[models.Alert]:
    """Newest first; `undelivered`: the failed ones, the sent ones that someone did not get, and
    pending ones someone will never get (refused for good while others are retried)."""
    query = select(models.Alert).order_by(models.Alert.id.desc()).limit(limit)
    if state:
        query = query.where(models.Alert.state == state)
    if undelivered:
        refused = func.jsonb_path_exists(
            models.Alert.outcomes, literal_column("""'$.* ? (@.state == "refused")'::jsonpath""")
        )
        query = query.where(
            (models.Alert.state == "failed")
            | ((models.Alert.state == "sent") & models.Alert.last_error.is_not(None))
            | ((models.Alert.state == "pending") & refused)
        )
    return list(session.scalars(query))


CLAIM_DIGEST = text(
    (
        Path(__file__).resolve().parents[2] / "sql" / "queries" / "claim_pending_digest.sql"
    ).read_text()
)
CHART_DAYS = 14


def deliver_digests(
    factory: sessionmaker[Session], transport: Transport, settings: Settings
) -> Delivery:
    """Send every due pending digest, by email or to its Apprise channel, with the same outbox
    guarantees as alerts; an empty one is recorded as "empty" and sent only to subscribers who
    asked for empty digests. With the mail server down, the other channels still go."""
    result = Delivery(where=transport.where)
    zone = ZoneInfo(settings.digest_timezone)
    if not _sender_usable(settings, result):
        transport.close()
        return result
    email_ok = True
    try:
        while True:
            with transaction(factory) as session:
                digest_id = session.scalar(CLAIM_DIGEST, {"now": clock.now(), "email_ok": email_ok})
                if digest_id is None:
                    return result
                row = session.get_one(models.DigestMail, digest_id)
                digest = build_digest(session, row, zone)
                row.stories = digest.story_count
                if digest.story_count == 0 and not row.send_empty:
                    row.state = "empty"
                    continue
                try:
                    if row.channel == "email":
                        msg = rendered(
                            render_digest,
                            digest,
                            settings.mail_from,
                            clock.now(),
                            settings.list_unsubscribe,
                        )
                        attempt = attempt_of(transport.send_each(msg, set(row.outcomes)))
                        where = transport.where
                    else:
                        # The row names the variables holding the channel's URLs (store.plan_digest).
                        channel = AppriseChannels({row.channel: [str(n) for n in row.recipients]})
                        channel.send(row.channel, digest_title(digest), digest_text(digest))
                        attempt, where = Attempt(delivered=[row.channel]), row.channel
                except TransportDown as exc:
                    result.errors.append(str(exc))
                    email_ok = False  # the row stays pending; other channels go on
                    continue
                except Undeliverable as exc:
                    _settle(row, Attempt(hopeless=str(exc)), settings, result)
                except (*MESSAGE_ERRORS, ChannelError) as exc:
                    _settle(row, Attempt(retry=f"{type(exc).__name__}: {exc}"), settings, result)
                else:
                    message_id = digest_message_id(digest, settings.mail_from)
                    _settle(row, attempt, settings, result, message_id, where)
    finally:
        transport.close()


def build_digest(session: Session, row: models.DigestMail, zone: ZoneInfo) -> Digest:
    """The digest of a row, its chart bucketed by local calendar day in `zone`."""
    days = chart_days(row.period_end, zone, CHART_DAYS)
    topics = [str(name) for name in row.topics]
    return Digest(
        subscriber=row.subscriber,
        recipients=[str(r) for r in row.recipients] if row.channel == "email" else [],
        period_start=row.period_start,
        period_end=row.period_end,
        topics=store.digest_topics(session, topics, row.period_start, row.period_end),
        daily_hits=store.daily_story_hits(session, topics, days, zone.key),
        days=days,
        zone=zone,
    )
