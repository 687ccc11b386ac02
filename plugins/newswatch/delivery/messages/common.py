"""What every email we render needs, written once: headers that no feed string can break,
usable mailboxes, deterministic Message-IDs, links that are only http(s), marked hit spans.

Pure and light (no delivery or database imports), so the CLI and the dashboard use the same
link and span helpers as the mail.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from email import policy as email_policy
from email.header import Header
from email.headerregistry import (
    Address,
    BaseHeader,
    HeaderRegistry,
    UniqueUnstructuredHeader,
)
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, getaddresses, parseaddr
from urllib.parse import urlsplit

from newswatch.records import Links

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
_NOT_IN_URI = re.compile(r'[\s<>",]')
_URI_CHARS = 900  # a header line must stay under 998 characters (RFC 5322)


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


class _UriListHeader(UniqueUnstructuredHeader, BaseHeader):
    """A header of `<URI>, <URI>` (RFC 2369), written as set and folded only between its URIs:
    the email library would fold a long URI into RFC 2047 encoded words, which no mail client
    reads back as a URI (a one-click unsubscribe link is ~200 characters)."""

    max_count = 1

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: " + f",{policy.linesep} ".join(str(self).split(", ")) + policy.linesep


class _SubjectHeader(UniqueUnstructuredHeader, BaseHeader):
    """A Subject folded as the email library folds it, except that the text never starts on
    the line after `Subject:`: a subject of 70-77 characters fits a line of its own, so the
    library broke the line there, and readers' clients showed the subject with a leading
    space. Its first line then runs past 78 characters, well within the 998 allowed."""

    max_count = 1

    def fold(self, *, policy: Policy) -> str:
        if not str(self).isascii():
            # The library can break a line at a space between two encoded words, where
            # readers drop it ("ࠀࠀ ¡" read back as "ࠀࠀ¡"): every word encoded, spaces
            # inside them, the breaks only between them.
            words = Header(str(self), "utf-8", header_name=self.name)
            return f"{self.name}: {words.encode(linesep=policy.linesep)}{policy.linesep}"
        folded = super().fold(policy=policy)
        head = f"{self.name}:{policy.linesep} "
        return f"{self.name}: {folded[len(head) :]}" if folded.startswith(head) else folded


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("List-Unsubscribe", _UriListHeader)
_HEADERS.map_to_type("Subject", _SubjectHeader)
_POLICY = email_policy.default.clone(header_factory=_HEADERS)


def new_message(
    mail_from: str,
    to: Iterable[str],
    subject: str,
    message_id: str,
    now: datetime,
    links: Links | None = None,
    extra: Mapping[str, str] | None = None,
) -> EmailMessage:
    """An email with our headers, in this order: From, To, Subject, Message-ID, `extra`, Date,
    List-Unsubscribe (the https link first, then the mailto) and, with an https link,
    List-Unsubscribe-Post (RFC 8058 one-click); ValueError when an address is unusable."""
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = mailboxes([mail_from])
    msg["To"] = mailboxes(to)
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    for name, value in (extra or {}).items():
        msg[name] = value
    msg["Date"] = format_datetime(now)
    web = _header_uri(links.unsubscribe, ("https", "http")) if links else None
    mail = _mailto(links) if links else None
    if web or mail:
        msg["List-Unsubscribe"] = ", ".join(f"<{uri}>" for uri in (web, mail) if uri)
    if web and urlsplit(web).scheme.lower() == "https":  # RFC 8058: one-click only over HTTPS
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg


def unsubscribe_link(links: Links) -> str | None:
    """Where a message's footer sends a reader who wants no more: the one-click page, else the
    mailto fallback; None when neither is set."""
    return _header_uri(links.unsubscribe, ("https", "http")) or _mailto(links)


def _mailto(links: Links) -> str | None:
    value = links.mailto
    if value and not value.lower().startswith("mailto:"):
        value = f"mailto:{value}"
    return _header_uri(value, ("mailto",))


def _header_uri(value: str | None, schemes: tuple[str, ...]) -> str | None:
    """`value` when it is one URI of one of `schemes` that can stand between angle brackets in
    a header (RFC 2369): ASCII, no spaces, quotes, commas or brackets, nothing header_safe would
    change, short enough for one header line."""
    if (
        not value
        or not value.isascii()
        or len(value) > _URI_CHARS
        or header_safe(value) != value
        or _NOT_IN_URI.search(value)
    ):
        return None
    return value if urlsplit(value).scheme.lower() in schemes else None


def fixed_message_id(prefix: str, key: str, mail_from: str, hex_chars: int = 16) -> str:
    """`<prefix.hash@domain>`, the same for the same key, so a repeat after a crash is
    recognisably the same message; the domain is the sender's when it is a plain host name."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2]
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        domain = "newswatch.invalid"
    return f"<{prefix}.{hashlib.sha256(key.encode()).hexdigest()[:hex_chars]}@{domain}>"


def safe_link(url: str) -> str | None:
    """The URL when it is http(s), else None: no javascript: or data: links from a feed."""
    return url if urlsplit(url).scheme in ("http", "https") else None


def mark_spans(
    text: str, spans: Iterable[tuple[int, int]], left: str, right: str, esc: Callable[[str], str]
) -> str:
    """`text` with each [start, end) span between `left` and `right`, the rest through `esc`;
    a span that overlaps the one before or runs past the end is left unmarked."""
    out: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        if start < cursor or end > len(text):
            continue
        out += [esc(text[cursor:start]), left, esc(text[start:end]), right]
        cursor = end
    out.append(esc(text[cursor:]))
    return "".join(out)
