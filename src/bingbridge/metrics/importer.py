"""The daily ad metrics import: which accounts and days, one report per account per range, upserts, run log.

Ranges (each account's own time zone decides what "yesterday" is):
- The range always ends on the previous calendar day in the account's time zone.
- It starts at the earliest of: `--days N` back (N days ending yesterday), `--since DATE`, the lookback window
  (`--lookback-days`, default 30: recent days Microsoft may still revise are imported again and updated in place),
  and, for a plain daily run, the day after the newest stored day (so missed days are caught up). An account with
  nothing stored gets a one-year backfill by default, as Amplitude's integration offers.
- Nothing starts before the 36 months of Daily data Microsoft keeps.
One report request covers each account's whole range (Microsoft allows any custom range with Daily aggregation),
however many days that is. At most `max_in_flight` jobs run at once; on 207 ConcurrentRequestOverLimit we finish
running jobs before submitting more.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Engine

from bingbridge.api import reporting as rules
from bingbridge.api.client import BingAdsClient
from bingbridge.api.customer_management import account_predicates
from bingbridge.api.models.customer import AdvertiserAccount
from bingbridge.api.models.timezones import report_time_zone, today_in
from bingbridge.errors import ApiError, BingBridgeError, FieldProblem, ThrottledError, ValidationError
from bingbridge.metrics import reports
from bingbridge.metrics.report_file import ColumnBatch, ReportFile
from bingbridge.metrics.utm import Utm, utm_for
from bingbridge.store import ad_metrics as db
from bingbridge.store import migrate
from bingbridge.store.engine import utcnow

DEFAULT_LOOKBACK_DAYS = 30
DEFAULT_BACKFILL_DAYS = 365
MAX_IN_FLIGHT = 4
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

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.outcomes)

    @property
    def errors(self) -> list[str]:
        return [f"account {o.plan.account_id}: {o.error}" for o in self.outcomes if o.error]

    @property
    def report_ids(self) -> list[str]:
        return [o.report_request_id for o in self.outcomes if o.report_request_id]

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
    if problems:
        raise ValidationError(problems, operation="metrics import")


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
    start = max(min(starts), rules.earliest_daily_date(today))
    return AccountPlan(account.id, account.parent_customer_id, account.name or "", zone, today, min(start, end), end)


# ---- loading ----


@lru_cache(maxsize=65_536)
def _utm(url: str | None, campaign: str | None, ad: str | None) -> Utm:
    return utm_for(url, campaign, ad)


def batch_records(batch: ColumnBatch, run_id: int, imported_at: dt.datetime) -> dict[str, list[Any]]:
    """A parsed batch as database columns (store.ad_metrics.UPSERT_COLUMNS), with UTM parameters."""
    c = batch.columns
    n = batch.length

    def col(name: str) -> list[Any]:
        return c.get(name) or [None] * n

    urls, campaigns, titles = col("final_url"), col("campaign_name"), col("ad_title")
    utms = list(map(_utm, urls, campaigns, titles))
    sources, mediums, utm_campaigns, contents, terms = (list(x) for x in zip(*utms, strict=True)) if n else ([],) * 5
    zero = [0] * n
    return {
        "account_id": col("account_id"),
        "date": col("time_period"),
        "ad_id": col("ad_id"),
        "account_name": col("account_name"),
        "campaign_id": col("campaign_id"),
        "campaign_name": campaigns,
        "ad_group_id": col("ad_group_id"),
        "ad_group_name": col("ad_group_name"),
        "ad_name": titles,
        "final_url": urls,
        "impressions": c.get("impressions") or zero,
        "clicks": c.get("clicks") or zero,
        "spend": c.get("spend") or zero,
        "conversions": c.get("conversions") or zero,
        "revenue": c.get("revenue") or zero,
        "currency_code": col("currency_code"),
        "utm_source": sources,
        "utm_medium": mediums,
        "utm_campaign": utm_campaigns,
        "utm_content": contents,
        "utm_term": terms,
        "run_id": [run_id] * n,
        "imported_at": [imported_at] * n,
    }


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

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep(seconds)
            self.clock += seconds

    def load(self, outcome: AccountOutcome, job: reports.ReportJob, job_row: int) -> None:
        """Download, parse and upsert one report; the job is marked loaded in the same transaction."""
        plan = outcome.plan
        if job.url is None:  # Success without a URL: no data matched
            with self.engine.begin() as conn:
                db.mark_job(conn, job_row, "loaded", 0)
            outcome.status = "no data"
            self.progress.update(plan, "no data")
            return
        self.progress.update(plan, "downloading")
        with tempfile.TemporaryFile() as spool:
            reports.download(self.client, job, spool, self.sleep)
            spool.seek(0)
            imported_at = utcnow()
            rows = 0
            with ReportFile(spool) as report, self.engine.begin() as conn:
                for batch in report.batches():
                    records = batch_records(batch, self.run_id, imported_at)
                    db.upsert_ad_metrics_columns(conn, records)
                    self._tally(batch)
                    for sink in self.sinks:
                        sink.write(_as_records(records))
                    rows += batch.length
                    self.progress.update(plan, "loading", rows)
                db.mark_job(conn, job_row, "loaded", rows)
        outcome.rows = rows
        outcome.status = "loaded"
        self.progress.update(plan, "loaded", rows)

    def _tally(self, batch: ColumnBatch) -> None:
        currencies = batch.columns.get("currency_code") or [None] * batch.length
        spend = batch.columns.get("spend") or [0.0] * batch.length
        for currency, amount in zip(currencies, spend, strict=True):
            key = currency or "?"
            self.spend[key] = self.spend.get(key, 0.0) + amount


def _as_records(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    from bingbridge.metrics.records import export_record

    names = list(columns)
    return [export_record(dict(zip(names, row, strict=True))) for row in zip(*columns.values(), strict=True)]


def _describe(error: BingBridgeError) -> str:
    return str(error)


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
    """Import daily ad metrics into the database and log the run; see the module docstring for the ranges.

    Per-account failures (a refused report, a job that ended in Error or timed out) are recorded and the other
    accounts still load; the run's status is then "failed". Anything else (a crash, Ctrl-C) marks the run
    "interrupted" and propagates; the next run with the same ranges resumes from the saved report ids.
    """
    options = options or ImportOptions()
    now = now or dt.datetime.now(dt.UTC)
    check_options(options, now)
    progress = progress or _Silent()
    started = time.perf_counter()
    migrate(engine)
    accounts = find_accounts(client, options)
    ids = [a.id for a in accounts if a.id is not None]
    with engine.begin() as conn:
        newest = db.latest_dates(conn, ids) if ids else {}
        run_id = db.start_run(conn, options.trigger)
    plans = [plan_account(a, options, now, newest.get(a.id or 0)) for a in accounts]
    outcomes = [AccountOutcome(p) for p in plans]
    progress.planned(plans)
    run = _Run(client, engine, options, run_id, sleep, progress, list(sinks))
    status = "interrupted"
    try:
        _schedule(run, outcomes, now)
        status = "failed" if any(o.error for o in outcomes) else "succeeded"
    finally:
        result = ImportResult(run_id, status, outcomes, run.spend, time.perf_counter() - started)
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


def _schedule(run: _Run, outcomes: list[AccountOutcome], now: dt.datetime) -> None:
    """Submit, poll and load every account's report, at most `max_in_flight` at a time."""
    queue: list[AccountOutcome] = []
    active: list[tuple[AccountOutcome, reports.ReportJob, int]] = []
    cutoff = reports.report_id_cutoff(now)
    with run.engine.begin() as conn:
        for outcome in outcomes:
            plan = outcome.plan
            saved = db.resumable_job(conn, plan.account_id, plan.start, plan.end, cutoff)
            if saved and saved["status"] == "loaded":
                db.mark_job(conn, saved["id"], "resumed", saved["rows"])
                outcome.status, outcome.rows = "resumed (already loaded)", int(saved["rows"] or 0)
                outcome.report_request_id = saved["report_request_id"]
                run.progress.update(plan, outcome.status, outcome.rows)
            elif saved:
                db.mark_job(conn, saved["id"], "resumed")
                row = db.save_job(conn, run.run_id, plan.account_id, plan.start, plan.end, saved["report_request_id"])
                job = reports.ReportJob(saved["report_request_id"], plan.account_id, plan.customer_id, run.clock)
                outcome.report_request_id = job.report_request_id
                active.append((outcome, job, row))
                run.progress.update(plan, "resumed")
            else:
                queue.append(outcome)
    resumed = {id(o) for o, _, _ in active}
    while queue or active:
        _submit(run, queue, active)
        if not active:
            continue
        next_due = min(job.due for _, job, _ in active)
        run.wait(next_due - run.clock)
        for entry in [e for e in active if e[1].due <= run.clock]:
            outcome, job, row = entry
            try:
                state = reports.check(run.client, job)
            except ApiError as error:
                active.remove(entry)
                if id(outcome) in resumed and not isinstance(error, ThrottledError):
                    # A saved id Microsoft no longer knows (or a job that failed): start this account over.
                    with run.engine.begin() as conn:
                        db.mark_job(conn, row, "failed")
                    resumed.discard(id(outcome))
                    outcome.report_request_id = None
                    queue.append(outcome)
                    continue
                _fail(run, outcome, row, error)
                continue
            if state == "Pending":
                if run.clock - job.submitted_at > run.options.poll_timeout_seconds:
                    active.remove(entry)
                    outcome.status = "failed"
                    outcome.error = (
                        f"report {job.report_request_id} still Pending after "
                        f"{run.options.poll_timeout_seconds:.0f} s; the next run resumes it"
                    )
                    run.progress.update(outcome.plan, "failed")
                    continue
                job.schedule_next(run.clock)
                run.progress.update(outcome.plan, "pending")
                continue
            active.remove(entry)
            try:
                run.load(outcome, job, row)
            except BingBridgeError as error:
                _fail(run, outcome, row, error)


_Active = list[tuple[AccountOutcome, reports.ReportJob, int]]


def _submit(run: _Run, queue: list[AccountOutcome], active: _Active) -> None:
    while queue and len(active) < run.options.max_in_flight:
        outcome = queue[0]
        plan = outcome.plan
        request = rules.ad_performance_report_request(
            [plan.account_id], plan.start, plan.end, today=plan.today, time_zone=plan.time_zone
        )
        try:
            report_id = run.client.reporting.submit_generate_report(
                request, today=plan.today, customer_id=plan.customer_id, account_id=plan.account_id
            )
        except ThrottledError:
            if active:
                return  # 207 (or a throttle that outlasted the retries): let running jobs finish first
            raise
        except ApiError as error:
            queue.pop(0)
            outcome.status, outcome.error = "failed", _describe(error)
            run.progress.update(plan, "failed")
            continue
        queue.pop(0)
        with run.engine.begin() as conn:
            row = db.save_job(conn, run.run_id, plan.account_id, plan.start, plan.end, report_id)
        job = reports.ReportJob(report_id, plan.account_id, plan.customer_id, run.clock)
        job.schedule_next(run.clock)
        outcome.report_request_id = report_id
        active.append((outcome, job, row))
        run.progress.update(plan, "submitted")


def _fail(run: _Run, outcome: AccountOutcome, row: int, error: BingBridgeError) -> None:
    outcome.status, outcome.error = "failed", _describe(error)
    with run.engine.begin() as conn:
        db.mark_job(conn, row, "failed")
    run.progress.update(outcome.plan, "failed")
