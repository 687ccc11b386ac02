"""Changing feeds.yaml from the CLI: a new entry checked on its own, then the whole file
validated as it will be read back before it replaces the old one.

The file is edited round trip (ruamel.yaml), so what a change does not touch stays as the user
wrote it: comments, blank lines, key order, quoting and the entries' indentation.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from newswatch.config.load import ConfigError, parse_yaml, pydantic_message, read_text, validate
from newswatch.config.models import Config, FeedConfig, shown

# The layout of the bundled config/feeds.yaml (`  - name: …`): entries indented 4, dashes 2.
DEFAULT_LAYOUT = (4, 2)
# Never fold a long value over lines: a feed URL may be 2,048 bytes.
NO_WRAP = 100_000


def check_feed(name: str | None, url: str) -> None:
    """Refuse a new feeds.yaml entry on its own, before a command fetches or writes anything."""
    try:
        FeedConfig.model_validate({"name": "-" if name is None else name, "url": url})
    except ValidationError as exc:
        problems = "; ".join(f"field '{e['loc'][0]}': {pydantic_message(e)}" for e in exc.errors())
        raise ConfigError(f"new feed {shown(url)}: {problems}") from None


def edit_feeds(
    config_dir: Path, change: Callable[[list[dict[str, Any]]], None], dry_run: bool = False
) -> Config:
    """Apply change to feeds.yaml's entries, keeping the file's comments and layout; write the file
    only when the result is valid (else ConfigError, and the file is untouched) and differs. With
    dry_run the result is validated and nothing is written."""
    path = config_dir / "feeds.yaml"
    original = read_text(path)
    # The safe loader's checks (alias bombs, repeated keys) run before the round-trip parser.
    raw = parse_yaml(path, original)
    if raw is not None and (
        not isinstance(raw, dict) or not isinstance(raw.get("feeds", []), list)
    ):
        raise ConfigError(f"{path}: expected a mapping with a 'feeds' list at the top")
    prefix, body = _split_document_start(original) if raw is not None else (original, "")
    if prefix and not prefix.endswith("\n"):
        prefix += "\n"
    rt = YAML()  # round trip
    rt.preserve_quotes = True
    rt.width = NO_WRAP
    try:
        document = rt.load(body) if raw is not None else CommentedMap()
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    entries = document.setdefault("feeds", CommentedSeq())
    sequence, offset = _layout(body, document)
    rt.indent(mapping=2, sequence=sequence, offset=offset)

    before = [(entry, dict(entry)) for entry in entries if isinstance(entry, CommentedMap)]
    tail = entries[-1] if entries else None
    unchanged = _plain(entries)
    change(entries)
    _like_their_neighbours(entries)
    _quote_what_pyyaml_would_misread(entries, before)
    _keep_trailing_comments(entries, before, tail)

    out = io.StringIO()
    rt.dump(document, out)
    edited = prefix + out.getvalue()
    # Validated as it will be read back, before the file is touched; then replaced in one step.
    config = validate(config_dir, parse_yaml(path, edited))
    if dry_run or _plain(entries) == unchanged:
        return config  # a change that changes nothing leaves the file as it was, byte for byte
    replace_file(path, edited.encode("utf-8"))
    return config


def topic_entry(values: dict[str, Any]) -> str:
    """One topics.yaml entry to paste under `topics:`, laid out as the bundled file (`  - name:
    …`): each string plain where PyYAML reads it back as itself, else quoted, single quotes when
    it is all printable (as the bundled file quotes a query with phrases); checked by reading it
    back (ValueError if it would not be `values`)."""
    rt = YAML()
    rt.width = NO_WRAP
    rt.indent(mapping=2, sequence=4, offset=2)
    entry = CommentedMap(values)
    for key, value in entry.items():
        if type(value) is str and not _read_back_plain(value, flow=False):
            quoted = SingleQuotedScalarString if value.isprintable() else DoubleQuotedScalarString
            entry[key] = quoted(value)
    out = io.StringIO()
    rt.dump(CommentedSeq([entry]), out)
    if yaml.safe_load(out.getvalue()) != [values]:
        raise ValueError(f"topic {shown(str(values.get('name')))} does not read back as written")
    return out.getvalue()


def replace_file(path: Path, data: bytes) -> None:
    """Write path in one step: a reader sees the old file or the new one, never half of it."""
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        staged.write_bytes(data)
        os.replace(staged, path)
    except OSError:
        staged.unlink(missing_ok=True)
        raise


def _plain(entries: list[Any]) -> list[Any]:
    return [dict(entry) if isinstance(entry, dict) else entry for entry in entries]


def _split_document_start(text: str) -> tuple[str, str]:
    """(the lines up to an explicit `---`, the rest): ruamel.yaml drops comments above `---`, so
    they are kept verbatim. No `---` line, or content on it: ("", text)."""
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        bare = line.strip()
        if bare.startswith("---") and bare[3:].lstrip()[:1] in ("", "#"):
            return "".join(lines[: number + 1]), "".join(lines[number + 1 :])
        if bare and not bare.startswith(("#", "%")):
            break
    return "", text


def _layout(text: str, document: CommentedMap) -> tuple[int, int]:
    """How far the list's entries are indented and their dashes offset, as its first entry is."""
    entries = document["feeds"]
    if not isinstance(entries, CommentedSeq) or not entries or entries.fa.flow_style():
        return DEFAULT_LAYOUT
    line, column = entries.lc.item(0)
    key_column = document.lc.key("feeds")[1]
    dash = text.splitlines()[line].rfind("-", 0, column)
    sequence, offset = column - key_column, dash - key_column
    # ruamel.yaml needs the entry to start after its dash and a space.
    return (sequence, offset) if dash >= key_column and sequence >= offset + 2 else DEFAULT_LAYOUT


def _like_their_neighbours(entries: list[Any]) -> None:
    """A new entry (a plain dict) is written in its predecessor's style, `{name: …, url: …}` after
    one-line entries, and can carry comments."""
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and not isinstance(entry, CommentedMap):
            entries[index] = CommentedMap(entry)
            previous = entries[index - 1] if index else None
            if isinstance(previous, CommentedMap) and previous.fa.flow_style():
                entries[index].fa.set_flow_style()


def _quote_what_pyyaml_would_misread(
    entries: list[Any], before: list[tuple[CommentedMap, dict[str, Any]]]
) -> None:
    """Quote a new or changed text value that PyYAML (YAML 1.1, which loads the config) would read
    as something else than ruamel.yaml (YAML 1.2) writes it plain: a feed titled `No` or `On`,
    `12:30`. Untouched values keep their form."""
    old = {id(entry): values for entry, values in before}
    for entry in entries:
        if not isinstance(entry, CommentedMap):
            continue
        previous = old.get(id(entry), {})
        for key, value in entry.items():
            changed = key not in previous or previous[key] != value
            flow = entry.fa.flow_style()
            if type(value) is str and changed and not _read_back_plain(value, flow):
                entry[key] = DoubleQuotedScalarString(value)


def _read_back_plain(value: str, flow: bool) -> bool:
    """Whether PyYAML reads value written plain as itself: in a one-line entry too, where a `,`
    ends it and PyYAML refuses a `?` (a feed URL's query)."""
    document = f"- {{key: {value}}}" if flow else f"- {value}"
    expected: list[Any] = [{"key": value}] if flow else [value]
    try:
        return bool(yaml.safe_load(document) == expected)
    except (yaml.YAMLError, ValueError):  # ValueError: a date PyYAML cannot make (2025-13-45)
        return False


def _keep_trailing_comments(
    entries: list[Any], before: list[tuple[CommentedMap, dict[str, Any]]], tail: Any
) -> None:
    """ruamel.yaml hangs the lines below an entry (a blank line, a commented-out feed, the file's
    closing comment) on the entry's last key; keep them below it when a key is added to the entry,
    and below the list when an entry is appended."""
    for entry, values in before:
        if values and entry:
            _move_trailing_lines(entry, list(values)[-1], entry)
    last = entries[-1] if entries else None
    if isinstance(tail, CommentedMap) and tail and last is not tail and _holds(entries, tail):
        if isinstance(last, CommentedMap) and last and not last.fa.flow_style():
            _move_trailing_lines(tail, list(tail)[-1], last)


def _holds(entries: list[Any], entry: Any) -> bool:
    return any(each is entry for each in entries)


def _move_trailing_lines(source: CommentedMap, key: Any, target: CommentedMap) -> None:
    """Move the whole lines of the comment after source[key] (all but its end-of-line part) to the
    comment after target's last key."""
    target_key = list(target)[-1]
    if source is target and key == target_key:
        return
    slots = source.ca.items.get(key)
    token = slots[2] if slots and len(slots) > 2 else None
    if not isinstance(token, CommentToken):
        return
    end_of_line, _, lines = token.value.partition("\n")
    if not lines:
        return
    token.value = end_of_line + "\n"
    target_slots = target.ca.items.setdefault(target_key, [None, None, None, None])
    if isinstance(target_slots[2], CommentToken):
        target_slots[2].value += lines
    else:
        target_slots[2] = CommentToken("\n" + lines, CommentMark(0))
