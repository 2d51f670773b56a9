"""Every table of the bingbridge database, in one MetaData (migrations create them; queries use these objects), and
the report tables readers query, which are views over two tables each (`views`, `ReportStorage`).

Times are naive UTC (SQLite has no time zones); money is NUMERIC(18, 2) (exact in PostgreSQL, REAL in SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    SmallInteger,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.sql import Select

from bingbridge.metrics.report_types import AD, COLUMNS, STORED_AS, ReportType
from bingbridge.metrics.report_types import Column as ReportColumn

metadata = MetaData()

Money = Numeric(18, 2, asdecimal=False)

_KIND_TYPES: dict[str, Any] = {"id": BigInteger, "count": BigInteger, "number": Float, "money": Money}


def _report_column(column: ReportColumn, key: bool) -> Column[Any]:
    name = STORED_AS.get(column.name, column.name)
    role = "key" if key else "measure" if column.is_measure else "attribute"
    if column.name == "currency_code":
        return Column(name, String(3), info={"role": role})
    kind = _KIND_TYPES.get(column.kind, Text)
    return Column(name, kind, primary_key=key, nullable=not (key or column.is_measure), info={"role": role})


def build_report_table(target: MetaData, spec: ReportType, aggregation: str) -> Table:
    """The table of a report type's rows at one aggregation as readers see it, from its spec: one row per entity
    (the spec's key) per period, upserted on the key, never duplicated. It is stored as a view over two tables
    (`build_report_storage`).

    The period is `date` (its first day; for Summary the range's first day, with `end_date` its last), plus `hour`
    for Hourly. A type with FinalUrl keeps the URL's UTM parameters too. Each column's `info["role"]` says where it
    is stored: `key`, `measure` and `bookkeeping` columns in the facts, `attribute` columns once per distinct set.
    """
    period: list[Column[Any]] = [Column("date", Date, primary_key=True, info={"role": "key"})]
    if aggregation == "Hourly":
        period.append(Column("hour", SmallInteger, primary_key=True, info={"role": "key"}))
    if aggregation == "Summary":
        period.append(Column("end_date", Date, primary_key=True, info={"role": "key"}))
    columns = [_report_column(COLUMNS["AccountId"], True), *period]
    columns += [_report_column(COLUMNS[c], True) for c in spec.key if c != "AccountId"]
    columns += [_report_column(c, False) for c in spec.stored if c.wire not in spec.key]
    if "FinalUrl" in spec.columns:
        columns += [Column(f"utm_{part}", Text, info={"role": "attribute"}) for part in UTM_PARTS]
    return Table(
        spec.table_name(aggregation),
        target,
        *columns,
        Column("run_id", Integer, info={"role": "bookkeeping"}),
        Column("imported_at", DateTime, nullable=False, info={"role": "bookkeeping"}),
    )


UTM_PARTS = ("source", "medium", "campaign", "content", "term")


@dataclass(frozen=True)
class ReportStorage:
    """How a report table (`view`, what readers query) is stored. An ad's names, parent ids, URL, UTM values and
    currency repeat on every one of its days: they are kept once per distinct combination in `attributes` (found
    by `digest`, a hash of the values), and each row of `facts` holds its key, its measures, its import and the
    `attributes_id` of its attributes. The view joins them back into the table's columns, in its order."""

    view: Table
    facts: Table
    attributes: Table

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.view.columns if c.info["role"] == "attribute")

    def view_select(self) -> Select[Any]:
        """The view's query: facts LEFT JOIN their attributes. PostgreSQL leaves the join out of queries that read
        no attribute; SQLite looks each row's set up by its integer key (a sum over a million rows: 0.15 s through
        the view, 0.09 s from the facts)."""
        columns = [
            self.facts.c[c.name] if c.name in self.facts.c else self.attributes.c[c.name] for c in self.view.columns
        ]
        joined = self.facts.outerjoin(self.attributes, self.attributes.c.id == self.facts.c.attributes_id)
        return select(*columns).select_from(joined)


def _copy(column: Column[Any]) -> Column[Any]:
    return Column(column.name, column.type, primary_key=column.primary_key, nullable=column.nullable)


def build_report_storage(tables: MetaData, views: MetaData, spec: ReportType, aggregation: str) -> ReportStorage:
    """A report type's table at an aggregation: the view (in `views`) and its two tables (in `tables`)."""
    view = build_report_table(views, spec, aggregation)
    name = view.name
    facts = [_copy(c) for c in view.columns if c.info["role"] != "attribute"]
    at = next(i for i, c in enumerate(facts) if c.name == "run_id")
    facts.insert(at, Column("attributes_id", Integer, nullable=False))
    return ReportStorage(
        view,
        Table(f"{name}_facts", tables, *facts, Index(f"ix_{name}_facts_date", "date")),
        Table(
            f"{name}_attributes",
            tables,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("digest", String(32), nullable=False, unique=True),
            *[_copy(c) for c in view.columns if c.info["role"] == "attribute"],
        ),
    )


# Views over the tables of `metadata`: migrations create them, as they create the tables.
views = MetaData()

# One row per ad per day per account: the "Daily Ad Metrics" record. Migration 0001 created it as a table; 0008
# stores it as every report table is stored (`ReportStorage`).
ad_metrics_storage = build_report_storage(metadata, views, AD, "Daily")
ad_metrics_daily = ad_metrics_storage.view

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
    # Migration 0006: one job covers up to 1,000 accounts of one report type and aggregation; `account_id` is
    # the first of `account_ids`; `request_key` identifies what was asked, so a run resumes the same request.
    Column("report_type", String(40), nullable=False, server_default="ad"),
    Column("aggregation", String(24), nullable=False, server_default="Daily"),
    Column("account_ids", JSON),
    Column("request_key", String(64)),
    Index("ix_report_jobs_range", "account_id", "start_date", "end_date"),
    Index("ix_report_jobs_request_key", "request_key"),
)

# ---- server-side conversion tracking ----

# A tenant of the tracking service. `key_hash`/`key_prefix` are left from migration 0002 (where they held its one
# key) and are never read: keys live in `workspace_keys`; new workspaces fill them with a random non-key.
workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_prefix", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# A workspace's keys, by SHA-256: `ingestion` keys (public, in web pages) may only post events; `api` keys
# (secret) read and operate. A revoked key stays listed with `revoked_at` and is refused.
workspace_keys = Table(
    "workspace_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),  # ingestion | api
    Column("name", String(100)),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_prefix", String(16), nullable=False),  # shown so people can tell keys apart
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Index("ix_workspace_keys_workspace", "workspace_id"),
)

# A Microsoft Advertising account events are uploaded to. Secrets are one encrypted JSON blob.
destinations = Table(
    "destinations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("environment", String(20), nullable=False),
    Column("customer_id", BigInteger, nullable=False),
    Column("account_id", BigInteger, nullable=False),
    Column("client_id", String(200), nullable=False),
    Column("secrets", Text, nullable=False),  # Fernet token of {developer_token, client_secret, refresh_token, ...}
    Column("access_token_expires_at", DateTime),
    Column("uet_tag_id", BigInteger),
    Column("live", Integer, nullable=False, default=0),
    Column("conversion_names", JSON, nullable=False),  # event name -> conversion goal name
    Column("calls_per_hour", Integer, nullable=False),
    Column("last_test", JSON),  # {"ok", "failed", "message", "token_ms", "api_ms", "auto_tagging", "at"}
    Column("channels", JSON),  # ["offline"] or ["offline", "capi"]; NULL (before 0005) means ["offline"]
    Column("event_channels", JSON),  # event name -> [channel, ...], where it differs from the default routing
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# Every accepted event, stored once per (workspace, event_id). E-mail and phone arrive hashed, never plain.
events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("event_name", String(100), nullable=False),
    Column("occurred_at", DateTime, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("value", Float),
    Column("currency", String(3)),
    Column("ad_storage", String(10)),  # granted | denied | None (not given)
    Column("hashed_email", String(64)),
    Column("hashed_phone", String(64)),
    Column("click_ids", JSON),  # {"msclkid": ..., "gclid": ..., ...}
    Column("properties", JSON),
    Column("page", JSON),  # {"url", "referrer", "title", "load_id"}
    Column("anonymous_id", String(200)),
    Column("external_id", String(200)),
    Index("ux_events_workspace_event", "workspace_id", "event_id", unique=True),
)

# One row per event, destination and channel: the dispatch log and the work queue at once.
dispatches = Table(
    "dispatches",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_pk", BigInteger, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("destination_id", Integer, ForeignKey("destinations.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(20), nullable=False, server_default="offline"),  # offline | capi
    # pending, sent, skipped, blocked, failed, dead_lettered
    Column("status", String(20), nullable=False),
    Column("reason", Text),
    Column("conversion_name", String(100)),
    Column("code", Integer),  # Microsoft's error code
    Column("error_code", String(100)),
    Column("tracking_id", String(100)),
    Column("batch_id", String(40)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime),
    Column("claimed_by", String(100)),
    Column("claim_expires_at", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Index("ix_dispatches_queue", "destination_id", "channel", "status", "next_attempt_at"),
    Index("ix_dispatches_event", "event_pk"),
)

# Every upload call a worker made: the hourly call budget and the health badge are computed from it.
dispatch_calls = Table(
    "dispatch_calls",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("destination_id", Integer, ForeignKey("destinations.id", ondelete="CASCADE"), nullable=False),
    Column("batch_id", String(40), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("ok", Integer, nullable=False),  # 1 when Microsoft answered the call (partial errors included)
    Column("code", Integer),
    Column("tracking_id", String(100)),
    Column("worker", String(100)),
    Column("channel", String(20), nullable=False, server_default="offline"),
    Index("ix_dispatch_calls_destination_at", "destination_id", "at"),
)

# ---- the dashboard's state shared by every process ----

# Signed-in dashboard sessions, by the SHA-256 of the id their signed cookie carries; sign-out sets `ended_at`.
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
)

# Sign-in attempts per client address in the current window (a fixed window, counted before the password check).
signin_limits = Table(
    "signin_limits",
    metadata,
    Column("peer", String(100), primary_key=True),
    Column("window_start", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
)

# Connect Microsoft Advertising flows waiting for the browser to come back (PKCE verifier and card, encrypted).
oauth_flows = Table(
    "oauth_flows",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("sealed", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# What every worker and process must agree on about a destination's channel (one row each, written as things
# happen): until when dispatch pauses and why, the credential error Microsoft gave, since when calls keep failing
# (an outage) and how many failed in a row (the backoff), and who holds the lease on refreshing its OAuth token.
destination_states = Table(
    "destination_states",
    metadata,
    Column(
        "destination_id",
        Integer,
        ForeignKey("destinations.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("channel", String(20), primary_key=True, server_default="offline"),  # conversions.channels names
    Column("paused_until", DateTime),
    Column("pause_reason", Text),
    Column("credentials_error", String(200)),  # e.g. invalid_grant, code 105; None when the credentials work
    Column("waiting_since", DateTime),  # the first failed call of the current outage
    Column("failures", Integer, nullable=False, default=0),  # failed calls in a row
    Column("updated_at", DateTime, nullable=False),
)

# Named leases (bingbridge.store.leases): who does a piece of work that only one process may do at a time.
leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),  # e.g. metrics-import, token-refresh:<destination id>
    Column("holder", String(64), nullable=False),
    Column("taken_at", DateTime, nullable=False),
    Column("until", DateTime, nullable=False),
)
