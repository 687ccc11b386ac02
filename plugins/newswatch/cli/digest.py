"""`newswatch digest`: see a digest without waiting for the morning, and send a past one."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from newswatch.cli.options import JsonOption, get_settings

digest_app = typer.Typer(
    help="Daily digests: `preview` one, or `send` a past period's.", no_args_is_help=True
)

SubscriberOption = Annotated[
    str | None,
    typer.Option("--subscriber", help="digest subscriber's name (default: the first in config)"),
]
DayOption = Annotated[
    str | None,
    typer.Option("--day", help="local day the digest is due, YYYY-MM-DD (default: the latest due)"),
]


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or not 1900 <= day.year <= 2999:
        raise typer.BadParameter(
            f"expected a day like 2026-12-04 (years 1900 to 2999), got {value[:40]!r}",
            param_hint="--day",
        )
    return day


@digest_app.command()
def preview(
    subscriber: SubscriberOption = None,
    day: DayOption = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="also write the HTML email to this file", dir_okay=False),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print the digest a subscriber gets (plain text), sending nothing: by default the next
    one, as it stands now."""
    from newswatch import clock, digests
    from newswatch.delivery.messages.digest import digest_text, digest_title, render_digest

    settings = get_settings()
    try:
        view = digests.preview(settings, subscriber, _day(day))
    except digests.DigestRequestError as exc:
        raise typer.BadParameter(str(exc)) from None
    if html is not None:
        msg = render_digest(view, settings.mail_from, clock.now())
        part = msg.get_body(("html",))
        html.write_text(str(part.get_content()) if part else "", encoding="utf-8")
    if as_json:
        result = {
            "subscriber": view.subscriber,
            "period_start": view.period_start.isoformat(),
            "period_end": view.period_end.isoformat(),
            "subject": digest_title(view),
            "stories": [story.title for story in view.stories],
            "html": str(html) if html else None,
        }
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"Subject: {digest_title(view)}\n")
    typer.echo(digest_text(view))
    if html is not None:
        typer.echo(f"HTML written to {html}")


@digest_app.command("send")
def send_digest(
    subscriber: SubscriberOption = None,
    day: DayOption = None,
    resend: Annotated[
        bool, typer.Option("--resend", help="send it again even if it went already")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Send a subscriber's digest for a past period (once: a second send is a no-op unless
    --resend); any other digest that is due goes too."""
    from newswatch import digests

    settings = get_settings()
    try:
        sent = digests.send_period(settings, subscriber, _day(day), resend)
    except digests.DigestRequestError as exc:
        raise typer.BadParameter(str(exc)) from None
    result = sent.delivery
    if as_json:
        counts = {"sent": result.sent, "retrying": result.retrying, "failed": result.failed}
        head = {"subscriber": sent.subscriber, "period_end": sent.period_end.isoformat()}
        typer.echo(
            json.dumps({**head, **counts, **result.skipped, "errors": result.errors}, indent=2)
        )
    else:
        for error in result.errors:
            typer.echo(f"! {error}", err=True)
        when = local_time(sent.period_end, settings.digest_timezone)
        skipped = "".join(f", {n} {SKIPPED.get(s, s)}" for s, n in sorted(result.skipped.items()))
        typer.echo(
            f"{sent.subscriber}, digest due {when}: {result.sent} sent, "
            f"{result.retrying} retrying, {result.failed} failed{skipped}"
            + (f" via {result.where}" if result.sent else "")
            + (
                ""
                if result.sent or result.skipped or resend
                else " (sent before: --resend sends it again)"
            )
        )
    if result.failed or result.retrying:
        raise typer.Exit(1)


SKIPPED = {
    "empty": "empty (nothing hit; mailed only with send_empty: true)",
    "cancelled": "cancelled (the reader unsubscribed)",
}


def local_time(moment: datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
