"""What the DAG files share: one retry policy, and the schedules and pool they read from Settings.

dags/ holds DAG files only, so this lives in the library. It imports neither Airflow nor the
database: a DAG file that uses it still parses without I/O beyond reading the environment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from newswatch.settings import Settings


def default_args(
    *, retries: int = 3, retry_delay: timedelta = timedelta(minutes=1)
) -> dict[str, Any]:
    """Every task retries with exponential backoff, never waiting more than 30 minutes; a DAG
    says only how often and from what first delay, when it differs."""
    return {
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    }


def digest_cron(settings: Settings) -> str:
    """news_digest's cron line: daily at `digest_time` (HH:MM, in `digest_timezone`)."""
    hour, minute = settings.digest_time.split(":")
    return f"{int(minute)} {int(hour)} * * *"
