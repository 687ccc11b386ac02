"""Tell the operator by email when an Airflow DAG run fails (the DAGs' `on_failure_callback`).

Light at import: DAG files import this module while being parsed, so mail code loads on failure only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)


def notify_failure(context: Mapping[str, Any]) -> None:
    """Email NEWSWATCH_OPERATOR_EMAIL that the DAG run in `context` failed; only log when unset."""
    from newswatch import clock
    from newswatch.delivery import transports
    from newswatch.delivery.messages.notice import describe, failure_email
    from newswatch.settings import get_settings

    settings = get_settings()
    failure = describe(context)
    if not settings.operator_email:
        log.error("DAG run failed (NEWSWATCH_OPERATOR_EMAIL unset, no email): %s", failure)
        return
    transport = transports.make_transport(settings)
    try:
        msg = transports.rendered(
            failure_email, failure, settings.mail_from, settings.operator_email, clock.now()
        )
        transport.send(msg)
    except (transports.TransportDown, transports.Undeliverable, *transports.MESSAGE_ERRORS) as exc:
        log.error("could not email the operator about %s: %s", failure, exc)
        return
    finally:
        transport.close()
    log.info("emailed %s via %s: %s", settings.operator_email, transport.where, msg["Subject"])
