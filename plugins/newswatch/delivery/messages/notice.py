"""The operator's failure email, pure: which DAG run failed, where and why, from the context
Airflow hands its failure callback; its Message-ID is fixed per run so a repeat is recognisable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from newswatch.delivery.messages.common import (
    SUBJECT_CHARS,
    fixed_message_id,
    header_safe,
    new_message,
)


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


def failure_key(failure: Mapping[str, str | None]) -> str:
    """One notice per failed DAG run, however often Airflow reports it."""
    return f"failure\n{failure['dag_id'] or ''}\n{failure['run_id'] or ''}"


def failure_message_id(failure: Mapping[str, str | None], mail_from: str) -> str:
    """Fixed per DAG run, so a repeat is recognisable."""
    return fixed_message_id(
        "failure", f"{failure['dag_id'] or ''}\n{failure['run_id'] or ''}", mail_from
    )


def failure_email(
    failure: Mapping[str, str | None], mail_from: str, to: Sequence[str], now: datetime
) -> EmailMessage:
    """A plain-text email; its Message-ID is fixed per DAG run, so a repeat is recognisable."""
    dag_id, run_id = failure["dag_id"] or "", failure["run_id"] or ""
    subject = header_safe(f"[newswatch] DAG {dag_id} failed: {run_id}")[:SUBJECT_CHARS]
    msg = new_message(mail_from, list(to), subject, failure_message_id(failure, mail_from), now)
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
