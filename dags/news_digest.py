"""
### news_digest

Once a day at `NEWSWATCH_DIGEST_TIME` in `NEWSWATCH_DIGEST_TIMEZONE` (default 07:00 Asia/Tokyo),
queue a digest for each subscriber whose mode is `digest` (topics.yaml), covering the 24 hours
before the run, then send the pending digests. A digest is one outbox row per subscriber and
period: a rerun of the same day queues and sends nothing twice.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from newswatch.dag_defaults import default_args, digest_cron
from newswatch.delivery.notice import notify_failure
from newswatch.outcomes import StageReportXCom
from newswatch.settings import get_settings

# Read when the file is parsed, from the environment only; tasks read theirs when they run.
SETTINGS = get_settings()


@dag(
    schedule=CronTriggerTimetable(digest_cron(SETTINGS), timezone=SETTINGS.digest_timezone),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    on_failure_callback=notify_failure,
    tags=["newswatch"],
    default_args=default_args(retry_delay=timedelta(minutes=2)),
)
def news_digest() -> None:
    @task
    def plan_digests() -> StageReportXCom:
        from airflow.sdk import get_current_context

        from newswatch.pipeline import plan_digests

        period_end = get_current_context().get("logical_date")
        return plan_digests(get_settings(), period_end).to_xcom()

    @task
    def send_digests() -> StageReportXCom:
        from newswatch.pipeline import send_digests

        return send_digests(get_settings()).to_xcom()

    plan_digests() >> send_digests()


news_digest()
