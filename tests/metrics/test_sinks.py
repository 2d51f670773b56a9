"""Export sinks: CSV, JSON Lines, Parquet, Amplitude events to a file or an HTTP batch endpoint."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from bingbridge.errors import ExportError
from bingbridge.metrics import sinks
from bingbridge.metrics.records import EXPORT_FIELDS, amplitude_event
from bingbridge.store import ad_metrics as db
from bingbridge.store import migrate

DAY = dt.date(2026, 3, 1)
STAMP = dt.datetime(2026, 3, 2, 6, 0)


def _row(ad_id: int, day: dt.date = DAY, url: str | None = "https://x.example/?utm_campaign=sale") -> tuple[Any, ...]:
    return (
        111, day, ad_id, "Contoso", 222, "Brand", 333, "Core", f"Ad {ad_id}", url, 100, 5, 3.21,
        1.0, 45.5, "USD", "bing", "cpc", "sale", f"Ad {ad_id}", None, 1, STAMP,
    )  # fmt: skip


@pytest.fixture
def stored(engine: Engine) -> Engine:
    migrate(engine)
    with engine.begin() as conn:
        db.upsert_ad_metrics(conn, [_row(444), _row(445), _row(446, DAY + dt.timedelta(days=1))])
    return engine


def test_csv_has_the_property_names_and_one_row_per_record(stored: Engine) -> None:
    out = io.StringIO()
    with sinks.CsvSink(out) as sink:
        assert sinks.export(stored, sink) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(EXPORT_FIELDS)
    assert rows[0]["ad_metrics.cost"] == "3.21" and rows[0]["ad_platform"] == "bing" and rows[0]["date"] == "2026-03-01"
    assert rows[0]["utm_term"] == ""


def test_jsonl_respects_the_date_range(stored: Engine) -> None:
    out = io.StringIO()
    with sinks.JsonLinesSink(out) as sink:
        assert sinks.export(stored, sink, since=DAY + dt.timedelta(days=1)) == 1
    (record,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert (record["ad_id"], record["date"], record["ad_metrics.revenue"]) == (446, "2026-03-02", 45.5)


def test_parquet_round_trips(stored: Engine, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "m.parquet"
    with sinks.ParquetSink(path) as sink:
        sinks.export(stored, sink, batch_size=2)
    table = pq.read_table(path)
    assert table.num_rows == 3 and table.column_names == list(EXPORT_FIELDS)
    assert table.column("ad_metrics.clicks").to_pylist() == [5, 5, 5]
    assert table.column("date").to_pylist()[0] == DAY


def test_amplitude_event_shape() -> None:
    record = {name: None for name in EXPORT_FIELDS} | {
        "date": DAY, "ad_platform": "bing", "ad_account_id": 111, "ad_id": 444, "campaign_id": 222,
        "ad_group_id": 333, "ad_metrics.cost": 3.21, "utm_source": "bing", "utm_medium": "cpc",
    }  # fmt: skip
    event = amplitude_event(record)
    assert event["event_type"] == "Daily Ad Metrics" and event["device_id"] == "bing_ads_444"
    assert event["time"] == 1772323200000  # 2026-03-01T00:00:00Z
    assert event["event_properties"]["ad_account_id"] == "111" and event["event_properties"]["ad_metrics.cost"] == 3.21
    assert event["user_properties"] == {"utm_source": "bing", "utm_medium": "cpc"}
    assert amplitude_event(record)["insert_id"] == event["insert_id"]
    changed = amplitude_event(record | {"ad_metrics.cost": 4.0})
    assert changed["insert_id"] != event["insert_id"]  # a revised record is a new event


def test_amplitude_file_has_one_event_per_line(stored: Engine) -> None:
    out = io.StringIO()
    with sinks.AmplitudeFileSink(out) as sink:
        sinks.export(stored, sink)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(events) == 3 and {e["event_type"] for e in events} == {"Daily Ad Metrics"}


def test_amplitude_http_posts_batches_with_the_key_through_the_injected_client(stored: Engine) -> None:
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"code": 200})

    url = "https://amplitude.test/batch"
    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as http,
        sinks.AmplitudeHttpSink(http, url, "secret-key", batch_size=2) as sink,
    ):
        assert sinks.export(stored, sink) == 3
    assert [len(b["events"]) for b in bodies] == [2, 1]
    assert {b["api_key"] for b in bodies} == {"secret-key"}


def test_a_refused_amplitude_batch_is_an_export_error_without_the_key(stored: Engine) -> None:
    answer = httpx.MockTransport(lambda request: httpx.Response(400, json={"error": "invalid api_key"}))
    with (
        httpx.Client(transport=answer) as http,
        pytest.raises(ExportError) as raised,
        sinks.AmplitudeHttpSink(http, "https://amplitude.test/batch", "secret-key") as sink,
    ):
        sinks.export(stored, sink)
    assert raised.value.status == 400 and "secret-key" not in str(raised.value)
