"""The "Daily Ad Metrics" record as exported: Amplitude's property names, and Amplitude-shaped events.

Every export format (CSV, JSON Lines, Parquet, Amplitude) uses the same property names, those of Amplitude's Bing
Ads integration (`ad_metrics.cost`, `ad_account_id`, ...), plus revenue, currency, account name, final URL and the
UTM parameters, so files from different formats line up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

AD_PLATFORM = "bing"
EVENT_TYPE = "Daily Ad Metrics"

# export property -> database column (ad_platform is the constant AD_PLATFORM)
EXPORT_FIELDS: dict[str, str] = {
    "date": "date",
    "ad_platform": "",
    "ad_account_id": "account_id",
    "ad_account_name": "account_name",
    "campaign_id": "campaign_id",
    "campaign_name": "campaign_name",
    "ad_group_id": "ad_group_id",
    "ad_group_name": "ad_group_name",
    "ad_id": "ad_id",
    "ad_name": "ad_name",
    "final_url": "final_url",
    "ad_metrics.impressions": "impressions",
    "ad_metrics.clicks": "clicks",
    "ad_metrics.cost": "spend",
    "ad_metrics.conversions": "conversions",
    "ad_metrics.revenue": "revenue",
    "currency": "currency_code",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_content": "utm_content",
    "utm_term": "utm_term",
}
USER_PROPERTIES = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
# Ids travel as strings in Amplitude events (JavaScript numbers lose precision past 2**53).
_ID_FIELDS = ("ad_account_id", "campaign_id", "ad_group_id", "ad_id")


def export_record(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row (database column names) as a Daily Ad Metrics record (export property names)."""
    record = {name: row.get(column) if column else AD_PLATFORM for name, column in EXPORT_FIELDS.items()}
    for money in ("ad_metrics.cost", "ad_metrics.revenue"):
        value = record[money]
        record[money] = None if value is None else round(float(value), 2)
    conversions = record["ad_metrics.conversions"]
    record["ad_metrics.conversions"] = None if conversions is None else float(conversions)
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
