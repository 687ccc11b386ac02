"""`newswatch readers`: who gets messages, what they left by an unsubscribe link, and undoing it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from newswatch.cli.options import JsonOption, get_settings

if TYPE_CHECKING:
    from newswatch.settings import Settings

readers_app = typer.Typer(
    help="Readers as the last config sync stored them, and their unsubscribes.",
    no_args_is_help=True,
)
READER_KEY_PREFIXES = ("email:", "apprise:", "webhook:")


@readers_app.command("list")
def list_readers(as_json: JsonOption = False) -> None:
    """Each reader: address or channel, topics, digests, updates, time zone, what they left."""
    settings = get_settings()
    rows = reader_rows(settings)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no readers stored (a run writes them from topics.yaml)")
        return
    typer.echo("\n".join(format_reader(row, settings.digest_timezone) for row in rows))


@readers_app.command("resubscribe")
def resubscribe(
    address_or_key: Annotated[
        str, typer.Argument(help="an email address, or a key from `newswatch readers list`")
    ],
    subscription: Annotated[
        str | None,
        typer.Option(help="only this one: alerts, or digest:NAME (default: everything left)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Undo a reader's one-click unsubscribe, from everything or from one subscription."""
    from newswatch import models, store
    from newswatch.store import db

    key = reader_key(address_or_key)
    wanted = checked_subscription(subscription)
    with db.transaction(db.session_factory(get_settings())) as session:
        undone = store.readers.resubscribe(session, key, wanted)
        known = session.get(models.Reader, key) is not None
    if not undone:
        what = f"from {wanted}" if wanted else "from anything"
        shown = ascii(key) if len(key) <= 200 else ascii(key[:200]) + "…"
        message = f"{shown} is not unsubscribed {what} (see `newswatch readers list`)"
        if not known:
            message = (
                f"no reader {shown} in the store, and no unsubscribe of it "
                "(see `newswatch readers list`)"
            )
        if as_json:
            typer.echo(json.dumps({"reader": key, "resubscribed": 0, "error": message}))
        else:
            typer.echo(f"newswatch: {message}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps({"reader": key, "resubscribed": len(undone), "to": undone}))
        return
    typer.echo(f"{key}: resubscribed to {', '.join(undone)}")


def reader_key(address_or_key: str) -> str:
    """The store's key for a plain email address, or the key itself (an email one casefolded)."""
    from newswatch.config.models import reader_key as email_key

    if address_or_key.startswith("email:"):
        return email_key(address_or_key.removeprefix("email:"))
    if address_or_key.startswith(READER_KEY_PREFIXES):
        return address_or_key
    if "@" in address_or_key:
        return email_key(address_or_key)
    raise typer.BadParameter(
        f"{_shown(address_or_key)} is neither an email address nor a reader key "
        "(email:…, apprise:… or webhook:…)",
        param_hint="ADDRESS_OR_KEY",
    )


def checked_subscription(subscription: str | None) -> str | None:
    """`alerts`, `digest:NAME`, or None for all; anything else is bad input."""
    from newswatch.config.models import SUBSCRIBER_NAME_CHARS
    from newswatch.unsubscribe import ALERTS, digest_subscription

    if subscription is None or subscription == ALERTS:
        return subscription
    name = subscription.removeprefix(digest_subscription(""))
    if name != subscription and 0 < len(name) <= SUBSCRIBER_NAME_CHARS:
        return subscription
    raise typer.BadParameter(
        f"expected {ALERTS} or {digest_subscription('NAME')}, got {_shown(subscription)}",
        param_hint="--subscription",
    )


def reader_rows(settings: Settings) -> list[dict[str, Any]]:
    from newswatch import store
    from newswatch.store import db

    with db.read(settings) as session:
        listed = store.readers.listing(session)
    return [
        {
            "key": reader.key,
            "channel": reader.channel,
            "address": reader.address,
            "configured": reader.configured,
            "topics": list(reader.topics),
            "digests": list(reader.digests),
            "updates": reader.updates,
            "timezone": reader.timezone,
            "unsubscribed": list(reader.unsubscribed),
        }
        for reader in listed
    ]


def format_reader(row: dict[str, Any], default_zone: str) -> str:
    lines = [str(row["address"] or row["key"])]
    if not row["configured"]:
        lines.append("  no longer in topics.yaml")
    else:
        lines += [
            f"  channel: {row['channel']}",
            f"  alerts on: {', '.join(row['topics']) or '— (no immediate alerts)'}",
            f"  digests: {', '.join(row['digests']) or '—'}",
            f"  updates: {'yes' if row['updates'] else 'no'}",
            f"  timezone: {row['timezone'] or f'{default_zone} (NEWSWATCH_DIGEST_TIMEZONE)'}",
        ]
    if row["unsubscribed"]:
        lines.append(f"  unsubscribed from: {', '.join(row['unsubscribed'])}")
    return "\n".join(lines)


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:59] + "…")
