"""Every table of the bingbridge database, in one MetaData (migrations create them; queries use these objects).

Times are naive UTC (SQLite has no time zones); money is NUMERIC(18, 2) (exact in PostgreSQL, REAL in SQLite).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

metadata = MetaData()

Money = Numeric(18, 2, asdecimal=False)

# One row per ad per day per account: the "Daily Ad Metrics" record. Upserted on the key, never duplicated.
ad_metrics_daily = Table(
    "ad_metrics_daily",
    metadata,
    Column("account_id", BigInteger, primary_key=True),
    Column("date", Date, primary_key=True),
    Column("ad_id", BigInteger, primary_key=True),
    Column("account_name", Text),
    Column("campaign_id", BigInteger),
    Column("campaign_name", Text),
    Column("ad_group_id", BigInteger),
    Column("ad_group_name", Text),
    Column("ad_name", Text),
    Column("final_url", Text),
    Column("impressions", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
    Column("spend", Money, nullable=False),
    Column("conversions", Float, nullable=False),
    Column("revenue", Money, nullable=False),
    Column("currency_code", String(3)),
    Column("utm_source", Text),
    Column("utm_medium", Text),
    Column("utm_campaign", Text),
    Column("utm_content", Text),
    Column("utm_term", Text),
    Column("run_id", Integer),
    Column("imported_at", DateTime, nullable=False),
    Index("ix_ad_metrics_daily_date", "date"),
)

# One row per `metrics import`: what it covered and how it went.
import_runs = Table(
    "import_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(20), nullable=False),  # running, succeeded, failed, interrupted
    Column("trigger", String(20), nullable=False),  # cli, schedule, library
    Column("start_date", Date),
    Column("end_date", Date),
    Column("accounts", Integer, nullable=False, default=0),
    Column("rows", BigInteger, nullable=False, default=0),
    Column("spend", JSON),  # {currency: total}
    Column("report_ids", JSON),  # [ReportRequestId, ...]
    Column("ranges", JSON),  # [{"account_id", "start", "end", "rows", "status"}, ...]
    Column("errors", JSON),  # ["account 123: TrackingId ...: ...", ...]
    Column("duration_seconds", Float),
)

# Report jobs of each run, kept so an interrupted run resumes (ids live two days) instead of starting over.
report_jobs = Table(
    "report_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("import_runs.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", BigInteger, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("report_request_id", String(200)),
    Column("status", String(20), nullable=False),  # submitted, loaded, failed
    Column("submitted_at", DateTime),
    Column("loaded_at", DateTime),
    Column("rows", BigInteger),
    Index("ix_report_jobs_range", "account_id", "start_date", "end_date"),
)
