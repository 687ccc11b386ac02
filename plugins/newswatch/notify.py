"""Tell the operator by email when an Airflow DAG run fails (the DAGs' `on_failure_callback`).

Light at import: DAG files import this module while being parsed, so mail code loads on failure only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

log = logging.getLogger(__name__)


def notify_failure(context: Mapping[str, Any]) -> None:
    """Email NEWSWATCH_OPERATOR_EMAIL that the DAG run in `context` failed; only log when unset."""
    from newswatch import clock, mailer
    from newswatch.settings import get_settings

    settings = get_settings()
    failure = describe(context)
    if not settings.operator_email:
        log.error("DAG run failed (NEWSWATCH_OPERATOR_EMAIL unset, no email): %s", failure)
        return
    transport = mailer.make_transport(settings)
    try:
        msg = mailer.rendered(
            failure_email, failure, settings.mail_from, settings.operator_email, clock.now()
        )
        transport.send(msg)
    except (mailer.TransportDown, mailer.Undeliverable, *mailer.MESSAGE_ERRORS) as exc:
        log.error("could not email the operator about %s: %s", failure, exc)
        return
    finally:
        transport.close()
    log.info("emailed %s via %s: %s", settings.operator_email, transport.where, msg["Subject"])


def describe(context: Mapping[str, Any]) -> dict[str, str | None]:
    """What the failure email says, from a DAG callback context (full, or the minimal one
    Airflow gives when it knows no failed task: dag, run_id, reason)."""
    dag = context.get("dag")
    ti = context.get("ti") or context.get("task_instance")
    task: str | None = None
    log_url: str | None = None
    if ti is not None:
        task = str(ti.task_id)
        map_index = getattr(ti, "map_index", None)
        if isinstance(map_index, int) and map_index >= 0:
            task += f"[{map_index}]"

        try:
            log_url = str(ti.log_url)
        except Exception:  # the URL is a courtesy: never let it stop the email
            log_url = None
    run = context.get("dag_run")
    return {
        "dag_id": str(getattr(dag, "dag_id", None) or getattr(run, "dag_id", "unknown DAG")),
        "run_id": str(context.get("run_id") or getattr(run, "run_id", "unknown run")),
        "failed_task": task,
        "reason": str(context.get("reason") or "") or None,
        "log_url": log_url,
        "exception": str(context["exception"]) if context.get("exception") else None,
    }


def failure_email(
    failure: Mapping[str, str | None], mail_from: str, to: str, now: datetime
) -> EmailMessage:
    """A plain-text email; its Message-ID is fixed per DAG run, so a repeat is recognisable."""
    from newswatch.alerts import SUBJECT_CHARS, header_safe, id_domain, mailboxes

    dag_id, run_id = failure["dag_id"] or "", failure["run_id"] or ""
    digest = hashlib.sha256(f"{dag_id}\n{run_id}".encode()).hexdigest()[:16]
    msg = EmailMessage()
    msg["From"] = mailboxes([mail_from])
    msg["To"] = mailboxes([to])
    msg["Subject"] = header_safe(f"[newswatch] DAG {dag_id} failed: {run_id}")[:SUBJECT_CHARS]
    msg["Message-ID"] = f"<failure.{digest}@{id_domain(mail_from)}>"
    msg["Date"] = format_datetime(now)
    lines = [
        f"The Airflow DAG run {run_id} of {dag_id} failed.",
        "",
        f"DAG:          {dag_id}",
        f"Run:          {run_id}",
        f"Failed task:  {failure['failed_task'] or 'unknown'}",
        f"Reason:       {failure['reason'] or 'unknown'}",
        f"Time (UTC):   {now:%Y-%m-%d %H:%M:%S}",
    ]
    if failure["log_url"]:
        lines.append(f"Log:          {failure['log_url']}")
    if failure["exception"]:
        lines += ["", failure["exception"]]
    msg.set_content("\n".join(lines) + "\n")
    return msg
