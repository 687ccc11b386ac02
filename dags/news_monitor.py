"""
### news_monitor

Poll every feed, fetch and extract new articles, tag topics, store them, email alerts.

`open_run` validates config and opens a run; `feed_batches` splits the enabled feeds;
`process_feeds` runs once per batch (mapped);
`deliver` sends pending alerts even when a batch failed; `finish` records the run's counts and
fails the DAG run if a batch did not finish. Only ids and counts travel between tasks.
The schedule comes from `NEWSWATCH_SCHEDULE` (default daily).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import TriggerRule, dag, task

from newswatch.notify import notify_failure


def _settings():  # type: ignore[no-untyped-def]
    from newswatch.settings import get_settings

    return get_settings()


@dag(
    schedule=os.environ.get("NEWSWATCH_SCHEDULE", "@daily"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    on_failure_callback=notify_failure,
    tags=["newswatch"],
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
)
def news_monitor() -> None:
    @task
    def open_run() -> int:
        from airflow.sdk.exceptions import AirflowFailException

        from newswatch.config import ConfigError
        from newswatch.pipeline import open_run

        try:
            return open_run(_settings(), trigger="airflow")
        except ConfigError as exc:  # retrying cannot fix a bad config file
            raise AirflowFailException(str(exc)) from None

    @task
    def feed_batches() -> list[list[int]]:
        from newswatch.pipeline import feed_batches

        return feed_batches(_settings())

    # The pool caps site-facing tasks across all workers: `airflow pools set newswatch_sites 4 ...`.
    @task(pool=os.environ.get("NEWSWATCH_AIRFLOW_POOL", "newswatch_sites"))
    def process_feeds(feed_ids: list[int]) -> dict[str, object]:
        from newswatch.pipeline import process_feeds

        return process_feeds(_settings(), feed_ids).as_dict()

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def deliver() -> dict[str, object]:
        from newswatch.pipeline import deliver

        return deliver(_settings()).as_dict()

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def finish(
        news_run: int,
        planned: list[list[int]],
        reports: list[dict[str, object]],
        sent: dict[str, object],
    ) -> dict[str, object]:
        from newswatch.pipeline import finish_run

        return finish_run(_settings(), news_run, [*reports[:], sent], planned)

    news_run = open_run()
    planned = feed_batches()
    news_run >> planned
    reports = process_feeds.expand(feed_ids=planned)
    sent = deliver()
    reports >> sent
    finish(news_run, planned, reports, sent)


news_monitor()
