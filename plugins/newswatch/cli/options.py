"""Options every `newswatch` command shares, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newswatch.settings import Settings, get_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="config folder (default: NEWSWATCH_CONFIG_DIR or ./config)",
        exists=True,
        file_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def settings_for(config: Path | None) -> Settings:
    """Settings from the environment, with --config taking the place of NEWSWATCH_CONFIG_DIR."""
    settings = get_settings()
    if config is not None:
        settings = settings.model_copy(update={"config_dir": config.resolve()})
    return settings
