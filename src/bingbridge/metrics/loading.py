"""A parsed report batch as the columns of its table (period, key, names, measures, UTM) and as export records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from bingbridge.metrics.records import export_fields, export_record
from bingbridge.metrics.report_file import ColumnBatch, ReportFile
from bingbridge.metrics.report_types import STORED_AS, ReportType
from bingbridge.metrics.utm import PLACEHOLDERS, Utm, utm_for
from bingbridge.store import ad_metrics as db
from bingbridge.store.ad_metrics import JobRequest
from bingbridge.store.report_writer import ReportWriter, ensure_storage, indexes_built_after

# The row fields placeholders are filled from, in the order `_utm` takes them.
_PLACEHOLDER_FIELDS = tuple(dict.fromkeys(PLACEHOLDERS.values()))


@lru_cache(maxsize=65_536)
def _utm(url: str | None, campaign: str | None, ad: str | None, *placeholders: Any) -> Utm:
    return utm_for(url, campaign, ad, dict(zip(_PLACEHOLDER_FIELDS, placeholders, strict=True)))


def _period(aggregation: str, batch: ColumnBatch, request: JobRequest) -> dict[str, list[Any]]:
    """The period columns: a day (the period's first day), the hour for Hourly, the range for Summary."""
    n = batch.length
    if aggregation == "Summary":  # no TimePeriod column: one row per entity for the whole range
        return {"date": [request.start] * n, "end_date": [request.end] * n}
    periods = batch.columns.get("time_period") or [None] * n
    if aggregation == "Hourly":
        return {"date": [p.date() for p in periods], "hour": [p.hour for p in periods]}
    return {"date": periods}


def table_columns(
    spec: ReportType,
    aggregation: str,
    batch: ColumnBatch,
    request: JobRequest,
    run_id: int,
    imported_at: dt.datetime,
) -> dict[str, list[Any]]:
    """A parsed batch as table columns (bingbridge.store.schema.build_report_table); columns the file lacks are
    None, measures it lacks 0."""
    c = batch.columns
    n = batch.length
    out: dict[str, list[Any]] = {"account_id": c["account_id"], **_period(aggregation, batch, request)}
    for column in spec.stored:
        if column.wire == "AccountId":
            continue
        values = c.get(column.name)
        if values is None:
            values = [0] * n if column.is_measure else [None] * n
        out[STORED_AS.get(column.name, column.name)] = values
    if "FinalUrl" in spec.columns:
        missing = [None] * n
        parts = [c.get(f) or missing for f in ("final_url", "campaign_name", "ad_title", *_PLACEHOLDER_FIELDS)]
        utms = list(map(_utm, *parts))
        names = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
        columns = zip(*utms, strict=True) if n else ([] for _ in names)
        out.update({name: list(values) for name, values in zip(names, columns, strict=True)})
    out["run_id"] = [run_id] * n
    out["imported_at"] = [imported_at] * n
    return out


# Rows written per upsert: SQLite's executemany and PostgreSQL's COPY both gain from more rows per call than one
# Arrow block holds (a few hundred); 20,000 rows of a report table take a few MB.
CHUNK_ROWS = 20_000


def chunks(batches: Iterable[dict[str, list[Any]]], rows: int = CHUNK_ROWS) -> Iterator[dict[str, list[Any]]]:
    """Column batches merged into chunks of at least `rows` rows (the last one smaller)."""
    pending: dict[str, list[Any]] | None = None
    for batch in batches:
        if pending is None:
            pending = {name: list(values) for name, values in batch.items()}
        else:
            for name, values in batch.items():
                pending[name].extend(values)
        if len(pending["account_id"]) >= rows:
            yield pending
            pending = None
    if pending is not None and pending["account_id"]:
        yield pending


def load_report(
    conn: Connection,
    report: ReportFile,
    spec: ReportType,
    aggregation: str,
    request: JobRequest,
    run_id: int,
    imported_at: dt.datetime,
    stored: Callable[[dict[str, list[Any]]], None] = lambda records: None,
) -> int:
    """Upsert a report file's rows into its table in `conn`'s transaction, a chunk at a time, calling `stored` with
    each chunk once it is in (for counts and sinks); the rows loaded. A load as big as the table builds the
    table's indexes after it (`indexes_built_after`)."""
    storage = db.report_storage(spec, aggregation)
    ensure_storage(conn, storage)
    writer = ReportWriter(conn, storage)
    batches = (table_columns(spec, aggregation, batch, request, run_id, imported_at) for batch in report.batches())
    count = 0
    with indexes_built_after(conn, storage, report.header.rows):
        for records in chunks(batches):
            count += writer.write(records)
            stored(records)
    return count


def export_records(spec: ReportType, aggregation: str, columns: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Table columns as export records (the spec's export names)."""
    fields = export_fields(spec, aggregation)
    names = list(columns)
    return [export_record(dict(zip(names, row, strict=True)), fields) for row in zip(*columns.values(), strict=True)]
