"""
### news_maintenance

Keep the news store small: blank the text of articles older than `NEWSWATCH_RETENTION_DAYS`
(default 180), keeping titles, URLs, matches and alerts, then `VACUUM (ANALYZE)` the articles
table so the space is reused. Daily by default (`NEWSWATCH_MAINTENANCE_SCHEDULE`); rerunning
purges nothing twice.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from newswatch.dag_defaults import default_args
from newswatch.delivery.notice import notify_failure
from newswatch.settings import get_settings

# Read when the file is parsed, from the environment only; tasks read theirs when they run.
SETTINGS = get_settings()


@dag(
    schedule=SETTINGS.maintenance_schedule,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    on_failure_callback=notify_failure,
    tags=["newswatch", "maintenance"],
    default_args=default_args(retries=2, retry_delay=timedelta(minutes=5)),
)
def news_maintenance() -> None:
    @task
    def purge_old_text() -> dict[str, object]:
        from newswatch.store.retention import purge

        return purge(get_settings()).as_dict()

    @task
    def vacuum_articles() -> None:
        from newswatch.store.retention import vacuum

        vacuum(get_settings())

    purge_old_text() >> vacuum_articles()


news_maintenance()
