"""Daily ad metrics, import runs and their report jobs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ad_metrics_daily",
        sa.Column("account_id", sa.BigInteger, primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("ad_id", sa.BigInteger, primary_key=True),
        sa.Column("account_name", sa.Text),
        sa.Column("campaign_id", sa.BigInteger),
        sa.Column("campaign_name", sa.Text),
        sa.Column("ad_group_id", sa.BigInteger),
        sa.Column("ad_group_name", sa.Text),
        sa.Column("ad_name", sa.Text),
        sa.Column("final_url", sa.Text),
        sa.Column("impressions", sa.BigInteger, nullable=False),
        sa.Column("clicks", sa.BigInteger, nullable=False),
        sa.Column("spend", sa.Numeric(18, 2), nullable=False),
        sa.Column("conversions", sa.Float, nullable=False),
        sa.Column("revenue", sa.Numeric(18, 2), nullable=False),
        sa.Column("currency_code", sa.String(3)),
        sa.Column("utm_source", sa.Text),
        sa.Column("utm_medium", sa.Text),
        sa.Column("utm_campaign", sa.Text),
        sa.Column("utm_content", sa.Text),
        sa.Column("utm_term", sa.Text),
        sa.Column("run_id", sa.Integer),
        sa.Column("imported_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_ad_metrics_daily_date", "ad_metrics_daily", ["date"])
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("start_date", sa.Date),
        sa.Column("end_date", sa.Date),
        sa.Column("accounts", sa.Integer, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("spend", sa.JSON),
        sa.Column("report_ids", sa.JSON),
        sa.Column("ranges", sa.JSON),
        sa.Column("errors", sa.JSON),
        sa.Column("duration_seconds", sa.Float),
    )
    op.create_table(
        "report_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("import_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("report_request_id", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("submitted_at", sa.DateTime),
        sa.Column("loaded_at", sa.DateTime),
        sa.Column("rows", sa.BigInteger),
    )
    op.create_index("ix_report_jobs_range", "report_jobs", ["account_id", "start_date", "end_date"])


def downgrade() -> None:
    op.drop_table("report_jobs")
    op.drop_table("import_runs")
    op.drop_table("ad_metrics_daily")
