"""Named leases shared by every process (bingbridge.store.leases): one metrics import at a time, one token refresh
per destination at a time. The token-refresh lease moves here from destination_states' own two columns.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("taken_at", sa.DateTime, nullable=False),
        sa.Column("until", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("destination_states") as batch:
        batch.drop_column("refresh_by")
        batch.drop_column("refresh_until")


def downgrade() -> None:
    with op.batch_alter_table("destination_states") as batch:
        batch.add_column(sa.Column("refresh_by", sa.String(100)))
        batch.add_column(sa.Column("refresh_until", sa.DateTime))
    op.drop_table("leases")
