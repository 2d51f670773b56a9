"""The goals, uet-tags and conversions commands against the emulator, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bingbridge.emulator.server import RunningEmulator
from bingbridge.settings import Settings
from tests.conftest import cli_env


@pytest.fixture
def env(bingads_emulator: RunningEmulator, bingads_settings: Settings) -> dict[str, str]:
    home = next(iter(bingads_emulator.state.world.users.values())).customer_id
    account = bingads_emulator.state.accounts_of(home)[0].id
    return {**cli_env(bingads_settings), "BINGBRIDGE_ACCOUNT_ID": str(account)}


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bingbridge", *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_goal_lifecycle(env: dict[str, str]) -> None:
    added = run(
        env,
        "goals",
        "add",
        "--name",
        "Closed deal",
        "--category",
        "Purchase",
        "--revenue-type",
        "VariableValue",
        "--revenue-value",
        "100",
        "--currency",
        "USD",
        "--json",
    )
    assert added.returncode == 0, added.stderr
    goal_id = json.loads(added.stdout)[0]["goal_id"]
    listed = json.loads(run(env, "goals", "list", "--type", "OfflineConversion", "--json").stdout)
    [goal] = [g for g in listed if g["id"] == goal_id]
    assert (goal["conversion_window_in_minutes"], goal["count_type"], goal["scope"], goal["goal_category"]) == (
        43200,
        "All",
        "Account",
        "Purchase",
    )
    assert run(env, "goals", "update", str(goal_id), "--status", "Paused").returncode == 0
    listed = json.loads(run(env, "goals", "list", "--id", str(goal_id), "--json").stdout)
    assert listed[0]["status"] == "Paused"


def test_goal_window_out_of_range_is_refused_before_sending(
    env: dict[str, str], bingads_emulator: RunningEmulator
) -> None:
    result = run(env, "goals", "add", "--name", "Too long", "--window", "200000")
    assert result.returncode == 2 and "conversion_window_in_minutes: must be 1..129600" in result.stderr
    calls = httpx.get(f"{bingads_emulator.url}/_emulator/calls").json()
    assert calls.get("AddConversionGoals", 0) == 0


def test_duplicate_goal_name_reports_microsofts_code(env: dict[str, str]) -> None:
    assert run(env, "goals", "add", "--name", "Lead").returncode == 0
    again = run(env, "goals", "add", "--name", "Lead", "--json")
    assert again.returncode == 1
    assert "5317" in json.loads(again.stdout)[0]["errors"][0]


def test_uet_tag_lifecycle_shows_the_tracking_script(env: dict[str, str]) -> None:
    added = run(env, "uet-tags", "add", "--name", "Website", "--json")
    assert added.returncode == 0, added.stderr
    tag = json.loads(added.stdout)[0]["uet_tag"]
    assert "bat.bing.com/bat.js" in tag["tracking_script"] and tag["tracking_status"] == "Unverified"
    assert run(env, "uet-tags", "update", str(tag["id"]), "--description", "Main site").returncode == 0
    listed = json.loads(run(env, "uet-tags", "list", "--json").stdout)
    assert [t["description"] for t in listed if t["id"] == tag["id"]] == ["Main site"]


def test_adjust_restates_and_retracts(env: dict[str, str], bingads_emulator: RunningEmulator, tmp_path: Path) -> None:
    assert run(env, "goals", "add", "--name", "Lead").returncode == 0
    now = datetime.now(UTC)
    conversion = (now - timedelta(days=2)).isoformat()
    path = tmp_path / "adjust.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in (
                {
                    "AdjustmentType": "Restate",
                    "AdjustmentTime": (now - timedelta(hours=1)).isoformat(),
                    "AdjustmentValue": 9,
                    "AdjustmentCurrencyCode": "USD",
                    "ConversionName": "Lead",
                    "ConversionTime": conversion,
                    "msclkid": "c" * 32,
                },
                {
                    "AdjustmentType": "Retract",
                    "AdjustmentTime": (now - timedelta(hours=1)).isoformat(),
                    "ConversionName": "Lead",
                    "ConversionTime": conversion,
                    "msclkid": "d" * 32,
                },
                {
                    "AdjustmentType": "Retract",
                    "AdjustmentTime": now.isoformat(),
                    "AdjustmentValue": 3,
                    "ConversionName": "Lead",
                    "ConversionTime": conversion,
                    "msclkid": "e" * 32,
                },
            )
        )
    )
    result = run(env, "conversions", "adjust", str(path), "--json")
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["rejected_before_send"]) == (2, 1)
    assert summary["rows"][0]["row"] == 3 and summary["rows"][0]["field"] == "adjustment_value"
    stored = httpx.get(f"{bingads_emulator.url}/_emulator/offline-conversion-adjustments").json()
    assert sorted(a["AdjustmentType"] for a in stored) == ["Restate", "Retract"]


def test_uet_tags_add_prints_the_snippet_itself(env: dict[str, str]) -> None:
    added = run(env, "uet-tags", "add", "--name", "Shop front")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("UET tag ") and "before </head>" in added.stdout
    assert '    s.src = "https://bat.bing.com/bat.js";\n' in added.stdout  # as written into the page
    assert "\\n" not in added.stdout and '\\"' not in added.stdout  # not JSON-escaped
