"""`newswatch tokens`: the secrets that open an Atom feed or the read API without an Airflow
login. A token is shown once, when made; the store keeps only its hash."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from newswatch.cli.options import ConfigOption, JsonOption, get_settings, settings_for

if TYPE_CHECKING:
    from newswatch.access import Grant
    from newswatch.settings import Settings
    from newswatch.store.tokens import TokenRow

tokens_app = typer.Typer(
    help="Tokens that open an Atom feed or the read API: make, list, revoke.",
    no_args_is_help=True,
)
KINDS = ("topic", "subscriber", "api")


@tokens_app.command("create")
def create(
    kind: Annotated[str, typer.Argument(help="topic, subscriber (an Atom feed) or api")],
    name: Annotated[
        str | None, typer.Argument(help="the topic's or subscriber's name (none for api)")
    ] = None,
    label: Annotated[str, typer.Option(help="a note for `tokens list`: who has it")] = "",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a token; print it once, with the address it opens (under NEWSWATCH_PUBLIC_URL)."""
    from newswatch import clock
    from newswatch.access import LABEL_CHARS
    from newswatch.config.models import feed_name
    from newswatch.store import db, tokens

    settings = settings_for(config)
    grant = _grant(settings, kind, name)
    label = feed_name(label, "")[:LABEL_CHARS]  # one printable line: `tokens list` prints it
    with db.transaction(db.session_factory(settings)) as session:
        token_id, token = tokens.create(session, grant, label, clock.now())
    where = address(settings, grant, token)
    if as_json:
        shown = {"id": token_id, "scope": grant.scope, "target": grant.target, "label": label}
        url = where if settings.public_url else None  # never a placeholder in machine output
        path = where.removeprefix(base_url(settings))
        typer.echo(json.dumps(shown | {"token": token, "url": url, "path": path}, indent=2))
        return
    typer.echo(f"token {token_id} opens the {grant}; it is shown only now, keep it:\n  {token}")
    if grant.scope == "api":
        typer.echo(f"use it as: curl -H 'Authorization: Bearer {token}' {where}/stories")
    else:
        typer.echo(f"subscribe a feed reader to:\n  {where}")
    if not settings.public_url:
        typer.echo("(set NEWSWATCH_PUBLIC_URL to the dashboard's address for the full URL)")


@tokens_app.command("list")
def list_tokens(as_json: JsonOption = False) -> None:
    """Every token: what it opens, label, when made, last used (to the hour), revoked."""
    from newswatch.store import db, tokens

    with db.read(get_settings()) as session:
        rows = [token_row(row) for row in tokens.listing(session)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no tokens (make one with `newswatch tokens create`)")
        return
    typer.echo("  id  opens · label · made · last used (to the hour) · state; times UTC")
    for row in rows:
        state = f"revoked {_minute(row['revoked_at'])}" if row["revoked_at"] else "live"
        used = f"last used {_minute(row['last_used_at'])}" if row["last_used_at"] else "never used"
        label = f" · label: {row['label']}" if row["label"] else ""
        typer.echo(
            f"{row['id']:>4}  {row['opens']}{label} · made {_minute(row['created_at'])} · "
            f"{used} · {state}"
        )


def _minute(iso: str) -> str:
    return iso[:16].replace("T", " ")


@tokens_app.command("revoke")
def revoke(
    token_id: Annotated[
        int, typer.Argument(help="the id `tokens list` shows", min=1, max=2**63 - 1)
    ],
    as_json: JsonOption = False,
) -> None:
    """Revoke a token: what it opened answers 403 from now on."""
    from newswatch import clock
    from newswatch.store import db, tokens

    now = clock.now()
    with db.transaction(db.session_factory(get_settings())) as session:
        row = tokens.revoke(session, token_id, now)
    if row is None:
        raise typer.BadParameter(f"no token {token_id} (see `newswatch tokens list`)")
    # tokens.revoke keeps the first revocation: an earlier time means it was already revoked.
    earlier = row.revoked_at.isoformat() if row.revoked_at and row.revoked_at != now else None
    if as_json:
        typer.echo(json.dumps(token_row(row) | {"changed": not earlier}, indent=2))
        return
    if earlier:
        typer.echo(f"token {token_id} ({row.grant}) was already revoked, {_minute(earlier)} UTC")
    else:
        typer.echo(f"token {token_id} ({row.grant}) revoked; it opens nothing from now on")


def _grant(settings: Settings, kind: str, name: str | None) -> Grant:
    """What the token will open, checked against the config: a topic or subscriber it names."""
    from newswatch.access import Grant
    from newswatch.config.load import load_config

    if kind not in KINDS:
        raise typer.BadParameter(f"expected topic, subscriber or api, got {kind!r}")
    if kind == "api":
        if name is not None:
            raise typer.BadParameter("an api token opens the whole read API: give no name")
        return Grant("api")
    if not name:
        raise typer.BadParameter(f"which {kind}? give its name (see topics.yaml)")
    config = load_config(settings.config_dir)
    known = (
        [t.name for t in config.topics] if kind == "topic" else [s.name for s in config.subscribers]
    )
    if name not in known:
        listed = ", ".join(known[:10]) or "none"
        raise typer.BadParameter(f"no {kind} {name[:100]!r} in topics.yaml (it has: {listed})")
    return Grant("topic" if kind == "topic" else "subscriber", name)


def base_url(settings: Settings) -> str:
    return (settings.public_url or "<dashboard>").rstrip("/")


def address(settings: Settings, grant: Grant, token: str) -> str:
    """What the token opens, under NEWSWATCH_PUBLIC_URL (else under "<dashboard>")."""
    from urllib.parse import quote

    base = base_url(settings)
    if grant.target is None:
        return f"{base}/api/v1"
    return f"{base}/feeds/{grant.scope}/{quote(grant.target)}.atom?token={token}"


def token_row(row: TokenRow) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": row.id,
        "scope": row.grant.scope,
        "target": row.grant.target,
        "opens": str(row.grant),
        "label": row.label,
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "revoked_at": iso(row.revoked_at),
    }
