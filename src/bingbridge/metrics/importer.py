"""The metrics import: which accounts and days, one report job per group of accounts, upserts, run log.

Ranges (each account's own time zone decides what "yesterday" is):
- The range always ends on the previous calendar day in the account's time zone.
- It starts at the earliest of: `--days N` back (N days ending yesterday), `--since DATE`, the lookback window
  (`--lookback-days`, default 30: recent days Microsoft may still revise are imported again and updated in place),
  and, for a plain daily run, the day after the newest stored day (so missed days are caught up). An account with
  nothing stored gets a one-year backfill by default, as Amplitude's integration offers.
- Nothing starts before the data Microsoft keeps: 36 months of daily (and longer) data, 6 months of hourly.
Jobs (reference 11): accounts whose ranges agree share one report of up to 1,000 AccountIds (`group_size`), so a
daily run over 1,000 accounts is one job per distinct range, however many days it covers. At most
`max_in_flight` jobs run at once; on 207 ConcurrentRequestOverLimit we finish running jobs before submitting more.
Each job is saved with what it asked, so a cut-short run resumes per job. A job that fails is split in two and
both halves submitted again, until the account that fails is alone: the rest of its group still loads.

Any report type of `bingbridge.metrics.report_types` at any aggregation it offers is imported the same way, into
the table its spec describes.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine

from bingbridge.api import reporting as rules
from bingbridge.api.client import BingAdsClient
from bingbridge.api.customer_management import account_predicates
from bingbridge.api.models.customer import AdvertiserAccount
from bingbridge.api.models.timezones import report_time_zone, today_in
from bingbridge.errors import (
    ApiError,
    BingBridgeError,
    FieldProblem,
    LeaseHeld,
    ThrottledError,
    ValidationError,
)
from bingbridge.metrics import loading, reports
from bingbridge.metrics.report_file import ReportFile
from bingbridge.metrics.report_types import AGGREGATIONS, ReportType, report_type
from bingbridge.store import ad_metrics as db
from bingbridge.store import leases, migrate
from bingbridge.store.engine import utcnow

DEFAULT_LOOKBACK_DAYS = 30
DEFAULT_BACKFILL_DAYS = 365
MAX_IN_FLIGHT = 4
GROUP_SIZE = rules.MAX_REPORT_ACCOUNTS
# The lease that keeps imports one at a time (`store.leases`), renewed while one runs.
IMPORT_LEASE = "metrics-import"
IMPORT_LEASE_LENGTH = dt.timedelta(minutes=2)
# The time zone with the latest "today" on Earth (UTC+14): checking --since against it before any call can only be
# stricter than each account's own check.
_LATEST_ZONE = dt.timezone(dt.timedelta(hours=14))


@dataclass(frozen=True)
class ImportOptions:
    """What to import. Accounts: by id, else by name filter (contains), else every account the user can reach."""

    account_ids: Sequence[int] = ()
    account_name: str | None = None
    days: int | None = None
    since: dt.date | None = None
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    trigger: str = "library"
    max_in_flight: int = MAX_IN_FLIGHT
    poll_timeout_seconds: float = reports.POLL_TIMEOUT_SECONDS
    report: str = "ad"  # a name of bingbridge.metrics.report_types.REPORT_TYPES
    aggregation: str = "Daily"  # Microsoft's ReportAggregation value
    columns: Sequence[str] | None = None  # Microsoft's column names; default: the spec's
    group_size: int = GROUP_SIZE  # accounts per report job


@dataclass(frozen=True)
class AccountPlan:
    """One account's part of a run: one report for start..end."""

    account_id: int
    customer_id: int | None
    name: str
    time_zone: str
    today: dt.date
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class AccountOutcome:
    plan: AccountPlan
    status: str = "planned"  # loaded, no data, resumed (already loaded), failed
    rows: int = 0
    report_request_id: str | None = None
    error: str | None = None


@dataclass
class ImportResult:
    """What a run did; also stored in `import_runs`."""

    run_id: int
    status: str
    outcomes: list[AccountOutcome]
    spend: dict[str, float] = field(default_factory=dict)
    duration_seconds: float = 0.0
    jobs: int = 0  # report jobs submitted

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.outcomes)

    @property
    def errors(self) -> list[str]:
        return [f"account {o.plan.account_id}: {o.error}" for o in self.outcomes if o.error]

    @property
    def report_ids(self) -> list[str]:
        return list(dict.fromkeys(o.report_request_id for o in self.outcomes if o.report_request_id))

    @property
    def start(self) -> dt.date | None:
        return min((o.plan.start for o in self.outcomes), default=None)

    @property
    def end(self) -> dt.date | None:
        return max((o.plan.end for o in self.outcomes), default=None)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1 if self.start and self.end else 0

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "accounts": len(self.outcomes),
            "start": self.start,
            "end": self.end,
            "days": self.days,
            "rows": self.rows,
            "jobs": self.jobs,
            "spend": {k: round(v, 2) for k, v in sorted(self.spend.items())},
            "report_ids": self.report_ids,
            "duration_seconds": round(self.duration_seconds, 3),
            "errors": self.errors,
        }


class ImportProgress(Protocol):
    """What a progress display hears about (the CLI's rich bars implement it)."""

    def planned(self, plans: Sequence[AccountPlan]) -> None: ...

    def update(self, plan: AccountPlan, state: str, rows: int = 0) -> None: ...


class _Silent:
    def planned(self, plans: Sequence[AccountPlan]) -> None:
        pass

    def update(self, plan: AccountPlan, state: str, rows: int = 0) -> None:
        pass


# ---- planning ----


def check_options(options: ImportOptions, now: dt.datetime) -> None:
    """Refuse impossible options before any call, naming the option."""
    problems: list[FieldProblem] = []
    latest_today = now.astimezone(_LATEST_ZONE).date()
    earliest = rules.earliest_daily_date(latest_today)
    max_days = (latest_today - dt.timedelta(days=1) - earliest).days + 1
    if options.days is not None and options.since is not None:
        problems.append(FieldProblem("days", "give --days or --since, not both"))
    if options.days is not None and not 1 <= options.days <= max_days:
        rule = f"must be 1 to {max_days} (Microsoft keeps 36 months of daily data), got {options.days}"
        problems.append(FieldProblem("days", rule))
    if options.since is not None:
        if options.since < earliest:
            problems.append(
                FieldProblem("since", f"{options.since} is older than the 36 months Microsoft keeps (from {earliest})")
            )
        if options.since >= latest_today:
            problems.append(FieldProblem("since", f"{options.since} is not in the past"))
    if not 0 <= options.lookback_days < max_days:
        problems.append(FieldProblem("lookback_days", f"must be 0 to {max_days - 1}, got {options.lookback_days}"))
    if any(i <= 0 for i in options.account_ids):
        problems.append(FieldProblem("account_ids", "account ids are positive whole numbers"))
    if options.account_name is not None and len(options.account_name) < 4:
        problems.append(FieldProblem("account_name", "give at least 4 characters (Microsoft's search minimum)"))
    if options.max_in_flight < 1:
        problems.append(FieldProblem("max_in_flight", "must be at least 1"))
    if not 1 <= options.group_size <= rules.MAX_REPORT_ACCOUNTS:
        problems.append(FieldProblem("group_size", f"must be 1 to {rules.MAX_REPORT_ACCOUNTS} (Microsoft's limit)"))
    problems += _report_problems(options)
    if problems:
        raise ValidationError(problems, operation="metrics import")


def _report_problems(options: ImportOptions) -> list[FieldProblem]:
    try:
        spec = report_type(options.report)
    except KeyError as exc:
        return [FieldProblem("report", str(exc.args[0]))]
    if options.aggregation not in AGGREGATIONS.values():
        return [FieldProblem("aggregation", f"must be one of {', '.join(AGGREGATIONS)}")]
    if options.columns is None:
        return []
    columns = list(options.columns)
    unknown = [c for c in columns if c not in spec.known_columns]
    if unknown:
        known = ", ".join(spec.known_columns)
        return [FieldProblem("columns", f"unknown {spec.name} report columns {unknown}; known: {known}")]
    needed = [*spec.key, *(() if options.aggregation == "Summary" else ("TimePeriod",))]
    missing = [c for c in needed if c not in columns]
    if missing:
        return [FieldProblem("columns", f"the {spec.name} report needs {missing} to tell its rows apart")]
    if options.aggregation == "Summary" and "TimePeriod" in columns:
        return [FieldProblem("columns", "TimePeriod cannot be used with Summary aggregation (Microsoft: 2034)")]
    if not any(c in spec.measures for c in columns):
        return [FieldProblem("columns", f"give at least one measure column, e.g. {spec.measures[0]}")]
    return []


def find_accounts(client: BingAdsClient, options: ImportOptions) -> list[AdvertiserAccount]:
    """The accounts to import, by id, by name filter, or every account the signed-in user can reach."""
    service = client.customer_management
    if options.account_ids:
        wanted = list(dict.fromkeys(options.account_ids))
        found: list[AdvertiserAccount] = []
        for i in range(0, len(wanted), 100):
            found += service.iter_accounts(account_predicates(account_id=wanted[i : i + 100]))
        missing = sorted(set(wanted) - {a.id for a in found})
        if missing:
            raise ValidationError(
                [FieldProblem("account_ids", f"not accessible to the signed-in user: {missing}")],
                operation="metrics import",
            )
        return found
    if options.account_name:
        return list(service.iter_accounts(account_predicates(name=options.account_name)))
    user = service.get_user().user
    assert user is not None and user.id is not None
    return list(service.iter_accounts(account_predicates(user_id=user.id)))


def plan_account(
    account: AdvertiserAccount, options: ImportOptions, now: dt.datetime, newest_stored: dt.date | None
) -> AccountPlan:
    """Decide the account's range (see the module docstring)."""
    assert account.id is not None
    zone = report_time_zone(account.time_zone)
    today = today_in(zone, now)
    end = today - dt.timedelta(days=1)
    starts = [end - dt.timedelta(days=options.lookback_days)]
    if options.days is not None:
        starts.append(end - dt.timedelta(days=options.days - 1))
    elif options.since is not None:
        starts.append(options.since)
    elif newest_stored is None:
        starts.append(end - dt.timedelta(days=DEFAULT_BACKFILL_DAYS - 1))
    else:
        starts.append(newest_stored + dt.timedelta(days=1))
    start = max(min(starts), rules.earliest_date(today, options.aggregation))
    return AccountPlan(account.id, account.parent_customer_id, account.name or "", zone, today, min(start, end), end)


# ---- grouping ----


@dataclass
class _Group:
    """One report job: accounts whose ranges agree (at most `group_size`), and their outcomes."""

    outcomes: list[AccountOutcome]
    request: db.JobRequest
    resumed: bool = False

    @property
    def first(self) -> AccountPlan:
        return self.outcomes[0].plan

    def halves(self, options: ImportOptions) -> list[_Group]:
        """The group split in two, to find the account that fails (each half is its own job)."""
        middle = len(self.outcomes) // 2
        return [_group(part, options) for part in (self.outcomes[:middle], self.outcomes[middle:])]


def _group(outcomes: list[AccountOutcome], options: ImportOptions) -> _Group:
    plan = outcomes[0].plan
    spec = report_type(options.report)
    columns = tuple(options.columns or spec.default_columns(options.aggregation))
    ids = tuple(o.plan.account_id for o in outcomes)
    return _Group(outcomes, db.JobRequest(spec.name, options.aggregation, columns, ids, plan.start, plan.end))


def group_accounts(outcomes: Sequence[AccountOutcome], options: ImportOptions) -> list[_Group]:
    """Accounts with the same range share a job of up to `group_size` accounts (Microsoft takes 1,000)."""
    by_range: dict[tuple[dt.date, dt.date], list[AccountOutcome]] = {}
    for outcome in sorted(outcomes, key=lambda o: o.plan.account_id):
        by_range.setdefault((outcome.plan.start, outcome.plan.end), []).append(outcome)
    size = options.group_size
    return [
        _group(members[i : i + size], options)
        for _, members in sorted(by_range.items())
        for i in range(0, len(members), size)
    ]


# ---- loading ----


class Sink(Protocol):
    """Somewhere else imported records go (library use); the database is always written."""

    def write(self, records: Sequence[dict[str, Any]]) -> None: ...


@dataclass
class _Run:
    client: BingAdsClient
    engine: Engine
    options: ImportOptions
    run_id: int
    sleep: Callable[[float], None]
    progress: ImportProgress
    sinks: Sequence[Sink]
    spend: dict[str, float] = field(default_factory=dict)
    clock: float = 0.0  # seconds slept so far: the poll schedule's time
    jobs: int = 0  # report jobs submitted

    @property
    def spec(self) -> ReportType:
        return report_type(self.options.report)

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep(seconds)
            self.clock += seconds

    def tell(self, group: _Group, state: str) -> None:
        for outcome in group.outcomes:
            self.progress.update(outcome.plan, state, outcome.rows)

    def load(self, group: _Group, job: reports.ReportJob, job_row: int) -> None:
        """Download, parse and upsert one report; the job is marked loaded in the same transaction."""
        if job.url is None:  # Success without a URL: no data matched
            with self.engine.begin() as conn:
                db.mark_job(conn, job_row, "loaded", 0)
            for outcome in group.outcomes:
                outcome.status = "no data"
            self.tell(group, "no data")
            return
        self.tell(group, "downloading")
        spec, aggregation = self.spec, self.options.aggregation
        rows: Counter[int] = Counter()
        with tempfile.TemporaryFile() as spool:
            reports.download(self.client, job, spool, self.sleep)
            spool.seek(0)
            imported_at = utcnow()

            def stored(records: dict[str, list[Any]]) -> None:
                self._tally(records)
                rows.update(records["account_id"])
                for sink in self.sinks:
                    sink.write(loading.export_records(spec, aggregation, records))

            with ReportFile(spool) as report, self.engine.begin() as conn:
                loading.load_report(conn, report, spec, aggregation, group.request, self.run_id, imported_at, stored)
                db.mark_job(conn, job_row, "loaded", sum(rows.values()))
        for outcome in group.outcomes:
            outcome.rows = rows.get(outcome.plan.account_id, 0)
            outcome.status = "loaded" if outcome.rows else "no data"
        self.tell(group, "loaded")

    def _tally(self, records: dict[str, list[Any]]) -> None:
        n = len(records["account_id"])
        currencies = records.get("currency_code") or [None] * n
        spend = records.get("spend") or [0.0] * n
        for currency, amount in zip(currencies, spend, strict=True):
            key = currency or "?"
            self.spend[key] = self.spend.get(key, 0.0) + amount


def run_import(
    client: BingAdsClient,
    engine: Engine,
    options: ImportOptions | None = None,
    *,
    now: dt.datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: ImportProgress | None = None,
    sinks: Iterable[Sink] = (),
) -> ImportResult:
    """Import a report type's metrics into the database and log the run; see the module docstring.

    Failures (a refused report, a job that ended in Error or timed out) are narrowed down to the account that
    fails: its group is split and submitted again until that account is alone, so the rest still loads; the run's
    status is then "failed". Anything else (a crash, Ctrl-C) marks the run "interrupted" and propagates; the next
    run with the same ranges resumes from the saved report ids.

    One import runs at a time on a database, whichever process, command or schedule starts it (the lease
    `IMPORT_LEASE`): another one meanwhile raises `LeaseHeld` before any call.
    """
    options = options or ImportOptions()
    now = now or dt.datetime.now(dt.UTC)
    check_options(options, now)
    migrate(engine)
    with leases.kept(engine, IMPORT_LEASE, length=IMPORT_LEASE_LENGTH, busy=_import_running):
        return _import(client, engine, options, now, sleep, progress or _Silent(), sinks)


def _import_running(lease: leases.Lease) -> LeaseHeld:
    since = lease.taken_at.isoformat(sep=" ", timespec="seconds")
    return LeaseHeld(
        f"a metrics import is running already (since {since} UTC)",
        hint="Wait for it to finish (`bingbridge metrics runs` lists it); one whose process died frees the "
        f"database within {IMPORT_LEASE_LENGTH.seconds // 60} minutes.",
    )


def _import(
    client: BingAdsClient,
    engine: Engine,
    options: ImportOptions,
    now: dt.datetime,
    sleep: Callable[[float], None],
    progress: ImportProgress,
    sinks: Iterable[Sink],
) -> ImportResult:
    started = time.perf_counter()
    accounts = find_accounts(client, options)
    ids = [a.id for a in accounts if a.id is not None]
    table = db.report_table(report_type(options.report), options.aggregation)
    with engine.begin() as conn:
        newest = db.latest_dates(conn, ids, table) if ids else {}
        run_id = db.start_run(conn, options.trigger)
    plans = [plan_account(a, options, now, newest.get(a.id or 0)) for a in accounts]
    outcomes = [AccountOutcome(p) for p in plans]
    progress.planned(plans)
    run = _Run(client, engine, options, run_id, sleep, progress, list(sinks))
    status = "interrupted"
    try:
        _schedule(run, group_accounts(outcomes, options), now)
        status = "failed" if any(o.error for o in outcomes) else "succeeded"
    finally:
        result = ImportResult(run_id, status, outcomes, run.spend, time.perf_counter() - started, run.jobs)
        with engine.begin() as conn:
            db.finish_run(
                conn,
                run_id,
                status=status,
                start_date=result.start,
                end_date=result.end,
                accounts=len(outcomes),
                rows=result.rows,
                spend={k: round(v, 2) for k, v in result.spend.items()},
                report_ids=result.report_ids,
                ranges=[
                    {
                        "account_id": o.plan.account_id,
                        "start": o.plan.start.isoformat(),
                        "end": o.plan.end.isoformat(),
                        "rows": o.rows,
                        "status": o.status,
                    }
                    for o in outcomes
                ],
                errors=result.errors,
                duration_seconds=result.duration_seconds,
            )
    return result


_Active = list[tuple[_Group, reports.ReportJob, int]]


def _resume(run: _Run, groups: list[_Group], now: dt.datetime) -> tuple[list[_Group], _Active]:
    """Groups whose job a cut-short run already submitted are polled again (or counted, when loaded)."""
    queue: list[_Group] = []
    active: _Active = []
    cutoff = reports.report_id_cutoff(now)
    with run.engine.begin() as conn:
        for group in groups:
            saved = db.resumable_job(conn, group.request, cutoff)
            if saved is None:
                queue.append(group)
                continue
            report_id = saved["report_request_id"]
            for outcome in group.outcomes:
                outcome.report_request_id = report_id
            if saved["status"] == "loaded":
                db.mark_job(conn, saved["id"], "resumed", saved["rows"])
                for outcome in group.outcomes:
                    outcome.status = "resumed (already loaded)"
                run.tell(group, "resumed (already loaded)")
                continue
            db.mark_job(conn, saved["id"], "resumed")
            row = db.save_job(conn, run.run_id, group.request, report_id)
            plan = group.first
            group.resumed = True
            active.append((group, reports.ReportJob(report_id, plan.account_id, plan.customer_id, run.clock), row))
            run.tell(group, "resumed")
    return queue, active


def _schedule(run: _Run, groups: list[_Group], now: dt.datetime) -> None:
    """Submit, poll and load every group's report, at most `max_in_flight` at a time."""
    queue, active = _resume(run, groups, now)
    while queue or active:
        _submit(run, queue, active)
        if not active:
            continue
        next_due = min(job.due for _, job, _ in active)
        run.wait(next_due - run.clock)
        for entry in [e for e in active if e[1].due <= run.clock]:
            group, job, row = entry
            try:
                state = reports.check(run.client, job)
            except ApiError as error:
                active.remove(entry)
                if group.resumed and not isinstance(error, ThrottledError):
                    # A saved id Microsoft no longer knows (or a job that failed): submit this group again.
                    with run.engine.begin() as conn:
                        db.mark_job(conn, row, "failed")
                    group.resumed = False
                    queue.append(group)
                    continue
                _fail(run, queue, group, row, error)
                continue
            if state == "Pending":
                if run.clock - job.submitted_at > run.options.poll_timeout_seconds:
                    active.remove(entry)
                    message = (
                        f"report {job.report_request_id} still Pending after "
                        f"{run.options.poll_timeout_seconds:.0f} s; the next run resumes it"
                    )
                    for outcome in group.outcomes:
                        outcome.status, outcome.error = "failed", message
                    run.tell(group, "failed")
                    continue
                job.schedule_next(run.clock)
                run.tell(group, "pending")
                continue
            active.remove(entry)
            try:
                run.load(group, job, row)
            except BingBridgeError as error:
                _fail(run, queue, group, row, error)


def _submit(run: _Run, queue: list[_Group], active: _Active) -> None:
    while queue and len(active) < run.options.max_in_flight:
        group = queue[0]
        plan, request = group.first, group.request
        body = rules.report_request(
            request.account_ids,
            request.start,
            request.end,
            today=plan.today,
            report=run.spec,
            time_zone=plan.time_zone,
            columns=request.columns,
            aggregation=request.aggregation,
        )
        try:
            report_id = run.client.reporting.submit_generate_report(
                body, today=plan.today, customer_id=plan.customer_id, account_id=plan.account_id
            )
        except ThrottledError:
            if active:
                return  # 207 (or a throttle that outlasted the retries): let running jobs finish first
            raise
        except ApiError as error:
            queue.pop(0)
            _fail(run, queue, group, None, error)
            continue
        queue.pop(0)
        run.jobs += 1
        with run.engine.begin() as conn:
            row = db.save_job(conn, run.run_id, request, report_id)
        job = reports.ReportJob(report_id, plan.account_id, plan.customer_id, run.clock)
        job.schedule_next(run.clock)
        for outcome in group.outcomes:
            outcome.report_request_id = report_id
        active.append((group, job, row))
        run.tell(group, "submitted")


def _fail(run: _Run, queue: list[_Group], group: _Group, row: int | None, error: BingBridgeError) -> None:
    """A job of several accounts is split in two and both halves queued; a lone account's failure is final."""
    if row is not None:
        with run.engine.begin() as conn:
            db.mark_job(conn, row, "failed")
    if len(group.outcomes) > 1:
        queue.extend(group.halves(run.options))
        run.tell(group, "retrying in smaller groups")
        return
    outcome = group.outcomes[0]
    outcome.status, outcome.error = "failed", str(error)
    run.tell(group, "failed")
