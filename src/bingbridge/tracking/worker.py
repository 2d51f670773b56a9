"""The dispatch worker: claims due conversions per destination, uploads them in batches of up to 1,000, and writes
every outcome to the dispatch log.

Delivery is at least once, and effectively once: a row is marked `sent` only after Microsoft answered the call
that carried it, so a worker that dies mid-call leaves its rows claimed until the lease runs out and another
worker sends that one batch again. Microsoft keeps the first of identical conversions (click id or hashed
identity + time + goal) and ignores the repeat, so the repeat is harmless.

Choices:
- The worker owns retries: its clients have `max_retries=0`, and the one retry policy (`api.retry.next_step`)
  decides only *when* a failed batch is due again. Retriable failures (5xx, 0 InternalError, connection errors,
  HTTP 429, 117) put the batch back as `pending` with `attempts + 1`, and pause the destination until then: the
  next batch would meet the same outage. The backoff grows with the destination's failed calls in a row and is
  capped (`retry_window.RETRY_BACKOFF_CAP_SECONDS`, 5 minutes), so an outage of hours costs few calls and delivery
  resumes within minutes of Microsoft's return, by itself. A row is dead-lettered only when its retry window is
  over (`retry_window.RetryWindow`: 72 hours, and never past the channel's age limit); dead letters are retried
  automatically at growing intervals (`dlq_retry_seconds` at least, up to a day).
- Pauses, outages and refused credentials live in the database (`destination_state`), shared by every worker and
  process: the dashboard and `dispatch-log` show "waiting for Microsoft since …", and saving new credentials ends
  a pause at once.
- The lease on a claimed batch is renewed while its call is in flight (`heartbeat`), so it can be short (60 s):
  a dead worker's batch is taken over within a minute, a slow call is never sent twice.
- Credential errors (105, 106, 109 after the one refresh, a refused refresh token, undecryptable secrets) are the
  destination's fault, not the events': failing thousands of events because a token was revoked would lose them.
  The batch goes back unchanged (no attempt counted), the call is recorded as failed, health turns Down
  ("credentials refused (invalid_grant): reconnect this destination"), and the destination pauses for
  `CREDENTIALS_PAUSE` or until its credentials are saved again, whichever comes first.
- Other whole-call faults (4xx such as 201 invalid request) and per-item partial errors are `failed` with
  Microsoft's code: sending the same request again cannot succeed.
- The call budget is a sliding hour counted from `dispatch_calls` and checked before every call. It is shared by
  all workers through the database but not reserved, so workers checking at the same instant may overshoot it by
  one call each.
- Ingestion decides skipped / blocked / failed (`tracking.ingest`); the worker repeats the checks that protect
  people and calls on the rows it claims: `ad_storage` denied → `blocked` (never sent, under any circumstances),
  no click id, e-mail or phone (`events.match_keys`) → `failed` with `no_match_key`, no mapped goal → `skipped`.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Connection, Engine

from bingbridge.api.campaign_management import MAX_CONVERSIONS_PER_CALL, ItemResult
from bingbridge.api.client import BingAdsClient
from bingbridge.api.models.campaign import OfflineConversion
from bingbridge.api.retry import next_step
from bingbridge.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    ErrorDetail,
    OAuthError,
    PermissionDeniedError,
    RetriableError,
)
from bingbridge.settings import Settings
from bingbridge.store.engine import utcnow
from bingbridge.tracking import destination_state as shared
from bingbridge.tracking import dispatch_log as log_rows
from bingbridge.tracking.destinations import Destination, destination_client, list_destinations
from bingbridge.tracking.dispatch_log import (
    BLOCKED,
    CONSENT_DENIED,
    DEAD_LETTERED,
    FAILED,
    PENDING,
    SENT,
    Budget,
    Call,
    Claimed,
    DeadLetter,
    Outcome,
    budget,
    list_dead_letters,
    replay_dead_letters,
)
from bingbridge.tracking.events import match_keys
from bingbridge.tracking.heartbeat import lease_kept
from bingbridge.tracking.ingest import NO_MATCH_KEY, NOT_A_CONVERSION
from bingbridge.tracking.retry_window import RETRY_BACKOFF_CAP_SECONDS, RetryWindow
from bingbridge.tracking.secrets import SecretBox

__all__ = [
    "Budget",
    "DeadLetter",
    "Worker",
    "budget",
    "list_dead_letters",
    "new_worker_id",
    "replay_dead_letters",
]

logger = logging.getLogger("bingbridge.tracking.worker")

# How long a destination whose credentials were refused waits before one batch tries again (unless they are saved
# again before: that ends the pause at once).
CREDENTIALS_PAUSE = timedelta(minutes=5)
# The lease of a claimed batch; renewed every quarter of it while the call is in flight.
LEASE_SECONDS = 60.0
# The longest interval between two automatic retries of a dead-lettered row.
DLQ_RETRY_CAP_SECONDS = 24 * 3600.0


def new_worker_id() -> str:
    """hostname:pid:random — unique per process, readable in the dispatch log."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def build_conversion(row: Claimed, conversion_name: str) -> OfflineConversion | None:
    """The offline conversion a row stands for; None when nothing identifies the person who converted.

    With a click id the hashes are left out: the click is the deterministic match, and sending less personal data
    is the better default. Without one, hashed e-mail and phone go out (enhanced conversions).
    """
    msclkid, email, phone = match_keys(row)
    if not (msclkid or email or phone):
        return None
    return OfflineConversion(
        conversion_name=conversion_name,
        conversion_time=row.occurred_at.replace(tzinfo=UTC),
        conversion_value=row.value,
        conversion_currency_code=row.currency if row.value is not None else None,
        microsoft_click_id=msclkid,
        hashed_email_address=None if msclkid else email,
        hashed_phone_number=None if msclkid else phone,
    )


_CREDENTIAL_ERRORS = (AuthenticationError, PermissionDeniedError, OAuthError, ConfigurationError)


def _credentials_error(error: Exception) -> str:
    """The short name of a credentials refusal: `invalid_grant`, `code 105`, ..."""
    if isinstance(error, OAuthError):
        return error.error
    if isinstance(error, ApiError) and error.codes:
        return f"code {error.codes[0]}"
    return "secrets unreadable" if isinstance(error, ConfigurationError) else type(error).__name__


def _item_reason(errors: list[ErrorDetail]) -> str:
    return "; ".join(e.message or e.error_code or str(e.code) for e in errors)


@dataclass
class _Batch:
    """Rows claimed for one call, and rows decided without one."""

    rows: list[Claimed] = field(default_factory=list)
    items: list[OfflineConversion] = field(default_factory=list)
    local: list[Outcome] = field(default_factory=list)


class Worker:
    """Dispatches pending conversions of every live destination; safe to run as many as you like at once.

    `clock` gives naive UTC (the database's time); `sleep` waits between idle passes (None: wait on the stop
    event, so `stop_event.set()` wakes the worker at once). `http` is shared by every destination's client.
    """

    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        base_settings: Settings,
        *,
        worker_id: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        batch_size: int = MAX_CONVERSIONS_PER_CALL,
        poll_seconds: float = 2.0,
        retry_window: RetryWindow | None = None,
        dlq_retry_seconds: float = 3600.0,
        dlq_retry_cap_seconds: float = DLQ_RETRY_CAP_SECONDS,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] | None = None,
        http: httpx.Client | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_CONVERSIONS_PER_CALL:
            raise ValueError(f"batch_size must be 1..{MAX_CONVERSIONS_PER_CALL}, got {batch_size}")
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, got {lease_seconds}")
        self.engine = engine
        self.box = box
        self.base_settings = base_settings
        self.worker_id = worker_id or new_worker_id()
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retry_window = retry_window or RetryWindow()
        self.dlq_retry_seconds = dlq_retry_seconds
        self.dlq_retry_cap_seconds = dlq_retry_cap_seconds
        self.clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        # The retry policy decides delays; the retry window, not a count of attempts, decides when to stop.
        self._retry_settings = base_settings.with_overrides(max_retries=sys.maxsize)
        self._owns_http = http is None
        self.http = http or httpx.Client(timeout=httpx.Timeout(base_settings.timeout_seconds))
        self._budget_reported: dict[int, datetime | None] = {}
        self._stop: threading.Event | None = None

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the loop ----

    def run(self, stop_event: threading.Event) -> None:
        """Pass after pass until `stop_event` is set; idle passes wait `poll_seconds`. Errors of a pass (a database
        outage, a bug) are logged and the loop goes on: claimed rows come back when their lease expires."""
        self._stop = stop_event
        logger.info("worker %s started", self.worker_id)
        try:
            while not stop_event.is_set():
                try:
                    handled = self.run_once()
                except Exception:
                    logger.exception("worker %s: dispatch pass failed; retrying after a pause", self.worker_id)
                    handled = 0
                if handled == 0 and not stop_event.is_set():
                    if self._sleep is not None:
                        self._sleep(self.poll_seconds)
                    else:
                        stop_event.wait(self.poll_seconds)
        finally:
            self._stop = None
            logger.info("worker %s stopped", self.worker_id)

    def run_once(self) -> int:
        """One pass over the live destinations; returns how many dispatch rows it settled or rescheduled.

        Destinations take turns, one batch each per round, so a destination with a large backlog does not starve
        the others; the pass ends when no destination has due work it may send now.
        """
        handled = 0
        active = list_destinations(self.engine, live_only=True)
        with self._clients() as client_for:
            while active and not (self._stop is not None and self._stop.is_set()):
                still = []
                for destination in active:
                    rows, more = self._dispatch_one_batch(destination, client_for)
                    handled += rows
                    if more:
                        still.append(destination)
                active = still
        return handled

    @contextmanager
    def _clients(self) -> Iterator[Callable[[Destination], BingAdsClient]]:
        """Clients made on first use in a pass. A fresh one each pass reads the destination's tokens from the
        database, so a token another worker rotated is picked up; they share this worker's connection pool."""
        made: dict[int, BingAdsClient] = {}

        def client_for(destination: Destination) -> BingAdsClient:
            if destination.id not in made:
                made[destination.id] = destination_client(
                    self.engine, self.box, destination, self.base_settings, http=self.http, max_retries=0
                )
            return made[destination.id]

        try:
            yield client_for
        finally:
            for client in made.values():
                client.close()

    # ---- one batch ----

    def _dispatch_one_batch(
        self, destination: Destination, client_for: Callable[[Destination], BingAdsClient]
    ) -> tuple[int, bool]:
        """Claim, send and settle one batch of a destination: (rows handled, whether more may be due now)."""
        now = self.clock()
        state = shared.read_state(self.engine, destination.id)
        if state.paused(now):
            return 0, False
        left = budget(self.engine, destination, now)
        if left.exhausted:
            self._report_budget(destination, left)
            return 0, False
        try:
            client = client_for(destination)
        except ConfigurationError as exc:  # the secrets cannot be opened with this key
            logger.error("destination %s: %s; pausing dispatch", destination.id, exc)
            with self.engine.begin() as conn:
                shared.pause_for_credentials(
                    conn, destination.id, now=now, until=now + CREDENTIALS_PAUSE, error="secrets unreadable"
                )
            return 0, False
        batch, drained = self._claim_batch(destination, now)
        if batch.local:
            with self.engine.begin() as conn:
                log_rows.settle(conn, self.worker_id, batch.local, now=now)
        if not batch.rows:
            return len(batch.local), False
        ok = self._send(destination, client, batch, state)
        return len(batch.local) + len(batch.rows), ok and not drained

    def _claim_batch(self, destination: Destination, now: datetime) -> tuple[_Batch, bool]:
        """Claim until the batch is full or nothing is due; rows that cannot be sent are decided here and do not
        take a place in the batch, so every call but the last carries a full batch."""
        batch = _Batch()
        while len(batch.rows) < self.batch_size:
            wanted = self.batch_size - len(batch.rows)
            claimed = log_rows.claim(
                self.engine, destination.id, self.worker_id, now=now, lease_seconds=self.lease_seconds, limit=wanted
            )
            for row in claimed:
                self._prepare(destination, row, batch)
            if len(claimed) < wanted:
                return batch, True
        return batch, False

    def _prepare(self, destination: Destination, row: Claimed, batch: _Batch) -> None:
        if row.ad_storage == "denied":
            batch.local.append(Outcome(row.id, BLOCKED, row.attempts, reason=CONSENT_DENIED))
            return
        name = row.conversion_name or destination.conversion_names.get(row.event_name)
        if not name:
            reason = NOT_A_CONVERSION.format(name=row.event_name)
            batch.local.append(Outcome(row.id, log_rows.SKIPPED, row.attempts, reason=reason))
            return
        conversion = build_conversion(row, name)
        if conversion is None:
            batch.local.append(Outcome(row.id, FAILED, row.attempts, reason=NO_MATCH_KEY))
            return
        batch.rows.append(row)
        batch.items.append(conversion)

    def _send(
        self, destination: Destination, client: BingAdsClient, batch: _Batch, state: shared.DestinationState
    ) -> bool:
        """One ApplyOfflineConversions call for the batch, its lease renewed meanwhile; the outcome of every row,
        the call itself and the destination's state are written in one transaction. Returns True when Microsoft
        answered the call."""
        batch_id = uuid.uuid4().hex
        error: Exception | None = None
        results: list[ItemResult[None]] = []
        ids = [r.id for r in batch.rows]
        try:
            with lease_kept(self.engine, self.worker_id, ids, lease_seconds=self.lease_seconds, clock=self.clock):
                results = client.campaign_management.apply_offline_conversions(batch.items)
        except (ApiError, OAuthError, ConfigurationError) as exc:
            error = exc
        now = self.clock()
        retry_at = now
        if error is None:
            tracking_id = results[0].tracking_id if results else None
            outcomes = self._item_outcomes(batch.rows, results)
            call = Call(destination.id, batch_id, now, len(batch.rows), True, None, tracking_id, self.worker_id)
            refused = sum(1 for o in outcomes if o.status == FAILED)
            logger.info(
                "destination %s: batch %s sent %d, refused %d (TrackingId %s)",
                destination.id,
                batch_id,
                len(outcomes) - refused,
                refused,
                tracking_id,
            )
        else:
            tracking_id = error.tracking_id if isinstance(error, ApiError) else None
            code = error.codes[0] if isinstance(error, ApiError) and error.codes else None
            call = Call(destination.id, batch_id, now, len(batch.rows), False, code, tracking_id, self.worker_id)
            retry_at = self._retry_at(error, state, now)
            outcomes = self._failure_outcomes(destination, batch.rows, error, now, retry_at, state)
        with self.engine.begin() as conn:
            log_rows.record_call(conn, call)
            self._record_state(conn, destination, error, now, retry_at)
            if outcomes:
                kept = log_rows.settle(
                    conn, self.worker_id, outcomes, now=now, batch_id=batch_id, tracking_id=tracking_id
                )
                if kept < len(outcomes):
                    logger.warning(
                        "destination %s: batch %s: %d rows had been taken over by another worker (lease expired)",
                        destination.id,
                        batch_id,
                        len(outcomes) - kept,
                    )
            else:  # credentials refused: the rows go back untouched, due at once for whoever has working ones
                log_rows.release(conn, self.worker_id, ids, now=now, until=now)
        return error is None

    def _retry_at(self, error: Exception, state: shared.DestinationState, now: datetime) -> datetime:
        """When a destination whose call failed with a retriable `error` is tried again: the backoff grows with its
        failed calls in a row (capped); 117 waits the throttle window, 429 its Retry-After."""
        if not isinstance(error, RetriableError):
            return now
        step = next_step(
            error,
            attempt=state.failures,
            token_refreshed=True,
            settings=self._retry_settings,
            rng=self._rng,
            backoff_cap=RETRY_BACKOFF_CAP_SECONDS,
        )
        return now + timedelta(seconds=step.delay if step else 0.0)

    def _record_state(
        self, conn: Connection, destination: Destination, error: Exception | None, now: datetime, retry_at: datetime
    ) -> None:
        """The destination's shared state after a call: answered, outage, or credentials refused."""
        if error is None or not isinstance(error, (RetriableError, *_CREDENTIAL_ERRORS)):
            shared.record_answered_call(conn, destination.id, now=now)
        elif isinstance(error, RetriableError):
            shared.record_failed_call(conn, destination.id, now=now, retry_at=retry_at)
        else:
            until = now + CREDENTIALS_PAUSE
            shared.pause_for_credentials(conn, destination.id, now=now, until=until, error=_credentials_error(error))

    def _item_outcomes(self, rows: list[Claimed], results: list[ItemResult[None]]) -> list[Outcome]:
        outcomes = []
        for row, result in zip(rows, results, strict=True):
            if result.ok:
                outcomes.append(Outcome(row.id, SENT, row.attempts + 1))
                continue
            first = result.errors[0]
            outcomes.append(
                Outcome(
                    row.id,
                    FAILED,
                    row.attempts + 1,
                    reason=_item_reason(result.errors),
                    code=first.code,
                    error_code=first.error_code,
                )
            )
        return outcomes

    def _failure_outcomes(
        self,
        destination: Destination,
        rows: list[Claimed],
        error: Exception,
        now: datetime,
        retry_at: datetime,
        state: shared.DestinationState,
    ) -> list[Outcome]:
        """What a failed call means for its rows; [] when they go back unchanged (credentials)."""
        if isinstance(error, _CREDENTIAL_ERRORS):
            logger.error(
                "destination %s: %s, pausing dispatch for %s: %s",
                destination.id,
                shared.credentials_advice(_credentials_error(error)),
                CREDENTIALS_PAUSE,
                error,
            )
            return []
        assert isinstance(error, ApiError)
        first = error.errors[0] if error.errors else None
        code, error_code = (first.code, first.error_code) if first else (None, None)
        if not isinstance(error, RetriableError):
            logger.error("destination %s: batch refused, %d rows failed: %s", destination.id, len(rows), error)
            return [
                Outcome(r.id, FAILED, r.attempts + 1, reason=str(error), code=code, error_code=error_code) for r in rows
            ]
        # One delay for the whole batch keeps the rows together for the next call.
        waiting = shared.DestinationState(waiting_since=state.waiting_since or now).waiting()
        outcomes = []
        dead = 0
        for r in rows:
            if self.retry_window.gives_up(r.created_at, r.occurred_at, retry_at):
                dead += 1
                outcomes.append(
                    Outcome(
                        r.id,
                        DEAD_LETTERED,
                        r.attempts + 1,
                        reason=f"retry window over: {error}",
                        code=code,
                        error_code=error_code,
                        next_attempt_at=now + timedelta(seconds=self.dlq_delay(r, now)),
                    )
                )
            else:
                outcomes.append(
                    Outcome(
                        r.id,
                        PENDING,
                        r.attempts + 1,
                        reason=f"{waiting}: {error}",
                        code=code,
                        error_code=error_code,
                        next_attempt_at=retry_at,
                    )
                )
        logger.warning(
            "destination %s: call failed, %d rows retry at %s, %d dead-lettered: %s",
            destination.id,
            len(rows) - dead,
            retry_at.isoformat(timespec="seconds"),
            dead,
            error,
        )
        return outcomes

    def dlq_delay(self, row: Claimed, now: datetime) -> float:
        """Seconds until a dead-lettered row is retried: as long as it has been queued (so the intervals grow as
        it ages), at least dlq_retry_seconds, at most dlq_retry_cap_seconds."""
        age = (now - row.created_at).total_seconds()
        return min(self.dlq_retry_cap_seconds, max(self.dlq_retry_seconds, age))

    def _report_budget(self, destination: Destination, left: Budget) -> None:
        """Log an exhausted budget once per reset time, not on every idle pass."""
        if self._budget_reported.get(destination.id, 0) != left.resets_at:
            self._budget_reported[destination.id] = left.resets_at
            logger.warning("destination %s: %s", destination.id, left.describe())
