"""Reporting: the operation table, input rules, and the typed service (sync and async).

Rules come from the protocol reference, sections 5 and 11: up to 1,000 AccountIds, a custom range needs
start <= end <= today, Daily data is kept for 36 months, every aggregation but Summary needs the TimePeriod column
(Summary refuses it), at least one measure, and the download URL lives 5 minutes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

import httpx

from bingbridge.api.models import reporting as m
from bingbridge.api.models.timezones import DEFAULT_REPORT_TIME_ZONE, REPORT_TIME_ZONES
from bingbridge.api.operations import OperationTable
from bingbridge.errors import ApiError, DownloadExpiredError, FieldProblem, RetriableError, ValidationError
from bingbridge.metrics.report_types import AD, BY_REQUEST_TYPE, ReportType

if TYPE_CHECKING:
    from bingbridge.api.client import AsyncBingAdsClient, BingAdsClient

OPERATIONS = OperationTable("reporting", "/Reporting/v13", needs_account=True)
SUBMIT_GENERATE_REPORT = OPERATIONS.add(
    "POST", "/GenerateReport/Submit", m.SubmitGenerateReportRequest, m.SubmitGenerateReportResponse
)
POLL_GENERATE_REPORT = OPERATIONS.add(
    "POST", "/GenerateReport/Poll", m.PollGenerateReportRequest, m.PollGenerateReportResponse
)

DOWNLOAD = "DownloadReport"  # the name download errors carry; it is a plain GET, not a Microsoft operation

# ---- limits and rules ----
# Microsoft's performance reports take up to 1,000 accounts in AccountIds (2029 AccountsOverLimit beyond).
MAX_REPORT_ACCOUNTS = 1000
MAX_REPORT_NAME = 200
# Daily (and longer) data is kept 36 months, hourly data 6 months (reference 5.4 and 11, data retention).
DAILY_RETENTION_MONTHS = 36
HOURLY_RETENTION_MONTHS = 6
# The download URL lives 5 minutes after Poll answers Success; a report request id lives 2 days.
DOWNLOAD_URL_TTL = dt.timedelta(minutes=5)
REPORT_ID_TTL = dt.timedelta(days=2)


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` earlier, clamped to the end of a shorter month (31 May - 3 months = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def earliest_daily_date(today: dt.date) -> dt.date:
    """The oldest day Daily data can be asked for.

    Microsoft says "36 months" without saying from when; we count back from today's date (not from the start of
    the month), the stricter reading, so a request we accept is never refused for retention.
    """
    return months_before(today, DAILY_RETENTION_MONTHS)


def earliest_date(today: dt.date, aggregation: str | None) -> dt.date:
    """The oldest day data at `aggregation` can be asked for (hourly rows are kept 6 months, the rest 36)."""
    if aggregation in ("Hourly", "HourOfDay"):
        return months_before(today, HOURLY_RETENTION_MONTHS)
    return earliest_daily_date(today)


def _check(problems: list[FieldProblem]) -> None:
    if problems:
        raise ValidationError(problems, operation=SUBMIT_GENERATE_REPORT.name)


def check_report_request(request: m.ReportRequest, today: dt.date) -> None:
    """Raise ValidationError, naming each field, for what Microsoft would refuse (codes 2002-2041).

    Columns are checked against the report type's spec (bingbridge.metrics.report_types); a valid type without
    a spec is sent as it is, with the checks every type shares.
    """
    problems: list[FieldProblem] = []
    spec = BY_REQUEST_TYPE.get(request.type)
    if spec is None and request.type not in m.REPORT_REQUEST_TYPES:
        problems.append(FieldProblem("type", f"unknown report type {request.type!r}"))
    scope = request.scope
    ids = list(scope.account_ids or []) if scope else []
    if not ids:
        problems.append(FieldProblem("account_ids", "give at least one account id"))
    elif len(ids) > MAX_REPORT_ACCOUNTS:
        problems.append(FieldProblem("account_ids", f"at most {MAX_REPORT_ACCOUNTS} accounts, got {len(ids)}"))
    if any(i <= 0 for i in ids):
        problems.append(FieldProblem("account_ids", "account ids are positive whole numbers"))
    if request.aggregation not in m.AGGREGATIONS:
        problems.append(FieldProblem("aggregation", f"must be one of {', '.join(m.AGGREGATIONS)}"))
    columns = list(request.columns or [])
    if not columns:
        problems.append(FieldProblem("columns", "give at least one column"))
    if spec is not None:
        problems += _column_problems(spec, columns)
    if len(set(columns)) != len(columns):
        problems.append(FieldProblem("columns", "a column appears twice"))
    if request.aggregation == "Summary" and "TimePeriod" in columns:
        problems.append(FieldProblem("columns", "TimePeriod cannot be used with Summary aggregation"))
    if request.aggregation not in (None, "Summary") and columns and "TimePeriod" not in columns:
        problems.append(FieldProblem("columns", f"{request.aggregation} aggregation needs the TimePeriod column"))
    if request.report_name is not None and len(request.report_name) > MAX_REPORT_NAME:
        problems.append(FieldProblem("report_name", f"at most {MAX_REPORT_NAME} characters"))
    time = request.time
    if time is None:
        problems.append(FieldProblem("time", "give a custom date range or a predefined time"))
    else:
        if time.report_time_zone is not None and time.report_time_zone not in REPORT_TIME_ZONES:
            problems.append(FieldProblem("time_zone", f"unknown ReportTimeZone {time.report_time_zone!r}"))
        custom = time.custom_date_range_start is not None or time.custom_date_range_end is not None
        if custom and time.predefined_time is not None:
            problems.append(FieldProblem("time", "give a custom range or a predefined time, not both"))
        if not custom and time.predefined_time not in m.REPORT_TIME_PERIODS:
            problems.append(FieldProblem("time", f"predefined time must be one of {', '.join(m.REPORT_TIME_PERIODS)}"))
        if custom:
            problems += _range_problems(time, today, request.aggregation)
    _check(problems)


def _column_problems(spec: ReportType, columns: list[str]) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    unknown = [c for c in columns if c not in spec.known_columns]
    if unknown:
        known = ", ".join(spec.known_columns)
        problems.append(FieldProblem("columns", f"unknown {spec.name} report columns {unknown}; known: {known}"))
    if columns and not any(c in spec.measures for c in columns):
        problems.append(FieldProblem("columns", f"give at least one measure column, e.g. {spec.measures[0]}"))
    return problems


def _range_problems(time: m.ReportTime, today: dt.date, aggregation: str | None) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    dates: dict[str, dt.date] = {}
    for name, value in (("start_date", time.custom_date_range_start), ("end_date", time.custom_date_range_end)):
        if value is None:
            problems.append(FieldProblem(name, "required for a custom date range"))
            continue
        try:
            dates[name] = value.to_date()
        except ValueError as exc:
            problems.append(FieldProblem(name, f"is not a calendar day: {exc}"))
    start, end = dates.get("start_date"), dates.get("end_date")
    if start and end and end < start:
        problems.append(FieldProblem("end_date", f"{end} is before the start date {start}"))
    if start and start > today:
        problems.append(FieldProblem("start_date", f"{start} is in the future (today is {today})"))
    if end and end > today:
        problems.append(FieldProblem("end_date", f"{end} is in the future (today is {today})"))
    earliest = earliest_date(today, aggregation)
    if start and start < earliest:
        kept = "hourly data (6 months" if earliest > earliest_daily_date(today) else "daily data (36 months"
        problems.append(FieldProblem("start_date", f"{start} is older than Microsoft keeps {kept}: {earliest})"))
    return problems


def report_request(
    account_ids: Sequence[int],
    start: dt.date,
    end: dt.date,
    *,
    today: dt.date,
    report: ReportType = AD,
    time_zone: str = DEFAULT_REPORT_TIME_ZONE,
    columns: Sequence[str] | None = None,
    aggregation: str = "Daily",
    report_name: str | None = None,
) -> m.ReportRequest:
    """A zipped CSV report of type `report` for a custom range, FormatVersion 2.0 (no thousands separators).

    `today` is the current day in `time_zone`; Microsoft checks the range against it. Columns default to the
    spec's (without TimePeriod for Summary).
    """
    request = m.ReportRequest(
        type=report.request_type,
        format="Csv",
        format_version="2.0",
        report_name=report_name,
        return_only_complete_data=False,
        aggregation=aggregation,
        columns=list(columns if columns is not None else report.default_columns(aggregation)),
        scope=m.AccountThroughAdGroupReportScope(account_ids=list(account_ids)),
        time=m.ReportTime(
            custom_date_range_start=m.Date.of(start),
            custom_date_range_end=m.Date.of(end),
            report_time_zone=time_zone,
        ),
    )
    check_report_request(request, today)
    return request


def _first_account(request: m.ReportRequest) -> int | None:
    ids = request.scope.account_ids if request.scope else None
    return ids[0] if ids else None


def _download_error(response: httpx.Response) -> ApiError:
    status = response.status_code
    # The URL is a storage SAS link: an expired one answers 403 (AuthenticationFailed), a removed blob 404.
    if status in (403, 404):
        return DownloadExpiredError(
            operation=DOWNLOAD, status=status, tracking_id=None, message="the report download URL has expired"
        )
    kind = RetriableError if status >= 500 or status == 429 else ApiError
    return kind(operation=DOWNLOAD, status=status, tracking_id=None, message=f"download refused: HTTP {status}")


def _transport_error(exc: httpx.TransportError) -> RetriableError:
    return RetriableError(operation=DOWNLOAD, status=None, tracking_id=None, message=f"{type(exc).__name__}: {exc}")


def _report_id(answer: m.SubmitGenerateReportResponse) -> str:
    """The ReportRequestId of a Submit answer; an answer without one is a fault."""
    if not answer.report_request_id:
        raise ApiError(
            operation=SUBMIT_GENERATE_REPORT.name,
            status=200,
            tracking_id=answer.tracking_id,
            message="no ReportRequestId in the answer",
        )
    return answer.report_request_id


def _status(answer: m.PollGenerateReportResponse) -> m.ReportRequestStatus:
    """The job status of a Poll answer, carrying the poll's TrackingId."""
    status = answer.report_request_status or m.ReportRequestStatus(status="Pending")
    status._tracking_id = answer.tracking_id
    return status


class Reporting:
    """Typed Reporting operations, `client.reporting`.

    Submit and Poll act for the first account of the report's scope unless `account_id` is given; Microsoft wants
    the same credentials for both.
    """

    def __init__(self, client: BingAdsClient) -> None:
        self._client = client

    def submit_generate_report(
        self,
        request: m.ReportRequest,
        *,
        today: dt.date,
        customer_id: int | None = None,
        account_id: int | None = None,
    ) -> str:
        """Queue a report and return its request id (valid two days)."""
        check_report_request(request, today)
        answer = self._client.call(
            SUBMIT_GENERATE_REPORT,
            m.SubmitGenerateReportRequest(report_request=request),
            customer_id=customer_id if customer_id is not None else self._client.settings.customer_id,
            account_id=account_id if account_id is not None else _first_account(request),
        )
        return _report_id(answer)

    def poll_generate_report(
        self, report_request_id: str, *, customer_id: int | None = None, account_id: int | None = None
    ) -> m.ReportRequestStatus:
        """The job's status; on Success a download URL valid 5 minutes (None: no data matched)."""
        if not report_request_id:
            raise ValidationError([FieldProblem("report_request_id", "required")], operation=POLL_GENERATE_REPORT.name)
        answer = self._client.call(
            POLL_GENERATE_REPORT,
            m.PollGenerateReportRequest(report_request_id=report_request_id),
            customer_id=customer_id if customer_id is not None else self._client.settings.customer_id,
            account_id=account_id if account_id is not None else self._client.settings.account_id,
        )
        return _status(answer)

    def download_report(self, url: str, destination: IO[bytes]) -> int:
        """Stream the zipped report at `url` into `destination`; returns the bytes written.

        A plain GET through the client's one HTTP connection pool, as Microsoft's SDK does. Raises
        DownloadExpiredError when the 5-minute URL has expired (poll again for a fresh one).
        """
        written = 0
        try:
            with self._client.http.stream("GET", url) as response:
                if not response.is_success:
                    raise _download_error(response)
                for chunk in response.iter_bytes(1 << 16):
                    destination.write(chunk)
                    written += len(chunk)
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        return written


class AsyncReporting:
    """Typed Reporting operations for AsyncBingAdsClient."""

    def __init__(self, client: AsyncBingAdsClient) -> None:
        self._client = client

    async def submit_generate_report(
        self,
        request: m.ReportRequest,
        *,
        today: dt.date,
        customer_id: int | None = None,
        account_id: int | None = None,
    ) -> str:
        check_report_request(request, today)
        answer = await self._client.call(
            SUBMIT_GENERATE_REPORT,
            m.SubmitGenerateReportRequest(report_request=request),
            customer_id=customer_id if customer_id is not None else self._client.settings.customer_id,
            account_id=account_id if account_id is not None else _first_account(request),
        )
        return _report_id(answer)

    async def poll_generate_report(
        self, report_request_id: str, *, customer_id: int | None = None, account_id: int | None = None
    ) -> m.ReportRequestStatus:
        if not report_request_id:
            raise ValidationError([FieldProblem("report_request_id", "required")], operation=POLL_GENERATE_REPORT.name)
        answer = await self._client.call(
            POLL_GENERATE_REPORT,
            m.PollGenerateReportRequest(report_request_id=report_request_id),
            customer_id=customer_id if customer_id is not None else self._client.settings.customer_id,
            account_id=account_id if account_id is not None else self._client.settings.account_id,
        )
        return _status(answer)

    async def download_report(self, url: str, destination: IO[bytes]) -> int:
        written = 0
        try:
            async with self._client.http.stream("GET", url) as response:
                if not response.is_success:
                    raise _download_error(response)
                async for chunk in response.aiter_bytes(1 << 16):
                    destination.write(chunk)
                    written += len(chunk)
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        return written
