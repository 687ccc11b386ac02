"""
### news_maintenance

Keep the news store small: blank the text of articles older than `NEWSWATCH_RETENTION_DAYS`
(default 180), keeping titles, URLs, matches and alerts, then `VACUUM (ANALYZE)` the articles
table so the space is reused. Daily; rerunning purges nothing twice.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from newswatch.notify import notify_failure


def _settings():  # type: ignore[no-untyped-def]
    from newswatch.settings import get_settings

    return get_settings()


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    on_failure_callback=notify_failure,
    tags=["newswatch", "maintenance"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
    },
)
def news_maintenance() -> None:
    @task
    def purge_old_text() -> dict[str, object]:
        from newswatch.retention import purge

        return purge(_settings()).as_dict()

    @task
    def vacuum_articles() -> None:
        from newswatch.retention import vacuum

        vacuum(_settings())

    purge_old_text() >> vacuum_articles()


news_maintenance()
