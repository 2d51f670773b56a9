"""Destination state shared by every worker and process, per delivery channel: pauses, outages, refused credentials,
the refresh lease (on the offline channel's row: only Microsoft Advertising's OAuth tokens rotate).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "destination_states",
        sa.Column(
            "destination_id",
            sa.Integer,
            sa.ForeignKey("destinations.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("channel", sa.String(20), primary_key=True, server_default="offline"),
        sa.Column("paused_until", sa.DateTime),
        sa.Column("pause_reason", sa.Text),
        sa.Column("credentials_error", sa.String(200)),
        sa.Column("waiting_since", sa.DateTime),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("refresh_by", sa.String(100)),
        sa.Column("refresh_until", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("destination_states")
