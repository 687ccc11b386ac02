"""`newswatch alerts`: list stored alerts, the failed ones, and send one again."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, NoReturn, cast

import typer

from newswatch.cli.options import JsonOption, get_settings

if TYPE_CHECKING:
    from newswatch.settings import Settings

ALERT_ID_MAX = 2**63 - 1  # alerts.id is a bigint


class AlertState(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    held = "held"  # past the reader's hourly cap, waiting for their digest
    digested = "digested"  # a digest carried it instead
    cancelled = "cancelled"  # the reader unsubscribed or left, or a re-tag withdrew it


alerts_app = typer.Typer(
    help="Stored alerts: list them (default), `--failed`, or `resend ID`.",
    invoke_without_command=True,
)


@alerts_app.callback()
def listing(
    ctx: typer.Context,
    state: Annotated[AlertState | None, typer.Option(help="only alerts in this state")] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="only alerts that gave up or missed a recipient")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="most alerts to list")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List stored alerts, newest first."""
    if ctx.invoked_subcommand:
        return
    # --failed: also the alerts sent to some recipients and refused for good to others.
    rows = alert_rows(get_settings(), state.value if state and not failed else None, limit, failed)
    if as_json:
        typer.echo(json.dumps(rows, default=str, indent=2))
        return
    typer.echo(format_alerts(rows, show_errors=failed, state=state.value if state else None))


@alerts_app.command()
def resend(
    alert_id: Annotated[int, typer.Argument(min=1, max=ALERT_ID_MAX)], as_json: JsonOption = False
) -> None:
    """Queue an alert again (whatever its state, unless a re-tag withdrew it) and deliver the
    pending alerts now."""
    from newswatch import pipeline, store
    from newswatch.store import db

    settings = get_settings()
    with db.transaction(db.session_factory(settings)) as session:
        if store.matches.withdrawn(session, alert_id):
            # Sending it would tell of a story with no topic: none of its topics matches now.
            _refuse(
                alert_id, f"alert {alert_id} was {store.matches.WITHDRAWN}; not sent", as_json, 2
            )
        if not store.outbox.requeue(session, alert_id):
            _refuse(alert_id, f"no alert {alert_id}", as_json, 1)
    report = pipeline.deliver(settings)
    (row,) = [r for r in alert_rows(settings, None, 100_000) if r["id"] == alert_id]
    delivered_to = row["delivered_to"] or report.delivered_to
    if as_json:
        result = {**row, "delivered_to": delivered_to, "errors": report.errors}
        typer.echo(json.dumps(result, default=str, indent=2))
    else:
        for error in report.errors:
            typer.echo(f"! {error}", err=True)
        typer.echo(f"alert {alert_id}: {row['state']} via {delivered_to}")
    if row["state"] != "sent":
        raise typer.Exit(1)


def _refuse(alert_id: int, error: str, as_json: bool, code: int) -> NoReturn:
    if as_json:
        typer.echo(json.dumps({"id": alert_id, "error": error}))
    else:
        typer.echo(error, err=True)
    raise typer.Exit(code)


def alert_rows(
    settings: Settings, state: str | None = None, limit: int = 100, undelivered: bool = False
) -> list[dict[str, object]]:
    from newswatch import store
    from newswatch.store import db

    with db.read(settings) as session:
        listed = store.reads.alert_listing(session, state, limit, undelivered)
    return [
        {
            "id": alert.id,
            "state": alert.state,
            "reader": alert.reader,
            "topics": alert.topics,
            "title": alert.title,
            "url": alert.url,
            "attempts": alert.attempts,
            "sent_at": alert.sent_at.isoformat(timespec="seconds") if alert.sent_at else None,
            "delivered_to": alert.delivered_to,
            "channel": alert.channel,
            "sources": [{"outlet": outlet, "url": url} for outlet, url in alert.sources],
            "last_error": alert.last_error,
        }
        for alert in listed
    ]


def format_alerts(
    rows: list[dict[str, object]], show_errors: bool = False, state: str | None = None
) -> str:
    if not rows:
        if show_errors:
            return "no failed alerts"
        return f"no {state} alerts" if state else "no alerts stored"
    lines = [f"{'id':>4}  {'state':<9}  {'reader':<24}  {'topics':<24}  title"]
    for row in rows:
        title = str(row["title"])
        topics = ", ".join(cast(list[str], row["topics"]))
        reader = str(row["reader"]).removeprefix("email:")
        sources = cast(list[dict[str, str]], row.get("sources") or [])
        outlets = sorted({s["outlet"] for s in sources})
        lines.append(
            f"{row['id']:>4}  {row['state']!s:<9}  {cut(reader, 24):<24}  {cut(topics, 24):<24}  "
            f"{cut(title, 60)}  [{plural(len(outlets), 'outlet')}: {', '.join(outlets)}]"
        )
        if show_errors:
            lines.append(
                f"      {plural(int(cast(int, row['attempts'])), 'attempt')}; "
                f"last error: {row['last_error']}"
            )
    return "\n".join(lines)


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
