"""
### news_digest

Once a day at `NEWSWATCH_DIGEST_TIME` in `NEWSWATCH_DIGEST_TIMEZONE` (default 07:00 Asia/Tokyo),
queue a digest for each subscriber whose mode is `digest` (topics.yaml), covering the 24 hours
before the run, then send the pending digests. A digest is one outbox row per subscriber and
period: a rerun of the same day queues and sends nothing twice.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from newswatch.notify import notify_failure

_HOUR, _MINUTE = os.environ.get("NEWSWATCH_DIGEST_TIME", "07:00").split(":")


def _settings():  # type: ignore[no-untyped-def]
    from newswatch.settings import get_settings

    return get_settings()


@dag(
    schedule=CronTriggerTimetable(
        f"{int(_MINUTE)} {int(_HOUR)} * * *",
        timezone=os.environ.get("NEWSWATCH_DIGEST_TIMEZONE", "Asia/Tokyo"),
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    on_failure_callback=notify_failure,
    tags=["newswatch"],
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
)
def news_digest() -> None:
    @task
    def plan_digests() -> dict[str, object]:
        from airflow.sdk import get_current_context

        from newswatch.pipeline import plan_digests

        period_end = get_current_context().get("logical_date")
        return plan_digests(_settings(), period_end).as_dict()

    @task
    def send_digests() -> dict[str, object]:
        from newswatch.pipeline import send_digests

        return send_digests(_settings()).as_dict()

    plan_digests() >> send_digests()


news_digest()
