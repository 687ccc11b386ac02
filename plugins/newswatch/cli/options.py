"""Options every `newswatch` command shares, defined once; and the settings, loaded on first use.

The command modules import only typer at their top, and whatever a command needs inside it, so
`newswatch --help` loads neither pydantic, SQLAlchemy, trafilatura nor Airflow
(tests/test_cli_startup.py)."""

from __future__ import annotations

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
