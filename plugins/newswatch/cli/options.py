"""Options every `newswatch` command shares, defined once; and the settings, loaded on first use.

The command modules import only typer at their top, and whatever a command needs inside it, so
`newswatch --help` loads neither pydantic, SQLAlchemy, trafilatura nor Airflow
(tests/test_cli_startup.py)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from newswatch.settings import Settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="config folder (default: NEWSWATCH_CONFIG_DIR, else the checkout's config/)",
        exists=True,
        file_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def get_settings() -> Settings:
    """newswatch.settings.get_settings, imported when a command first needs it."""
    from newswatch import settings

    return settings.get_settings()


def settings_for(config: Path | None) -> Settings:
    """Settings from the environment, with --config taking the place of NEWSWATCH_CONFIG_DIR."""
    settings = get_settings()
    if config is not None:
        settings = settings.model_copy(update={"config_dir": config.resolve()})
    return settings


def file_problem(file: Path, max_bytes: int) -> str | None:
    """Why a file named on the command line cannot be read whole (a device or pipe would be read
    forever), or None."""
    shown = shown_path(file)
    info = file.stat()
    if not stat.S_ISREG(info.st_mode):
        return f"{shown}: not a regular file (a device, pipe or socket is never read)"
    if info.st_size > max_bytes:
        return f"{shown}: {info.st_size} bytes, at most {max_bytes} are read"
    return None


def shown_path(path: Path) -> str:
    """A path as a message shows it: cut, so a 5,000-character name stays one readable line."""
    return str(path) if len(str(path)) <= 100 else str(path)[:99] + "…"
