"""The listings of the service's data read at 80 columns: every line fits, headers stay whole, ids stay findable."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, update

from bingbridge.store import ad_metrics as db
from bingbridge.store import utcnow
from bingbridge.store.schema import dispatches
from bingbridge.tracking.destinations import Destination
from bingbridge.tracking.ingest import ingest
from bingbridge.tracking.workspaces import Workspace
from tests.tracking.test_log_queries import event


def listing(database_path: Path, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "80", "BINGBRIDGE_DATABASE_URL": f"sqlite:///{database_path}"}
    env["XDG_CONFIG_HOME"] = str(database_path.parent / "config")
    result = subprocess.run(
        [sys.executable, "-m", "bingbridge", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def fits(text: str, *headers: str) -> None:
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), "\n".join(line for line in lines if len(line) > 80)
    header = next(line for line in lines if line.strip())
    for name in headers:
        assert name in header, (name, header)


def test_dispatch_log_has_the_destination_and_fits_80_columns(
    engine: Engine, database_path: Path, workspace: Workspace, destination: Destination
) -> None:
    ingest(engine, workspace, [event("order-1001"), event("order-1002", "sign_up")], now=utcnow())
    out = listing(database_path, "dispatch-log")
    fits(out, "when (UTC)", "dest", "event", "event id", "status", "reason", "code")
    assert "order-1001" in out and "pending" in out


def test_dlq_list_fits_80_columns(
    engine: Engine, database_path: Path, workspace: Workspace, destination: Destination
) -> None:
    ingest(engine, workspace, [event("order-2001")], now=utcnow())
    with engine.begin() as conn:
        conn.execute(
            update(dispatches).values(status="dead_lettered", attempts=8, reason="microsoft_refused", code=5606)
        )
    out = listing(database_path, "dlq", "list")
    fits(out, "id", "dest", "event", "attempts", "reason", "code", "retried at (UTC)")
    assert "microsoft_refused" in out and "5606" in out


def test_metrics_runs_fit_80_columns(engine: Engine, database_path: Path) -> None:
    with engine.begin() as conn:
        run = db.start_run(conn, "cli")
        db.finish_run(
            conn,
            run,
            status="succeeded",
            start_date=dt.date(2026, 1, 1),
            end_date=dt.date(2026, 11, 30),
            accounts=3,
            rows=123456,
            spend={"USD": 98765.43},
        )
    out = listing(database_path, "metrics", "runs")
    fits(out, "id", "started (UTC)", "status", "days", "accts", "rows", "spend")
    assert "2026-01-01..11-30" in out and "98,765.43 USD" in out
