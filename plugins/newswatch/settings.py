"""The one settings object: every knob, its default, and the NEWSWATCH_* variable that sets it."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def source_checkout() -> Path | None:
    """The source checkout this package runs from (an editable install, or plugins/ on
    Airflow's path), None for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "dags").is_dir() else None


def home() -> Path:
    """Where config/ and var/ are by default: the checkout's, from whatever folder a command
    runs; for an installed package, which has no checkout around it, the working directory."""
    return source_checkout() or Path.cwd()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSWATCH_", extra="ignore", use_attribute_docstrings=True
    )

    database_url: str | None = None
    """SQLAlchemy URL of the news store; unset starts embedded PostgreSQL"""
    db_read_timeout: float = Field(5.0, gt=0, le=3600)
    """seconds PostgreSQL lets one statement of a dashboard page or CLI listing run before
    cancelling it (the page answers 503), so a crafted request cannot hold a core"""
    config_dir: Path = Field(default_factory=lambda: home() / "config")
    """folder with feeds.yaml and topics.yaml; default the checkout's config/ (home())"""
    var_dir: Path = Field(default_factory=lambda: home() / "var")
    """embedded PostgreSQL's data, the file outbox and the demo's files; default the checkout's
    var/ (home())"""
    schedule: str = "@daily"
    """Airflow schedule of news_monitor"""
    maintenance_schedule: str = "@daily"
    """Airflow schedule of news_maintenance"""
    airflow_pool: str = "newswatch_sites"
    """Airflow pool of the site-facing process_feeds tasks; its size caps them across all workers
    (`airflow pools set newswatch_sites 4 ...`)"""

    smtp_url: str | None = None
    """smtp://user:password@host:port (smtps:// for TLS, ?starttls=true); unset uses Airflow's
    smtp_default connection when it exists, else the file outbox"""
    mail_from: str = "newswatch <newswatch@localhost>"
    operator_email: str | None = None
    """who is emailed when a DAG run fails and gets the daily feed-watch report; unset only logs
    a failure"""
    operator_apprise_env: str = Field(
        "", pattern=r"^[A-Za-z_][A-Za-z0-9_]*(,[A-Za-z_][A-Za-z0-9_]*)*$|^$"
    )
    """comma-separated names of environment variables holding Apprise URLs (Slack, Teams…) that
    get the daily feed-watch report too"""
    alert_max_attempts: int = Field(5, ge=1, le=100)
    digest_time: str = Field("07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    """local time of news_digest"""
    digest_timezone: str = "Asia/Tokyo"
    """time zone of digest_time"""
    unsubscribe: str | None = None
    """unsubscribe target of messages without a signed one-click link (no public_url): a
    mailto:, or an https:// page of the operator's that accepts RFC 8058 POSTs; default mails
    the sender"""
    public_url: str | None = Field(None, pattern=r"^https?://[^\s]+$")
    """the dashboard's address as readers reach it (https://airflow.example.com/newswatch):
    emails link to it, and its one-click unsubscribe URL goes in List-Unsubscribe"""
    max_alerts_per_hour: int = Field(20, ge=1, le=10_000)
    """immediate messages one reader gets per hour at most; the rest wait for their next digest
    (or one "N more stories" message at the end of the run for readers without one)"""

    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"
    connect_timeout: float = Field(10.0, gt=0, le=3600)
    read_timeout: float = Field(20.0, gt=0, le=3600)
    total_timeout: float = Field(60.0, gt=0, le=86400)
    """deadline for a whole request, so a slow-drip server cannot hold a worker"""
    max_feed_bytes: int = Field(10 * 1024 * 1024, ge=1024, le=2**30)
    max_page_bytes: int = Field(5 * 1024 * 1024, ge=1024, le=2**30)
    fetch_concurrency: int = Field(4, ge=1, le=1000)
    """requests in flight per worker process"""
    per_host_concurrency: int = Field(2, ge=1, le=100)
    per_host_interval: float = Field(1.0, ge=0, le=3600)
    """seconds between requests to one host (the request robots.txt cleared follows it at once)"""
    allow_hosts: str = ""
    """comma-separated hosts, IPs or networks (127.0.0.1, 10.0.0.0/8, intranet.example) exempt from
    the guard that refuses private and loopback addresses"""
    min_poll_interval_minutes: int = Field(15, ge=1, le=24 * 60)
    max_poll_interval_hours: int = Field(24, ge=1, le=24 * 31)
    poll_slack_minutes: int = Field(30, ge=0, le=24 * 60)
    """a feed due this soon is polled by the current tick, so daily ticks never skip it"""
    full_poll_after_days: int = Field(7, ge=1, le=3650)
    """poll without validators after this long, for servers whose validators lie"""
    max_consecutive_failures: int = Field(30, ge=1, le=10_000)
    """after this many failures in a row a feed is tried monthly only"""
    feed_shards: int = Field(4, ge=1, le=1000)
    """mapped process_feeds tasks per run; due feeds are split among them"""
    extract_workers: int = Field(2, ge=1, le=64)
    """processes parsing feeds and extracting pages (both cores of a 2-core machine); 1 runs them
    inline, without the parse and extract deadlines"""
    extract_timeout: float = Field(30.0, gt=0, le=3600)
    """seconds one page may take to extract before the feed text is used"""
    extract_mode: Literal["balanced", "precision", "recall", "fast"] = "balanced"
    """trafilatura's trade-off between speed, precision and recall (bench/extract_modes.py measures
    them)"""
    parse_timeout: float = Field(30.0, gt=0, le=3600)
    """seconds of CPU one feed may take to parse before it is failed for this run"""
    fetch_ahead: int = Field(32, ge=1, le=10_000)
    """pages downloaded ahead of extraction; bounds memory while both overlap"""
    store_batch: int = Field(100, ge=1, le=10_000)
    """articles tagged and written per transaction (the last batch's write is the only one not
    overlapped by downloads and extraction; each write costs ~20 ms of the main process's CPU
    besides its articles)"""
    story_similarity: float = Field(0.8, ge=0.05, le=0.95)
    """estimated Jaccard similarity of word 4-grams that makes two articles one story"""
    story_window_days: int = Field(7, ge=0, le=3650)
    """how far back a new article is compared with stored ones"""
    retention_days: int = Field(180, ge=1, le=36_500)
    """article text older than this is blanked by news_maintenance"""
    demo_port: int = Field(8931, ge=1, le=65535)
    """loopback port of the sample news day; fixed so reruns see the same URLs"""

    @field_validator("digest_timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{zone[:60]!r} is not an IANA time zone (like Asia/Tokyo)") from None
        return zone

    @field_validator("database_url")
    @classmethod
    def _postgresql(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(
            ("postgresql://", "postgresql+psycopg://", "postgres://")
        ):
            raise ValueError("must be a postgresql:// URL (the news store is PostgreSQL)")
        return url

    @property
    def operator_apprise_names(self) -> list[str]:
        return [name for name in self.operator_apprise_env.split(",") if name]

    @property
    def list_unsubscribe(self) -> str:
        if self.unsubscribe:
            return self.unsubscribe
        return f"mailto:{parseaddr(self.mail_from)[1]}?subject=unsubscribe"

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"


def get_settings() -> Settings:
    """Read settings from the environment now, so tests and the CLI can change them per call."""
    return Settings()
