"""Summaries of the imported daily ad metrics: totals per day, top campaigns and ads, UTM breakdowns.

The ratios marketers ask for, each None when its denominator is zero (a number would be made up):
CPC = spend / clicks, CTR = clicks / impressions, CPA = spend / conversions, ROAS = revenue / spend.

Money is never added across currencies: every query takes one `currency` (see `currencies` for the ones present).
Days are the accounts' own report days, as imported (`ad_metrics_daily.date`). UTM source and medium are grouped
case-insensitively ("Bing" and "bing" are one source), also for rows imported before the import lower-cased them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from bingbridge.store.schema import ad_metrics_daily

_C = ad_metrics_daily.c


@dataclass(frozen=True)
class Totals:
    """Sums over some records, and the ratios computed from them."""

    impressions: int = 0
    clicks: int = 0
    spend: float = 0.0
    conversions: float = 0.0
    revenue: float = 0.0

    @property
    def cpc(self) -> float | None:
        return self.spend / self.clicks if self.clicks else None

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def cpa(self) -> float | None:
        return self.spend / self.conversions if self.conversions else None

    @property
    def roas(self) -> float | None:
        return self.revenue / self.spend if self.spend else None


@dataclass(frozen=True)
class DayTotals:
    day: dt.date
    totals: Totals


@dataclass(frozen=True)
class Breakdown:
    """One group of a breakdown: its key columns (e.g. campaign id and name) and its totals."""

    key: tuple[Any, ...]
    totals: Totals


def _sums() -> list[Any]:
    return [
        func.coalesce(func.sum(_C.impressions), 0),
        func.coalesce(func.sum(_C.clicks), 0),
        func.coalesce(func.sum(_C.spend), 0),
        func.coalesce(func.sum(_C.conversions), 0),
        func.coalesce(func.sum(_C.revenue), 0),
    ]


def _totals(row: Sequence[Any]) -> Totals:
    impressions, clicks, spend, conversions, revenue = row
    # SQLite sums money as REAL: round to cents so 0.1 + 0.2 shows as 0.3.
    return Totals(int(impressions), int(clicks), round(float(spend), 2), float(conversions), round(float(revenue), 2))


def _where(query: Any, start: dt.date, end: dt.date, currency: str | None, account_ids: Sequence[int]) -> Any:
    query = query.where(_C.date >= start, _C.date <= end)
    if currency is not None:
        query = query.where(_C.currency_code == currency)
    if account_ids:
        query = query.where(_C.account_id.in_(list(account_ids)))
    return query


def currencies(
    engine: Engine, start: dt.date, end: dt.date, account_ids: Sequence[int] = ()
) -> list[tuple[str, float]]:
    """The currencies of the records in the range with their spend, most spent first."""
    spend = func.sum(_C.spend)
    query = _where(select(_C.currency_code, spend), start, end, None, account_ids).group_by(_C.currency_code)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(spend.desc(), _C.currency_code)).all()
    return [(code or "?", round(float(total or 0), 2)) for code, total in rows]


def range_totals(
    engine: Engine, start: dt.date, end: dt.date, *, currency: str | None, account_ids: Sequence[int] = ()
) -> Totals:
    """Totals over the whole range."""
    with engine.connect() as conn:
        row = conn.execute(_where(select(*_sums()), start, end, currency, account_ids)).one()
    return _totals(tuple(row))


def daily_totals(
    engine: Engine, start: dt.date, end: dt.date, *, currency: str | None, account_ids: Sequence[int] = ()
) -> list[DayTotals]:
    """One entry per day from `start` to `end`, days without records as zeros (a chart must not skip them)."""
    query = _where(select(_C.date, *_sums()), start, end, currency, account_ids).group_by(_C.date)
    with engine.connect() as conn:
        found = {row[0]: _totals(tuple(row[1:])) for row in conn.execute(query)}
    days = (end - start).days + 1
    return [DayTotals(day, found.get(day, Totals())) for day in (start + dt.timedelta(days=i) for i in range(days))]


def _top(
    engine: Engine,
    keys: Sequence[Any],
    start: dt.date,
    end: dt.date,
    currency: str | None,
    account_ids: Sequence[int],
    limit: int,
) -> list[Breakdown]:
    spend = func.sum(_C.spend)
    query = (
        _where(select(*keys, *_sums()), start, end, currency, account_ids)
        .group_by(*keys)
        .order_by(spend.desc(), *keys)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    width = len(keys)
    return [Breakdown(tuple(row[:width]), _totals(tuple(row[width:]))) for row in rows]


def top_campaigns(
    engine: Engine,
    start: dt.date,
    end: dt.date,
    *,
    currency: str | None,
    account_ids: Sequence[int] = (),
    limit: int = 10,
) -> list[Breakdown]:
    """Campaigns by spend: key (account_id, account_name, campaign_id, campaign_name)."""
    # Names are grouped on too: a campaign renamed within the range shows once per name, as it was reported.
    keys = (_C.account_id, _C.account_name, _C.campaign_id, _C.campaign_name)
    return _top(engine, keys, start, end, currency, account_ids, limit)


def top_ads(
    engine: Engine,
    start: dt.date,
    end: dt.date,
    *,
    currency: str | None,
    account_ids: Sequence[int] = (),
    limit: int = 10,
) -> list[Breakdown]:
    """Ads by spend: key (account_id, account_name, ad_id, ad_name, campaign_id, campaign_name)."""
    keys = (_C.account_id, _C.account_name, _C.ad_id, _C.ad_name, _C.campaign_id, _C.campaign_name)
    return _top(engine, keys, start, end, currency, account_ids, limit)


def utm_breakdown(
    engine: Engine,
    start: dt.date,
    end: dt.date,
    *,
    currency: str | None,
    account_ids: Sequence[int] = (),
    limit: int = 20,
) -> list[Breakdown]:
    """Spend and results per UTM source / medium / campaign, by spend."""
    keys = (func.lower(_C.utm_source), func.lower(_C.utm_medium), _C.utm_campaign)
    return _top(engine, keys, start, end, currency, account_ids, limit)


def accounts(engine: Engine, start: dt.date, end: dt.date) -> list[tuple[int, str | None]]:
    """The accounts with records in the range as (id, name), by name then id (an account renamed shows one of its
    names)."""
    query = _where(select(_C.account_id, func.max(_C.account_name)), start, end, None, ()).group_by(_C.account_id)
    with engine.connect() as conn:
        rows = [(int(account), name) for account, name in conn.execute(query)]
    return sorted(rows, key=lambda r: ((r[1] or "").lower(), r[0]))


def data_range(engine: Engine) -> tuple[dt.date, dt.date] | None:
    """The first and last day with records, None when nothing was imported."""
    with engine.connect() as conn:
        first, last = conn.execute(select(func.min(_C.date), func.max(_C.date))).one()
    return (first, last) if first is not None and last is not None else None
