"""The Reporting service as Microsoft answers it: Submit validation, jobs, zipped CSV files, expiring download URLs.

What the emulator does where Microsoft is silent (each a choice of ours):
- A job stays Pending for `report_pending_polls` polls (default 2), then Success; time alone never finishes it,
  so tests are deterministic.
- More than `max_concurrent_reports` Pending jobs per customer (default 5) answers 207 ConcurrentRequestOverLimit.
- Submit and Poll need the CustomerAccountId header (1030 without it, 106 for an account the user cannot see).
- An unknown ReportRequestId answers 201 ApiInputValidationError; polling another user's job answers 106.
- A range starting before the 36 months of Daily retention answers 2040 InvalidCustomDateRange.
- Report types: those of `bingbridge.metrics.report_types` in `SERVED_REPORTS` are produced, from one ground truth
  (emulator/ad_metrics.py); another valid type of the WSDL is accepted and ends in Success with no download URL
  (Microsoft's answer when no data matches), so a valid request is never told it is wrong. Only the spec's columns
  are produced; another valid column, or the Xml format, answers 201 naming it.
- Aggregation shapes the rows (reference 11): one row per entity per period; TimePeriod is the period's first
  day (Weekly: Sunday, WeeklyStartingMonday: Monday, Monthly: the 1st, Yearly: 1 January), `yyyy-mm-dd|H` for
  Hourly (a day's numbers spread over its hours in whole units), absent for Summary (one row per entity for the
  range). HourOfDay groups the hours of the range (TimePeriod "0".."23"), DayOfWeek its weekdays ("Monday"...);
  Microsoft does not document these cells, so those two are our reading.
- Jobs that include an account of `report_error_account_ids` end in Error (to exercise failure isolation).
- Each Success poll hands out a fresh download URL valid `report_url_ttl_seconds` (300) on the injectable
  `ReportingState.clock`; an expired one answers 403 AuthenticationFailed like Azure storage does.
- Ctr and AverageCpc are "--" when there were no impressions or clicks, as in Microsoft's files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
import shutil
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bingbridge.api import reporting as rules
from bingbridge.api.models import reporting as m
from bingbridge.api.models.customer import AdvertiserAccount
from bingbridge.api.models.timezones import DEFAULT_REPORT_TIME_ZONE, REPORT_TIME_ZONES, today_in, zone
from bingbridge.emulator import faults
from bingbridge.emulator.ad_metrics import (
    SERVED_REPORTS,
    AdMetricsWorld,
    Fact,
    SyntheticAd,
    asset_groups_of,
    facts,
)
from bingbridge.emulator.context import Caller, Handler, require_account
from bingbridge.emulator.state import EmulatorState
from bingbridge.metrics.report_types import BY_REQUEST_TYPE, ReportType

# Symbolic codes (reference 4.3); all carry the ReportingService prefix.
REPORTING_CODES = {
    2001: "NullReportRequest",
    2002: "UnknownReportType",
    2003: "AccountNotAuthorized",
    2004: "NoCompleteDataAvaliable",  # sic
    2007: "InvalidReportAggregation",
    2008: "InvalidReportTimeSelection",
    2009: "InvalidCustomDateRangeStart",
    2010: "InvalidCustomDateRangeEnd",
    2011: "EndDateBeforeStartDate",
    2014: "NullColumns",
    2015: "RequiredColumnsNotSelected",
    2016: "DuplicateColumns",
    2017: "NoMeasureSelected",
    2029: "AccountsOverLimit",
    2034: "InvalidTimePeriodColumnForSummaryReport",
    2035: "InvalidAccountIds",
    2040: "InvalidCustomDateRange",
    2041: "InvalidFutureStartDate",
}


def reporting_fault(code: int, message: str) -> faults.Fault:
    """A Reporting ApiFaultDetail with one operation error."""
    if code in REPORTING_CODES:
        return faults.Fault("ApiFaultDetail", [(code, "ReportingService" + REPORTING_CODES[code], message)])
    if code == 207:
        return faults.Fault("ApiFaultDetail", [(207, "ConcurrentRequestOverLimit", message)])
    return faults.Fault("ApiFaultDetail", [(code, "ApiInputValidationError", message)])


@dataclass
class ReportJob:
    """One submitted report."""

    id: str
    user_id: int
    customer_id: int
    request: m.ReportRequest
    polls: int = 0
    status: m.ReportStatus = "Pending"
    content: bytes | None = None
    rows: int = 0


@dataclass
class ReportingState:
    """Jobs, download links and the synthetic metrics; `clock` (Unix seconds) can be replaced by tests."""

    world: AdMetricsWorld
    clock: Callable[[], float] = time.time
    jobs: dict[str, ReportJob] = field(default_factory=dict)
    # download token -> (job id, expiry on `clock`)
    links: dict[str, tuple[str, float]] = field(default_factory=dict)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)


def reporting_state(state: EmulatorState) -> ReportingState:
    """The emulator's reporting state, created on first use."""
    if state.reporting is None:
        state.reporting = ReportingState(AdMetricsWorld(state.config.seed))
    return state.reporting


def account_today(state: EmulatorState, account: AdvertiserAccount) -> dt.date:
    return today_in(account.time_zone or DEFAULT_REPORT_TIME_ZONE, reporting_state(state).now())


def ads_of(state: EmulatorState, account: AdvertiserAccount) -> list[SyntheticAd]:
    assert account.id is not None
    return reporting_state(state).world.ads_of(
        account.id,
        account.name or "",
        account.currency_code or "USD",
        account.account_life_cycle_status == "Active",
        account_today(state, account),
    )


# ---- Submit ----


def _date(value: m.Date | None, code: int, what: str) -> dt.date:
    if value is None:
        raise reporting_fault(code, f"The custom date range {what} is required.")
    try:
        return value.to_date()
    except ValueError:
        raise reporting_fault(code, f"The custom date range {what} is not a valid date.") from None


def _validate(state: EmulatorState, caller: Caller, req: m.ReportRequest | None) -> None:
    if req is None:
        raise reporting_fault(2001, "The report request is null.")
    if req.type not in m.REPORT_REQUEST_TYPES:
        raise reporting_fault(2002, f"The report type {req.type!r} is not valid.")
    if req.format not in (None, "Csv", "Tsv"):
        raise reporting_fault(201, f"The emulator writes Csv and Tsv reports, not {req.format}.")
    ids = list(req.scope.account_ids or []) if req.scope else []
    if not ids:
        raise reporting_fault(2035, "The report scope has no account ids.")
    if len(ids) > rules.MAX_REPORT_ACCOUNTS:
        raise reporting_fault(2029, f"The report scope has more than {rules.MAX_REPORT_ACCOUNTS} accounts.")
    visible = set(state.visible_account_ids(caller.user_id))
    if any(i not in visible for i in ids):
        raise reporting_fault(2003, "The user is not authorized to report on one of the accounts.")
    if req.aggregation not in m.AGGREGATIONS:
        raise reporting_fault(2007, "The report aggregation is missing or not valid.")
    columns = req.columns or []
    if not columns:
        raise reporting_fault(2014, "The report columns are null or empty.")
    spec = served_type(req)
    if spec is not None:
        unknown = [c for c in columns if c not in spec.known_columns]
        if unknown:
            raise reporting_fault(201, f"The emulator does not produce the {spec.request_type} columns {unknown}.")
    if len(set(columns)) != len(columns):
        raise reporting_fault(2016, "The report columns contain duplicates.")
    if spec is not None and not any(c in spec.measures for c in columns):
        raise reporting_fault(2017, "At least one measure column is required.")
    if req.aggregation == "Summary" and "TimePeriod" in columns:
        raise reporting_fault(2034, "TimePeriod cannot be selected for a Summary report.")
    if req.aggregation != "Summary" and "TimePeriod" not in columns:
        raise reporting_fault(2015, "The TimePeriod column is required for this aggregation.")
    _validate_time(state, req)


def _validate_time(state: EmulatorState, req: m.ReportRequest) -> None:
    time_ = req.time
    if time_ is None:
        raise reporting_fault(2008, "The report time is required.")
    custom = time_.custom_date_range_start is not None or time_.custom_date_range_end is not None
    if custom == (time_.predefined_time is not None):
        raise reporting_fault(2008, "Give either a custom date range or a predefined time.")
    zone_name = time_.report_time_zone or DEFAULT_REPORT_TIME_ZONE
    if zone_name not in REPORT_TIME_ZONES:
        raise reporting_fault(201, f"The report time zone {zone_name!r} is not valid.")
    if not custom:
        if time_.predefined_time not in m.REPORT_TIME_PERIODS:
            raise reporting_fault(2008, "The predefined time is not valid.")
        return
    start = _date(time_.custom_date_range_start, 2009, "start")
    end = _date(time_.custom_date_range_end, 2010, "end")
    today = today_in(zone_name, reporting_state(state).now())
    if start > today:
        raise reporting_fault(2041, "The start date cannot be in the future.")
    if end > today:
        raise reporting_fault(2010, "The end date cannot be in the future.")
    if end < start:
        raise reporting_fault(2011, "The end date is before the start date.")
    if start < rules.earliest_date(today, req.aggregation):
        raise reporting_fault(2040, "The custom date range starts before the data kept for this aggregation.")
    if req.return_only_complete_data and end >= today:
        raise reporting_fault(2004, "Complete data is not available for a range that includes today.")


def submit_generate_report(
    state: EmulatorState, caller: Caller, req: m.SubmitGenerateReportRequest
) -> m.SubmitGenerateReportResponse:
    report = req.report_request
    require_account(state, caller)  # Reporting wants the CustomerAccountId header, as Campaign Management does
    _validate(state, caller, report)
    assert report is not None
    customer_id = caller.customer_id or state.world.users[caller.user_id].customer_id
    reporting = reporting_state(state)
    running = sum(1 for j in reporting.jobs.values() if j.customer_id == customer_id and j.status == "Pending")
    if running >= state.config.max_concurrent_reports:
        raise reporting_fault(207, "You have exceeded the number of concurrent report requests.")
    job_id = f"{state.new_id()}_{uuid.uuid4().hex[:12]}"  # Microsoft's id is opaque (reference 8)
    reporting.jobs[job_id] = ReportJob(job_id, caller.user_id, customer_id, report)
    return m.SubmitGenerateReportResponse(report_request_id=job_id)


# ---- Poll ----


def poll_generate_report(
    state: EmulatorState, caller: Caller, req: m.PollGenerateReportRequest
) -> m.PollGenerateReportResponse:
    require_account(state, caller)
    reporting = reporting_state(state)
    job = reporting.jobs.get(req.report_request_id or "")
    if job is None:
        raise reporting_fault(201, "The report request id is not valid.")
    if job.user_id != caller.user_id:
        raise faults.ad_api(106)
    job.polls += 1
    if job.status == "Pending" and job.polls > state.config.report_pending_polls:
        ids = job.request.scope.account_ids or [] if job.request.scope else []
        if set(state.config.report_error_account_ids).intersection(ids):
            job.status = "Error"
        else:
            job.content, job.rows = build_report(state, job.request)
            job.status = "Success"
    url = None
    if job.status == "Success" and job.content is not None:
        token = secrets.token_urlsafe(18)
        expires = reporting.clock() + state.config.report_url_ttl_seconds
        reporting.links[token] = (job.id, expires)
        expiry = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        url = f"{state.public_url}/_reports/{job.id}.zip?se={expiry}&sig={token}"
    return m.PollGenerateReportResponse(
        report_request_status=m.ReportRequestStatus(status=job.status, report_download_url=url)
    )


def download(state: EmulatorState, job_file: str, token: str) -> tuple[int, bytes, str]:
    """(HTTP status, body, media type) for a GET of a download URL."""
    reporting = reporting_state(state)
    link = reporting.links.get(token)
    if link is None or f"{link[0]}.zip" != job_file:
        return 403, _storage_error("AuthenticationFailed", "Signature did not match."), "application/xml"
    job_id, expires = link
    if reporting.clock() > expires:
        return 403, _storage_error("AuthenticationFailed", "Signed expiry time has passed."), "application/xml"
    content = reporting.jobs[job_id].content
    assert content is not None
    return 200, content, "application/x-zip-compressed"


def _storage_error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>'
        + code
        + "</Code><Message>Server failed to authenticate the request. "
        + message
        + "</Message></Error>"
    ).encode()


# ---- the file ----


def _us_date(day: dt.date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def _us_time(moment: dt.datetime) -> str:
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d}:{moment.second:02d} {half} (GMT)"


def time_zone_label(name: str, when: dt.datetime) -> str:
    """Microsoft's label, e.g. "(GMT-08:00) Pacific Time (US & Canada); Tijuana"; others are built from the name
    and the zone's standard offset (Microsoft publishes only a few labels)."""
    if name == "PacificTimeUSCanadaTijuana":
        return "(GMT-08:00) Pacific Time (US & Canada); Tijuana"
    if name == "AmsterdamBerlinBernRomeStockholmVienna":
        return "(GMT+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"
    offset = when.astimezone(zone(name)).utcoffset() or dt.timedelta()
    dst = when.astimezone(zone(name)).dst() or dt.timedelta()
    minutes = int((offset - dst).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"(GMT{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}) {name}"


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def served_type(req: m.ReportRequest) -> ReportType | None:
    """The spec of a report type the emulator produces; None for the other valid types (they get no data)."""
    spec = BY_REQUEST_TYPE.get(req.type)
    return spec if spec is not None and spec.name in SERVED_REPORTS else None


def _period(aggregation: str, day: dt.date) -> str | None:
    """The TimePeriod cell of a day's row: the first day of its week, month or year; None for Summary."""
    if aggregation == "Summary":
        return None
    if aggregation == "DayOfWeek":
        return day.strftime("%A")
    if aggregation == "Weekly":  # weeks start on Sunday
        day -= dt.timedelta(days=(day.weekday() + 1) % 7)
    elif aggregation == "WeeklyStartingMonday":
        day -= dt.timedelta(days=day.weekday())
    elif aggregation == "Monthly":
        day = day.replace(day=1)
    elif aggregation == "Yearly":
        day = day.replace(month=1, day=1)
    return day.isoformat()


_HOURS = range(24)


def _hourly(fact: Fact, hour_only: bool) -> Iterator[tuple[str, tuple[int, ...]]]:
    """A day's numbers spread over its 24 hours (whole units; the hours add up to the day)."""
    parts = _split_hours(fact.measures, fact.day.toordinal())
    day = fact.day.isoformat()
    for hour, part in zip(_HOURS, parts, strict=True):
        yield (str(hour) if hour_only else f"{day}|{hour}"), part


def _split_hours(measures: tuple[int, ...], ordinal: int) -> list[tuple[int, ...]]:
    weights = [1 + (ordinal * 31 + h * 7) % 5 for h in _HOURS]
    total = sum(weights)
    parts = [tuple(v * w // total for v in measures) for w in weights]
    rest = tuple(v - sum(p[i] for p in parts) for i, v in enumerate(measures))
    parts[12] = tuple(a + b for a, b in zip(parts[12], rest, strict=True))  # the remainder goes to noon
    return parts


Aggregated = tuple[str | None, tuple[tuple[str, object], ...], tuple[int, ...]]


def aggregate(found: Iterator[Fact], aggregation: str, unique_daily: bool) -> Iterator[Aggregated]:
    """One row per entity per period (reference 11). `unique_daily`: the facts are already one per entity per day."""
    if aggregation == "Daily" and unique_daily:
        for fact in found:
            yield fact.day.isoformat(), fact.attributes, fact.measures
        return
    totals: dict[tuple[str | None, tuple[tuple[str, object], ...]], list[int]] = {}
    for fact in found:
        if aggregation in ("Hourly", "HourOfDay"):
            periods: Iterable[tuple[str | None, tuple[int, ...]]] = _hourly(fact, aggregation == "HourOfDay")
        else:
            periods = [(_period(aggregation, fact.day), fact.measures)]
        for period, measures in periods:
            key = (period, fact.attributes)
            sums = totals.get(key)
            if sums is None:
                totals[key] = list(measures)
            else:
                for i, value in enumerate(measures):
                    sums[i] += value
    for (period, attributes), sums in totals.items():
        if sums[0] or sums[3]:  # Microsoft has no row for an entity without impressions (or conversions)
            yield period, attributes, tuple(sums)


_CONSTANT_CELLS = {"DeviceType": "Computer", "Network": "Microsoft sites and select traffic"}


def cell_values(row: Aggregated) -> dict[str, Any]:
    """A row's cells by Microsoft's column name, as written in the file."""
    period, attributes, (impressions, clicks, spend, conversions, revenue) = row
    values: dict[str, Any] = {**_CONSTANT_CELLS, "TimePeriod": period}
    values.update(attributes)
    values.update(
        Impressions=impressions,
        Clicks=clicks,
        Spend=_money(spend),
        Conversions=conversions,
        Revenue=_money(revenue),
        AllConversions=conversions,
        Ctr=f"{100 * clicks / impressions:.2f}%" if impressions else m.NOT_APPLICABLE,
        AverageCpc=f"{spend / 100 / clicks:.2f}" if clicks else m.NOT_APPLICABLE,
    )
    return values


def _cells(row: Aggregated, columns: list[str]) -> list[str]:
    values = cell_values(row)
    return [m.NOT_APPLICABLE if values.get(c) is None else str(values[c]) for c in columns]


def report_rows(
    state: EmulatorState,
    account_ids: Iterable[int],
    start: dt.date,
    end: dt.date,
    report: str = "ad",
    aggregation: str = "Daily",
) -> Iterator[Aggregated]:
    """The ground truth of a report type: one row per entity per period, account by account."""
    reporting = reporting_state(state)
    for account_id in account_ids:
        account = state.world.accounts[account_id]
        ads = ads_of(state, account)
        if report == "asset_group":
            ads = asset_groups_of(reporting.world, ads)
        found = facts(report, reporting.world.rows(ads, start, end))
        yield from aggregate(found, aggregation, report in ("ad", "asset_group"))


def build_report(state: EmulatorState, req: m.ReportRequest) -> tuple[bytes | None, int]:
    """The zipped file in Microsoft's layout (reference 5.4) and its row count; None when no row matched."""
    assert req.time is not None and req.scope is not None and req.columns is not None
    spec = served_type(req)
    ids = req.scope.account_ids or []
    if spec is None:
        return None, 0
    zone_name = req.time.report_time_zone or DEFAULT_REPORT_TIME_ZONE
    now = reporting_state(state).now()
    start, end = _resolved_range(req.time, today_in(zone_name, now))
    aggregation = req.aggregation or "Summary"
    delimiter = _delimiter(req)
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as data:
        writer = csv.writer(data, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        count = 0
        for row in report_rows(state, ids, start, end, spec.name, aggregation):
            writer.writerow(_cells(row, req.columns))
            count += 1
        if not count:
            return None, 0
        data.seek(0)
        return _zipped(req, (start, end), now, count, data), count


def _zipped(req: m.ReportRequest, span: tuple[dt.date, dt.date], now: dt.datetime, count: int, data: IO[str]) -> bytes:
    """The file: header block, column row, the data rows written so far (`data`), footer; zipped."""
    assert req.time is not None and req.columns is not None
    start, end = span
    zone_name = req.time.report_time_zone or DEFAULT_REPORT_TIME_ZONE
    name = req.report_name or f"{req.type.removesuffix('Request')}-{now:%m-%d-%Y %H:%M:%S}"
    payload = io.BytesIO()
    with (
        zipfile.ZipFile(payload, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(f"{name.replace('/', '-').replace(':', '-')}.csv", "w", force_zip64=True) as member,
        io.TextIOWrapper(member, encoding="utf-8-sig", newline="") as text,
    ):
        writer = csv.writer(text, delimiter=_delimiter(req), quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        if not req.exclude_report_header:
            report_time = _us_date(start) if start == end else f"{_us_date(start)},{_us_date(end)}"
            last_day = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=3)
            for line in (
                f"Report Name: {name}",
                f"Report Time: {report_time}",
                f"Time Zone: {time_zone_label(zone_name, now)}",
                f"Last Completed Available Day: {_us_time(last_day)}",
                f"Last Completed Available Hour: {_us_time(last_day)}",
                f"Report Aggregation: {req.aggregation}",
                "Report Filter: ",
                f"Potential Incomplete Data: {'true' if end >= today_in(zone_name, now) else 'false'}",
                f"Rows: {count}",
            ):
                writer.writerow([line])
            text.write("\r\n")
        if not req.exclude_column_headers:
            writer.writerow(req.columns)
        shutil.copyfileobj(data, text, 1 << 20)
        if not req.exclude_report_footer:
            text.write("\r\n")
            writer.writerow([f"©{now.year}{m.REPORT_FOOTER_SUFFIX} "])
    return payload.getvalue()


def _delimiter(req: m.ReportRequest) -> str:
    return "\t" if req.format == "Tsv" else ","


def _resolved_range(time_: m.ReportTime, today: dt.date) -> tuple[dt.date, dt.date]:
    if time_.custom_date_range_start and time_.custom_date_range_end:
        return time_.custom_date_range_start.to_date(), time_.custom_date_range_end.to_date()
    days = {"Today": (0, 0), "Yesterday": (1, 1), "LastSevenDays": (7, 1), "Last14Days": (14, 1)}
    back_start, back_end = days.get(time_.predefined_time or "", (30, 1))
    return today - dt.timedelta(days=back_start), today - dt.timedelta(days=back_end)


def ground_truth(row: Aggregated) -> dict[str, Any]:
    """One ground-truth row with Microsoft's column names; money as numbers with two decimals, None for "--"."""
    period, attributes, (impressions, clicks, spend, conversions, revenue) = row
    values: dict[str, Any] = {} if period is None else {"TimePeriod": period}
    values.update(attributes)
    values.update(
        Impressions=impressions, Clicks=clicks, Spend=spend / 100, Conversions=conversions, Revenue=revenue / 100
    )
    return values


def revise(state: EmulatorState, days: int) -> dict[str, Any]:
    """Late attribution on every account: the last `days` days (in each account's zone) gain conversions."""
    reporting = reporting_state(state)
    touched: list[dt.date] = []
    for account in state.world.accounts.values():
        assert account.id is not None
        touched = reporting.world.revise(account.id, account_today(state, account), days)
    return {
        "revised_days": days,
        "accounts": len(state.world.accounts),
        "start": min(touched).isoformat() if touched else None,
        "end": max(touched).isoformat() if touched else None,
    }


HANDLERS: dict[str, Handler] = {
    "SubmitGenerateReport": submit_generate_report,
    "PollGenerateReport": poll_generate_report,
}


# ---- HTTP endpoints registered by create_app ----


async def download_endpoint(request: Request) -> Response:
    """GET of a download URL handed out by Poll: the zip, or 403 once the link expired."""
    state: EmulatorState = request.app.state.emulator
    status, body, media_type = download(state, request.path_params["job_file"], request.query_params.get("sig", ""))
    return Response(body, status_code=status, media_type=media_type)


def _day(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not YYYY-MM-DD") from None


async def metrics_endpoint(request: Request) -> Response:
    """GET /_emulator/metrics?report=ad&aggregation=Daily&account_id=ID&start=YYYY-MM-DD&end=YYYY-MM-DD: the
    ground-truth rows of a report type (a bingbridge.metrics.report_types name, default ad), one per entity per
    period, with Microsoft's column names (every account when account_id is absent; default range: the last 30
    days)."""
    state: EmulatorState = request.app.state.emulator
    params = request.query_params
    report = params.get("report", "ad")
    aggregation = params.get("aggregation", "Daily")
    if report not in SERVED_REPORTS:
        return JSONResponse({"error": f"report must be one of {', '.join(SERVED_REPORTS)}"}, status_code=400)
    if aggregation not in m.AGGREGATIONS:
        return JSONResponse({"error": f"aggregation must be one of {', '.join(m.AGGREGATIONS)}"}, status_code=400)
    try:
        wanted = params.get("account_id")
        ids = [int(wanted)] if wanted else list(state.world.accounts)
        if any(i not in state.world.accounts for i in ids):
            return JSONResponse({"error": f"no account {wanted}"}, status_code=404)
        today = reporting_state(state).now().date()
        end = _day(params.get("end"), "end") or today
        start = _day(params.get("start"), "start") or end - dt.timedelta(days=30)
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    rows = [ground_truth(row) for row in report_rows(state, ids, start, end, report, aggregation)]
    return JSONResponse({"rows": rows})


async def revise_endpoint(request: Request) -> Response:
    """POST /_emulator/revise?days=N: late attribution changes the conversions and revenue of the last N days."""
    state: EmulatorState = request.app.state.emulator
    days = request.query_params.get("days", "3")
    if not days.isdigit() or int(days) < 1:
        return JSONResponse({"error": "days must be a whole number of at least 1"}, status_code=400)
    return JSONResponse(revise(state, int(days)))


async def jobs_endpoint(request: Request) -> Response:
    """GET /_emulator/reports: every report job, for inspection."""
    state: EmulatorState = request.app.state.emulator
    jobs = reporting_state(state).jobs.values()
    return JSONResponse(
        [
            {
                "id": j.id,
                "status": j.status,
                "polls": j.polls,
                "rows": j.rows,
                "customer_id": j.customer_id,
                "account_ids": list(j.request.scope.account_ids or []) if j.request.scope else [],
            }
            for j in jobs
        ]
    )
