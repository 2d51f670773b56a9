"""Uploading thousands of mixed rows to the emulator: every good row arrives once, every bad row is reported."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bingbridge.api.client import BingAdsClient
from bingbridge.api.models.campaign import OfflineConversionGoal
from bingbridge.auth.tokens import MemoryTokenStore
from bingbridge.conversions.goal_log import GoalLog
from bingbridge.conversions.prepare import PrepareOptions
from bingbridge.conversions.rows import read_rows, rows_from_records
from bingbridge.conversions.upload import upload_conversions, write_report
from bingbridge.emulator.server import RunningEmulator
from bingbridge.settings import Settings
from tests.conftest import Recorder, cli_env

GOOD, LOCAL_BAD, REMOTE_BAD = 2500, 500, 300


def first_account(emulator: RunningEmulator) -> int:
    home = next(iter(emulator.state.world.users.values())).customer_id
    account = emulator.state.accounts_of(home)[0].id
    assert account is not None
    return account


@pytest.fixture
def account_client(
    bingads_emulator: RunningEmulator, bingads_settings: Settings, recorder: Recorder, sleeps: list[float]
) -> Iterator[BingAdsClient]:
    settings = bingads_settings.with_overrides(account_id=first_account(bingads_emulator))
    http = httpx.Client(event_hooks={"request": [recorder]})
    with http, BingAdsClient(settings, http=http, token_store=MemoryTokenStore(), sleep=sleeps.append) as c:
        [created] = c.campaign_management.add_conversion_goals([OfflineConversionGoal(name="Lead")])
        assert created.ok
        yield c


def mixed_rows(now: datetime) -> tuple[list[dict[str, str]], dict[int, str]]:
    """Good, locally invalid and remotely refused rows, shuffled; returns rows and the expected fate by row number."""
    rng = random.Random(7)
    rows: list[tuple[str, dict[str, str]]] = []
    for i in range(GOOD):
        when = now - timedelta(days=rng.randint(1, 80), minutes=i)
        good = {
            "ConversionName": "Lead",
            "ConversionTime": when.isoformat(),
            "ConversionValue": f"{rng.randint(1, 500)}.5",
        }
        if i % 10 == 0:
            good["email"] = f"Person{i}@Example.com"  # enhanced conversion, no click id
        else:
            good["MicrosoftClickId"] = f"{rng.getrandbits(128):032x}"
        rows.append(("good", good))
    bad_values = [
        {"ConversionTime": "not a time"},
        {"MicrosoftClickId": "too-short"},
        {"ConversionValue": "-3"},
        {"ConversionName": ""},
        {"ConversionCurrencyCode": "DOLLARS"},
    ]
    for i in range(LOCAL_BAD):
        base = {
            "ConversionName": "Lead",
            "ConversionTime": (now - timedelta(days=2)).isoformat(),
            "MicrosoftClickId": f"{i:032x}",
        }
        rows.append(("local", {**base, **bad_values[i % len(bad_values)]}))
    for i in range(REMOTE_BAD):
        when = (now - timedelta(days=3, minutes=i)).isoformat()
        rows.append(
            (
                "remote",
                {"ConversionName": "No such goal", "ConversionTime": when, "MicrosoftClickId": f"{i + 10**6:032x}"},
            )
        )
    rng.shuffle(rows)
    fates = {n: fate for n, (fate, _) in enumerate(rows, start=1)}
    return [r for _, r in rows], fates


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = sorted({k for r in rows for k in r})
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def arrived(emulator: RunningEmulator) -> list[dict[str, object]]:
    return list(httpx.get(f"{emulator.url}/_emulator/offline-conversions").json())


def test_mixed_file_every_good_row_arrives_once_every_bad_row_is_reported(
    account_client: BingAdsClient, bingads_emulator: RunningEmulator, recorder: Recorder, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    rows, fates = mixed_rows(now)
    path = write_csv(tmp_path / "mixed.csv", rows)
    before = len(recorder.requests)
    result = upload_conversions(account_client, read_rows(path), PrepareOptions(now=now))

    apply_calls = [r for r in recorder.requests[before:] if r.url.path.endswith("/OfflineConversions/Apply")]
    assert len(apply_calls) == result.calls == -(-(GOOD + REMOTE_BAD) // 1000)  # ceil: 3 calls
    assert len({r.url.host for r in apply_calls}) == 1
    by_row = {o.row: o for o in result.outcomes}
    assert sorted(by_row) == list(range(1, len(rows) + 1))  # every row accounted for, once
    for number, fate in fates.items():
        outcome = by_row[number]
        expected = {"good": "accepted", "local": "rejected_local", "remote": "rejected_remote"}[fate]
        assert outcome.status == expected, (number, outcome)
        if fate == "remote":
            assert outcome.code == 5606 and outcome.tracking_id
        if fate == "local":
            assert outcome.field and outcome.reason
    received = arrived(bingads_emulator)
    assert len(received) == GOOD
    clicks = [c["MicrosoftClickId"] for c in received if c.get("MicrosoftClickId")]
    assert len(clicks) == len(set(clicks)) == GOOD - GOOD // 10
    expected_clicks = {
        r["MicrosoftClickId"] for n, r in enumerate(rows, 1) if fates[n] == "good" and "MicrosoftClickId" in r
    }
    assert set(clicks) == expected_clicks
    hashed = {c["HashedEmailAddress"] for c in received if c.get("HashedEmailAddress")}
    assert hashlib.sha256(b"person0@example.com").hexdigest() in hashed
    assert all(c["AccountId"] for c in received)
    summary = result.summary()
    assert (summary["accepted"], summary["rejected_before_send"], summary["rejected_by_microsoft"]) == (
        GOOD,
        LOCAL_BAD,
        REMOTE_BAD,
    )
    assert any("No such goal" in w for w in result.warnings)


def test_uploading_the_same_file_twice_stores_each_conversion_once(
    account_client: BingAdsClient, bingads_emulator: RunningEmulator
) -> None:
    now = datetime.now(UTC)
    records = [
        {"ConversionName": "Lead", "ConversionTime": (now - timedelta(hours=h)).isoformat(), "msclkid": f"{h:032x}"}
        for h in range(1, 30)
    ]
    for _ in range(2):
        result = upload_conversions(account_client, rows_from_records(records), PrepareOptions(now=now))
        assert result.ok
    assert len(arrived(bingads_emulator)) == len(records)


def test_dry_run_sends_nothing(tmp_path: Path, recorder: Recorder) -> None:
    now = datetime.now(UTC)
    rows, _ = mixed_rows(now)
    result = upload_conversions(None, read_rows(write_csv(tmp_path / "m.csv", rows)), PrepareOptions(now=now))
    assert result.dry_run and result.calls == 0 and recorder.requests == []
    assert result.count("accepted") == GOOD + REMOTE_BAD and result.count("rejected_local") == LOCAL_BAD


def test_throttling_mid_upload_waits_and_delivers_everything(
    account_client: BingAdsClient, bingads_emulator: RunningEmulator, sleeps: list[float]
) -> None:
    now = datetime.now(UTC)
    records = [
        {"ConversionName": "Lead", "ConversionTime": (now - timedelta(minutes=m)).isoformat(), "msclkid": f"{m:032x}"}
        for m in range(1, 2501)
    ]
    bingads_emulator.config.calls_per_minute = 2
    bingads_emulator.state.calls.clear()

    def window_passes(seconds: float) -> None:
        sleeps.append(seconds)
        bingads_emulator.state.calls.clear()

    account_client._sleep = window_passes
    result = upload_conversions(account_client, rows_from_records(records), PrepareOptions(now=now))
    assert result.ok and result.calls == 3
    assert sleeps and all(s == 60.0 for s in sleeps)
    assert len(arrived(bingads_emulator)) == 2500


def test_credentials_revoked_mid_upload_leave_no_row_unaccounted(
    account_client: BingAdsClient, bingads_emulator: RunningEmulator, recorder: Recorder
) -> None:
    now = datetime.now(UTC)
    records = [
        {"ConversionName": "Lead", "ConversionTime": (now - timedelta(minutes=m)).isoformat(), "msclkid": f"{m:032x}"}
        for m in range(1, 2501)
    ]

    def revoke_after_first_batch(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/OfflineConversions/Apply"):
            bingads_emulator.config.developer_token = "ROTATED"

    account_client.http.event_hooks["response"].append(revoke_after_first_batch)
    before = len(recorder.requests)
    result = upload_conversions(account_client, rows_from_records(records), PrepareOptions(now=now))
    applies = [r for r in recorder.requests[before:] if r.url.path.endswith("/OfflineConversions/Apply")]
    assert len(applies) == 2  # the third batch is not spent on credentials known to be refused
    assert result.count("accepted") == 1000 and result.count("not_sent") == 1500
    assert sorted(o.row for o in result.outcomes) == list(range(1, 2501))
    assert {o.code for o in result.outcomes if o.status == "not_sent"} == {105}


def test_goal_created_minutes_ago_warns(account_client: BingAdsClient, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    log = GoalLog(tmp_path / "goals.json")
    assert account_client.settings.account_id is not None
    log.remember(account_client.settings.account_id, 1, "Lead", now - timedelta(minutes=5))
    records = [
        {"ConversionName": "Lead", "ConversionTime": (now - timedelta(hours=1)).isoformat(), "msclkid": "a" * 32}
    ]
    result = upload_conversions(account_client, rows_from_records(records), PrepareOptions(now=now), goal_log=log)
    assert result.ok
    assert any("less than 2 hours ago" in w for w in result.warnings)


def test_report_file_lists_every_row(account_client: BingAdsClient, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    rows, _ = mixed_rows(now)
    result = upload_conversions(account_client, rows_from_records(rows[:1200]), PrepareOptions(now=now))
    write_report(result, tmp_path / "r.csv")
    write_report(result, tmp_path / "r.json")
    with (tmp_path / "r.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 1200
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["summary"]["rows"] == 1200 and len(data["rows"]) == 1200


def test_cli_upload_exit_code_report_and_dry_run(
    bingads_emulator: RunningEmulator, bingads_settings: Settings, tmp_path: Path
) -> None:
    env = {**cli_env(bingads_settings), "BINGBRIDGE_ACCOUNT_ID": str(first_account(bingads_emulator))}
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "bingbridge", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert run("goals", "add", "--name", "Lead", "--json").returncode == 0
    now = datetime.now(UTC)
    rows, _ = mixed_rows(now)
    path = write_csv(tmp_path / "m.csv", rows[:600])
    dry = run("conversions", "upload", str(path), "--dry-run", "--json")
    assert dry.returncode == 1 and json.loads(dry.stdout)["dry_run"] is True
    assert arrived(bingads_emulator) == []
    real = run("conversions", "upload", str(path), "--report", str(tmp_path / "report.csv"))
    assert real.returncode == 1, real.stderr
    assert "less than 2 hours ago" in real.stderr and "Rejected rows" in real.stdout
    with (tmp_path / "report.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 600
    body = {
        "OfflineConversions": [
            {"ConversionName": "Lead", "ConversionTime": now.isoformat(), "MicrosoftClickId": "b" * 32}
        ]
    }
    applied = subprocess.run(
        [sys.executable, "-m", "bingbridge", "conversions", "apply", "--body", "-", "--json"],
        input=json.dumps(body),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["accepted"] == 1
