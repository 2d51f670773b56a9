"""Exported records: property names from the report type's spec; the "Daily Ad Metrics" record keeps Amplitude's
names, and Amplitude-shaped events.

Every export format (CSV, JSON Lines, Parquet, Amplitude) uses the same property names, those of Amplitude's Bing
Ads integration (`ad_metrics.cost`, `ad_account_id`, ...), plus revenue, currency, account name, final URL and the
UTM parameters, so files from different formats line up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import MetaData

from bingbridge.metrics.report_types import AD, COLUMNS, STORED_AS, ReportType
from bingbridge.store.schema import build_report_table

AD_PLATFORM = "bing"
EVENT_TYPE = AD.event_type


def export_fields(spec: ReportType = AD, aggregation: str = "Daily") -> dict[str, str]:
    """Export property -> table column for a report type (ad_platform is the constant AD_PLATFORM): the period,
    then the spec's columns under their export names, then the UTM parameters of types with a FinalUrl."""
    table = build_report_table(MetaData(), spec, aggregation)
    fields = {"date": "date"}
    fields.update({name: name for name in ("hour", "end_date") if name in table.c})
    fields["ad_platform"] = ""
    for column in spec.stored:
        fields[spec.export_name(column)] = STORED_AS.get(column.name, column.name)
    fields.update({c.name: c.name for c in table.columns if c.name.startswith("utm_")})
    return fields


# export property -> database column of the Daily Ad Metrics record
EXPORT_FIELDS: dict[str, str] = export_fields()
USER_PROPERTIES = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
_MONEY = {c.name for c in COLUMNS.values() if c.kind == "money"}
_FLOATS = {c.name for c in COLUMNS.values() if c.kind == "number"}
# Ids travel as strings in Amplitude events (JavaScript numbers lose precision past 2**53).
_ID_FIELDS = ("ad_account_id", "campaign_id", "ad_group_id", "ad_id")


def export_record(row: dict[str, Any], fields: dict[str, str] = EXPORT_FIELDS) -> dict[str, Any]:
    """A stored row (database column names) as an export record (export property names, `fields` from
    `export_fields`); money rounded to the cent, conversions as floats."""
    record = {name: row.get(column) if column else AD_PLATFORM for name, column in fields.items()}
    for name, column in fields.items():
        value = record[name]
        if value is None:
            continue
        if column in _MONEY:
            record[name] = round(float(value), 2)
        elif column in _FLOATS:
            record[name] = float(value)
    return record


def amplitude_event(record: dict[str, Any]) -> dict[str, Any]:
    """The record as an event for Amplitude's HTTP V2 / Batch API.

    Choices of ours (Amplitude documents the property names only): the event time is the day's midnight UTC in
    milliseconds; `device_id` is a synthetic per-ad id (`bing_ads_<ad id>`, Amplitude wants at least 5
    characters) so the UTM user properties stay with their ad; `insert_id` hashes the key and the numbers, so
    sending an unchanged record twice is deduplicated by Amplitude while a revised one arrives as a new event.
    """
    day: dt.date = record["date"]
    properties = {k: v for k, v in record.items() if k not in USER_PROPERTIES and k != "date"}
    for name in _ID_FIELDS:
        if properties.get(name) is not None:
            properties[name] = str(properties[name])
    properties["date"] = day.isoformat()
    digest = hashlib.sha1(json.dumps(properties, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return {
        "event_type": EVENT_TYPE,
        "device_id": f"bing_ads_{record['ad_id']}",
        "time": int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000),
        "insert_id": f"bing-{record['ad_account_id']}-{record['ad_id']}-{day.isoformat()}-{digest}",
        "platform": "Bing Ads",
        "event_properties": properties,
        "user_properties": {k: record[k] for k in USER_PROPERTIES if record.get(k) is not None},
    }
