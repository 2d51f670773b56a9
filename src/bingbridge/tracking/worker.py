"""The dispatch worker: claims due events per destination and channel, sends them in batches of up to 1,000 through
the channel (`conversions.channels`: Offline Conversions, the UET Conversions API), and writes every outcome to the
dispatch log.

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
  automatically at growing intervals (`dlq_retry_seconds` at least, up to a day), and all due at once when the
  outage that put them there ends (the lane's first answered call). While the outage lasts they fill what due
  rows leave of each batch (`claim(probe_dead_letters=True)`), so that call comes at the backoff's pace even when
  no new event arrives.
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
- Ingestion decides skipped / blocked / failed once per destination and channel (`tracking.ingest`); only
  `pending` rows are ever claimed, so the worker sends what it claims and decides nothing again.
- Every channel of a destination is its own lane (claim, pause, calls recorded with the channel), so a refused
  CAPI token pauses the Conversions API only; the call budget is the destination's, shared by its channels.
- Per-item answers (ApplyOfflineConversions partial errors, CAPI `details[].index`) and whole-call failures are
  read the same way for every channel (`conversions.delivery`).
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
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Connection, Engine

from bingbridge.api.campaign_management import MAX_CONVERSIONS_PER_CALL
from bingbridge.api.retry import next_step
from bingbridge.conversions.channels import CHANNELS, OFFLINE, Channel
from bingbridge.conversions.delivery import Delivery, Send, send_batch, stops_delivery
from bingbridge.errors import ApiError, ConfigurationError, OAuthError, RetriableError
from bingbridge.settings import Settings
from bingbridge.store.engine import utcnow
from bingbridge.tracking import destination_state as shared
from bingbridge.tracking import dispatch_log as log_rows
from bingbridge.tracking.destinations import Destination, DestinationAccess, list_destinations
from bingbridge.tracking.dispatch_log import (
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
from bingbridge.tracking.events import tracked
from bingbridge.tracking.heartbeat import lease_kept
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


def _credentials_error(error: Exception, channel: Channel) -> str:
    """The short name of a credentials refusal: `invalid_grant`, `code 105`, `UET Conversions API: code 401`, ..."""
    if isinstance(error, OAuthError):
        name = error.error
    elif isinstance(error, ApiError) and error.codes:
        name = f"code {error.codes[0]}"
    else:
        name = "secrets unreadable" if isinstance(error, ConfigurationError) else type(error).__name__
    return name if channel.name == OFFLINE else f"{channel.label}: {name}"


# A destination's channel: the unit the worker claims, pauses and sends for.
Lane = tuple[Destination, Channel]


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
        """One pass over the live destinations' channels; returns how many dispatch rows it settled or rescheduled.

        Lanes (a destination's channel) take turns, one batch each per round, so a large backlog does not starve
        the others; the pass ends when no lane has due work it may send now.
        """
        handled = 0
        active: list[Lane] = [
            (d, CHANNELS[name]) for d in list_destinations(self.engine, live_only=True) for name in d.channels
        ]
        with self._access() as access_for:
            while active and not (self._stop is not None and self._stop.is_set()):
                still = []
                for lane in active:
                    rows, more = self._dispatch_one_batch(lane, access_for)
                    handled += rows
                    if more:
                        still.append(lane)
                active = still
        return handled

    @contextmanager
    def _access(self) -> Iterator[Callable[[Destination], DestinationAccess]]:
        """Channel access made on first use in a pass. A fresh one each pass reads the destination's tokens from
        the database, so a token another worker rotated is picked up; they share this worker's connection pool."""
        made: dict[int, DestinationAccess] = {}

        def access_for(destination: Destination) -> DestinationAccess:
            if destination.id not in made:
                made[destination.id] = DestinationAccess(
                    self.engine, self.box, destination, self.base_settings, http=self.http
                )
            return made[destination.id]

        try:
            yield access_for
        finally:
            for access in made.values():
                access.close()

    # ---- one batch ----

    def _dispatch_one_batch(
        self, lane: Lane, access_for: Callable[[Destination], DestinationAccess]
    ) -> tuple[int, bool]:
        """Claim, send and settle one batch of a lane: (rows handled, whether more may be due now)."""
        destination, channel = lane
        now = self.clock()
        state = shared.read_state(self.engine, destination.id, channel.name)
        if state.paused(now):
            return 0, False
        left = budget(self.engine, destination, now)
        if left.exhausted:
            self._report_budget(destination, left)
            return 0, False
        try:
            send = channel.sender(access_for(destination))
        except ConfigurationError as exc:  # the secrets cannot be opened with this key, or the channel has none
            logger.error("destination %s (%s): %s; pausing dispatch", destination.id, channel.name, exc)
            with self.engine.begin() as conn:
                until = now + CREDENTIALS_PAUSE
                error = _credentials_error(exc, channel)
                shared.pause_for_credentials(conn, destination.id, channel.name, now=now, until=until, error=error)
            return 0, False
        size = min(self.batch_size, channel.limit)
        rows = log_rows.claim(
            self.engine,
            destination.id,
            self.worker_id,
            channel=channel.name,
            now=now,
            lease_seconds=self.lease_seconds,
            limit=size,
            probe_dead_letters=state.waiting_since is not None,  # so an outage's end is seen without new events
        )
        if not rows:
            return 0, False
        ok = self._send(lane, send, rows, state)
        return len(rows), ok and len(rows) == size

    def _send(self, lane: Lane, send: Send[object], rows: list[Claimed], state: shared.DestinationState) -> bool:
        """One call of the channel for the batch, its lease renewed meanwhile; the outcome of every row, the call
        itself and the channel's state are written in one transaction. Returns True when Microsoft answered."""
        destination, channel = lane
        batch_id = uuid.uuid4().hex
        items = [channel.item(tracked(r), r.conversion_name) for r in rows]
        ids = [r.id for r in rows]
        with lease_kept(self.engine, self.worker_id, ids, lease_seconds=self.lease_seconds, clock=self.clock):
            delivery = send_batch(send, items)
        now = self.clock()
        retry_at = now
        tracking_id = delivery.tracking_id
        error = delivery.error
        if error is None:
            outcomes = self._item_outcomes(rows, delivery)
            call = Call(destination.id, batch_id, now, len(rows), True, None, tracking_id, self.worker_id, channel.name)
            refused = sum(1 for o in outcomes if o.status == FAILED)
            logger.info(
                "destination %s (%s): batch %s sent %d, refused %d (TrackingId %s)",
                destination.id,
                channel.name,
                batch_id,
                len(outcomes) - refused,
                refused,
                tracking_id,
            )
        else:
            code = error.codes[0] if isinstance(error, ApiError) and error.codes else None
            call = Call(
                destination.id, batch_id, now, len(rows), False, code, tracking_id, self.worker_id, channel.name
            )
            retry_at = self._retry_at(error, state, now)
            outcomes = self._failure_outcomes(lane, rows, error, now, retry_at, state)
        with self.engine.begin() as conn:
            log_rows.record_call(conn, call)
            self._record_state(conn, lane, error, now, retry_at)
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
        if error is None and state.waiting_since is not None:
            # The outage is over: rows it pushed past their retry window into the dead-letter queue go out now too.
            back = replay_dead_letters(self.engine, destination_id=destination.id, channel=channel.name, now=now)
            if back:
                logger.info(
                    "destination %s (%s): outage over, %d dead letters due again", destination.id, channel.name, back
                )
        return error is None

    def _retry_at(self, error: Exception, state: shared.DestinationState, now: datetime) -> datetime:
        """When a lane whose call failed with a retriable `error` is tried again: the backoff grows with its failed
        calls in a row (capped); 117 waits the throttle window, 429 its Retry-After."""
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
        self, conn: Connection, lane: Lane, error: Exception | None, now: datetime, retry_at: datetime
    ) -> None:
        """The lane's shared state after a call: answered, outage, or credentials refused."""
        destination, channel = lane
        if isinstance(error, RetriableError):
            shared.record_failed_call(conn, destination.id, channel.name, now=now, retry_at=retry_at)
        elif error is not None and stops_delivery(error):
            until = now + CREDENTIALS_PAUSE
            reason = _credentials_error(error, channel)
            shared.pause_for_credentials(conn, destination.id, channel.name, now=now, until=until, error=reason)
        else:
            shared.record_answered_call(conn, destination.id, channel.name, now=now)

    def _item_outcomes(self, rows: list[Claimed], delivery: Delivery) -> list[Outcome]:
        outcomes = []
        for row, item in zip(rows, delivery.outcomes, strict=True):
            if item.status == "accepted":
                outcomes.append(Outcome(row.id, SENT, row.attempts + 1))
                continue
            first = item.errors[0]
            outcomes.append(
                Outcome(
                    row.id, FAILED, row.attempts + 1, reason=item.reason, code=first.code, error_code=first.error_code
                )
            )
        return outcomes

    def _failure_outcomes(
        self,
        lane: Lane,
        rows: list[Claimed],
        error: Exception,
        now: datetime,
        retry_at: datetime,
        state: shared.DestinationState,
    ) -> list[Outcome]:
        """What a failed call means for its rows; [] when they go back unchanged (credentials)."""
        destination, channel = lane
        if stops_delivery(error):
            logger.error(
                "destination %s (%s): %s, pausing dispatch for %s: %s",
                destination.id,
                channel.name,
                shared.credentials_advice(_credentials_error(error, channel)),
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
        window = replace(self.retry_window, max_age=min(self.retry_window.max_age, channel.window))
        waiting = shared.DestinationState(waiting_since=state.waiting_since or now).waiting()
        outcomes = []
        dead = 0
        for r in rows:
            if window.gives_up(r.created_at, r.occurred_at, retry_at):
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
