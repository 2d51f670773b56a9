"""Summaries of imported metrics: days filled with zeros, tops by spend, ratios, one currency at a time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from bingbridge.metrics import summary
from bingbridge.store import migrate
from bingbridge.store.ad_metrics import UPSERT_COLUMNS, upsert_ad_metrics
from bingbridge.store.engine import utcnow

D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)


def record(day: dt.date, ad_id: int, campaign: str, **numbers: Any) -> tuple[Any, ...]:
    row = {
        "account_id": 7, "date": day, "ad_id": ad_id, "account_name": "Shop", "campaign_id": 100 + len(campaign),
        "campaign_name": campaign, "ad_group_id": 1, "ad_group_name": "g", "ad_name": f"ad {ad_id}",
        "final_url": None, "impressions": 0, "clicks": 0, "spend": 0.0, "conversions": 0.0, "revenue": 0.0,
        "currency_code": "USD", "utm_source": "bing", "utm_medium": "cpc", "utm_campaign": campaign,
        "utm_content": None, "utm_term": None, "run_id": 1, "imported_at": utcnow(),
    }  # fmt: skip
    row.update(numbers)
    return tuple(row[c] for c in UPSERT_COLUMNS)


def load(engine: Engine) -> None:
    migrate(engine)
    rows = [
        record(D1, 1, "Brand", impressions=1000, clicks=50, spend=25.0, conversions=5, revenue=100.0),
        record(D1, 2, "Sale", impressions=500, clicks=10, spend=40.1, conversions=0, revenue=0.0),
        record(D3, 1, "Brand", impressions=2000, clicks=100, spend=50.2, conversions=10, revenue=300.0),
        record(D3, 3, "Euro", impressions=10, clicks=1, spend=9.0, conversions=1, revenue=9.0, currency_code="EUR"),
    ]
    with engine.begin() as conn:
        upsert_ad_metrics(conn, rows)


def test_daily_totals_fill_days_without_records(engine: Engine) -> None:
    load(engine)
    days = summary.daily_totals(engine, D1, D3, currency="USD")
    assert [(d.day, d.totals.clicks, d.totals.spend) for d in days] == [(D1, 60, 65.1), (D2, 0, 0.0), (D3, 100, 50.2)]


def test_ratios_of_the_range(engine: Engine) -> None:
    load(engine)
    totals = summary.range_totals(engine, D1, D3, currency="USD")
    assert (totals.impressions, totals.clicks, totals.spend, totals.conversions, totals.revenue) == (
        3500, 160, 115.3, 15.0, 400.0,
    )  # fmt: skip
    assert round(totals.cpc or 0, 4) == 0.7206
    assert round(totals.ctr or 0, 4) == 0.0457
    assert round(totals.cpa or 0, 4) == 7.6867
    assert round(totals.roas or 0, 4) == 3.4692


def test_ratios_without_a_denominator_are_none() -> None:
    empty = summary.Totals()
    assert (empty.cpc, empty.ctr, empty.cpa, empty.roas) == (None, None, None, None)


def test_tops_are_ordered_by_spend(engine: Engine) -> None:
    load(engine)
    campaigns = summary.top_campaigns(engine, D1, D3, currency="USD")
    assert [(c.key[3], c.totals.spend) for c in campaigns] == [("Brand", 75.2), ("Sale", 40.1)]
    assert {c.key[1] for c in campaigns} == {"Shop"}
    ads = summary.top_ads(engine, D1, D3, currency="USD", limit=1)
    assert [(a.key[2], a.key[3], a.key[5]) for a in ads] == [(1, "ad 1", "Brand")]
    utm = summary.utm_breakdown(engine, D1, D3, currency="USD")
    assert [u.key for u in utm] == [("bing", "cpc", "Brand"), ("bing", "cpc", "Sale")]


def test_money_is_never_added_across_currencies(engine: Engine) -> None:
    load(engine)
    assert summary.currencies(engine, D1, D3) == [("USD", 115.3), ("EUR", 9.0)]
    assert summary.range_totals(engine, D1, D3, currency="EUR").spend == 9.0
    assert summary.data_range(engine) == (D1, D3)


def test_utm_source_and_medium_group_whatever_their_case(engine: Engine) -> None:
    load(engine)
    with engine.begin() as conn:
        upsert_ad_metrics(conn, [record(D2, 9, "Brand", spend=1.0, utm_source="Bing", utm_medium="CPC")])
    utm = summary.utm_breakdown(engine, D1, D3, currency="USD")
    assert [(u.key, u.totals.spend) for u in utm] == [(("bing", "cpc", "Brand"), 76.2), (("bing", "cpc", "Sale"), 40.1)]


def test_the_accounts_of_a_range_for_the_filter(engine: Engine) -> None:
    load(engine)
    with engine.begin() as conn:
        upsert_ad_metrics(conn, [record(D2, 9, "Brand", account_id=3, account_name="Acme")])
    assert summary.accounts(engine, D1, D3) == [(3, "Acme"), (7, "Shop")]
    assert summary.range_totals(engine, D1, D3, currency="USD", account_ids=[3]).spend == 0.0
