"""The newswatch dashboard, served inside Airflow's API server (plugins/newswatch_dashboard.py)."""

from newswatch.dashboard.app import create_app

__all__ = ["create_app"]
