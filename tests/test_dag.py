"""The DAG files: policy checks over every DAG, and news_monitor run for real with dag.test()."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from conftest import Mailbox
from expected import SAMPLE_DAY_ALERTS, SAMPLE_DAY_MESSAGES
from helpers import stored_alerts
from sqlalchemy import select

from newswatch import clock, models
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings
from newswatch.store import db

DAGS = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_dags_import_without_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert "news_monitor" in dagbag.dag_ids


def test_dag_file_parses_in_under_a_second() -> None:
    started = time.perf_counter()
    bag = DagBag(dag_folder=str(DAGS / "news_monitor.py"))
    elapsed = time.perf_counter() - started
    assert bag.import_errors == {}
    assert elapsed < 1.0, f"parsing took {elapsed:.2f}s"


def test_every_dag_has_tags_retries_and_no_catchup(dagbag: DagBag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.catchup is False, dag_id
        for task in dag.tasks:
            if task.task_id not in ("finish",):
                assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"  # type: ignore[operator]


def test_every_dag_emails_the_operator_when_a_run_fails(dagbag: DagBag) -> None:
    from newswatch.delivery.notice import notify_failure

    assert dagbag.dags
    for dag_id, dag in dagbag.dags.items():
        assert dag.on_failure_callback is notify_failure, dag_id


def test_news_monitor_runs_daily_by_default_one_run_at_a_time(dagbag: DagBag) -> None:
    dag = dagbag.dags["news_monitor"]
    assert dag.max_active_runs == 1
    assert dag.schedule == "@daily"  # type: ignore[comparison-overlap]


def test_dag_run_on_sample_day_stores_and_emails_each_alert_once(
    settings: Settings,
    news_day: SampleDay,
    smtp: Mailbox,
    airflow_db: str,
    dagbag: DagBag,
) -> None:
    dag = dagbag.dags["news_monitor"]
    first = dag.test()
    assert first.state == "success"
    assert stored_alerts(settings) == SAMPLE_DAY_ALERTS
    assert len(smtp.received) == SAMPLE_DAY_MESSAGES

    clock.freeze(clock.now() + timedelta(hours=25))  # the next day's run
    second = dag.test()
    assert second.state == "success"
    assert len(smtp.received) == SAMPLE_DAY_MESSAGES
    with db.transaction(db.session_factory(settings)) as session:
        runs = list(session.scalars(select(models.Run).order_by(models.Run.id)))
    assert [run.trigger for run in runs] == ["airflow", "airflow"]
    assert runs[1].counts.get("articles_new", 0) == 0
    assert runs[1].counts["feeds_not_modified"] == 2
