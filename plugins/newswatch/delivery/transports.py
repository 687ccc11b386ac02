"""How a message leaves: SMTP (NEWSWATCH_SMTP_URL or Airflow's smtp_default) or .eml files in
the outbox folder, each answering per recipient (a Receipt), so the send loop can tell a server
that is down (TransportDown: stop this run) from a message that can never go (Undeliverable: it
fails alone) and from one recipient refused while others are served.
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
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import ParamSpec, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

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


def rendered(render: Callable[P, EmailMessage], *args: P.args, **kwargs: P.kwargs) -> EmailMessage:
    """An email from its renderer; Undeliverable when a header or address is unusable."""
    try:
        return render(*args, **kwargs)
    except RENDER_ERRORS as exc:
        raise Undeliverable(f"cannot render the message: {type(exc).__name__}: {exc}") from None
