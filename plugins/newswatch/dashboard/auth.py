"""Airflow's own login for the dashboard: Airflow does not authenticate plugin apps itself.

A plugin FastAPI app is mounted beside Airflow's API, so none of the API's security dependencies
reach it. This dependency does what they do: the caller's JWT (``Authorization: Bearer`` or the
``_token`` cookie the Airflow UI sets at login) is validated by the configured auth manager, and
the user must be allowed to view the custom view ``newswatch``. A browser without a valid token
is sent to Airflow's login page and comes back after it.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from fastapi.responses import RedirectResponse

RESOURCE = "newswatch"


class LoginRequired(Exception):
    """Raised for a page request without a valid Airflow session."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


async def require_airflow_viewer(request: Request) -> None:
    """FastAPI dependency: an authenticated Airflow user allowed to view the dashboard."""
    # Imported here: only the API server (and its tests) run this, and the imports are heavy.
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    try:
        user = await get_user(request, _oauth_token=None, bearer_credentials=credentials)
    except HTTPException as exc:
        if exc.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
            raise LoginRequired(str(request.url)) from None
        raise
    allowed = get_auth_manager().is_authorized_custom_view(
        method="GET", resource_name=RESOURCE, user=user
    )
    if not allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "not allowed to view the newswatch dashboard"
        )


def login_redirect(request: Request, exc: Exception) -> RedirectResponse:
    """Send the browser to Airflow's login page, which returns it here afterwards."""
    from airflow.api_fastapi.app import get_auth_manager

    assert isinstance(exc, LoginRequired)
    url = get_auth_manager().get_url_login(next_url=exc.next_url)
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
