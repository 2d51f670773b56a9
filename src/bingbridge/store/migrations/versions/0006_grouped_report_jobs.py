"""Report jobs for many accounts and any report type: what each job asked for, so a run resumes per job.

Revision ID: 0006
Revises: 0005

The rows of report types other than the daily ad report live in tables built from their spec
(bingbridge.metrics.report_types), created when first imported; this migration creates none of them. Jobs saved
before it covered one account's daily ad report: they keep that meaning (report "ad", aggregation "Daily").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_jobs") as batch:
        batch.add_column(sa.Column("report_type", sa.String(40), nullable=False, server_default="ad"))
        batch.add_column(sa.Column("aggregation", sa.String(24), nullable=False, server_default="Daily"))
        batch.add_column(sa.Column("account_ids", sa.JSON))
        batch.add_column(sa.Column("request_key", sa.String(64)))
    op.create_index("ix_report_jobs_request_key", "report_jobs", ["request_key"])


def downgrade() -> None:
    op.drop_index("ix_report_jobs_request_key", "report_jobs")
    with op.batch_alter_table("report_jobs") as batch:
        batch.drop_column("request_key")
        batch.drop_column("account_ids")
        batch.drop_column("aggregation")
        batch.drop_column("report_type")
