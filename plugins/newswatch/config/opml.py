"""OPML in and out: the outlines of another feed reader's export as typed records, what importing
them into feeds.yaml does to each, and feeds.yaml's feeds as an OPML 2.0 document. Pure
functions over bytes and records; the CLI reads and writes the files.

An OPML file is hostile input. It is read by the standard library's expat, which fetches
nothing, with any DOCTYPE refused before its first declaration: no entity is ever declared, so
none is expanded (billion laughs) or fetched (external entities). Its size and its number of
outlines are bounded, and each outline is judged on its own.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import format_datetime
from typing import Literal
from xml.parsers import expat

from pydantic import ValidationError

from newswatch.config.load import pydantic_message
from newswatch.config.models import FEED_NAME_CHARS, FeedConfig, feed_name, shown
from newswatch.urls import address_key, parse_url

# A reader's export of 1,000 feeds is about 250 kB; 5,000 feeds is more than one newswatch polls.
MAX_OPML_BYTES = 5 * 1024 * 1024
MAX_OUTLINES = 5_000
FOLDER_SEPARATOR = " / "
FOLDER_CHARS = 500  # a folder path reported is cut here, however deep the nesting
EXPORT_TITLE = "newswatch feeds"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Outline types that name a feed (none at all is common). FreshRSS exports its scrapers as
# type="HTML+XPath" and the like, whose xmlUrl is a web page.
FEED_TYPES = frozenset({"", "rss", "atom", "rdf", "feed", "json", "jsonfeed"})

Action = Literal["added", "already_there", "skipped"]


class OpmlError(ValueError):
    """The bytes are not an OPML document that can be read; the message says why, in one line."""


@dataclass(frozen=True)
class Outline:
    """One `<outline>` of an OPML body, its attributes as the file has them."""

    number: int  # its place among the file's outlines, from 1, in document order
    text: str = ""
    title: str = ""
    xml_url: str = ""
    kind: str = ""  # its type attribute: rss, atom, or another kind of source
    folder: str = ""  # the outlines it is nested in, "News / Tech"; "" at the top
    commented: bool = False  # isComment="true": OPML's way of keeping an entry that is off
    has_children: bool = False

    @property
    def label(self) -> str:
        """What the reader showed for it: its text (a name the user gave it), else its title (in
        a subscription list, the feed's own title)."""
        return self.text.strip() or self.title.strip()

    @property
    def is_folder(self) -> bool:
        """A category: it holds outlines and names no feed of its own."""
        return self.has_children and not self.xml_url.strip()


@dataclass(frozen=True)
class Fate:
    """What importing one outline does: add a feed, find it in feeds.yaml (or earlier in the
    file) already, or skip it, saying why."""

    outline: Outline
    action: Action
    name: str = ""  # the feed added, or the one already there
    url: str = ""
    note: str = ""  # why it was skipped; for a feed added, why its name differs


def parse_opml(data: bytes) -> list[Outline]:
    """Every outline in the body of an OPML document, nested ones in document order; OpmlError
    for anything that is not a well-formed OPML file within the bounds."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"more than {MAX_OPML_BYTES:,} bytes: expected a list of feeds")
    try:
        reader = _read(data)
    except OpmlError:
        raise
    except LookupError:  # an encoding Python does not know either
        raise OpmlError(f"unknown encoding {shown(_declared_encoding(data))}") from None
    except ValueError:  # a multi-byte encoding expat lacks (Shift_JIS, GB2312): Python decodes it
        reader = _read(_as_utf8(data), encoding="UTF-8")
    if reader.root != "opml":  # expat has refused a file without elements already
        raise OpmlError(f"not OPML: the document is <{(reader.root or '')[:40]}>, not <opml>")
    return reader.found


def _read(data: bytes, encoding: str | None = None) -> _Reader:
    reader = _Reader()
    parser = expat.ParserCreate(encoding)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = reader.doctype
    parser.EntityDeclHandler = reader.doctype
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        where = f"line {exc.lineno}, column {exc.offset + 1}"
        raise OpmlError(f"unreadable XML at {where}: {expat.ErrorString(exc.code)}") from None
    return reader


_DECLARATION = re.compile(rb"""\s*<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")


def _declared_encoding(data: bytes) -> str:
    found = _DECLARATION.match(data[:500])
    return found.group(1).decode("ascii") if found else ""


def _as_utf8(data: bytes) -> bytes:
    """The document re-encoded as UTF-8 from the encoding it declares."""
    encoding = _declared_encoding(data) or "UTF-8"
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise OpmlError(f"not {encoding} as it says (byte {exc.start})") from None
    except (UnicodeError, LookupError):
        raise OpmlError(f"unreadable as {shown(encoding)}") from None


class _Reader:
    """expat's handlers: the outlines under <body>, each with the folders around it. Counters
    rather than a walk up the open elements, so a file nested a million deep costs no more."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.bodies = 0  # <body> elements open
        self.open: list[tuple[int, str]] = []  # open outlines: (index in found, path inside it)
        self.found: list[Outline] = []

    def doctype(self, *_: object) -> None:
        raise OpmlError("a DOCTYPE: an OPML file needs none, and its entities are never read")

    def start(self, name: str, attributes: dict[str, str]) -> None:
        tag = name.lower()
        self.root = self.root or tag
        if tag == "body":
            self.bodies += 1
        if tag != "outline" or not self.bodies:
            return
        if len(self.found) >= MAX_OUTLINES:
            raise OpmlError(f"more than {MAX_OUTLINES:,} outlines: expected a list of feeds")
        # Attribute names in any case: xmlURL and xmlurl are in the wild.
        attrs = {key.lower(): value for key, value in attributes.items()}
        folder = ""
        if self.open:
            parent, folder = self.open[-1]
            if not self.found[parent].has_children:
                self.found[parent] = replace(self.found[parent], has_children=True)
        outline = Outline(
            number=len(self.found) + 1,
            text=attrs.get("text", ""),
            title=attrs.get("title", ""),
            xml_url=attrs.get("xmlurl", ""),
            kind=attrs.get("type", ""),
            folder=folder,
            commented=attrs.get("iscomment", "").strip().lower() == "true",
        )
        self.found.append(outline)
        inside = feed_name(outline.label, "?")
        path = f"{folder}{FOLDER_SEPARATOR}{inside}" if folder else inside
        self.open.append((len(self.found) - 1, path[:FOLDER_CHARS]))

    def end(self, name: str) -> None:
        tag = name.lower()
        if tag == "outline" and self.bodies:
            self.open.pop()
        elif tag == "body":
            self.bodies -= 1


def plan_import(
    outlines: Iterable[Outline],
    existing: Iterable[tuple[str, str]],
    refusal: Callable[[str], str | None],
) -> list[Fate]:
    """The fate of each outline but folders, imported into a feeds.yaml holding `existing`
    (name, url): a valid feed added, a feed found there by its address (address_key), or a skip
    with its reason. Names added are distinct from every other, told apart by a suffix "(2)".
    refusal(url) says why an address is never to be polled (a private one), or None."""
    known = {_key(url): name for name, url in existing}
    added_by: dict[str, int] = {}  # address -> the outline that added it
    names = _Names(name for name, _ in existing)
    fates = []
    for outline in outlines:
        if outline.is_folder:
            continue
        try:
            fate = _fate(outline, known, names, refusal)
        except Exception as exc:  # one outline's failure is its own: the others still import
            fate = Fate(outline, "skipped", note=f"unexpected error: {type(exc).__name__}: {exc}")
        if fate.action == "added":
            known[_key(fate.url)] = fate.name
            added_by[_key(fate.url)] = outline.number
            names.take(fate.name)
        elif fate.action == "already_there" and _key(fate.url) in added_by:
            fate = replace(fate, note=f"repeats outline {added_by[_key(fate.url)]}")
        fates.append(fate)
    return fates


def _fate(
    outline: Outline,
    known: dict[str, str],
    names: _Names,
    refusal: Callable[[str], str | None],
) -> Fate:
    url = outline.xml_url.strip()
    if not url:
        return Fate(outline, "skipped", note="no xmlUrl: not a feed")
    if outline.kind.strip().lower() not in FEED_TYPES:
        return Fate(outline, "skipped", note=f"type {shown(outline.kind)}: not a feed")
    parsed = parse_url(url)
    refused = parsed.refused if parsed.url is None else refusal(parsed.url)
    if refused:
        return Fate(outline, "skipped", note=refused)
    if _key(url) in known:
        return Fate(outline, "already_there", name=known[_key(url)], url=url)
    wanted = feed_name(outline.label, url)
    name = names.distinct(wanted)
    try:
        FeedConfig.model_validate({"name": name, "url": url, "enabled": not outline.commented})
    except ValidationError as exc:
        why = "; ".join(f"{e['loc'][0]}: {pydantic_message(e)}" for e in exc.errors())
        return Fate(outline, "skipped", url=url, note=why)
    renamed = f"the name {wanted!r} is taken" if name != wanted else ""
    return Fate(outline, "added", name=name, url=url, note=renamed)


def _key(url: str) -> str:
    try:
        return address_key(url)
    except ValueError:  # an entry of feeds.yaml that validation is about to refuse
        return url


class _Names:
    """Feed names taken, as a person tells them apart (case aside), and the next free suffix."""

    def __init__(self, taken: Iterable[str]) -> None:
        self.taken = {str(name).casefold() for name in taken}
        self.next_suffix: dict[str, int] = {}

    def take(self, name: str) -> None:
        self.taken.add(name.casefold())

    def distinct(self, name: str) -> str:
        """name, or name with the first free " (N)" (cut to fit FEED_NAME_CHARS)."""
        if name.casefold() not in self.taken:
            return name
        number = self.next_suffix.get(name.casefold(), 2)
        while True:
            suffix = f" ({number})"
            candidate = name[: FEED_NAME_CHARS - len(suffix)].rstrip() + suffix
            number += 1
            if candidate.casefold() not in self.taken:
                self.next_suffix[name.casefold()] = number
                return candidate


def write_opml(feeds: Sequence[FeedConfig], created: datetime) -> bytes:
    """An OPML 2.0 document (UTF-8) listing each feed as an `<outline type="rss">`; a disabled
    feed is kept with isComment="true", which parse_opml reads back as disabled."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = EXPORT_TITLE
    ET.SubElement(head, "dateCreated").text = format_datetime(created)  # RFC 822, as OPML says
    body = ET.SubElement(root, "body")
    for feed in feeds:
        name = _NOT_XML.sub("\ufffd", feed.name)  # U+FFFE is printable to feeds.yaml, not to XML
        attributes = {"type": "rss", "text": name, "title": name, "xmlUrl": feed.url}
        if not feed.enabled:
            attributes["isComment"] = "true"
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    document = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{document}\n'.encode()
