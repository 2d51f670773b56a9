"""Ingestion: store validated events durably, once per (workspace, event_id), and decide per destination and
channel what happens to each — the dispatch rows the worker then works through.

Every newly stored event gets one `dispatches` row per channel of each destination of its workspace (Offline
Conversions; the UET Conversions API where the destination has it). The decision is the channel's
(`conversions.channels`: skipped, blocked, failed or pending, in the order described there), taken here once: the
worker sends what is pending and never decides again. The skipped reason of the offline channel is
`Event {name} skipped — not a conversion event for Bing Ads` (not an error; never sent, never counted against the
call budget); the failed reasons are the contract's refusal codes (`conversions.contract`).

Events of a workspace without destinations are stored with no dispatch rows; a destination added later does not
pick up earlier events.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, bindparam, select

from bingbridge.conversions.channels import CHANNELS, OFFLINE, Routing, Tracked
from bingbridge.conversions.contract import FACE_FIELDS
from bingbridge.store.bulk import BulkInsert
from bingbridge.store.schema import destinations, dispatches, events
from bingbridge.tracking.dispatch_log import PENDING
from bingbridge.tracking.events import Columns, Event, columns, tracked
from bingbridge.tracking.workspaces import Workspace


@dataclass(slots=True)  # built per event and channel: not frozen, as `conversions.channels.Tracked`
class Decision:
    """What ingestion decided for one event at one destination and channel; `field` and `message` (the event's
    field and the contract's message) say why a `failed` one will not be sent."""

    destination_id: int
    status: str  # pending, skipped, blocked or failed
    reason: str | None = None
    conversion_name: str | None = None
    channel: str = OFFLINE
    field: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The decision as the ingestion API answers it."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)  # one per event: not frozen, as `Decision`
class EventResult:
    """The fate of one given event: stored now (`accepted`) or already stored (`duplicate`, no new dispatches)."""

    index: int  # position in the sequence given to `ingest`
    event_id: str
    status: Literal["accepted", "duplicate"]
    dispatches: tuple[Decision, ...] = ()


@dataclass(frozen=True)
class IngestResult:
    """Counts and per-event results of one `ingest` call; `statuses` counts the dispatch rows created."""

    results: list[EventResult]

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.results if r.status == "accepted")

    @property
    def duplicates(self) -> int:
        return sum(1 for r in self.results if r.status == "duplicate")

    @property
    def statuses(self) -> dict[str, int]:
        return dict(Counter(d.status for r in self.results for d in r.dispatches))


def routing_of(row: Any) -> Routing:
    """A destination row's routing (rows from before channels existed have the offline channel only)."""
    return Routing(
        channels=tuple(row.channels or (OFFLINE,)),
        conversion_names=dict(row.conversion_names or {}),
        event_channels=dict(row.event_channels or {}),
    )


def decide(event: Tracked, destination_id: int, routing: Routing, *, now: datetime) -> tuple[Decision, ...]:
    """One decision per channel of the destination (`conversions.channels` decides; `now` is naive UTC)."""
    found = []
    for name in routing.channels:
        d = CHANNELS[name].decide(event, routing, now)
        refusal = d.refusal
        found.append(
            Decision(
                destination_id,
                PENDING if d.verdict == "send" else d.verdict,
                d.reason,
                d.conversion_name,
                name,
                FACE_FIELDS.get(refusal.field, {}).get("event", refusal.field) if refusal else None,
                refusal.message if refusal else None,
            )
        )
    return tuple(found)


# A new event row (`_event_row`) and a new dispatch row (`_dispatch_row`), column by column in the tables' order
# (BulkInsert checks the order against the table).
_EVENT_COLUMNS = (
    "workspace_id",
    "event_id",
    "event_name",
    "occurred_at",
    "received_at",
    "value",
    "currency",
    "ad_storage",
    "hashed_email",
    "hashed_phone",
    "click_ids",
    "properties",
    "page",
    "anonymous_id",
    "external_id",
)
_INSERT_EVENTS = BulkInsert(
    events,
    _EVENT_COLUMNS,
    skip_conflicts_on=("workspace_id", "event_id"),
    returning=("workspace_id", "event_id", "id"),
)
_DISPATCH_COLUMNS = (
    "event_pk",
    "destination_id",
    "channel",
    "status",
    "reason",
    "conversion_name",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
)
_INSERT_DISPATCHES = BulkInsert(dispatches, _DISPATCH_COLUMNS)
_DESTINATIONS = (
    select(
        destinations.c.workspace_id,
        destinations.c.id,
        destinations.c.conversion_names,
        destinations.c.channels,
        destinations.c.event_channels,
    )
    .where(destinations.c.workspace_id.in_(bindparam("workspace_ids", expanding=True)))
    .order_by(destinations.c.id)
)


def _durable(conn: Connection) -> None:
    """SQLite: sync the WAL at every commit of this connection (set once per connection).

    The engine runs SQLite with synchronous=NORMAL (WAL), which can lose the last commits on power loss; a 2xx
    promises the event is on disk. The setting stays with the pooled connection, so other writers on it (the
    worker) get durable commits too.
    """
    info = conn.connection.info
    if conn.dialect.name == "sqlite" and not info.get("bingbridge_synchronous_full"):
        conn.exec_driver_sql("PRAGMA synchronous=FULL")
        info["bingbridge_synchronous_full"] = True


@dataclass(frozen=True)
class IngestRequest:
    """One caller's events for `ingest_together`: whose they are and the caller's clock (naive UTC)."""

    workspace_id: int
    events: Sequence[Event]
    now: datetime


def ingest(engine: Engine, workspace: Workspace | int, batch: Sequence[Event], *, now: datetime) -> IngestResult:
    """Store `batch` for the workspace and create its dispatch rows, in one transaction committed before return.

    Idempotent on (workspace, event_id): an id already stored, or repeated within the batch, is a `duplicate`: not
    stored again and given no new dispatch rows (the first payload wins). `now` is naive UTC (`store.utcnow()`).
    """
    workspace_id = workspace if isinstance(workspace, int) else workspace.id
    return ingest_together(engine, [IngestRequest(workspace_id, batch, now)])[0]


def ingest_together(engine: Engine, requests: Sequence[IngestRequest]) -> list[IngestResult]:
    """`ingest` for several callers at once: one transaction, one commit (one fsync) for all; a result each.

    An event id repeated across the requests of one workspace is a duplicate in every request after the first.
    """
    stored = [[columns(event) for event in r.events] for r in requests]
    first: dict[tuple[int, str], tuple[int, int]] = {}  # (workspace, event id) -> (request, index) of its first
    for n, request in enumerate(requests):
        for index, event in enumerate(request.events):
            first.setdefault((request.workspace_id, event.event_id), (n, index))
    # Sorted by key: two PostgreSQL transactions inserting overlapping batches then take the unique index's row
    # locks in the same order and cannot deadlock.
    rows = [
        _event_row(workspace_id, requests[n].now, stored[n][i]) for (workspace_id, _), (n, i) in sorted(first.items())
    ]
    results: list[IngestResult] = []
    with engine.begin() as conn:
        _durable(conn)
        mappings: dict[int, dict[int, Routing]] = {r.workspace_id: {} for r in requests}
        for row in conn.execute(_DESTINATIONS, {"workspace_ids": list(mappings)}):
            mappings[row.workspace_id][row.id] = routing_of(row)
        inserted = {(r.workspace_id, r.event_id): r.id for r in _INSERT_EVENTS.run(conn, rows)}
        dispatch_rows: list[tuple[Any, ...]] = []
        for n, request in enumerate(requests):
            outcome: list[EventResult] = []
            routings = mappings[request.workspace_id].items()
            for index, event in enumerate(request.events):
                key = (request.workspace_id, event.event_id)
                pk = inserted.get(key)
                if pk is None or first[key] != (n, index):
                    outcome.append(EventResult(index, event.event_id, "duplicate"))
                    continue
                seen = tracked(stored[n][index])
                decisions = tuple(
                    d
                    for destination_id, routing in routings
                    for d in decide(seen, destination_id, routing, now=request.now)
                )
                outcome.append(EventResult(index, event.event_id, "accepted", decisions))
                dispatch_rows.extend(_dispatch_row(pk, d, request.now) for d in decisions)
            results.append(IngestResult(outcome))
        _INSERT_DISPATCHES.run(conn, dispatch_rows)
    return results


def _event_row(workspace_id: int, received_at: datetime, event: Columns) -> tuple[Any, ...]:
    """The `events` row of a stored event (`_EVENT_COLUMNS`)."""
    return (
        workspace_id,
        event.event_id,
        event.event_name,
        event.occurred_at,
        received_at,
        event.value,
        event.currency,
        event.ad_storage,
        event.hashed_email,
        event.hashed_phone,
        event.click_ids,
        event.properties,
        event.page,
        event.anonymous_id,
        event.external_id,
    )


def _dispatch_row(event_pk: int, decision: Decision, now: datetime) -> tuple[Any, ...]:
    """The `dispatches` row of a decision (`_DISPATCH_COLUMNS`)."""
    return (
        event_pk,
        decision.destination_id,
        decision.channel,
        decision.status,
        decision.reason,
        decision.conversion_name,
        0,
        now if decision.status == PENDING else None,
        now,
        now,
    )


@dataclass
class _Waiting:
    request: IngestRequest
    done: bool = False
    result: IngestResult | None = None
    error: BaseException | None = None


class GroupCommitter:
    """Commits the `ingest` calls of concurrent threads together: one transaction and one fsync per group.

    A durable commit costs a disk flush (milliseconds); SQLite has one writer, so flushing once per request caps
    throughput at one request per flush. Here a caller that finds no commit running becomes the leader: it commits
    its own request together with the requests waiting before it (oldest first, up to `max_events` events in all;
    its own always, whatever its size), hands each caller its result and wakes the others. A waiting caller whose
    request was not taken becomes a leader in turn, so no request waits for a later one, and every caller returns
    only after its events were committed. No thread of its own.

    If the transaction of a group of several fails, each of its requests is committed alone, so one caller's
    failure (say, a value the database refuses) is not the others'; only a request that fails alone raises.
    """

    def __init__(self, engine: Engine, *, max_events: int = 10_000) -> None:
        self.engine = engine
        self.max_events = max_events
        self._condition = threading.Condition()
        self._queue: list[_Waiting] = []
        self._busy = False

    def ingest(self, workspace: Workspace | int, batch: Sequence[Event], *, now: datetime) -> IngestResult:
        """Like `ingest(engine, workspace, batch, now=now)`, committed together with concurrent callers."""
        workspace_id = workspace if isinstance(workspace, int) else workspace.id
        mine = _Waiting(IngestRequest(workspace_id, batch, now))
        with self._condition:
            self._queue.append(mine)
            while self._busy and not mine.done:
                self._condition.wait()
            leader = not mine.done
            if leader:
                self._busy = True
                group = self._take(mine)
        if leader:
            self._commit(group)
        if mine.result is None:
            raise mine.error or RuntimeError("the group commit holding this request was interrupted")
        return mine.result

    def _take(self, mine: _Waiting) -> list[_Waiting]:
        """The leader's own request and the oldest others that fit in `max_events`; called holding the lock."""
        self._queue.remove(mine)
        group = [mine]
        size = len(mine.request.events)
        while self._queue and size + len(self._queue[0].request.events) <= self.max_events:
            waiting = self._queue.pop(0)
            group.append(waiting)
            size += len(waiting.request.events)
        return group

    def _commit(self, group: list[_Waiting]) -> None:
        try:
            self._store(group)
        finally:
            with self._condition:
                for waiting in group:
                    waiting.done = True
                self._busy = False
                self._condition.notify_all()

    def _store(self, group: list[_Waiting]) -> None:
        try:
            results = ingest_together(self.engine, [w.request for w in group])
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            for waiting in group:
                self._store([waiting])
            return
        for waiting, result in zip(group, results, strict=True):
            waiting.result = result
