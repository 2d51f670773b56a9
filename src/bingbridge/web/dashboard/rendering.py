"""The Jinja2 environment of the dashboard: templates from `bingbridge/web/templates`, autoescaped, with the few
filters the pages use to show times, money, ratios and latencies the same way everywhere."""

from __future__ import annotations

import datetime as dt

import jinja2

from bingbridge.metrics.charts import compact_number


def when(value: object) -> str:
    """Naive-UTC database times as '2026-03-05 14:02:11 UTC'; dates as ISO; None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def money(value: float | None, currency: str | None = None) -> str:
    if value is None:
        return "—"
    text = f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def ratio(value: float | None) -> str:
    """ROAS as '3.25x'."""
    return "—" if value is None else f"{value:.2f}x"


def milliseconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bingbridge.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        money=money,
        number=number,
        percent=percent,
        ratio=ratio,
        ms=milliseconds,
        compact=compact_number,
    )
    return env
