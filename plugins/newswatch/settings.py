"""The one settings object: every knob, its default, and the NEWSWATCH_* variable that sets it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSWATCH_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the news store; unset starts embedded PostgreSQL",
    )
    config_dir: Path = PROJECT_ROOT / "config"
    var_dir: Path = PROJECT_ROOT / "var"
    schedule: str = Field(default="@daily", description="Airflow schedule of news_monitor")

    smtp_url: str | None = Field(
        default=None,
        description="smtp://user:password@host:port (smtps:// for TLS, ?starttls=true); "
        "unset uses Airflow's smtp_default connection when it exists, else the file outbox",
    )
    mail_from: str = "newswatch <newswatch@localhost>"
    alert_max_attempts: int = 5

    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    max_feed_bytes: int = 10 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    fetch_concurrency: int = 4
    feeds_per_batch: int = 50
    demo_port: int = Field(
        default=8931,
        description="loopback port of the sample news day; fixed so reruns see the same URLs",
    )

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"


def get_settings() -> Settings:
    """Read settings from the environment now, so tests and the CLI can change them per call."""
    return Settings()
