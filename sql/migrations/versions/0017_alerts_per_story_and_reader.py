"""alerts: one message per story and reader (with its topics in alert_topics), readers,
unsubscribes, a signing secret, and digests.overflow for readers past the hourly cap

Existing alerts become one row per story and reader, sent when that reader got any of the old
rows of the story, so nothing is sent again; the old rows' topics become the new rows' topics.

Revision ID: 0017
Revises: 0016
"""

import json
import secrets
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_STATE_RANK = {"sent": 0, "pending": 1, "failed": 2}


def upgrade() -> None:
    op.create_table(
        "readers",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("address", sa.Text()),
        sa.Column("topics", postgresql.JSONB(), nullable=False),
        sa.Column("updates", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(64)),
        sa.Column("digests", postgresql.JSONB(), nullable=False),
    )
    op.create_table(
        "unsubscribes",
        sa.Column("reader", sa.Text(), primary_key=True),
        sa.Column("subscription", sa.String(250), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.execute(
        sa.text("insert into secrets (name, value) values ('unsubscribe', :value)").bindparams(
            value=secrets.token_hex(32)
        )
    )
    op.add_column(
        "digests",
        sa.Column("overflow", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # A digest goes to each of its subscriber's addresses as its own message (one unsubscribe
    # link per reader), so a row is one subscriber, channel, period and recipient list.
    op.drop_constraint("digests_subscriber_channel_period", "digests", type_="unique")
    op.create_unique_constraint(
        "digests_subscriber_channel_period",
        "digests",
        ["subscriber", "channel", "period_end", "recipients"],
    )
    op.drop_constraint("digests_state", "digests", type_="check")
    op.create_check_constraint(
        "digests_state", "digests", "state in ('pending', 'sent', 'failed', 'empty', 'cancelled')"
    )
    old = op.get_bind().execute(sa.text("select * from alerts order by id")).mappings().all()
    op.drop_constraint("alerts_story_topic_channel", "alerts", type_="unique")
    op.drop_constraint("alerts_state", "alerts", type_="check")
    op.execute("delete from alerts")
    op.drop_column("alerts", "topic_id")
    op.drop_column("alerts", "match_id")
    op.add_column("alerts", sa.Column("reader", sa.Text(), nullable=False))
    op.add_column(
        "alerts", sa.Column("kind", sa.String(10), server_default="alert", nullable=False)
    )
    op.add_column(
        "alerts",
        sa.Column("digest_id", sa.BigInteger(), sa.ForeignKey("digests.id", ondelete="SET NULL")),
    )
    op.create_unique_constraint(
        "alerts_story_reader_kind", "alerts", ["story_id", "reader", "kind"]
    )
    op.create_check_constraint(
        "alerts_state",
        "alerts",
        "state in ('pending', 'sent', 'failed', 'held', 'digested', 'cancelled')",
    )
    op.create_check_constraint("alerts_kind", "alerts", "kind in ('alert', 'update')")
    op.create_index("alerts_reader_sent", "alerts", ["reader", "sent_at"])
    op.create_index("alerts_held", "alerts", ["reader"], postgresql_where=sa.text("state = 'held'"))
    op.create_table(
        "alert_topics",
        sa.Column(
            "alert_id",
            sa.BigInteger(),
            sa.ForeignKey("alerts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("topic_id", sa.Integer(), sa.ForeignKey("topics.id"), primary_key=True),
        sa.Column(
            "match_id",
            sa.BigInteger(),
            sa.ForeignKey("matches.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    _migrate_alerts(old)


def _migrate_alerts(old: list[Any]) -> None:
    """One row per story and reader from the old rows (one per story, topic and channel, to a
    list of addresses). Frozen here: the code that queues alerts may change, this may not."""
    groups: dict[tuple[int, str], list[tuple[Any, str, str | None]]] = {}
    for row in old:
        if row["channel"] == "email":
            for address in row["recipients"]:
                state = _state_for(row, address)
                key = f"email:{address.casefold()}"
                groups.setdefault((row["story_id"], key), []).append((row, state, address))
        else:
            groups.setdefault((row["story_id"], row["channel"]), []).append(
                (row, row["state"], None)
            )
    bind = op.get_bind()
    for (story_id, reader), rows in groups.items():
        first = rows[0][0]
        state = min((state for _, state, _ in rows), key=_STATE_RANK.__getitem__)
        sent = [row for row, s, _ in rows if s == "sent"]
        address = rows[0][2]
        outcome = (first["outcomes"] or {}).get(address) if address else None
        alert_id = bind.execute(
            sa.text(
                "insert into alerts (channel, recipients, state, attempts, last_error,"
                " next_attempt_at, created_at, sent_at, message_id, delivered_to, outcomes,"
                " story_id, reader, kind, article_id) values (:channel,"
                " cast(:recipients as jsonb), :state, :attempts, :last_error, :next_attempt_at,"
                " :created_at, :sent_at, :message_id, :delivered_to, cast(:outcomes as jsonb),"
                " :story_id, :reader, 'alert', :article_id) returning id"
            ),
            {
                "channel": first["channel"],
                "recipients": _json([address] if address else []),
                "state": state,
                "attempts": max(row["attempts"] for row, _, _ in rows),
                "last_error": None if state == "sent" else first["last_error"],
                "next_attempt_at": first["next_attempt_at"],
                "created_at": min(row["created_at"] for row, _, _ in rows),
                "sent_at": sent[0]["sent_at"] if sent else None,
                "message_id": sent[0]["message_id"] if sent else None,
                "delivered_to": sent[0]["delivered_to"] if sent else None,
                "outcomes": _json({address: outcome} if address and outcome else {}),
                "story_id": story_id,
                "reader": reader,
                "article_id": first["article_id"],
            },
        ).scalar_one()
        topics = {row["topic_id"]: row["match_id"] for row, _, _ in reversed(rows)}
        for topic_id, match_id in topics.items():
            bind.execute(
                sa.text(
                    "insert into alert_topics (alert_id, topic_id, match_id)"
                    " values (:alert_id, :topic_id, :match_id)"
                ),
                {"alert_id": alert_id, "topic_id": topic_id, "match_id": match_id},
            )


def _state_for(row: Any, address: str) -> str:
    """Whether one address got an old row: its own outcome when it has one, else the row's."""
    outcome = (row["outcomes"] or {}).get(address)
    if outcome is not None:
        return "sent" if outcome.get("state") == "sent" else "failed"
    return str(row["state"])


def _json(value: Any) -> str:
    return json.dumps(value)


def downgrade() -> None:
    raise NotImplementedError("0017 merges alerts per story and reader; restore a backup instead")
