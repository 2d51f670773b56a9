"""The JSON bodies our client sends for Reporting, read by Microsoft's REST SDK (msads' `reporting` models).

Each case drives `client.reporting` through a recording MockTransport; the recorded body must survive msads'
`SubmitGenerateReportRequest.from_dict` / `to_dict` unchanged (the polymorphic ReportRequest included), and the
method and path must be the ones msads' ReportingServiceApi uses. The bodies the import pipeline sends to the
emulator are checked the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bingbridge.api import reporting as rep
from bingbridge.api.client import BingAdsClient
from bingbridge.api.models import reporting as m
from bingbridge.api.operations import Operation
from bingbridge.metrics.importer import ImportOptions, run_import
from bingbridge.metrics.report_types import AD, AGGREGATIONS, REPORT_TYPES, ReportType
from bingbridge.store import create_engine_for
from tests.msads_compat import MSADS_IMPORT_WARNING, assert_accepted_by_msads, msads_model, msads_module_name
from tests.msads_support import BASE_URL, Recorded, recording_client

pytestmark = pytest.mark.filterwarnings(MSADS_IMPORT_WARNING)

ACCOUNT = 100170606
OTHER_ACCOUNT = 100174584
TODAY = dt.date(2026, 3, 10)
RESPONSES = {
    "SubmitGenerateReport": {"ReportRequestId": "30000001_abc"},
    "PollGenerateReport": {"ReportRequestStatus": {"Status": "Pending", "ReportDownloadUrl": None}},
}


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    with recording_client(tmp_path, rep.OPERATIONS, RESPONSES, account_id=ACCOUNT) as recorded:
        yield recorded


@dataclass(frozen=True)
class BodyCase:
    operation: str
    name: str
    call: Callable[[rep.Reporting], object]


def _case(operation: str, name: str, call: Callable[[rep.Reporting], object], *, msads_bug: str | None = None) -> Any:
    """A pytest param; `msads_bug` marks a body msads itself cannot read (strict xfail: a fixed msads shows up)."""
    marks = [pytest.mark.xfail(strict=True, reason=msads_bug)] if msads_bug else []
    return pytest.param(BodyCase(operation, name, call), id=f"{operation}-{name}", marks=marks)


def _submit(request: m.AdPerformanceReportRequest) -> Callable[[rep.Reporting], object]:
    return lambda s: s.submit_generate_report(request, today=TODAY)


def _daily(**kwargs: Any) -> m.AdPerformanceReportRequest:
    return rep.report_request([ACCOUNT], dt.date(2025, 3, 10), dt.date(2026, 3, 9), today=TODAY, **kwargs)


CASES: list[Any] = [
    _case("SubmitGenerateReport", "daily-ad-metrics-a-year", _submit(_daily())),
    _case("SubmitGenerateReport", "one-day-athens-named", _submit(rep.report_request(
        [ACCOUNT], dt.date(2026, 3, 9), dt.date(2026, 3, 9), today=TODAY, time_zone="AthensIslandanbulMinsk",
        report_name="Daily ad metrics 100170606",
    ))),
    _case("SubmitGenerateReport", "two-accounts-weekly-few-columns", _submit(rep.report_request(
        [ACCOUNT, OTHER_ACCOUNT], dt.date(2026, 1, 1), dt.date(2026, 3, 1), today=TODAY, aggregation="Weekly",
        columns=["TimePeriod", "AccountId", "AdId", "Impressions", "Clicks", "Spend", "Ctr", "AverageCpc"],
    ))),
    _case("SubmitGenerateReport", "summary-without-time-period", _submit(rep.report_request(
        [ACCOUNT], dt.date(2026, 1, 1), dt.date(2026, 1, 31), today=TODAY, aggregation="Summary",
        columns=["AccountId", "AdId", "AdTitle", "FinalUrl", "Impressions", "Conversions", "Revenue"],
    ))),
    _case("SubmitGenerateReport", "filters-and-header-options", _submit(_daily().model_copy(update={
        "filter": m.AdPerformanceReportFilter(ad_status=["Active"], device_type=["Computer"]),
        "exclude_report_footer": True,
        "exclude_column_headers": False,
    }))),
    _case("SubmitGenerateReport", "multi-value-filters", _submit(_daily().model_copy(update={
        "filter": m.AdPerformanceReportFilter(device_type=["Computer", "Tablet"]),
    })), msads_bug="msads 13.0.30.1 cannot read two-value report filters: DeviceTypeReportFilter has no NONE"),
    _case("SubmitGenerateReport", "predefined-yesterday", _submit(m.AdPerformanceReportRequest(
        format="Csv", format_version="2.0", aggregation="Daily", columns=list(AD.default_columns("Daily")),
        scope=m.AccountThroughAdGroupReportScope(account_ids=[ACCOUNT]),
        time=m.ReportTime(predefined_time="Yesterday", report_time_zone="EasternTimeUSCanada"),
    ))),
    _case("PollGenerateReport", "by-id", lambda s: s.poll_generate_report("30000001_abc")),
]  # fmt: skip


def _op(name: str) -> Operation[Any, Any]:
    return next(op for op in rep.OPERATIONS if op.name == name)


@pytest.mark.parametrize("case", CASES)
def test_sent_body_is_read_back_unchanged_by_msads(case: BodyCase, recorded: Recorded) -> None:
    case.call(recorded.client.reporting)
    (request,) = recorded.transport.requests
    op = _op(case.operation)
    assert (request.method, request.url.path) == (op.method, op.path)
    body = json.loads(request.content)
    assert_accepted_by_msads(op.request.type_name(), body, package="reporting")
    if case.operation == "SubmitGenerateReport":
        assert body["ReportRequest"]["Type"] == "AdPerformanceReportRequest"
        assert request.headers["CustomerAccountId"] == str(ACCOUNT)


@pytest.mark.parametrize("op", rep.OPERATIONS, ids=lambda op: op.name)
def test_every_operation_has_body_cases(op: Operation[Any, Any]) -> None:
    assert op.name in {param.values[0].operation for param in CASES}


@pytest.mark.parametrize("op", rep.OPERATIONS, ids=lambda op: op.name)
def test_operation_route_is_the_one_msads_uses(op: Operation[Any, Any]) -> None:
    from openapi_client.api.reporting_service_api import ReportingServiceApi
    from openapi_client.api_client import ApiClient
    from openapi_client.configuration import Configuration

    api = ReportingServiceApi(ApiClient(Configuration(host=BASE_URL)))
    serialize = getattr(api, f"_{msads_module_name(op.name)}_serialize")
    request = msads_model(op.request.type_name(), "reporting")()
    method, url, *_ = serialize(request, _request_auth=None, _content_type=None, _headers=None, _host_index=0)
    assert (method, url) == (op.method, BASE_URL + op.path)


def test_every_submit_body_of_an_import_is_accepted_by_msads(
    bingads_emulator: Any, bingads_settings: Any, tmp_path: Path
) -> None:
    bodies: list[dict[str, Any]] = []

    def keep(request: httpx.Request) -> None:
        if request.url.path == rep.SUBMIT_GENERATE_REPORT.path:
            bodies.append(json.loads(request.content))

    engine = create_engine_for(f"sqlite:///{tmp_path / 'm.db'}")
    with httpx.Client(event_hooks={"request": [keep]}) as http, BingAdsClient(bingads_settings, http=http) as client:
        run_import(client, engine, ImportOptions(days=20, group_size=3), sleep=lambda _: None)
        for spec in REPORT_TYPES.values():
            run_import(client, engine, ImportOptions(days=20, report=spec.name), sleep=lambda _: None)
    engine.dispose()
    assert len(bodies) >= 3 + len(REPORT_TYPES)
    assert {b["ReportRequest"]["Type"] for b in bodies} == {t.request_type for t in REPORT_TYPES.values()}
    assert max(len(b["ReportRequest"]["Scope"]["AccountIds"]) for b in bodies) >= 5
    for body in bodies:
        assert_accepted_by_msads("SubmitGenerateReportRequest", body, package="reporting")


@pytest.mark.parametrize("aggregation", sorted(AGGREGATIONS.values()))
@pytest.mark.parametrize("spec", REPORT_TYPES.values(), ids=lambda t: t.name)
def test_every_report_type_and_aggregation_is_accepted_by_msads(
    spec: ReportType, aggregation: str, recorded: Recorded
) -> None:
    request = rep.report_request(
        [ACCOUNT, OTHER_ACCOUNT], dt.date(2026, 1, 1), dt.date(2026, 3, 1), today=TODAY, report=spec,
        aggregation=aggregation,
    )  # fmt: skip
    recorded.client.reporting.submit_generate_report(request, today=TODAY)
    (sent,) = recorded.transport.requests
    body = json.loads(sent.content)
    assert body["ReportRequest"]["Type"] == spec.request_type
    assert ("TimePeriod" in body["ReportRequest"]["Columns"]) == (aggregation != "Summary")
    assert_accepted_by_msads("SubmitGenerateReportRequest", body, package="reporting")


def test_checker_rejects_a_report_type_msads_does_not_know() -> None:
    body = {"ReportRequest": {"Type": "AdPerformanceReportRequest", "Aggregation": "Fortnightly"}}
    with pytest.raises(AssertionError, match="Aggregation"):
        assert_accepted_by_msads("SubmitGenerateReportRequest", body, package="reporting")
