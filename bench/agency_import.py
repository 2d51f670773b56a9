"""An agency's import: `bingbridge emulator --accounts N` (default 1,000), a first import (the one-year backfill)
and the next day's daily run, with the report jobs each submits, wall time and rows, and the stored totals checked
against the emulator's ground truth.

Issue 12's goal: each run submits at most ceil(accounts / 1000) report jobs per distinct date range (the accounts'
time zones make one or two ranges), where one job per account was the rule before.

Run: .venv/bin/python bench/agency_import.py [--accounts 1000] [--report ad] [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select

from bingbridge.api.client import BingAdsClient
from bingbridge.emulator.pytest_plugin import emulator_settings
from bingbridge.emulator.reporting import report_rows, reporting_state
from bingbridge.emulator.server import RunningEmulator, start_in_thread
from bingbridge.emulator.state import EmulatorConfig
from bingbridge.metrics.importer import ImportOptions, ImportResult, run_import
from bingbridge.metrics.report_types import ReportType, report_type
from bingbridge.store import ad_metrics as db
from bingbridge.store import create_engine_for

SUBMIT = "/Reporting/v13/GenerateReport/Submit"


def truth_totals(emulator: RunningEmulator, report: str, result: ImportResult) -> dict[str, object]:
    """The ground truth of every account's range, summed (the same rows /_emulator/metrics serves)."""
    rows = clicks = 0
    spend = Decimal(0)
    for outcome in result.outcomes:
        plan = outcome.plan
        for _, _, measures in report_rows(emulator.state, [plan.account_id], plan.start, plan.end, report):
            rows += 1
            clicks += measures[1]
            spend += Decimal(measures[2]) / 100
    return {"rows": rows, "clicks": clicks, "spend": spend}


def stored_totals(engine: Engine, spec: ReportType, result: ImportResult) -> dict[str, object]:
    """What the database holds for every account's range of the run."""
    table = db.report_table(spec, "Daily")
    by_range: dict[tuple[dt.date, dt.date], list[int]] = {}
    for outcome in result.outcomes:
        by_range.setdefault((outcome.plan.start, outcome.plan.end), []).append(outcome.plan.account_id)
    rows = clicks = 0
    spend = 0.0
    with engine.connect() as conn:
        for (start, end), ids in by_range.items():
            for i in range(0, len(ids), 500):
                query = select(func.count(), func.sum(table.c.clicks), func.sum(table.c.spend)).where(
                    table.c.account_id.in_(ids[i : i + 500]), table.c.date >= start, table.c.date <= end
                )
                n, c, s = conn.execute(query).one()
                rows, clicks, spend = rows + n, clicks + (c or 0), spend + float(s or 0)
    return {"rows": rows, "clicks": clicks, "spend": Decimal(str(round(spend, 2)))}


def show(label: str, result: ImportResult, submits: int, seconds: float) -> None:
    ranges = Counter((o.plan.start, o.plan.end) for o in result.outcomes)
    allowed = sum(math.ceil(n / 1000) for n in ranges.values())
    print(
        f"{label}: {len(result.outcomes):,} accounts, {len(ranges)} distinct ranges "
        f"({', '.join(f'{s}..{e}: {n}' for (s, e), n in sorted(ranges.items()))}), "
        f"{submits} report jobs submitted (allowed {allowed}; one per account before: {len(result.outcomes):,}), "
        f"{result.rows:,} rows in {seconds:.1f} s ({result.rows / seconds:,.0f} rows/s), status {result.status}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--report", default="ad")
    parser.add_argument("--database-url", help="Default: SQLite in a temporary folder.")
    args = parser.parse_args()
    spec = report_type(args.report)
    with tempfile.TemporaryDirectory() as tmp, start_in_thread(EmulatorConfig(accounts=args.accounts)) as emulator:
        folder = Path(tmp)
        engine = create_engine_for(args.database_url or f"sqlite:///{folder / 'agency.db'}")
        submits: list[str] = []

        def count(request: httpx.Request) -> None:
            if request.url.path == SUBMIT:
                submits.append(request.url.path)

        reporting = reporting_state(emulator.state)
        start_clock = reporting.clock()
        now = dt.datetime.fromtimestamp(start_clock, dt.UTC)
        with httpx.Client(event_hooks={"request": [count]}, timeout=600) as http:
            client = BingAdsClient(emulator_settings(emulator, folder / "tokens.json"), http=http)
            for label, day in (("first import (one-year backfill)", 0), ("next day's daily run", 1)):
                reporting.clock = lambda day=day: start_clock + day * 86400
                submits.clear()
                started = time.perf_counter()
                result = run_import(
                    client,
                    engine,
                    ImportOptions(report=spec.name),
                    now=now + dt.timedelta(days=day),
                    sleep=lambda _: None,
                )
                show(label, result, len(submits), time.perf_counter() - started)
                got, truth = stored_totals(engine, spec, result), truth_totals(emulator, spec.name, result)
                print(f"  stored totals of its ranges equal the ground truth: {got == truth} ({got})")
            client.close()
        engine.dispose()


if __name__ == "__main__":
    main()
