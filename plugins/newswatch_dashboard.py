"""Airflow plugin: the newswatch dashboard at /newswatch/, with an entry in Airflow's navigation.

Airflow's API server mounts the FastAPI app; the app checks Airflow's login itself
(newswatch/dashboard/auth.py), since Airflow does not authenticate plugin apps.
"""

from airflow.plugins_manager import AirflowPlugin

from newswatch.dashboard import create_app

URL_PREFIX = "/newswatch"


class NewswatchDashboardPlugin(AirflowPlugin):
    name = "newswatch_dashboard"
    fastapi_apps = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "newswatch dashboard"},
    ]
    external_views = [
        {
            "name": "News",
            # No leading slash: Airflow's UI resolves it against its base URL, sub-path included.
            "href": f"{URL_PREFIX.lstrip('/')}/",
            "destination": "nav",
            "url_route": "newswatch",  # shown inside Airflow's UI at /plugin/newswatch
            "category": "browse",
        },
    ]
