"""Tell the operator by email when an Airflow DAG run fails (the DAGs' `on_failure_callback`).

The notice is queued in the outbox (one per failed run) and sent at once; with the mail server
down it stays pending and goes with the next delivery (`pipeline.deliver`). When the news
database itself cannot be reached, which may be why the run failed, it is sent straight away
instead, once, as before there was an outbox.

Light at import: DAG files import this module while being parsed, so mail code loads on failure only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newswatch.settings import Settings

log = logging.getLogger(__name__)


def notify_failure(context: Mapping[str, Any]) -> None:
    """Email NEWSWATCH_OPERATOR_EMAIL that the DAG run in `context` failed; only log when unset."""
    from newswatch import clock
    from newswatch.delivery import send, transports
    from newswatch.delivery.messages.notice import describe, failure_key
    from newswatch.settings import get_settings
    from newswatch.store import db, outbox

    settings = get_settings()
    failure = describe(context)
    if not settings.operator_email:
        log.error("DAG run failed (NEWSWATCH_OPERATOR_EMAIL unset, no email): %s", failure)
        return
    factory = db.session_factory(settings)
    try:
        with db.transaction(factory) as session:
            key = failure_key(failure)
            outbox.queue_notice(session, key, failure, [settings.operator_email], clock.now())
    except Exception as exc:  # the store is unreachable: tell the operator without it
        log.warning("notice not queued (%s: %s); sending it directly", type(exc).__name__, exc)
        _send_now(settings, failure, settings.operator_email)
        return
    result = send.deliver_notices(factory, transports.make_transport(settings), settings)
    for line in result.errors:
        log.error("operator notice about %s: %s", failure, line)
    if result.sent:
        log.info("emailed %s via %s about %s", settings.operator_email, result.where, failure)


def _send_now(settings: Settings, failure: Mapping[str, str | None], to: str) -> None:
    from newswatch import clock
    from newswatch.delivery import transports
    from newswatch.delivery.messages.notice import failure_email

    transport = transports.make_transport(settings)
    try:
        msg = transports.rendered(failure_email, failure, settings.mail_from, [to], clock.now())
        transport.send(msg)
    except (transports.TransportDown, transports.Undeliverable, *transports.MESSAGE_ERRORS) as exc:
        log.error("could not email the operator about %s: %s", failure, exc)
        return
    finally:
        transport.close()
    log.info("emailed %s via %s: %s", to, transport.where, msg["Subject"])
