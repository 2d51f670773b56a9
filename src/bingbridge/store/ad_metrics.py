"""Queries of the daily ad metrics import: upserting records, reading them back, import runs and report jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from bingbridge.store.engine import utcnow
from bingbridge.store.schema import ad_metrics_daily, import_runs, report_jobs

# The order of the values in each tuple given to `upsert_ad_metrics`.
UPSERT_COLUMNS: tuple[str, ...] = (
    "account_id",
    "date",
    "ad_id",
    "account_name",
    "campaign_id",
    "campaign_name",
    "ad_group_id",
    "ad_group_name",
    "ad_name",
    "final_url",
    "impressions",
    "clicks",
    "spend",
    "conversions",
    "revenue",
    "currency_code",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "run_id",
    "imported_at",
)
KEY_COLUMNS = ("account_id", "date", "ad_id")


def _upsert_statement(conn: Connection) -> Any:
    name = conn.dialect.name
    stmt: Any
    if name == "sqlite":
        from sqlalchemy.dialects import sqlite

        stmt = sqlite.insert(ad_metrics_daily)
    elif name == "postgresql":
        from sqlalchemy.dialects import postgresql

        stmt = postgresql.insert(ad_metrics_daily)
    else:
        raise NotImplementedError(f"bingbridge stores metrics in SQLite or PostgreSQL, not {name}")
    changes = {c: stmt.excluded[c] for c in UPSERT_COLUMNS if c not in KEY_COLUMNS}
    return stmt.on_conflict_do_update(index_elements=list(KEY_COLUMNS), set_=changes)


class _IsoDates(dict[dt.date, str]):
    def __missing__(self, key: dt.date) -> str:
        value = self[key] = key.isoformat()
        return value


def upsert_ad_metrics(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert or update records keyed by (account_id, date, ad_id); tuples in UPSERT_COLUMNS order."""
    if not rows:
        return 0
    columns = dict(zip(UPSERT_COLUMNS, (list(c) for c in zip(*rows, strict=True)), strict=True))
    return upsert_ad_metrics_columns(conn, columns)


def upsert_ad_metrics_columns(conn: Connection, columns: Mapping[str, Sequence[Any]]) -> int:
    """The same from columns (UPSERT_COLUMNS name -> values), as the import produces them."""
    count = len(columns["account_id"])
    if not count:
        return 0
    stmt = _upsert_statement(conn)
    if conn.dialect.name == "sqlite":
        # The driver's executemany with positional tuples zipped from columns is several times faster than
        # SQLAlchemy's per-row parameter processing; days and times are written in the text forms SQLAlchemy's
        # SQLite types read back.
        compiled = stmt.compile(dialect=conn.dialect)
        dates = _IsoDates()
        stamps = {t: t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in set(columns["imported_at"])}
        converted = {
            **columns,
            "date": list(map(dates.__getitem__, columns["date"])),
            "imported_at": list(map(stamps.__getitem__, columns["imported_at"])),
        }
        ordered = [converted[name] for name in compiled.positiontup or ()]
        conn.exec_driver_sql(str(compiled), list(zip(*ordered, strict=True)))
        return count
    names = list(UPSERT_COLUMNS)
    conn.execute(stmt, [dict(zip(names, row, strict=True)) for row in zip(*(columns[n] for n in names), strict=True)])
    return count


def iter_ad_metrics(
    engine: Engine,
    since: dt.date | None = None,
    until: dt.date | None = None,
    account_ids: Sequence[int] = (),
    batch_size: int = 2000,
) -> Iterator[dict[str, Any]]:
    """Stored records in (date, account, ad) order, streamed `batch_size` at a time."""
    query = select(ad_metrics_daily).order_by(
        ad_metrics_daily.c.date, ad_metrics_daily.c.account_id, ad_metrics_daily.c.ad_id
    )
    if since is not None:
        query = query.where(ad_metrics_daily.c.date >= since)
    if until is not None:
        query = query.where(ad_metrics_daily.c.date <= until)
    if account_ids:
        query = query.where(ad_metrics_daily.c.account_id.in_(list(account_ids)))
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=batch_size).execute(query)
        for row in result:
            yield dict(row._mapping)


def latest_dates(conn: Connection, account_ids: Sequence[int]) -> dict[int, dt.date]:
    """The newest stored day of each account that has any."""
    query = (
        select(ad_metrics_daily.c.account_id, func.max(ad_metrics_daily.c.date))
        .where(ad_metrics_daily.c.account_id.in_(list(account_ids)))
        .group_by(ad_metrics_daily.c.account_id)
    )
    return {int(account): day for account, day in conn.execute(query) if day is not None}


def totals(engine: Engine, account_id: int | None = None) -> dict[str, Any]:
    """Row count and sums, e.g. for checks: rows, impressions, clicks, spend, conversions, revenue."""
    c = ad_metrics_daily.c
    query = select(
        func.count(),
        func.sum(c.impressions),
        func.sum(c.clicks),
        func.sum(c.spend),
        func.sum(c.conversions),
        func.sum(c.revenue),
    )
    if account_id is not None:
        query = query.where(c.account_id == account_id)
    with engine.connect() as conn:
        row = conn.execute(query).one()
    names = ("rows", "impressions", "clicks", "spend", "conversions", "revenue")
    return {name: (value or 0) for name, value in zip(names, row, strict=True)}


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


def save_job(
    conn: Connection, run_id: int, account_id: int, start: dt.date, end: dt.date, report_request_id: str
) -> int:
    result = conn.execute(
        insert(report_jobs).values(
            run_id=run_id,
            account_id=account_id,
            start_date=start,
            end_date=end,
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


def resumable_job(
    conn: Connection, account_id: int, start: dt.date, end: dt.date, submitted_after: dt.datetime
) -> dict[str, Any] | None:
    """The newest job of an unfinished run for exactly this account and range, submitted after the cut-off."""
    query = (
        select(report_jobs)
        .join(import_runs, import_runs.c.id == report_jobs.c.run_id)
        .where(
            and_(
                report_jobs.c.account_id == account_id,
                report_jobs.c.start_date == start,
                report_jobs.c.end_date == end,
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
