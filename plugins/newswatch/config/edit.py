"""Changing feeds.yaml from the CLI: a new entry checked on its own, then the whole file
validated as it will be read back before it replaces the old one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from newswatch.config.load import ConfigError, parse_yaml, pydantic_message, read_text, validate
from newswatch.config.models import Config, FeedConfig, shown


def check_feed(name: str | None, url: str) -> None:
    """Refuse a new feeds.yaml entry on its own, before a command fetches or writes anything."""
    try:
        FeedConfig.model_validate({"name": "-" if name is None else name, "url": url})
    except ValidationError as exc:
        problems = "; ".join(f"field '{e['loc'][0]}': {pydantic_message(e)}" for e in exc.errors())
        raise ConfigError(f"new feed {shown(url)}: {problems}") from None


def edit_feeds(config_dir: Path, change: Callable[[list[dict[str, Any]]], None]) -> Config:
    """Apply change to feeds.yaml's entries, keep the file's leading comments; write the file only
    when the result is valid (else ConfigError, and the file is untouched).

    Comments inside the list are not kept: the entries are written back as YAML data.
    """
    path = config_dir / "feeds.yaml"
    original = read_text(path)
    raw = parse_yaml(path, original) or {}
    if not isinstance(raw, dict) or not isinstance(raw.setdefault("feeds", []), list):
        raise ConfigError(f"{path}: expected a mapping with a 'feeds' list at the top")
    change(raw["feeds"])
    header = "".join(line for line in original.splitlines(keepends=True) if line.startswith("#"))
    edited = header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    # Validated as it will be read back, before the file is touched; then replaced in one step.
    config = validate(config_dir, parse_yaml(path, edited))
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staged.write_text(edited, encoding="utf-8")
    os.replace(staged, path)
    return config
