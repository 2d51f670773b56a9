"""Delivery channels: a destination's channels (Offline Conversions, UET Conversions API) and event mapping, the
channel of every dispatch row and call, and the page and user ids of an event the Conversions API matches by.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("destinations", sa.Column("channels", sa.JSON))
    op.add_column("destinations", sa.Column("event_channels", sa.JSON))
    op.add_column("events", sa.Column("page", sa.JSON))
    op.add_column("events", sa.Column("anonymous_id", sa.String(200)))
    op.add_column("events", sa.Column("external_id", sa.String(200)))
    op.add_column("dispatches", sa.Column("channel", sa.String(20), nullable=False, server_default="offline"))
    op.add_column("dispatch_calls", sa.Column("channel", sa.String(20), nullable=False, server_default="offline"))
    op.drop_index("ix_dispatches_queue", table_name="dispatches")
    op.create_index("ix_dispatches_queue", "dispatches", ["destination_id", "channel", "status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_dispatches_queue", table_name="dispatches")
    op.create_index("ix_dispatches_queue", "dispatches", ["destination_id", "status", "next_attempt_at"])
    with op.batch_alter_table("dispatch_calls") as batch:
        batch.drop_column("channel")
    with op.batch_alter_table("dispatches") as batch:
        batch.drop_column("channel")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("external_id")
        batch.drop_column("anonymous_id")
        batch.drop_column("page")
    with op.batch_alter_table("destinations") as batch:
        batch.drop_column("event_channels")
        batch.drop_column("channels")
