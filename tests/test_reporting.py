"""Reporting: input rules before any call, the emulator's Submit/Poll answers and codes, and its report files."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from bingbridge.api import reporting as rep
from bingbridge.api.client import BingAdsClient
from bingbridge.api.models import reporting as m
from bingbridge.emulator.server import RunningEmulator
from bingbridge.errors import ApiError, DownloadExpiredError, ThrottledError, ValidationError
from bingbridge.metrics.report_file import ReportFile
from bingbridge.metrics.report_types import AD
from tests.conftest import Recorder
from tests.msads_compat import MSADS_IMPORT_WARNING

TODAY = dt.date(2026, 3, 10)


def _problem_fields(exc: ValidationError) -> list[str]:
    return [p.field for p in exc.problems]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"account_ids": []}, "account_ids"),
        ({"account_ids": list(range(1, 1002))}, "account_ids"),
        ({"start": dt.date(2026, 3, 9), "end": dt.date(2026, 3, 1)}, "end_date"),
        ({"end": dt.date(2026, 3, 11)}, "end_date"),
        ({"start": dt.date(2023, 3, 9)}, "start_date"),
        ({"columns": ["TimePeriod", "AdId"]}, "columns"),
        ({"columns": ["AdId", "Impressions"]}, "columns"),
        ({"columns": ["TimePeriod", "Impressions", "Impressions"]}, "columns"),
        ({"columns": ["TimePeriod", "Impressions", "Bogus"]}, "columns"),
        ({"aggregation": "Fortnightly"}, "aggregation"),
        ({"time_zone": "Mars"}, "time_zone"),
        ({"report_name": "x" * 201}, "report_name"),
    ],
)
def test_report_request_rules_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"account_ids": [111], "start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 9)}
    args.update(kwargs)
    with pytest.raises(ValidationError) as raised:
        rep.report_request(args.pop("account_ids"), args.pop("start"), args.pop("end"), today=TODAY, **args)
    assert field in _problem_fields(raised.value)


def test_the_oldest_day_is_36_months_back() -> None:
    assert rep.earliest_daily_date(dt.date(2026, 3, 10)) == dt.date(2023, 3, 10)
    assert rep.earliest_daily_date(dt.date(2026, 5, 31)) == dt.date(2023, 5, 31)
    assert rep.months_before(dt.date(2026, 5, 31), 3) == dt.date(2026, 2, 28)


def test_an_invalid_request_is_refused_before_any_call(client: BingAdsClient, recorder: Recorder) -> None:
    bad = m.AdPerformanceReportRequest(aggregation="Daily", columns=["TimePeriod", "Spend"])
    with pytest.raises(ValidationError, match="account_ids"):
        client.reporting.submit_generate_report(bad, today=TODAY)
    assert recorder.api_calls() == []


# ---- the emulator ----


def _account(client: BingAdsClient) -> int:
    account = client.customer_management.get_accounts_info()[0].id
    assert account is not None
    return account


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)  # "today" in Pacific time, at the latest


def _submit_raw(client: BingAdsClient, account: int, request: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as raised:
        client.raw_rest(
            "reporting", "POST", rep.SUBMIT_GENERATE_REPORT.path, {"ReportRequest": request}, account_id=account
        )
    return raised.value


def _valid(account: int, **changes: Any) -> dict[str, Any]:
    end = _today() - dt.timedelta(days=1)
    body: dict[str, Any] = {
        "Type": "AdPerformanceReportRequest",
        "Format": "Csv",
        "FormatVersion": "2.0",
        "Aggregation": "Daily",
        "Columns": list(AD.default_columns("Daily")),
        "Scope": {"AccountIds": [str(account)]},
        "Time": {
            "CustomDateRangeStart": m.Date.of(end - dt.timedelta(days=6)).to_wire(),
            "CustomDateRangeEnd": m.Date.of(end).to_wire(),
            "ReportTimeZone": "PacificTimeUSCanadaTijuana",
        },
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("changes", "code", "symbol"),
    [
        ({"Type": "FortnightlyPerformanceReportRequest"}, 2002, "ReportingServiceUnknownReportType"),
        ({"Scope": {"AccountIds": []}}, 2035, "ReportingServiceInvalidAccountIds"),
        ({"Scope": {"AccountIds": ["123"]}}, 2003, "ReportingServiceAccountNotAuthorized"),
        ({"Aggregation": None}, 2007, "ReportingServiceInvalidReportAggregation"),
        ({"Columns": []}, 2014, "ReportingServiceNullColumns"),
        ({"Columns": ["AdId", "Impressions"]}, 2015, "ReportingServiceRequiredColumnsNotSelected"),
        ({"Columns": ["TimePeriod", "Spend", "Spend"]}, 2016, "ReportingServiceDuplicateColumns"),
        ({"Columns": ["TimePeriod", "AdId"]}, 2017, "ReportingServiceNoMeasureSelected"),
        (
            {"Aggregation": "Summary", "Columns": ["TimePeriod", "Spend"]},
            2034,
            "ReportingServiceInvalidTimePeriodColumnForSummaryReport",
        ),
        ({"Time": None}, 2008, "ReportingServiceInvalidReportTimeSelection"),
    ],
)
def test_submit_answers_microsofts_reporting_codes(
    client: BingAdsClient, changes: dict[str, Any], code: int, symbol: str
) -> None:
    account = _account(client)
    error = _submit_raw(client, account, _valid(account, **changes))
    assert (error.status, error.errors[0].code, error.errors[0].error_code) == (400, code, symbol)


def test_a_valid_report_type_the_emulator_has_no_data_for_is_accepted_and_has_no_file(client: BingAdsClient) -> None:
    account = _account(client)
    body = _valid(account, Type="ShareOfVoiceReportRequest", Columns=["TimePeriod", "AccountId", "Impressions"])
    answer = client.raw_rest(
        "reporting", "POST", rep.SUBMIT_GENERATE_REPORT.path, {"ReportRequest": body}, account_id=account
    )
    report_id = answer.body["ReportRequestId"]
    statuses = [client.reporting.poll_generate_report(report_id, account_id=account) for _ in range(3)]
    assert [s.status for s in statuses] == ["Pending", "Pending", "Success"]
    assert statuses[-1].report_download_url is None  # Microsoft's answer when no data matches


def test_the_client_sends_a_valid_report_type_it_has_no_spec_for(client: BingAdsClient) -> None:
    request = m.ReportRequest(
        type="ShareOfVoiceReportRequest", aggregation="Daily", columns=["TimePeriod", "AccountId", "Impressions"],
        scope=m.AccountThroughAdGroupReportScope(account_ids=[_account(client)]), time=m.ReportTime(
            predefined_time="Yesterday"),
    )  # fmt: skip
    assert client.reporting.submit_generate_report(request, today=_today())
    with pytest.raises(ValidationError, match="unknown report type"):
        client.reporting.submit_generate_report(request.model_copy(update={"type": "NoSuchReportRequest"}), today=TODAY)


@pytest.mark.parametrize(
    ("start_back", "end_back", "code"),
    [(3, 5, 2011), (-3, -1, 2041), (5, -2, 2010), (1200, 1, 2040)],
    ids=["end-before-start", "future-start", "future-end", "older-than-36-months"],
)
def test_submit_checks_the_date_range(client: BingAdsClient, start_back: int, end_back: int, code: int) -> None:
    account = _account(client)
    today = _today()
    time = {
        "CustomDateRangeStart": m.Date.of(today - dt.timedelta(days=start_back)).to_wire(),
        "CustomDateRangeEnd": m.Date.of(today - dt.timedelta(days=end_back)).to_wire(),
    }
    assert _submit_raw(client, account, _valid(account, Time=time)).errors[0].code == code


def test_submit_needs_the_account_header(client: BingAdsClient) -> None:
    account = _account(client)
    with pytest.raises(ApiError) as raised:
        client.raw_rest("reporting", "POST", rep.SUBMIT_GENERATE_REPORT.path, {"ReportRequest": _valid(account)})
    assert raised.value.errors[0].code == 1030


def test_polling_an_unknown_id_is_an_input_error(client: BingAdsClient) -> None:
    with pytest.raises(ApiError) as raised:
        client.reporting.poll_generate_report("nope", account_id=_account(client))
    assert raised.value.errors[0].code == 201


def _ready(client: BingAdsClient, account: int, days: int = 7) -> m.ReportRequestStatus:
    end = _today() - dt.timedelta(days=1)
    request = rep.report_request([account], end - dt.timedelta(days=days - 1), end, today=_today())
    report_id = client.reporting.submit_generate_report(request, today=_today())
    statuses = [client.reporting.poll_generate_report(report_id, account_id=account) for _ in range(3)]
    assert [s.status for s in statuses] == ["Pending", "Pending", "Success"]
    return statuses[-1]


def test_a_job_is_pending_for_a_few_polls_then_downloads_in_microsofts_layout(client: BingAdsClient) -> None:
    status = _ready(client, _account(client))
    assert status.report_download_url
    payload = io.BytesIO()
    client.reporting.download_report(status.report_download_url, payload)
    with zipfile.ZipFile(payload) as archive:
        (name,) = archive.namelist()
        raw = archive.read(name)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0].startswith('"Report Name: ')
    end = _today() - dt.timedelta(days=1)
    start = end - dt.timedelta(days=6)
    assert lines[1] == f'"Report Time: {start.month}/{start.day}/{start.year},{end.month}/{end.day}/{end.year}"'
    assert lines[2] == '"Time Zone: (GMT-08:00) Pacific Time (US & Canada); Tijuana"'
    assert lines[5] == '"Report Aggregation: Daily"' and lines[6] == '"Report Filter: "'
    rows = int(lines[8].strip('"').split(": ")[1])
    assert lines[9] == "" and lines[10] == ",".join(f'"{c}"' for c in AD.default_columns("Daily"))
    assert len(lines) == 11 + rows + 3 and lines[-3] == ""
    assert lines[-2] == f'"©{dt.datetime.now(dt.UTC).year} Microsoft Corporation. All rights reserved. "'


def test_a_download_url_expires_after_five_minutes(client: BingAdsClient, bingads_emulator: RunningEmulator) -> None:
    status = _ready(client, _account(client))
    assert status.report_download_url and bingads_emulator.state.reporting is not None
    clock = bingads_emulator.state.reporting.clock
    bingads_emulator.state.reporting.clock = lambda: clock() + 301
    with pytest.raises(DownloadExpiredError):
        client.reporting.download_report(status.report_download_url, io.BytesIO())


def test_too_many_pending_jobs_answer_207(client: BingAdsClient, bingads_emulator: RunningEmulator) -> None:
    bingads_emulator.config.max_concurrent_reports = 1
    client.settings = client.settings.with_overrides(max_retries=0)
    account = _account(client)
    end = _today() - dt.timedelta(days=1)
    request = rep.report_request([account], end, end, today=_today())
    client.reporting.submit_generate_report(request, today=_today())
    with pytest.raises(ThrottledError) as raised:
        client.reporting.submit_generate_report(request, today=_today())
    assert raised.value.errors[0].code == 207


def test_revise_changes_conversions_of_recent_days_only(bingads_emulator: RunningEmulator) -> None:
    url = bingads_emulator.url
    end = dt.datetime.now(dt.UTC).date()
    params = {"start": (end - dt.timedelta(days=20)).isoformat(), "end": end.isoformat()}
    before = httpx.get(f"{url}/_emulator/metrics", params=params).json()["rows"]
    httpx.post(f"{url}/_emulator/revise", params={"days": 3}).raise_for_status()
    after = httpx.get(f"{url}/_emulator/metrics", params=params).json()["rows"]
    changed = {r["TimePeriod"] for r, s in zip(before, after, strict=True) if r != s}
    assert changed and min(changed) >= (end - dt.timedelta(days=4)).isoformat()
    assert all(s["Conversions"] >= r["Conversions"] for r, s in zip(before, after, strict=True))
    assert [r["Clicks"] for r in before] == [r["Clicks"] for r in after]


@pytest.mark.filterwarnings(MSADS_IMPORT_WARNING)
def test_msads_report_reader_gets_the_same_totals_as_ours(client: BingAdsClient, tmp_path: Path) -> None:
    from bingads.v13.reporting.report_file_reader import ReportFileReader

    status = _ready(client, _account(client), days=120)
    assert status.report_download_url
    archive_path = tmp_path / "report.zip"
    with archive_path.open("wb") as out:
        client.reporting.download_report(status.report_download_url, out)
    with zipfile.ZipFile(archive_path) as archive:  # the SDK unzips the first entry, then reads the CSV
        csv_path = Path(archive.extract(archive.namelist()[0], tmp_path))
    report = ReportFileReader(str(csv_path), "Csv").get_report()
    theirs = {"rows": 0, "impressions": 0, "clicks": 0, "spend": 0.0, "conversions": 0.0, "revenue": 0.0}
    for record in report.report_records:
        theirs["rows"] += 1
        theirs["impressions"] += record.int_value("Impressions")
        theirs["clicks"] += record.int_value("Clicks")
        theirs["spend"] += record.float_value("Spend")
        theirs["conversions"] += record.float_value("Conversions")
        theirs["revenue"] += record.float_value("Revenue")
    assert report.record_count == theirs["rows"]
    report.close()
    ours = {"rows": 0, "impressions": 0, "clicks": 0, "spend": 0.0, "conversions": 0.0, "revenue": 0.0}
    with ReportFile(archive_path) as file:
        for row in file:
            ours["rows"] += 1
            ours["impressions"] += row.impressions or 0
            ours["clicks"] += row.clicks or 0
            ours["spend"] += row.spend or 0.0
            ours["conversions"] += row.conversions or 0.0
            ours["revenue"] += row.revenue or 0.0
    assert theirs["rows"] > 1000
    assert {k: round(v, 2) for k, v in ours.items()} == {k: round(v, 2) for k, v in theirs.items()}
