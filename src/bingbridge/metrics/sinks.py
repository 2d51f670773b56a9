"""Where metrics records go besides the database: CSV, JSON Lines, Parquet and (Daily Ad Metrics) Amplitude events.

Every sink takes records (`bingbridge.metrics.records.export_record` dicts) in batches through `write()` and
finishes with `close()`; use them as context managers. `export()` streams a report type's stored records into a
sink; the property names and the Parquet types come from the type's spec (`export_fields`).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import Engine

from bingbridge.errors import ExportError
from bingbridge.metrics.records import EXPORT_FIELDS, amplitude_event, export_fields, export_record
from bingbridge.metrics.report_types import AD, COLUMNS, STORED_AS, ReportType

FORMATS = ("csv", "jsonl", "parquet", "amplitude")
# Amplitude's Batch API takes up to 2,000 events per request (and 20 MB); we send 1,000 to stay well inside.
AMPLITUDE_BATCH_SIZE = 1000


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


class _Sink:
    rows = 0

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CsvSink(_Sink):
    """Comma-separated, a header row of property names, dates as YYYY-MM-DD, empty cells for None."""

    def __init__(self, out: IO[str], fields: dict[str, str] = EXPORT_FIELDS) -> None:
        self._writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
        self._writer.writeheader()

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self._writer.writerows(records)
        self.rows += len(records)


class JsonLinesSink(_Sink):
    """One JSON object per line."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self._out.writelines(json.dumps(r, default=_json_default, ensure_ascii=False) + "\n" for r in records)
        self.rows += len(records)


class ParquetSink(_Sink):
    """A Parquet file, one row group per batch (pyarrow is imported only here)."""

    def __init__(self, path: Path, fields: dict[str, str] = EXPORT_FIELDS) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        kinds = {STORED_AS.get(c.name, c.name): c.kind for c in COLUMNS.values()}
        arrow = {"id": pa.int64(), "count": pa.int64(), "number": pa.float64(), "money": pa.float64()}
        types: dict[str, Any] = {"date": pa.date32(), "end_date": pa.date32(), "hour": pa.int16()}
        for name, column in fields.items():
            types.setdefault(name, arrow.get(kinds.get(column, "text"), pa.string()))
        self._schema = pa.schema([(name, types[name]) for name in fields])
        self._writer = pq.ParquetWriter(str(path), self._schema)

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        if records:
            self._writer.write_table(self._pa.Table.from_pylist(list(records), schema=self._schema))
            self.rows += len(records)

    def close(self) -> None:
        self._writer.close()


class AmplitudeFileSink(_Sink):
    """Amplitude-shaped "Daily Ad Metrics" events, one JSON object per line (ready for a batch upload)."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self._out.writelines(json.dumps(amplitude_event(r), ensure_ascii=False) + "\n" for r in records)
        self.rows += len(records)


class AmplitudeHttpSink(_Sink):
    """Posts events to Amplitude's Batch API (or any endpoint of that shape) through the injected httpx client.

    The API key travels in the body as Amplitude wants, never in a log line or an error message. A refused batch
    raises ExportError with the HTTP status; nothing is retried on its own (run the export again: unchanged
    records keep their insert_id, which Amplitude deduplicates).
    """

    def __init__(self, http: httpx.Client, url: str, api_key: str, batch_size: int = AMPLITUDE_BATCH_SIZE) -> None:
        self._http, self._url, self._key, self._size = http, url, api_key, batch_size
        self._pending: list[dict[str, Any]] = []

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self._pending.extend(amplitude_event(r) for r in records)
        while len(self._pending) >= self._size:
            self._post(self._pending[: self._size])
            del self._pending[: self._size]

    def close(self) -> None:
        if self._pending:
            self._post(self._pending)
            self._pending = []

    def _post(self, events: list[dict[str, Any]]) -> None:
        try:
            response = self._http.post(self._url, json={"api_key": self._key, "events": events})
        except httpx.TransportError as exc:
            raise ExportError(f"cannot reach the Amplitude endpoint: {type(exc).__name__}") from None
        if not response.is_success:
            raise ExportError(
                f"the Amplitude endpoint refused a batch of {len(events)} events: HTTP {response.status_code}",
                status=response.status_code,
            )
        self.rows += len(events)


def export(
    engine: Engine,
    sink: _Sink,
    since: dt.date | None = None,
    until: dt.date | None = None,
    account_ids: Sequence[int] = (),
    batch_size: int = 2000,
    report: ReportType = AD,
    aggregation: str = "Daily",
) -> int:
    """Stream a report type's stored records (period, then key order) into `sink`; returns how many were written."""
    from bingbridge.store.ad_metrics import iter_report_rows, report_table

    fields = export_fields(report, aggregation)
    batch: list[dict[str, Any]] = []
    count = 0
    for row in iter_report_rows(engine, report_table(report, aggregation), since, until, account_ids, batch_size):
        batch.append(export_record(row, fields))
        if len(batch) >= batch_size:
            sink.write(batch)
            count += len(batch)
            batch = []
    if batch:
        sink.write(batch)
        count += len(batch)
    return count
