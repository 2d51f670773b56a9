"""Every report type and aggregation: emulator -> import -> export with the emulator's ground truth; grouped jobs
for many accounts, with one account's failure isolated."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from bingbridge.api import reporting as rep
from bingbridge.api.client import BingAdsClient
from bingbridge.emulator.pytest_plugin import emulator_settings
from bingbridge.emulator.server import RunningEmulator, start_in_thread
from bingbridge.emulator.state import EmulatorConfig
from bingbridge.errors import ValidationError
from bingbridge.metrics import sinks
from bingbridge.metrics.importer import ImportOptions, ImportResult, check_options, run_import
from bingbridge.metrics.report_file import ReportFile
from bingbridge.metrics.report_types import REPORT_TYPES, ReportType
from bingbridge.store import ad_metrics as db
from tests.msads_compat import MSADS_IMPORT_WARNING

SUBMIT = "/Reporting/v13/GenerateReport/Submit"


def no_sleep(_: float) -> None:
    """The emulator's jobs advance by polls, not time."""


def truth(
    emulator: RunningEmulator, report: str, aggregation: str, start: dt.date, end: dt.date, account: int | None = None
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"report": report, "aggregation": aggregation, "start": str(start), "end": str(end)}
    if account is not None:
        params["account_id"] = account
    answer = httpx.get(f"{emulator.url}/_emulator/metrics", params=params)
    answer.raise_for_status()
    rows: list[dict[str, Any]] = answer.json()["rows"]
    return rows


def sums(rows: list[dict[str, Any]], measures: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {"rows": len(rows)}
    for wire in measures:
        name = wire.lower()
        if wire in ("Spend", "Revenue"):
            found[name] = sum((Decimal(str(r[wire])) for r in rows), Decimal(0))
        else:
            found[name] = sum(r[wire] for r in rows)
    return found


def stored_equals_truth(emulator: RunningEmulator, engine: Engine, result: ImportResult, spec: ReportType) -> int:
    """Each account's stored totals equal the ground truth of its range; returns the rows compared."""
    table = db.report_table(spec, result_aggregation(result))
    compared = 0
    for outcome in result.outcomes:
        plan = outcome.plan
        rows = truth(emulator, spec.name, result_aggregation(result), plan.start, plan.end, plan.account_id)
        expected = sums(rows, tuple(m for m in spec.measures if m in spec.columns))
        got = db.totals(engine, plan.account_id, table)
        for money in ("spend", "revenue"):  # to the cent, as Decimal (SQLite adds in floating point)
            if money in got:
                got[money] = Decimal(str(round(float(got[money]), 2)))
        if "conversions" in got:
            got["conversions"] = round(float(got["conversions"]), 6)
        assert got == expected, f"{spec.name} account {plan.account_id}"
        compared += len(rows)
    return compared


_AGGREGATION: dict[int, str] = {}


def result_aggregation(result: ImportResult) -> str:
    return _AGGREGATION[result.run_id]


def imported(client: BingAdsClient, engine: Engine, **options: Any) -> ImportResult:
    result = run_import(client, engine, ImportOptions(**options), sleep=no_sleep)
    assert result.status == "succeeded", result.errors
    _AGGREGATION[result.run_id] = options.get("aggregation", "Daily")
    return result


@pytest.mark.parametrize("spec", REPORT_TYPES.values(), ids=lambda t: t.name)
def test_every_report_type_round_trips_with_the_ground_truth(
    spec: ReportType, client: BingAdsClient, bingads_emulator: RunningEmulator, engine: Engine
) -> None:
    result = imported(client, engine, report=spec.name, days=20, lookback_days=0)
    assert result.jobs == 1
    assert stored_equals_truth(bingads_emulator, engine, result, spec) > 20
    out = io.StringIO()
    with sinks.CsvSink(out, sinks.export_fields(spec)) as sink:
        count = sinks.export(engine, sink, report=spec)
    assert count == db.totals(engine, table=db.report_table(spec, "Daily"))["rows"]
    header = out.getvalue().splitlines()[0].split(",")
    assert header[:2] == ["date", "ad_platform"] and f"{spec.measure_prefix}conversions" in header


@pytest.mark.parametrize("aggregation", ["Weekly", "WeeklyStartingMonday", "Monthly", "Yearly", "Summary"])
def test_longer_periods_have_one_row_per_entity_per_period(
    aggregation: str, client: BingAdsClient, bingads_emulator: RunningEmulator, engine: Engine
) -> None:
    end = dt.date.today() - dt.timedelta(days=2)
    start = end - dt.timedelta(days=69)
    rows = truth(bingads_emulator, "campaign", aggregation, start, end)
    daily = truth(bingads_emulator, "campaign", "Daily", start, end)
    keys = Counter((r.get("TimePeriod"), r["AccountId"], r["CampaignId"]) for r in rows)
    assert max(keys.values()) == 1
    periods = {dt.date.fromisoformat(p) for p, _, _ in keys if p is not None}
    if aggregation == "Summary":
        assert "TimePeriod" not in rows[0] and len(rows) == len({(r["AccountId"], r["CampaignId"]) for r in daily})
    elif aggregation == "Weekly":
        assert {p.weekday() for p in periods} == {6} and 10 <= len(periods) <= 11  # Sundays
    elif aggregation == "WeeklyStartingMonday":
        assert {p.weekday() for p in periods} == {0}
    elif aggregation == "Monthly":
        assert {p.day for p in periods} == {1} and 3 <= len(periods) <= 4
    else:
        assert {(p.month, p.day) for p in periods} == {(1, 1)}
    measures = ("Impressions", "Clicks", "Spend", "Conversions", "Revenue")
    assert {k: v for k, v in sums(rows, measures).items() if k != "rows"} == {
        k: v for k, v in sums(daily, measures).items() if k != "rows"
    }
    result = imported(client, engine, report="campaign", aggregation=aggregation, days=30, lookback_days=0)
    assert stored_equals_truth(bingads_emulator, engine, result, REPORT_TYPES["campaign"]) > 0


def test_hourly_rows_carry_the_hour_and_add_up_to_the_day(
    client: BingAdsClient, bingads_emulator: RunningEmulator, engine: Engine
) -> None:
    day = dt.date.today() - dt.timedelta(days=3)
    hourly = truth(bingads_emulator, "ad_group", "Hourly", day, day)
    daily = truth(bingads_emulator, "ad_group", "Daily", day, day)
    assert {r["TimePeriod"].split("|")[1] for r in hourly} <= {str(h) for h in range(24)}
    assert sum(r["Clicks"] for r in hourly) == sum(r["Clicks"] for r in daily)
    result = imported(client, engine, report="ad_group", aggregation="Hourly", days=2, lookback_days=0)
    assert stored_equals_truth(bingads_emulator, engine, result, REPORT_TYPES["ad_group"]) > 24
    rows = list(db.iter_report_rows(engine, db.report_table(REPORT_TYPES["ad_group"], "Hourly")))
    assert {r["hour"] for r in rows} == set(range(24))


def test_an_hourly_backfill_starts_within_the_six_months_microsoft_keeps(client: BingAdsClient, engine: Engine) -> None:
    result = imported(client, engine, report="account", aggregation="Hourly", days=365, lookback_days=0)
    (plan,) = {(o.plan.start, o.plan.end) for o in result.outcomes}
    assert plan[0] == rep.earliest_date(plan[1] + dt.timedelta(days=1), "Hourly") and (plan[1] - plan[0]).days < 190
    with pytest.raises(ValidationError, match="hourly data"):
        rep.report_request([1], plan[0] - dt.timedelta(days=1), plan[1], today=plan[1] + dt.timedelta(days=1),
                           aggregation="Hourly")  # fmt: skip


def test_a_custom_column_list_is_requested_and_stored(
    client: BingAdsClient, bingads_emulator: RunningEmulator, engine: Engine, recorder: Any
) -> None:
    columns = ["TimePeriod", "AccountId", "KeywordId", "Keyword", "Clicks", "Spend"]
    result = imported(client, engine, report="keyword", columns=columns, days=5, lookback_days=0)
    (body,) = [r for r in recorder.requests if r.url.path == SUBMIT]
    assert b'"Columns":["TimePeriod","AccountId","KeywordId","Keyword","Clicks","Spend"]' in body.content
    stored = db.totals(engine, table=db.report_table(REPORT_TYPES["keyword"], "Daily"))
    assert stored["rows"] == result.rows > 0 and stored["impressions"] == 0 and stored["clicks"] > 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (ImportOptions(report="shopping"), "report"),
        (ImportOptions(aggregation="Fortnightly"), "aggregation"),
        (ImportOptions(report="keyword", columns=["TimePeriod", "AccountId", "Clicks"]), "columns"),
        (ImportOptions(columns=["AccountId", "AdId", "Clicks"]), "columns"),
        (ImportOptions(aggregation="Summary", columns=["TimePeriod", "AccountId", "AdId", "Clicks"]), "columns"),
        (ImportOptions(columns=["TimePeriod", "AccountId", "AdId", "AdTitle"]), "columns"),
        (ImportOptions(group_size=1001), "group_size"),
    ],
)
def test_bad_report_options_name_the_field(options: ImportOptions, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_options(options, dt.datetime.now(dt.UTC))
    assert field in [p.field for p in raised.value.problems]


def test_one_failing_account_is_isolated_and_the_rest_of_its_group_loads(
    client: BingAdsClient, bingads_emulator: RunningEmulator, engine: Engine, recorder: Any
) -> None:
    accounts = [a.id for a in client.customer_management.get_accounts_info() if a.account_life_cycle_status == "Active"]
    bad = accounts[2]
    httpx.post(f"{bingads_emulator.url}/_emulator/config", json={"report_error_account_ids": [bad]}).raise_for_status()
    result = run_import(client, engine, ImportOptions(days=10, lookback_days=0), sleep=no_sleep)
    assert result.status == "failed"
    failed = [o for o in result.outcomes if o.error]
    assert [o.plan.account_id for o in failed] == [bad] and "Error" in (failed[0].error or "")
    loaded = [o for o in result.outcomes if o.status == "loaded"]
    assert len(loaded) == len(accounts) - 1
    # Halving narrows the failure down: far fewer jobs than one per account and a retry, and at least one each.
    n = len(result.outcomes)
    assert 1 < result.jobs <= 2 * n.bit_length() + 1
    _AGGREGATION[result.run_id] = "Daily"
    for outcome in loaded:
        rows = truth(bingads_emulator, "ad", "Daily", outcome.plan.start, outcome.plan.end, outcome.plan.account_id)
        assert outcome.rows == len(rows)


@pytest.mark.filterwarnings(MSADS_IMPORT_WARNING)
def test_msads_report_reader_reads_every_report_type_with_our_totals(client: BingAdsClient, tmp_path: Path) -> None:
    from bingads.v13.reporting.report_file_reader import ReportFileReader

    account = next(a.id for a in client.customer_management.get_accounts_info() if a.id)
    today = dt.date.today()
    end = today - dt.timedelta(days=1)
    for spec in REPORT_TYPES.values():
        for aggregation in ("Daily", "Weekly", "Summary"):
            request = rep.report_request([account], end - dt.timedelta(days=40), end, today=today, report=spec,
                                         aggregation=aggregation)  # fmt: skip
            report_id = client.reporting.submit_generate_report(request, today=today)
            status = [client.reporting.poll_generate_report(report_id, account_id=account) for _ in range(3)][-1]
            assert status.report_download_url, spec.name
            path = tmp_path / f"{spec.name}-{aggregation}.zip"
            with path.open("wb") as out:
                client.reporting.download_report(status.report_download_url, out)
            with zipfile.ZipFile(path) as archive:
                csv_path = Path(archive.extract(archive.namelist()[0], tmp_path / spec.name / aggregation))
            report = ReportFileReader(str(csv_path), "Csv").get_report()
            theirs = [(r.int_value("Clicks") if "Clicks" in spec.columns else 0, r.float_value("Revenue"))
                      for r in report.report_records]  # fmt: skip
            report.close()
            with ReportFile(path) as file:
                ours = [(row.clicks or 0, row.revenue or 0.0) for batch in file.batches() for row in batch.rows()]
            assert len(theirs) == len(ours) > 0, (spec.name, aggregation)
            assert round(sum(c for c, _ in theirs), 2) == round(sum(c for c, _ in ours), 2)
            assert round(sum(r for _, r in theirs), 2) == round(sum(r for _, r in ours), 2)


@pytest.fixture
def agency() -> Any:
    with start_in_thread(EmulatorConfig(accounts=1200)) as emulator:
        yield emulator


def test_twelve_hundred_accounts_are_one_job_per_thousand_per_range(agency: RunningEmulator, tmp_path: Path) -> None:
    settings = emulator_settings(agency, tmp_path / "tokens.json")
    from bingbridge.store import create_engine_for

    engine = create_engine_for(f"sqlite:///{tmp_path / 'agency.db'}")
    submits: list[int] = []

    def count(request: httpx.Request) -> None:
        if request.url.path == SUBMIT:
            submits.append(len(request.content))

    with httpx.Client(event_hooks={"request": [count]}) as http, BingAdsClient(settings, http=http) as client:
        result = run_import(client, engine, ImportOptions(days=2, lookback_days=0, report="account"), sleep=no_sleep)
    assert result.status == "succeeded", result.errors[:3]
    assert len(result.outcomes) == 1200
    ranges = Counter((o.plan.start, o.plan.end) for o in result.outcomes)
    assert result.jobs == len(submits) == sum(-(-n // 1000) for n in ranges.values())
    table = db.report_table(REPORT_TYPES["account"], "Daily")
    assert db.totals(engine, table=table)["rows"] == result.rows > 0
    for outcome in result.outcomes[::97]:  # a sample across customers and time zones
        plan = outcome.plan
        rows = truth(agency, "account", "Daily", plan.start, plan.end, plan.account_id)
        assert db.totals(engine, plan.account_id, table)["clicks"] == sum(r["Clicks"] for r in rows)
    engine.dispose()
