"""Reading feeds.yaml and topics.yaml: YAML parsed safely and within bounds, then validated,
with one clear message naming file, entry and field for whatever is wrong."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from newswatch.config.models import Config, FeedsFile, TopicsFile, shown

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A config file is missing or invalid; the message names the file, the entry and the field."""


def load_config(config_dir: Path) -> Config:
    """Load and validate both files; raise ConfigError before any work starts."""
    feeds_path = config_dir / "feeds.yaml"
    return validate(config_dir, parse_yaml(feeds_path, read_text(feeds_path)))


def validate(config_dir: Path, feeds_raw: Any) -> Config:
    feeds = _model(config_dir / "feeds.yaml", feeds_raw, FeedsFile, "feeds")
    topics_path = config_dir / "topics.yaml"
    topics = _model(
        topics_path, parse_yaml(topics_path, read_text(topics_path)), TopicsFile, "topics"
    )
    _unique(config_dir / "feeds.yaml", "feeds", [f.name for f in feeds.feeds], "name")
    _unique(config_dir / "feeds.yaml", "feeds", [f.url for f in feeds.feeds], "url")
    _unique(config_dir / "topics.yaml", "topics", [t.name for t in topics.topics], "name")
    for index, topic in enumerate(topics.topics):
        if not topic.recipients and not topics.recipients:
            raise ConfigError(
                f"{config_dir / 'topics.yaml'}: topics[{index}] ({topic.name!r}): field 'recipients': "
                "no recipients, and no top-level 'recipients' default"
            )
    _unique(config_dir / "topics.yaml", "subscribers", [s.name for s in topics.subscribers], "name")
    known = {topic.name for topic in topics.topics}
    for index, sub in enumerate(topics.subscribers):
        unknown = [name for name in sub.topics if name not in known]
        if unknown:
            raise ConfigError(
                f"{config_dir / 'topics.yaml'}: subscribers[{index}] ({sub.name!r}): field 'topics': "
                f"no such topic {shown(unknown[0])}"
            )
    return Config(
        feeds=feeds.feeds,
        topics=topics.topics,
        default_recipients=[str(r) for r in topics.recipients],
        subscribers=topics.subscribers,
    )


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Hashable, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(f"key {key!r} repeats")
        self.key, self.first, self.again = key, first, again


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error: by default the
    last one silently wins, so a second `query:` would replace the first unnoticed."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Hashable, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` is meant to be overridden
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the base class reports unhashable keys
            if key in seen:
                raise _DuplicateKey(key, seen[key].start_mark, key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


# Values and characters a config may hold once aliases are expanded: far beyond a real one.
# Nine levels of ten aliases (700 bytes of YAML) expand to 10**9 values, and 5,000 aliases of
# one 1 MB string to 5 GB, which validation then walked and copied.
MAX_CONFIG_VALUES = 100_000
MAX_CONFIG_CHARS = 10_000_000


def _too_many_values(value: Any) -> bool:
    """Whether value, with every alias expanded, holds more than MAX_CONFIG_VALUES values or
    MAX_CONFIG_CHARS characters; stops counting as soon as it does, so an alias bomb costs
    nothing."""
    pending, seen, chars = [value], 0, 0
    while pending:
        current = pending.pop()
        seen += 1
        chars += len(current) if isinstance(current, str) else 0
        if seen > MAX_CONFIG_VALUES or chars > MAX_CONFIG_CHARS:
            return True
        if isinstance(current, dict):
            pending.extend(current.keys())
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return False


def parse_yaml(path: Path, text: str) -> Any:
    try:
        parsed = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
        if _too_many_values(parsed):
            raise ConfigError(
                f"{path}: more than {MAX_CONFIG_VALUES} values or {MAX_CONFIG_CHARS} characters "
                "once its aliases (*name) are expanded: expected a config, not a YAML alias bomb"
            )
        return parsed
    except _DuplicateKey as exc:
        raise ConfigError(
            f"{path}: line {exc.again.line + 1}: key {shown(exc.key)} repeats the one on line "
            f"{exc.first.line + 1} of the same mapping: expected each key once"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(f"{exc.context or ''} {exc.problem or ''}".split())
        raise ConfigError(f"{path}: not valid YAML: {where}{problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None


def _model(path: Path, raw: Any, model: type[M], list_key: str) -> M:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a '{list_key}' list at the top")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, raw, exc)) from None


def _describe(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = list(error["loc"])
        where = "top level"
        # Entries of any top-level list (feeds, topics, subscribers) are named by index and name.
        if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
            key, index = loc[0], loc[1]
            entries = raw.get(key) or []
            entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"{key}[{index}]" + (f" ({shown(name)})" if name else "")
            loc = loc[2:]
        field = ".".join(str(part) for part in loc) or "(entry)"
        lines.append(f"{path}: {where}: field '{field}': {pydantic_message(error)}")
    return "\n".join(lines)


def pydantic_message(error: Any) -> str:
    """pydantic's message without its "Value error, " prefix, which tells a reader nothing."""
    return str(error["msg"]).removeprefix("Value error, ")


def _unique(path: Path, list_key: str, values: list[str], field: str) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise ConfigError(
                f"{path}: {list_key}[{index}]: field '{field}': "
                f"{value!r} repeats {list_key}[{seen[value]}]"
            )
        seen[value] = index
