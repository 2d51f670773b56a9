"""The import pipeline against the emulator: a year for several accounts, revisions, resume, expiry, 207."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bingbridge.api.client import BingAdsClient
from bingbridge.api.models.customer import AdvertiserAccount
from bingbridge.emulator.server import RunningEmulator
from bingbridge.errors import LeaseHeld, ValidationError
from bingbridge.metrics.importer import (
    IMPORT_LEASE,
    ImportOptions,
    ImportResult,
    check_options,
    plan_account,
    run_import,
)
from bingbridge.store import ad_metrics as db
from bingbridge.store import leases, utcnow
from bingbridge.store.schema import ad_metrics_daily
from tests.conftest import Recorder
from tests.metrics.conftest import exact, ground_truth, truth_totals

SUBMIT = "/Reporting/v13/GenerateReport/Submit"
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def no_sleep(_: float) -> None:
    """The emulator's jobs advance by polls, not time."""


def submits(recorder: Recorder) -> int:
    return sum(1 for r in recorder.requests if r.url.path == SUBMIT)


def check_against_truth(emulator: RunningEmulator, engine: Engine, result: ImportResult) -> int:
    """Every account's stored totals equal the emulator's ground truth for its range; returns accounts with data."""
    with_data = 0
    for outcome in result.outcomes:
        plan = outcome.plan
        truth = truth_totals(ground_truth(emulator, plan.account_id, plan.start, plan.end))
        assert exact(db.totals(engine, plan.account_id)) == truth, f"account {plan.account_id}"
        with_data += truth["rows"] > 0
    return with_data


def test_a_year_for_several_accounts_matches_the_ground_truth_exactly(
    client: BingAdsClient, bingads_emulator: RunningEmulator, engine: Engine, recorder: Recorder
) -> None:
    result = run_import(client, engine, ImportOptions(days=365), sleep=no_sleep)
    assert result.status == "succeeded", result.errors
    assert len(result.outcomes) >= 5
    assert all(o.plan.days == 365 for o in result.outcomes)
    assert check_against_truth(bingads_emulator, engine, result) >= 4
    # One report for all the accounts of a range for the whole year: not one per account, nor per day.
    ranges = {(o.plan.start, o.plan.end) for o in result.outcomes}
    assert submits(recorder) == result.jobs == len(ranges) < len(result.outcomes)
    assert result.rows == db.totals(engine)["rows"] > 10_000


def test_a_rerun_after_late_attribution_updates_in_place_without_duplicates(
    client: BingAdsClient, bingads_emulator: RunningEmulator, engine: Engine
) -> None:
    first = run_import(client, engine, ImportOptions(days=90), sleep=no_sleep)
    before = db.totals(engine)
    httpx.post(f"{bingads_emulator.url}/_emulator/revise", params={"days": 5}).raise_for_status()
    second = run_import(client, engine, ImportOptions(), sleep=no_sleep)  # the daily run: lookback 30 days
    assert second.status == "succeeded", second.errors
    # Accounts with stored days re-import the last 31; one never imported (no data yet) gets the first-run year.
    assert sorted({o.plan.days for o in second.outcomes}) == [31, 365]
    after = db.totals(engine)
    assert after["rows"] == before["rows"]  # updated in place, nothing added twice
    assert after["conversions"] > before["conversions"]  # the revised days changed
    assert check_against_truth(bingads_emulator, engine, first) >= 4  # the whole 90 days equal the truth again
    with engine.connect() as conn:
        keys = conn.execute(
            select(func.count()).select_from(
                select(ad_metrics_daily.c.account_id, ad_metrics_daily.c.date, ad_metrics_daily.c.ad_id)
                .distinct()
                .subquery()
            )
        ).scalar()
    assert keys == after["rows"]


def test_an_interrupted_backfill_resumes_from_its_saved_report_ids(
    bingads_emulator: RunningEmulator, bingads_settings: Any, engine: Engine, recorder: Recorder
) -> None:
    downloads: list[str] = []

    def power_cut(request: httpx.Request) -> None:
        recorder(request)
        if request.url.path.startswith("/_reports/"):
            downloads.append(str(request.url))
            if len(downloads) == 2:
                raise RuntimeError("power cut")

    options = ImportOptions(days=200, max_in_flight=10, group_size=2)
    with httpx.Client(event_hooks={"request": [power_cut]}) as http, BingAdsClient(bingads_settings, http=http) as c:
        with pytest.raises(RuntimeError, match="power cut"):
            run_import(c, engine, options, sleep=no_sleep)
        first_submits = submits(recorder)
        assert db.list_runs(engine)[0]["status"] == "interrupted"
        resumed = run_import(c, engine, options, sleep=no_sleep)
    assert resumed.status == "succeeded", resumed.errors
    # Every job was submitted before the cut: the second run submits nothing and polls the saved ids.
    assert first_submits == -(-len(resumed.outcomes) // 2)
    assert submits(recorder) == first_submits
    assert [o.status for o in resumed.outcomes].count("resumed (already loaded)") == 2  # the job loaded first
    check_against_truth(bingads_emulator, engine, resumed)


def test_an_expired_download_url_is_polled_again_for_a_fresh_one(
    bingads_emulator: RunningEmulator, bingads_settings: Any, engine: Engine
) -> None:
    reporting = bingads_emulator.state.reporting
    downloads: list[int] = []

    def late(request: httpx.Request) -> None:
        if request.url.path.startswith("/_reports/"):
            downloads.append(1)
            if len(downloads) == 1:  # the first download happens six minutes after its Poll
                assert reporting is not None or bingads_emulator.state.reporting is not None
                state = bingads_emulator.state.reporting
                assert state is not None
                start = state.clock()
                state.clock = lambda: start + 360

    with httpx.Client(event_hooks={"request": [late]}) as http, BingAdsClient(bingads_settings, http=http) as c:
        account = c.customer_management.get_accounts_info()[0].id
        assert account is not None
        result = run_import(c, engine, ImportOptions(account_ids=[account], days=30), sleep=no_sleep)
    assert result.status == "succeeded", result.errors
    assert len(downloads) == 2
    check_against_truth(bingads_emulator, engine, result)


def test_an_account_without_data_gets_no_url_and_no_download(
    client: BingAdsClient, engine: Engine, recorder: Recorder
) -> None:
    paused = [a.id for a in client.customer_management.get_accounts_info() if a.account_life_cycle_status == "Pause"]
    assert paused
    result = run_import(client, engine, ImportOptions(account_ids=paused, days=30), sleep=no_sleep)
    assert [o.status for o in result.outcomes] == ["no data"] * len(paused)
    assert result.status == "succeeded" and result.rows == 0
    assert not [r for r in recorder.requests if r.url.path.startswith("/_reports/")]


def test_too_many_concurrent_reports_waits_for_running_jobs(
    client: BingAdsClient, bingads_emulator: RunningEmulator, engine: Engine
) -> None:
    bingads_emulator.config.max_concurrent_reports = 1
    result = run_import(client, engine, ImportOptions(days=30, max_in_flight=3, group_size=2), sleep=no_sleep)
    assert result.status == "succeeded", result.errors
    assert result.jobs == -(-len(result.outcomes) // 2) > 1  # several jobs, though only one may run at a time
    check_against_truth(bingads_emulator, engine, result)


def test_the_run_is_logged(client: BingAdsClient, engine: Engine) -> None:
    result = run_import(client, engine, ImportOptions(days=7, lookback_days=0), sleep=no_sleep)
    (run,) = db.list_runs(engine)
    assert run["status"] == "succeeded" and run["trigger"] == "library"
    assert (run["start_date"], run["end_date"], run["rows"]) == (result.start, result.end, result.rows)
    assert run["report_ids"] == result.report_ids and len(run["report_ids"]) == result.jobs == 1
    assert run["duration_seconds"] > 0 and run["errors"] == []
    assert sum(run["spend"].values()) == pytest.approx(sum(result.spend.values()), abs=0.01)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (ImportOptions(days=0), "days"),
        (ImportOptions(days=2000), "days"),
        (ImportOptions(since=dt.date(2023, 3, 1)), "since"),
        (ImportOptions(since=dt.date(2026, 3, 11)), "since"),
        (ImportOptions(days=3, since=dt.date(2026, 1, 1)), "days"),
        (ImportOptions(lookback_days=-1), "lookback_days"),
        (ImportOptions(account_name="Co"), "account_name"),
    ],
)
def test_bad_options_name_the_field(options: ImportOptions, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_options(options, NOW)
    assert field in [p.field for p in raised.value.problems]


def test_bad_options_fail_before_any_call(client: BingAdsClient, engine: Engine, recorder: Recorder) -> None:
    with pytest.raises(ValidationError, match="since"):
        run_import(client, engine, ImportOptions(since=dt.date(2020, 1, 1)))
    assert recorder.api_calls() == []


def test_a_second_import_meanwhile_is_refused_before_any_call(
    client: BingAdsClient, engine: Engine, recorder: Recorder
) -> None:
    run_import(client, engine, ImportOptions(days=1))  # creates the tables, frees the lease at the end
    recorder.requests.clear()
    leases.take(engine, IMPORT_LEASE, "another process", length=dt.timedelta(minutes=2), now=utcnow())
    with pytest.raises(LeaseHeld, match="a metrics import is running already"):
        run_import(client, engine, ImportOptions(days=1))
    assert recorder.api_calls() == []
    leases.release(engine, IMPORT_LEASE, "another process")
    assert run_import(client, engine, ImportOptions(days=1)).status == "succeeded"


def _account(time_zone: str) -> AdvertiserAccount:
    return AdvertiserAccount(id=111, name="Contoso", parent_customer_id=9, time_zone=time_zone)


def test_the_daily_range_ends_yesterday_in_the_accounts_time_zone() -> None:
    # 10 March 2026 03:00 UTC: still 9 March in Los Angeles, already 10 March in Tokyo.
    now = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)
    options = ImportOptions(lookback_days=0)
    pacific = plan_account(_account("PacificTimeUSCanadaTijuana"), options, now, dt.date(2026, 3, 7))
    tokyo = plan_account(_account("OsakaSapporoTokyo"), options, now, dt.date(2026, 3, 8))
    assert (pacific.start, pacific.end, pacific.time_zone) == (
        dt.date(2026, 3, 8),
        dt.date(2026, 3, 8),
        "PacificTimeUSCanadaTijuana",
    )
    assert (tokyo.start, tokyo.end) == (dt.date(2026, 3, 9), dt.date(2026, 3, 9))


def test_the_daily_range_covers_the_lookback_and_catches_up_missed_days() -> None:
    options = ImportOptions()
    recent = plan_account(_account("GreenwichMeanTimeDublinEdinburghLisbonLondon"), options, NOW, dt.date(2026, 3, 8))
    assert (recent.start, recent.end) == (dt.date(2026, 2, 7), dt.date(2026, 3, 9))
    stale = plan_account(_account("GreenwichMeanTimeDublinEdinburghLisbonLondon"), options, NOW, dt.date(2025, 12, 1))
    assert stale.start == dt.date(2025, 12, 2)
    new = plan_account(_account("GreenwichMeanTimeDublinEdinburghLisbonLondon"), options, NOW, None)
    assert new.days == 365


def test_a_backfill_never_starts_before_36_months() -> None:
    plan = plan_account(_account("AthensBuckarestIstanbul"), ImportOptions(since=dt.date(2023, 3, 11)), NOW, None)
    assert plan.start == dt.date(2023, 3, 11) and plan.time_zone == "AthensIslandanbulMinsk"


def test_a_backfill_into_postgresql_matches_the_ground_truth(
    client: BingAdsClient, bingads_emulator: RunningEmulator, postgres_engine: Engine
) -> None:
    result = run_import(client, postgres_engine, ImportOptions(days=60), sleep=no_sleep)
    assert result.status == "succeeded", result.errors
    assert check_against_truth(bingads_emulator, postgres_engine, result) >= 4
    again = run_import(client, postgres_engine, ImportOptions(days=60), sleep=no_sleep)
    assert db.totals(postgres_engine)["rows"] == again.rows == result.rows


def test_extra_sinks_receive_every_record(client: BingAdsClient, engine: Engine) -> None:
    class Collect:
        def __init__(self) -> None:
            self.records: list[dict[str, Any]] = []

        def write(self, records: Any) -> None:
            self.records.extend(records)

    sink = Collect()
    result = run_import(client, engine, ImportOptions(days=5, lookback_days=0), sleep=no_sleep, sinks=[sink])
    assert len(sink.records) == result.rows > 0
    assert {r["ad_platform"] for r in sink.records} == {"bing"} and all(r["utm_medium"] for r in sink.records)
