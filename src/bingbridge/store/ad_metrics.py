"""Queries of the metrics import: report tables (built from the report type specs; written by
bingbridge.store.report_writer), reading rows back, import runs and report jobs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, and_, delete, func, insert, inspect, select, update

from bingbridge.metrics.report_types import AD, ReportType
from bingbridge.store.engine import utcnow
from bingbridge.store.report_writer import ReportWriter
from bingbridge.store.schema import (
    ReportStorage,
    ad_metrics_daily,
    ad_metrics_storage,
    build_report_storage,
    import_runs,
    report_jobs,
)

# The order of the values in each tuple given to `upsert_ad_metrics`.
UPSERT_COLUMNS: tuple[str, ...] = tuple(c.name for c in ad_metrics_daily.columns)
KEY_COLUMNS = tuple(c.name for c in ad_metrics_daily.primary_key.columns)

_report_metadata = MetaData()
_report_views = MetaData()


@dataclass(frozen=True)
class JobRequest:
    """What one report job asks for: a report type at an aggregation, columns, accounts and a range."""

    report_type: str
    aggregation: str
    columns: tuple[str, ...]
    account_ids: tuple[int, ...]
    start: dt.date
    end: dt.date

    @property
    def key(self) -> str:
        """A digest of the whole request: a saved job is resumed only for exactly the same request."""
        text = json.dumps([self.report_type, self.aggregation, self.columns, self.account_ids, str(self.start),
                           str(self.end)])  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()


@cache
def report_storage(spec: ReportType, aggregation: str) -> ReportStorage:
    """How a report type's table at an aggregation is stored (the daily ad report's view is `ad_metrics_daily`)."""
    if spec is AD and aggregation == "Daily":
        return ad_metrics_storage
    return build_report_storage(_report_metadata, _report_views, spec, aggregation)


def report_table(spec: ReportType, aggregation: str) -> Table:
    """The table (a view) readers query for a report type at an aggregation."""
    return report_storage(spec, aggregation).view


def upsert_ad_metrics(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert or update records keyed by (account_id, date, ad_id); tuples in UPSERT_COLUMNS order."""
    if not rows:
        return 0
    columns = dict(zip(UPSERT_COLUMNS, (list(c) for c in zip(*rows, strict=True)), strict=True))
    return upsert_ad_metrics_columns(conn, columns)


def upsert_ad_metrics_columns(conn: Connection, columns: Mapping[str, Sequence[Any]]) -> int:
    """The same from columns (UPSERT_COLUMNS name -> values), as the import produces them."""
    return ReportWriter(conn, ad_metrics_storage).write(columns)


def iter_ad_metrics(
    engine: Engine,
    since: dt.date | None = None,
    until: dt.date | None = None,
    account_ids: Sequence[int] = (),
    batch_size: int = 2000,
) -> Iterator[dict[str, Any]]:
    """Stored daily ad records in (date, account, ad) order, streamed `batch_size` at a time."""
    return iter_report_rows(engine, ad_metrics_daily, since, until, account_ids, batch_size)


def iter_report_rows(
    engine: Engine,
    table: Table,
    since: dt.date | None = None,
    until: dt.date | None = None,
    account_ids: Sequence[int] = (),
    batch_size: int = 2000,
) -> Iterator[dict[str, Any]]:
    """Stored rows of a report table in key order (period first), streamed `batch_size` at a time."""
    keys = list(table.primary_key.columns)
    period = [c for c in keys if c.name in ("date", "hour", "end_date")]
    query = select(table).order_by(*period, *[c for c in keys if c not in period])
    if since is not None:
        query = query.where(table.c.date >= since)
    if until is not None:
        query = query.where(table.c.date <= until)
    if account_ids:
        query = query.where(table.c.account_id.in_(list(account_ids)))
    with engine.connect() as conn:
        if not inspect(conn).has_table(table.name):
            return
        result = conn.execution_options(yield_per=batch_size).execute(query)
        for row in result:
            yield dict(row._mapping)


def latest_dates(conn: Connection, account_ids: Sequence[int], table: Table = ad_metrics_daily) -> dict[int, dt.date]:
    """The newest stored day of each account that has any (for Summary, the last day of the newest range)."""
    if not inspect(conn).has_table(table.name):
        return {}
    day = table.c.end_date if "end_date" in table.c else table.c.date
    latest: dict[int, dt.date] = {}
    for i in range(0, len(account_ids), 500):
        query = (
            select(table.c.account_id, func.max(day))
            .where(table.c.account_id.in_(list(account_ids[i : i + 500])))
            .group_by(table.c.account_id)
        )
        latest.update({int(account): value for account, value in conn.execute(query) if value is not None})
    return latest


def totals(engine: Engine, account_id: int | None = None, table: Table = ad_metrics_daily) -> dict[str, Any]:
    """Row count and sums of the measures a table has, e.g. for checks: rows, impressions, clicks, spend,
    conversions, revenue."""
    names = [n for n in ("impressions", "clicks", "spend", "conversions", "revenue") if n in table.c]
    query = select(func.count(), *[func.sum(table.c[n]) for n in names])
    if account_id is not None:
        query = query.where(table.c.account_id == account_id)
    with engine.connect() as conn:
        if not inspect(conn).has_table(table.name):
            return {"rows": 0, **dict.fromkeys(names, 0)}
        row = conn.execute(query).one()
    return {name: (value or 0) for name, value in zip(["rows", *names], row, strict=True)}


# ---- import runs ----


def start_run(conn: Connection, trigger: str) -> int:
    """Record a new running import; an older run still marked running was cut short, so mark it interrupted."""
    conn.execute(update(import_runs).where(import_runs.c.status == "running").values(status="interrupted"))
    result = conn.execute(
        insert(import_runs).values(started_at=utcnow(), status="running", trigger=trigger, accounts=0, rows=0)
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def finish_run(conn: Connection, run_id: int, **values: Any) -> None:
    conn.execute(update(import_runs).where(import_runs.c.id == run_id).values(finished_at=utcnow(), **values))


def list_runs(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs first."""
    with engine.connect() as conn:
        rows = conn.execute(select(import_runs).order_by(import_runs.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


# ---- report jobs ----


def save_job(conn: Connection, run_id: int, job: JobRequest, report_request_id: str) -> int:
    """Record a submitted job for what it asked (so a later run can resume it); returns its row id."""
    result = conn.execute(
        insert(report_jobs).values(
            run_id=run_id,
            account_id=job.account_ids[0],
            account_ids=list(job.account_ids),
            start_date=job.start,
            end_date=job.end,
            report_type=job.report_type,
            aggregation=job.aggregation,
            request_key=job.key,
            report_request_id=report_request_id,
            status="submitted",
            submitted_at=utcnow(),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def mark_job(conn: Connection, job_id: int, status: str, rows: int | None = None) -> None:
    values: dict[str, Any] = {"status": status, "rows": rows}
    if status == "loaded":
        values["loaded_at"] = utcnow()
    conn.execute(update(report_jobs).where(report_jobs.c.id == job_id).values(**values))


def forget_job(conn: Connection, job_id: int) -> None:
    conn.execute(delete(report_jobs).where(report_jobs.c.id == job_id))


def resumable_job(conn: Connection, job: JobRequest, submitted_after: dt.datetime) -> dict[str, Any] | None:
    """The newest job of an unfinished run that asked exactly this, submitted after the cut-off."""
    query = (
        select(report_jobs)
        .join(import_runs, import_runs.c.id == report_jobs.c.run_id)
        .where(
            and_(
                report_jobs.c.request_key == job.key,
                report_jobs.c.submitted_at > submitted_after,
                report_jobs.c.status.in_(("submitted", "loaded")),
                import_runs.c.status != "succeeded",
            )
        )
        .order_by(report_jobs.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None
