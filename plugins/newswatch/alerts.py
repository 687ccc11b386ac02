"""Alert emails: what one shows (AlertView) and how it is rendered (pure, every feed string escaped)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from urllib.parse import urlsplit

# What no header may carry: C0 and C1 controls (CR, LF, NEL), DEL, lone surrogates, Unicode line
# and paragraph separators, and the bidirectional overrides, isolates and marks that make a
# subject or sender read other than it is.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]+"
)
# An RFC 2047 encoded word, as loosely as email.header and the header parser recognise one.
_ENCODED_WORD = re.compile(r"=\?([^?]*)\?([qQbB])\?(.*?)\?=")
_QUOTED_BYTE = re.compile(rb"=([0-9A-Fa-f]{2})")
# Each decoding can reveal another encoded word; what is left after this many is neutralised.
_DECODE_ROUNDS = 8
SUBJECT_CHARS = 180


@dataclass(frozen=True)
class AlertView:
    alert_id: int
    topic: str
    topic_title: str
    recipients: list[str]
    title: str
    url: str
    source: str
    published_at: datetime | None
    terms: dict[str, int]
    snippet: str
    highlights: list[tuple[int, int]]
    text_source: str
    copies: list[tuple[str, str]] = field(default_factory=list)  # (outlet, url) of every copy


def message_id(view: AlertView, mail_from: str) -> str:
    """Deterministic per alert, so a repeat after a crash is recognisable as the same message."""
    digest = hashlib.sha256(f"{view.url}\n{view.topic}".encode()).hexdigest()[:16]
    return f"<alert.{view.alert_id}.{digest}@{id_domain(mail_from)}>"


def render_alert(
    view: AlertView, mail_from: str, now: datetime, unsubscribe: str | None = None
) -> EmailMessage:
    """The alert email; ValueError when a recipient or the sender is not a usable address."""
    msg = EmailMessage()
    msg["From"] = mailboxes([mail_from])
    msg["To"] = mailboxes(view.recipients)
    msg["Subject"] = header_safe(f"[newswatch] {view.topic_title}: {view.title}")[:SUBJECT_CHARS]
    msg["Message-ID"] = message_id(view, mail_from)
    msg["X-Newswatch-Topic"] = header_safe(view.topic)
    msg["X-Newswatch-Alert"] = str(view.alert_id)
    msg["Date"] = format_datetime(now)
    if unsubscribe:
        msg["List-Unsubscribe"] = f"<{header_safe(unsubscribe)}>"
    msg.set_content(_plain(view))
    msg.add_alternative(_html(view), subtype="html")
    return msg


def header_safe(value: str) -> str:
    """One plain line that no mail library can turn back into line breaks: encoded words are
    decoded (again and again, as decoding can reveal more), controls, line separators and bidi
    overrides removed, and any "=?" left broken so nothing downstream decodes it again.

    Every header value goes through here last: CPython 3.11.7 folds an encoded word holding
    CR LF into a real line break (CVE-2024-6923), so safety cannot be left to `email`."""
    text = value
    for _ in range(_DECODE_ROUNDS):
        previous = text
        text = _ENCODED_WORD.sub(_decoded_word, _UNSAFE.sub(" ", text))
        if text == previous:
            break
    return " ".join(_UNSAFE.sub(" ", text).replace("=?", "= ?").split())


def _decoded_word(word: re.Match[str]) -> str:
    """The text of one encoded word; the word itself when it cannot be decoded."""
    charset, encoding, payload = word.groups()
    try:
        data = payload.encode("ascii")
        if encoding in "qQ":
            data = _QUOTED_BYTE.sub(
                lambda m: bytes.fromhex(m[1].decode()), data.replace(b"_", b" ")
            )
        else:
            data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
            data = base64.b64decode(data + b"=" * (-len(data) % 4))
        return data.decode(charset.partition("*")[0], "replace")
    except (ValueError, LookupError, TypeError):  # not ASCII, bad base64, unknown charset
        return word[0]


def mailboxes(values: Iterable[str]) -> list[Address]:
    """Addresses for From and To (a value may list several), each display name made
    header_safe; ValueError names one that is not a usable address (no @, spaces, controls, or
    an encoded word, which the header parser would decode)."""
    found = []
    for name, addr in getaddresses(list(values)):
        local, at, domain = addr.rpartition("@")
        if (
            not (local and at and domain)
            or "=?" in addr
            or _UNSAFE.search(addr)
            or any(c.isspace() for c in addr)
        ):
            raise ValueError(f"not a usable email address: {ascii(addr or name)[:200]}")
        found.append(Address(display_name=header_safe(name), username=local, domain=domain))
    return found


def id_domain(mail_from: str) -> str:
    """The right-hand side of our Message-IDs: the sender's domain when it is a plain host name."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2]
    return domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain) else "newswatch.invalid"


def safe_link(url: str) -> str | None:
    return url if urlsplit(url).scheme in ("http", "https") else None


def _terms(view: AlertView) -> str:
    return ", ".join(f"{term} ×{count}" for term, count in sorted(view.terms.items()))


def _when(view: AlertView) -> str:
    return view.published_at.strftime("%Y-%m-%d %H:%M UTC") if view.published_at else "date unknown"


def _plain(view: AlertView) -> str:
    marked = mark_spans(view.snippet, view.highlights, "[", "]", lambda s: s)
    link = safe_link(view.url) or "(no link in the feed)"
    lines = [
        f"Topic: {view.topic_title}",
        f"Title: {header_safe(view.title)}",
        f"Source: {header_safe(view.source)}",
        f"Published: {_when(view)}",
        f"Link: {link}",
        f"Matched: {_terms(view)}",
        "",
        marked,
    ]
    if len(view.copies) > 1:
        lines += ["", f"Carried by {len(view.copies)} sources:"]
        lines += [
            f"  - {header_safe(outlet)}: {safe_link(url) or url}" for outlet, url in view.copies
        ]
    if view.text_source != "page":
        lines += [
            "",
            f"(Text taken from the feed's {view.text_source.replace('feed_', '')}: the page could not be read.)",
        ]
    return "\n".join(lines) + "\n"


def _html(view: AlertView) -> str:
    esc = html.escape
    marked = mark_spans(view.snippet, view.highlights, "<mark>", "</mark>", esc)
    link = safe_link(view.url)
    title = f'<a href="{esc(link)}">{esc(view.title)}</a>' if link else esc(view.title)
    note = ""
    if len(view.copies) > 1:
        items = "".join(
            f'<li>{esc(outlet)}: <a href="{esc(link)}">{esc(link)}</a></li>'
            if (link := safe_link(url))
            else f"<li>{esc(outlet)}</li>"
            for outlet, url in view.copies
        )
        note += f"<p>Carried by {len(view.copies)} sources:</p><ul>{items}</ul>"
    if view.text_source != "page":
        note += f"<p><small>Text taken from the feed's {esc(view.text_source.replace('feed_', ''))}: the page could not be read.</small></p>"
    return (
        "<!doctype html><html><body>"
        f"<p><small>newswatch · topic <b>{esc(view.topic_title)}</b></small></p>"
        f"<h2>{title}</h2>"
        f"<p>{esc(view.source)} · {esc(_when(view))}</p>"
        f"<blockquote>{marked}</blockquote>"
        f"<p>Matched: {esc(_terms(view))}</p>{note}"
        "</body></html>"
    )


def mark_spans(
    text: str, spans: list[tuple[int, int]], left: str, right: str, esc: Callable[[str], str]
) -> str:
    out: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        if start < cursor or end > len(text):
            continue
        out += [esc(text[cursor:start]), left, esc(text[start:end]), right]
        cursor = end
    out.append(esc(text[cursor:]))
    return "".join(out)
