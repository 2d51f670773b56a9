"""Daily ad metrics commands: import, export, runs. Thin faces over `bingbridge.metrics` and `bingbridge.store`."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from bingbridge.cli.common import connection_options, emit, json_option, load_settings, report_errors


def _database_option(func: Any) -> Any:
    return click.option(
        "--database-url", default=None, help="SQLAlchemy URL (default: BINGBRIDGE_DATABASE_URL or SQLite)."
    )(func)


def _day(value: str | None, field: str) -> dt.date | None:
    from bingbridge.errors import FieldProblem, ValidationError

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError([FieldProblem(field, f"is not a date YYYY-MM-DD: {value!r}")]) from None


def _report_options(func: Any) -> Any:
    from bingbridge.metrics.report_types import AGGREGATIONS, REPORT_TYPES

    func = click.option(
        "--aggregation",
        type=click.Choice(list(AGGREGATIONS)),
        default="daily",
        show_default=True,
        help="One row per entity per day, hour, week, month, year, or for the whole range (summary).",
    )(func)
    return click.option(
        "--report",
        type=click.Choice(list(REPORT_TYPES)),
        default="ad",
        show_default=True,
        help="Microsoft's report type (ad: the Daily Ad Metrics record).",
    )(func)


@click.group()
def metrics() -> None:
    """Metrics: import spend, clicks, impressions, conversions and revenue per ad (or campaign, keyword, goal, ...)
    per day (or hour, week, month, range) for many accounts at once, and export them.

    Example: bingbridge metrics runs
    """


@metrics.command("import")
@click.option("--account-id", "account_ids", type=int, multiple=True, help="Account to import (repeat for several).")
@click.option("--account-name", default=None, help="Accounts whose name contains this (at least 4 characters).")
@click.option("--days", type=int, default=None, help="Backfill the last N days (up to 36 months).")
@click.option("--since", default=None, help="Backfill from this day, YYYY-MM-DD (up to 36 months back).")
@click.option(
    "--lookback-days",
    type=int,
    default=30,
    show_default=True,
    help="Re-import this many recent days, updating them in place (Microsoft revises conversions late).",
)
@_report_options
@click.option("--columns", default=None, help="Microsoft's column names, comma-separated (default: the report's).")
@click.option(
    "--max-jobs", type=int, default=4, show_default=True, help="Report jobs running at once (Microsoft answers 207 "
    "above its own limit; we then wait for running jobs).",
)  # fmt: skip
@_database_option
@connection_options
@json_option
@report_errors
def metrics_import(
    account_ids: tuple[int, ...],
    account_name: str | None,
    days: int | None,
    since: str | None,
    lookback_days: int,
    report: str,
    aggregation: str,
    columns: str | None,
    max_jobs: int,
    database_url: str | None,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Import metrics into the database: the previous day in each account's time zone plus the lookback window,
    or a backfill with --days / --since. Accounts whose ranges agree share one report job (up to 1,000 accounts).
    Safe to run from cron: records are upserted, never duplicated, and an interrupted run resumes from its saved
    report ids. Exit code 1 when an account failed (the others still load).

    Example: bingbridge metrics import --report campaign --aggregation weekly --days 90
    """
    from bingbridge.api.client import BingAdsClient
    from bingbridge.metrics.importer import ImportOptions, check_options, run_import
    from bingbridge.metrics.report_types import AGGREGATIONS
    from bingbridge.store import create_engine_for

    options = ImportOptions(
        account_ids=account_ids,
        account_name=account_name,
        days=days,
        since=_day(since, "since"),
        lookback_days=lookback_days,
        trigger="cli",
        report=report,
        aggregation=AGGREGATIONS[aggregation],
        columns=[c.strip() for c in columns.split(",") if c.strip()] if columns is not None else None,
        max_in_flight=max_jobs,
    )
    check_options(options, dt.datetime.now(dt.UTC))
    settings = load_settings(config_file, database_url=database_url, **conn)
    engine = create_engine_for(settings.database_url)
    with BingAdsClient(settings) as client:
        if sys.stderr.isatty() and not as_json:
            from bingbridge.metrics.progress import RichProgress

            with RichProgress() as progress:
                result = run_import(client, engine, options, progress=progress)
        else:
            result = run_import(client, engine, options)
    engine.dispose()
    summary = result.summary()
    if as_json:
        emit(summary, as_json=True)
    else:
        shown = {k: v for k, v in summary.items() if k not in ("report_ids", "errors")}
        emit(shown, as_json=False, title="Metrics import")
        for error in result.errors:
            click.echo(f"error: {error}", err=True)
    if result.status != "succeeded":
        sys.exit(1)


@metrics.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet", "amplitude"]), required=True)
@click.option("--since", default=None, help="First day, YYYY-MM-DD.")
@click.option("--until", default=None, help="Last day, YYYY-MM-DD.")
@click.option("--account-id", "account_ids", type=int, multiple=True, help="Only these accounts.")
@_report_options
@click.option(
    "--output",
    default=None,
    help="File to write ('-' or absent: standard output). For amplitude, absent means post to the batch endpoint "
    "(BINGBRIDGE_AMPLITUDE_BATCH_URL with BINGBRIDGE_AMPLITUDE_API_KEY).",
)
@_database_option
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML settings file.")
@json_option
@report_errors
def metrics_export(
    fmt: str,
    since: str | None,
    until: str | None,
    account_ids: tuple[int, ...],
    report: str,
    aggregation: str,
    output: str | None,
    database_url: str | None,
    config_file: Path | None,
    as_json: bool,
) -> None:
    """Export stored records of a report type as CSV, JSON Lines, Parquet or (the ad report, daily) Amplitude events.

    Example: bingbridge metrics export --report campaign --aggregation weekly --format csv --output campaigns.csv
    """
    from functools import partial

    from bingbridge.errors import FieldProblem, ValidationError
    from bingbridge.metrics import sinks
    from bingbridge.metrics.records import export_fields
    from bingbridge.metrics.report_types import AGGREGATIONS, report_type
    from bingbridge.store import create_engine_for, migrate

    first, last = _day(since, "since"), _day(until, "until")
    if first and last and last < first:
        raise ValidationError([FieldProblem("until", f"{last} is before --since {first}")])
    to_stdout = output in (None, "-")
    if fmt == "parquet" and to_stdout:
        raise ValidationError([FieldProblem("output", "Parquet is binary: give --output FILE")])
    if fmt == "amplitude" and (report, aggregation) != ("ad", "daily"):
        raise ValidationError([FieldProblem("format", "Amplitude events are Daily Ad Metrics: --report ad, daily")])
    spec, grain = report_type(report), AGGREGATIONS[aggregation]
    fields = export_fields(spec, grain)
    export = partial(sinks.export, report=spec, aggregation=grain)
    settings = load_settings(config_file, database_url=database_url)
    engine = create_engine_for(settings.database_url)
    migrate(engine)
    destination = "stdout"
    if fmt == "amplitude" and output is None:
        import httpx

        key = settings.require("amplitude_api_key").reveal()
        with httpx.Client(timeout=settings.timeout_seconds) as http:
            sink: Any = sinks.AmplitudeHttpSink(http, settings.amplitude_batch_url, key)
            with sink:
                count = export(engine, sink, first, last, account_ids)
        destination = settings.amplitude_batch_url
    elif fmt == "parquet":
        assert output is not None
        with sinks.ParquetSink(Path(output), fields) as sink:
            count = export(engine, sink, first, last, account_ids)
        destination = output
    else:
        kinds: dict[str, Any] = {
            "csv": partial(sinks.CsvSink, fields=fields),
            "jsonl": sinks.JsonLinesSink,
            "amplitude": sinks.AmplitudeFileSink,
        }
        if to_stdout:
            with kinds[fmt](sys.stdout) as sink:
                count = export(engine, sink, first, last, account_ids)
        else:
            assert output is not None
            with open(output, "w", encoding="utf-8", newline="") as out, kinds[fmt](out) as sink:
                count = export(engine, sink, first, last, account_ids)
            destination = output
    engine.dispose()
    summary = {"format": fmt, "rows": count, "destination": destination}
    if as_json:
        import json

        # With the data on standard output, the summary goes to standard error so the two never mix.
        click.echo(json.dumps(summary), err=destination == "stdout")
    elif destination != "stdout":
        emit(summary, as_json=False, title="Metrics export")


@metrics.command("runs")
@click.option("--limit", type=int, default=20, show_default=True, help="How many runs, newest first.")
@_database_option
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML settings file.")
@json_option
@report_errors
def metrics_runs(limit: int, database_url: str | None, config_file: Path | None, as_json: bool) -> None:
    """Show the import log: when each run ran, its range, rows, spend, report ids, duration and errors.

    Example: bingbridge metrics runs --limit 5 --json
    """
    from bingbridge.store import create_engine_for, migrate
    from bingbridge.store.ad_metrics import list_runs

    settings = load_settings(config_file, database_url=database_url)
    engine = create_engine_for(settings.database_url)
    migrate(engine)
    runs = list_runs(engine, limit)
    engine.dispose()
    if as_json:
        emit(runs, as_json=True)
        return
    rows = [
        {
            **r,
            "days": _days(r["start_date"], r["end_date"]),
            "spend": ", ".join(f"{total:,.2f} {currency}" for currency, total in (r["spend"] or {}).items()),
        }
        for r in runs
    ]
    columns = ["id", "started_at", "status", "days", "accounts", "rows", "spend"]
    emit(rows, as_json=False, columns=columns, labels={"started_at": "started (UTC)", "accounts": "accts"})
    if rows:
        click.echo("Trigger, report ids, duration and errors of each run: --json.", err=True)


def _days(start: dt.date | None, end: dt.date | None) -> str:
    """A run's range, short enough for an 80-column table: 2026-01-01..11-30 within one year."""
    if start is None or end is None:
        return ""
    return f"{start}..{end:%m-%d}" if start.year == end.year else f"{start}..{end}"
