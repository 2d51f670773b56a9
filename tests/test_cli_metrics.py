"""`bingbridge metrics` as a user runs it: import, runs and export in fresh processes against the emulator."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bingbridge.emulator.server import RunningEmulator
from bingbridge.settings import Settings
from tests.conftest import cli_env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bingbridge", "metrics", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env(bingads_emulator: RunningEmulator, bingads_settings: Settings, tmp_path: Path) -> dict[str, str]:
    bingads_emulator.config.report_pending_polls = 0  # the CLI really sleeps between polls; keep it short
    return {**cli_env(bingads_settings), "BINGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'metrics.db'}"}


def test_import_then_runs_then_every_export_format(env: dict[str, str], tmp_path: Path) -> None:
    imported = run(env, "import", "--days", "10", "--lookback-days", "0", "--account-name", "Northwind", "--json")
    assert imported.returncode == 0, imported.stderr
    summary = json.loads(imported.stdout)
    assert summary["status"] == "succeeded" and summary["accounts"] == 3 and summary["days"] == 10
    assert (
        summary["rows"] > 100
        and len(summary["report_ids"]) == summary["jobs"] == 1
        and set(summary["spend"]) == {"USD"}
    )

    runs = run(env, "runs", "--json")
    assert runs.returncode == 0, runs.stderr
    (logged,) = json.loads(runs.stdout)
    assert (logged["status"], logged["rows"], logged["trigger"]) == ("succeeded", summary["rows"], "cli")

    exported = run(env, "export", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    assert len(list(csv.DictReader(io.StringIO(exported.stdout)))) == summary["rows"]

    jsonl = tmp_path / "m.jsonl"
    done = run(env, "export", "--format", "jsonl", "--output", str(jsonl), "--json")
    assert json.loads(done.stdout) == {"format": "jsonl", "rows": summary["rows"], "destination": str(jsonl)}
    first = json.loads(jsonl.read_text().splitlines()[0])
    assert first["ad_platform"] == "bing" and first["utm_source"] and first["utm_medium"]

    events = tmp_path / "events.jsonl"
    assert run(env, "export", "--format", "amplitude", "--output", str(events)).returncode == 0
    assert json.loads(events.read_text().splitlines()[0])["event_type"] == "Daily Ad Metrics"

    parquet = tmp_path / "m.parquet"
    assert run(env, "export", "--format", "parquet", "--output", str(parquet)).returncode == 0
    assert parquet.stat().st_size > 0


def test_the_readme_report_type_commands(env: dict[str, str], tmp_path: Path) -> None:
    weekly = run(env, "import", "--report", "campaign", "--aggregation", "weekly", "--days", "90", "--json")
    assert weekly.returncode == 0, weekly.stderr
    summary = json.loads(weekly.stdout)
    assert summary["status"] == "succeeded" and summary["jobs"] == 1 and summary["rows"] > 0
    columns = "TimePeriod,AccountId,KeywordId,Keyword,Clicks,Spend"
    keywords = run(env, "import", "--report", "keyword", "--columns", columns, "--days", "5", "--json")
    assert keywords.returncode == 0, keywords.stderr
    out = tmp_path / "campaigns.csv"
    exported = run(
        env, "export", "--report", "campaign", "--aggregation", "weekly", "--format", "csv", "--output", str(out)
    )
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == summary["rows"] and {"date", "campaign_name", "metrics.cost"} <= set(rows[0])
    assert {dt.date.fromisoformat(r["date"]).weekday() for r in rows} == {6}  # weeks start on Sunday


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["import", "--days", "0"], "days"),
        (["import", "--report", "keyword", "--columns", "Clicks"], "columns"),
        (["export", "--format", "amplitude", "--report", "campaign"], "format"),
        (["import", "--since", "2020-01-01"], "since"),
        (["import", "--since", "yesterday"], "since"),
        (["export", "--format", "parquet"], "output"),
    ],
)
def test_bad_input_exits_2_naming_the_field_before_any_call(
    settings_without_network: dict[str, str], args: list[str], field: str
) -> None:
    result = run(settings_without_network, *args)
    assert result.returncode == 2, result.stderr
    assert field in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def settings_without_network(tmp_path: Path) -> dict[str, str]:
    """Nothing listens at this base URL: any call would fail with exit code 1, not 2."""
    return {
        "PATH": "/usr/bin:/bin",
        "BINGBRIDGE_API_BASE_URL": "http://127.0.0.1:9",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "BINGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'metrics.db'}",
    }
