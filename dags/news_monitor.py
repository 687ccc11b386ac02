"""
### news_monitor

Poll every feed, fetch and extract new articles, tag topics, store them, email alerts.

`open_run` validates config and opens a run; `apply_topics` re-tags the recent articles with
each new or edited topic (no alerts); `feed_batches` splits the enabled feeds;
`process_feeds` runs once per batch (mapped);
`deliver` sends pending alerts even when a batch failed; `finish` records the run's counts and
fails the DAG run if a batch did not finish. Only ids and counts travel between tasks.
The schedule comes from `NEWSWATCH_SCHEDULE` (default daily).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import TriggerRule, dag, task

from newswatch.dag_defaults import default_args
from newswatch.delivery.notice import notify_failure
from newswatch.outcomes import RunSummaryXCom, StageReportXCom
from newswatch.settings import get_settings

# Read when the file is parsed, from the environment only; tasks read theirs when they run.
SETTINGS = get_settings()


@dag(
    schedule=SETTINGS.schedule,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    on_failure_callback=notify_failure,
    tags=["newswatch"],
    default_args=default_args(),
)
def news_monitor() -> None:
    @task
    def open_run() -> int:
        from airflow.sdk.exceptions import AirflowFailException

        from newswatch.config.load import ConfigError
        from newswatch.pipeline import open_run

        try:
            return open_run(get_settings(), trigger="airflow")
        except ConfigError as exc:  # retrying cannot fix a bad config file
            raise AirflowFailException(str(exc)) from None

    @task
    def apply_topics() -> StageReportXCom:
        from newswatch.pipeline import apply_changed_topics

        return apply_changed_topics(get_settings()).to_xcom()

    @task
    def feed_batches() -> list[list[int]]:
        from newswatch.pipeline import feed_batches

        return feed_batches(get_settings())

    # The pool caps site-facing tasks across all workers: `airflow pools set newswatch_sites 4 ...`.
    @task(pool=SETTINGS.airflow_pool)
    def process_feeds(feed_ids: list[int]) -> StageReportXCom:
        from newswatch.ingest import process_feeds

        return process_feeds(get_settings(), feed_ids).to_xcom()

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def deliver() -> StageReportXCom:
        from newswatch.pipeline import deliver

        return deliver(get_settings()).to_xcom()

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def finish(
        news_run: int,
        planned: list[list[int]],
        reports: list[StageReportXCom],
        sent: StageReportXCom,
        retagged: StageReportXCom | None,
    ) -> RunSummaryXCom:
        from newswatch.outcomes import StageReport
        from newswatch.pipeline import finish_run

        done = [*reports[:], sent, *([retagged] if retagged else [])]  # None: apply_topics failed
        stages = [StageReport.from_xcom(report) for report in done]
        return finish_run(get_settings(), news_run, stages, planned).to_xcom()

    news_run = open_run()
    retagged = apply_topics()
    planned = feed_batches()
    news_run >> [retagged, planned]
    reports = process_feeds.expand(feed_ids=planned)
    sent = deliver()
    [reports, retagged] >> sent  # an alert a topic edit withdrew is not sent first
    # XComArgs here; Airflow hands finish the values they resolve to when it runs.
    finish(news_run, planned, reports, sent, retagged)  # type: ignore[arg-type]


news_monitor()
