"""Metrics: spend, revenue, ROAS, clicks, impressions and conversions per day as line charts, top campaigns and ads
(names beside ids) with CPC, CTR, CPA and ROAS, the UTM breakdown, import runs, and a button that runs an import
now; an account filter narrows everything to one account. On a phone the tables stack into labelled cards.

"Run import now" runs `metrics.importer.run_import` for the configured connection (the BINGBRIDGE_* client id,
developer token and refresh token, as `bingbridge metrics import` uses) in a background thread, one at a time; the
page shows it in the runs table and `/api/imports/current` tells the page's script when it has finished.
The range defaults to the 30 days ending on the newest imported day (or today when nothing is imported yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from markupsafe import Markup
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bingbridge.errors import ConfigurationError, ValidationError
from bingbridge.metrics import summary
from bingbridge.metrics.charts import compact_number, line_chart
from bingbridge.metrics.importer import ImportOptions, check_options
from bingbridge.store.ad_metrics import list_runs
from bingbridge.web.dashboard.core import Ctx, Dashboard, action, page

DEFAULT_DAYS = 30
# A longer range makes charts of thousands of points and slow pages; Microsoft keeps 36 months anyway.
MAX_RANGE_DAYS = 1100


def _range(ctx: Ctx, errors: dict[str, str]) -> tuple[dt.date, dt.date]:
    known = summary.data_range(ctx.dash.engine)
    default_end = known[1] if known else ctx.dash.clock().date()
    values = {}
    for name, default in (("end", default_end), ("start", None)):
        text = ctx.query(name)
        try:
            values[name] = dt.date.fromisoformat(text) if text else default
        except ValueError:
            errors[name] = f"not a date (YYYY-MM-DD): {text!r}"
            values[name] = default
    end = values["end"] or default_end
    start = values["start"] or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        errors["start"] = "the first day is after the last"
        start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if (end - start).days >= MAX_RANGE_DAYS:
        errors["start"] = f"choose at most {MAX_RANGE_DAYS} days"
        start = end - dt.timedelta(days=MAX_RANGE_DAYS - 1)
    return start, end


def _money_format(currency: str) -> Callable[[float], str]:
    return lambda value: f"{value:,.2f} {currency}"


def _ratio(value: float) -> str:
    return f"{value:.2f}x"


def _account(ctx: Ctx, errors: dict[str, str]) -> list[int]:
    text = ctx.query("account")
    if not text:
        return []
    if not text.isdigit():
        errors["account"] = f"not an account id: {text!r}"
        return []
    return [int(text)]


# Breakdown columns: label, and the positions of the name and the id in a Breakdown's key (None: no id).
_CAMPAIGN_CELLS = (("Account", 1, 0), ("Campaign", 3, 2))
_AD_CELLS = (("Account", 1, 0), ("Ad", 3, 2), ("Campaign", 5, 4))
_UTM_CELLS = (("utm_source", 0, None), ("utm_medium", 1, None), ("utm_campaign", 2, None))


def _cells(rows: list[summary.Breakdown], layout: tuple[tuple[str, int, int | None], ...]) -> list[dict[str, Any]]:
    """Breakdown rows as table cells: each a label, a name and the id shown beside it."""
    return [
        {
            "cells": [
                {"label": label, "name": row.key[name], "id": None if ident is None else row.key[ident]}
                for label, name, ident in layout
            ],
            "totals": row.totals,
        }
        for row in rows
    ]


def metrics_page(ctx: Ctx) -> Response:
    errors: dict[str, str] = {}
    start, end = _range(ctx, errors)
    account_ids = _account(ctx, errors)
    engine = ctx.dash.engine
    currencies = summary.currencies(engine, start, end, account_ids)
    currency = ctx.query("currency") or (currencies[0][0] if currencies else None)
    scope: dict[str, Any] = {"currency": currency, "account_ids": account_ids}
    series = summary.daily_totals(engine, start, end, **scope)
    totals = summary.range_totals(engine, start, end, **scope)
    money = _money_format(currency or "")
    charts = []
    for key, title, fmt in (
        ("spend", f"Spend per day ({currency or 'no currency'})", money),
        ("revenue", f"Revenue per day ({currency or 'no currency'})", money),
        ("roas", "ROAS per day (revenue / spend)", _ratio),
        ("clicks", "Clicks per day", compact_number),
        ("impressions", "Impressions per day", compact_number),
        ("conversions", "Conversions per day", compact_number),
    ):
        # A day without spend has no ROAS; the chart draws it at 0 and its data table says so.
        points = [(d.day, float(getattr(d.totals, key) or 0.0)) for d in series]
        overall = f"overall {_ratio(totals.roas)}" if key == "roas" and totals.roas is not None else None
        svg = line_chart(points, title=title, chart_id=f"chart-{key}", value_format=fmt, total=overall)
        charts.append({"key": key, "title": title, "svg": Markup(svg), "points": points, "format": fmt})
    problem = _configuration_problem(ctx)
    return ctx.render(
        "metrics.html",
        400 if errors else 200,
        start=start,
        end=end,
        errors=errors,
        currency=currency,
        currencies=currencies,
        accounts=summary.accounts(engine, start, end),
        account_id=account_ids[0] if account_ids else None,
        totals=totals,
        charts=charts,
        campaigns=_cells(summary.top_campaigns(engine, start, end, **scope), _CAMPAIGN_CELLS),
        ads=_cells(summary.top_ads(engine, start, end, **scope), _AD_CELLS),
        utm=_cells(summary.utm_breakdown(engine, start, end, **scope), _UTM_CELLS),
        runs=list_runs(engine, limit=20),
        import_state=ctx.dash.imports.state,
        configuration_problem=problem,
    )


def _configuration_problem(ctx: Ctx) -> str | None:
    try:
        ctx.dash.settings.require("client_id")
        ctx.dash.settings.require("developer_token")
    except ConfigurationError as exc:
        return str(exc)
    return None


def start_import(ctx: Ctx) -> Response:
    """Start an import of the previous day (plus the lookback window), or a backfill of the given days."""
    problem = _configuration_problem(ctx)
    if problem:
        return ctx.redirect("/metrics", ("error", f"Cannot import: {problem}"))
    days_text = ctx.form.text("days")
    if days_text and not days_text.isdigit():
        return ctx.redirect("/metrics", ("error", f"Backfill days must be a whole number, got {days_text!r}."))
    options = ImportOptions(days=int(days_text) if days_text else None, trigger="dashboard")
    try:
        check_options(options, dt.datetime.now(dt.UTC))
    except ValidationError as exc:
        return ctx.redirect("/metrics", ("error", "; ".join(p.message for p in exc.problems)))
    if not ctx.dash.imports.start(options):
        return ctx.redirect("/metrics#runs", ("error", "An import is running already; wait for it to finish."))
    return ctx.redirect("/metrics#runs", ("ok", "Import started; the runs table shows its progress."))


def import_status(ctx: Ctx) -> Response:
    """The latest dashboard import, for the page's script (JSON; 401 without a session, like every /api/ path)."""
    state = ctx.dash.imports.state
    return JSONResponse(
        {
            "state": state.state,
            "run_id": state.run_id,
            "status": state.status,
            "rows": state.rows,
            "error": state.error,
            "started_at": state.started_at.isoformat() + "Z" if state.started_at else None,
            "finished_at": state.finished_at.isoformat() + "Z" if state.finished_at else None,
        }
    )


def routes(dash: Dashboard) -> list[Route]:
    return [
        page(dash, "/metrics", metrics_page),
        action(dash, "/metrics/import", start_import),
        page(dash, "/api/imports/current", import_status),
    ]
