"""The write side of the dispatch log: claiming due rows with a lease, the status changes a worker makes, the call
budget, and the dead-letter queue.

`dispatches` is the work queue and the per-event log at once. A row's life:

    pending ──claim──> (pending, claimed_by=W, claim_expires_at=T) ──call──> sent | failed
       ^                     │ retriable failure                               (partial error, 4xx: never retried)
       └──── backoff ────────┤
                             └── retry window over ──> dead_lettered ──DLQ retry due / replay──> claimed again

`skipped` and `blocked` rows are written by ingestion and never claimed. A claim is a lease, not a lock held for
the length of a call: the worker renews it while its call is in flight (`renew`, the heartbeat), and a worker that
dies leaves its rows claimed until `claim_expires_at`, after which any worker claims them again. Every change a
worker makes to a claimed row is guarded by `claimed_by = worker`, so a worker whose lease ran out cannot overwrite
the work of the worker that took the rows over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update

from bingbridge.store.schema import dispatch_calls, dispatches, events
from bingbridge.tracking.destination_state import retry_now
from bingbridge.tracking.events import Columns

if TYPE_CHECKING:
    from bingbridge.tracking.destinations import Destination

PENDING = "pending"
SENT = "sent"
SKIPPED = "skipped"
BLOCKED = "blocked"
FAILED = "failed"
DEAD_LETTERED = "dead_lettered"
STATUSES = (PENDING, SENT, SKIPPED, BLOCKED, FAILED, DEAD_LETTERED)

# The call budget is a sliding window of this length (the seed: "1,000 API calls per hour").
BUDGET_WINDOW = timedelta(hours=1)


@dataclass(slots=True)
class Claimed(Columns):
    """A claimed dispatch row: the event's columns, and the row's own fields."""

    id: int
    event_pk: int
    status: str  # pending, or dead_lettered for a DLQ retry
    attempts: int
    conversion_name: str | None
    created_at: datetime  # when the row was queued: the retry window counts from here


_EVENT_COLUMNS = [events.c[f.name] for f in fields(Columns)]


def _due_sources(destination_id: int, channel: str, now: datetime, *, probe: bool) -> list[tuple[Any, Any]]:
    """The WHERE clauses of due rows, each with the order an index serves, most urgent source first.

    Due: `pending` whose `next_attempt_at` has come (ingestion writes `now`; NULL, which none of our code writes,
    counts as due), or `dead_lettered` whose DLQ retry has come, and with `probe` any `dead_lettered` row (last);
    and unclaimed or with an expired lease. Each source is a range of `ix_dispatches_queue (destination_id,
    channel, status, next_attempt_at)` read in index order, so a claim reads about `limit` rows however long the
    queue is. (One OR across statuses would make both databases read and sort every due row of the destination at
    every claim.)
    """
    d = dispatches.c
    mine = and_(d.destination_id == destination_id, d.channel == channel)
    free = or_(d.claim_expires_at.is_(None), d.claim_expires_at <= now)
    sources = [
        (and_(mine, d.status == PENDING, d.next_attempt_at.is_(None), free), d.id),
        (and_(mine, d.status == PENDING, d.next_attempt_at <= now, free), d.next_attempt_at),
        (and_(mine, d.status == DEAD_LETTERED, d.next_attempt_at <= now, free), d.next_attempt_at),
    ]
    if probe:
        sources.append((and_(mine, d.status == DEAD_LETTERED, free), d.next_attempt_at))
    return sources


def claim(
    engine: Engine,
    destination_id: int,
    worker_id: str,
    *,
    channel: str,
    now: datetime,
    lease_seconds: float,
    limit: int,
    probe_dead_letters: bool = False,
) -> list[Claimed]:
    """Take up to `limit` due rows of a destination's channel for `worker_id` until now + lease; earliest first.
    With `probe_dead_letters` (the lane is in an outage) dead letters fill what due rows leave of the batch, whenever
    their DLQ retry is: the lane's backoff paces them, and the call that gets through ends the outage for all.

    One code path for both databases, a statement per source of due rows (`_due_sources`):
    `WITH picked AS (SELECT id … LIMIT n FOR UPDATE SKIP LOCKED) UPDATE dispatches … FROM picked`.
    On PostgreSQL the locking CTE runs exactly once and skips rows another worker is claiming at this instant.
    (The tempting `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)` is wrong: when a row changes
    under it, PostgreSQL's recheck may run the sub-select again and claim far more than n rows.) The UPDATE joins
    on the primary key only: the picked rows are locked until commit, so repeating the due test there adds nothing
    but a chance for a bad plan (a nested loop over the whole queue when statistics are stale).
    SQLite renders no FOR UPDATE and needs none: an UPDATE statement takes the database's write lock before it
    reads, so claims are serialised (a SELECT-then-UPDATE transaction would instead fail with SQLITE_BUSY on a
    stale snapshot). UPDATE … FROM and RETURNING need SQLite 3.35 or newer (Python 3.11 builds bundle newer).
    """
    d = dispatches.c
    lease_until = now + timedelta(seconds=lease_seconds)
    ids: list[int] = []
    with engine.begin() as conn:
        for condition, order in _due_sources(destination_id, channel, now, probe=probe_dead_letters):
            wanted = limit - len(ids)
            if wanted <= 0:
                break
            picked = (
                select(d.id).where(condition).order_by(order).limit(wanted).with_for_update(skip_locked=True)
            ).cte("picked")
            ids += conn.execute(
                update(dispatches)
                .where(d.id == picked.c.id)
                .values(claimed_by=worker_id, claim_expires_at=lease_until, updated_at=now)
                .returning(d.id)
            ).scalars()
        if not ids:
            return []
        rows = conn.execute(
            select(*_EVENT_COLUMNS, d.id, d.event_pk, d.status, d.attempts, d.conversion_name, d.created_at)
            .join(events, events.c.id == d.event_pk)
            .where(d.id.in_(ids))
            .order_by(d.id)
        ).all()
    return [Claimed(*tuple(row)) for row in rows]  # the columns are selected in the field order


@dataclass(frozen=True)
class Outcome:
    """The new state of one claimed row after a call (or a decision made without one)."""

    id: int
    status: str
    attempts: int
    reason: str | None = None
    code: int | None = None
    error_code: str | None = None
    next_attempt_at: datetime | None = None


def settle(
    conn: Connection,
    worker_id: str,
    outcomes: Sequence[Outcome],
    *,
    now: datetime,
    batch_id: str | None = None,
    tracking_id: str | None = None,
) -> int:
    """Write each row's outcome and end the claim; returns how many rows this worker still held.

    Rows another worker took over after our lease ran out are left alone (their count is missing from the result).
    `claimed_by` stays on a row that reached a final state, as the record of which worker delivered it. Rows with
    the same outcome are written by one UPDATE (a batch is usually one group): per-row statements cost more than
    the call to Microsoft.
    """
    groups: dict[tuple[object, ...], list[int]] = {}
    for o in outcomes:
        groups.setdefault((o.status, o.attempts, o.reason, o.code, o.error_code, o.next_attempt_at), []).append(o.id)
    d = dispatches.c
    kept = 0
    for (status, attempts, reason, code, error_code, next_attempt_at), ids in groups.items():
        result = conn.execute(
            update(dispatches)
            .where(d.id.in_(ids), d.claimed_by == worker_id)
            .values(
                status=status,
                attempts=attempts,
                reason=reason,
                code=code,
                error_code=error_code,
                next_attempt_at=next_attempt_at,
                # A row going back to the queue is free for any worker; a settled one remembers who settled it.
                claimed_by=None if status in (PENDING, DEAD_LETTERED) else worker_id,
                claim_expires_at=None,
                batch_id=batch_id,
                tracking_id=tracking_id,
                sent_at=now if status == SENT else None,
                updated_at=now,
            )
        )
        kept += int(result.rowcount)
    return kept


def release(conn: Connection, worker_id: str, ids: Iterable[int], *, now: datetime, until: datetime) -> None:
    """Give claimed rows back unchanged (no attempt counted), due again at `until`."""
    d = dispatches.c
    conn.execute(
        update(dispatches)
        .where(d.id.in_(list(ids)), d.claimed_by == worker_id, d.status.in_((PENDING, DEAD_LETTERED)))
        .values(claimed_by=None, claim_expires_at=None, next_attempt_at=until, updated_at=now)
    )


def renew(engine: Engine, worker_id: str, ids: Iterable[int], *, now: datetime, lease_seconds: float) -> int:
    """Extend this worker's lease on rows it still holds to now + lease (the heartbeat of a call in flight)."""
    d = dispatches.c
    with engine.begin() as conn:
        return int(
            conn.execute(
                update(dispatches)
                .where(d.id.in_(list(ids)), d.claimed_by == worker_id, d.status.in_((PENDING, DEAD_LETTERED)))
                .values(claim_expires_at=now + timedelta(seconds=lease_seconds))
            ).rowcount
        )


@dataclass(frozen=True)
class Call:
    """One upload call as `dispatch_calls` records it: the budget and the health badge are counted from these."""

    destination_id: int
    batch_id: str
    at: datetime
    rows: int
    ok: bool  # Microsoft answered (partial errors included); False for faults, throttling, connection errors
    code: int | None = None
    tracking_id: str | None = None
    worker: str | None = None
    channel: str = "offline"


def record_call(conn: Connection, call: Call) -> None:
    conn.execute(
        insert(dispatch_calls).values(
            destination_id=call.destination_id,
            batch_id=call.batch_id,
            at=call.at,
            rows=call.rows,
            ok=int(call.ok),
            code=call.code,
            tracking_id=call.tracking_id,
            worker=call.worker,
            channel=call.channel,
        )
    )


# ---- the call budget ----


@dataclass(frozen=True)
class Budget:
    """Calls left of a destination's hourly budget; `resets_at` is when the oldest call in the window ages out
    (None when the window holds no call)."""

    remaining: int
    limit: int
    used: int
    resets_at: datetime | None

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0

    def describe(self) -> str:
        head = "budget exhausted" if self.exhausted else "budget"
        text = f"{head}: {self.remaining} of {self.limit} calls left"
        if self.resets_at is not None:
            text += f", resets at {self.resets_at.isoformat(sep=' ', timespec='seconds')} UTC"
        return text


def budget(engine: Engine, destination: Destination, now: datetime) -> Budget:
    """The destination's budget (`calls_per_hour`) over the sliding hour before `now`.

    Every recorded call counts, failed ones too: each reached (or tried to reach) Microsoft. When more calls than
    the limit are in the window (the limit was lowered, or two workers checked at the same instant), a slot frees
    only when enough of the oldest calls age out, so `resets_at` is the time the window drops below the limit.
    """
    c = dispatch_calls.c
    destination_id, limit = destination.id, destination.calls_per_hour
    since = now - BUDGET_WINDOW
    with engine.connect() as conn:
        used = conn.execute(select(func.count()).where(c.destination_id == destination_id, c.at > since)).scalar_one()
        resets_at = None
        if used:
            # The (used - limit + 1)-th oldest call must leave the window before a call may be made again.
            skip = max(0, used - limit)
            first = conn.execute(
                select(c.at)
                .where(c.destination_id == destination_id, c.at > since)
                .order_by(c.at)
                .offset(skip)
                .limit(1)
            ).scalar_one()
            resets_at = first + BUDGET_WINDOW
    return Budget(remaining=max(0, limit - used), limit=limit, used=used, resets_at=resets_at)


# ---- the dead-letter queue ----


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered dispatch: the event it carries, why it keeps failing, and when it is retried next."""

    id: int
    destination_id: int
    event_id: str
    event_name: str
    conversion_name: str | None
    attempts: int
    reason: str | None
    code: int | None
    next_attempt_at: datetime | None
    updated_at: datetime


def list_dead_letters(
    engine: Engine, *, destination_id: int | None = None, limit: int | None = 100
) -> list[DeadLetter]:
    """Dead-lettered dispatches, oldest first (for `bingbridge dlq list` and the dashboard)."""
    d = dispatches.c
    query = (
        select(
            d.id,
            d.destination_id,
            events.c.event_id,
            events.c.event_name,
            d.conversion_name,
            d.attempts,
            d.reason,
            d.code,
            d.next_attempt_at,
            d.updated_at,
        )
        .join(events, events.c.id == d.event_pk)
        .where(d.status == DEAD_LETTERED)
        .order_by(d.id)
    )
    if destination_id is not None:
        query = query.where(d.destination_id == destination_id)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [DeadLetter(**row._asdict()) for row in conn.execute(query)]


def replay_dead_letters(
    engine: Engine,
    *,
    destination_id: int | None = None,
    channel: str | None = None,
    dispatch_ids: Sequence[int] | None = None,
    now: datetime,
) -> int:
    """Make dead-lettered dispatches due now (all, one destination's or channel's, or the given ids); returns how many.

    They stay `dead_lettered` until a worker takes them: each retry is one attempt, and a retriable failure puts
    the row back in the queue with the next, longer, DLQ interval. Rows of other statuses are never touched.
    The retry pause of their lanes ends too (`destination_state.retry_now`): a replay means "try now", also
    during an outage; a credentials pause still lasts until the credentials change.
    """
    d = dispatches.c
    wanted = [d.status == DEAD_LETTERED]
    if destination_id is not None:
        wanted.append(d.destination_id == destination_id)
    if channel is not None:
        wanted.append(d.channel == channel)
    if dispatch_ids is not None:
        wanted.append(d.id.in_(list(dispatch_ids)))
    with engine.begin() as conn:
        lanes = conn.execute(select(d.destination_id, d.channel).where(*wanted).distinct()).all()
        count = int(
            conn.execute(update(dispatches).where(*wanted).values(next_attempt_at=now, updated_at=now)).rowcount
        )
        for lane in lanes:
            retry_now(conn, destination_id=lane.destination_id, channel=lane.channel, now=now)
        return count
