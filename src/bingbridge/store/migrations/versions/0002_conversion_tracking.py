"""Server-side conversion tracking: workspaces, destinations, events, dispatches and dispatch calls.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "destinations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.BigInteger, nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("secrets", sa.Text, nullable=False),
        sa.Column("access_token_expires_at", sa.DateTime),
        sa.Column("uet_tag_id", sa.BigInteger),
        sa.Column("live", sa.Integer, nullable=False),
        sa.Column("conversion_names", sa.JSON, nullable=False),
        sa.Column("calls_per_hour", sa.Integer, nullable=False),
        sa.Column("last_test", sa.JSON),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_name", sa.String(100), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("currency", sa.String(3)),
        sa.Column("ad_storage", sa.String(10)),
        sa.Column("hashed_email", sa.String(64)),
        sa.Column("hashed_phone", sa.String(64)),
        sa.Column("click_ids", sa.JSON),
        sa.Column("properties", sa.JSON),
    )
    op.create_index("ux_events_workspace_event", "events", ["workspace_id", "event_id"], unique=True)
    op.create_table(
        "dispatches",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("event_pk", sa.BigInteger, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("destination_id", sa.Integer, sa.ForeignKey("destinations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("conversion_name", sa.String(100)),
        sa.Column("code", sa.Integer),
        sa.Column("error_code", sa.String(100)),
        sa.Column("tracking_id", sa.String(100)),
        sa.Column("batch_id", sa.String(40)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("claimed_by", sa.String(100)),
        sa.Column("claim_expires_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
    )
    op.create_index("ix_dispatches_queue", "dispatches", ["destination_id", "status", "next_attempt_at"])
    op.create_index("ix_dispatches_event", "dispatches", ["event_pk"])
    op.create_table(
        "dispatch_calls",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("destination_id", sa.Integer, sa.ForeignKey("destinations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("batch_id", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("ok", sa.Integer, nullable=False),
        sa.Column("code", sa.Integer),
        sa.Column("tracking_id", sa.String(100)),
        sa.Column("worker", sa.String(100)),
    )
    op.create_index("ix_dispatch_calls_destination_at", "dispatch_calls", ["destination_id", "at"])


def downgrade() -> None:
    op.drop_table("dispatch_calls")
    op.drop_table("dispatches")
    op.drop_table("events")
    op.drop_table("destinations")
    op.drop_table("workspaces")
