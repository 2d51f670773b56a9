"""Ingestion: store validated events durably, once per (workspace, event_id), and decide per destination what
happens to each — the dispatch rows the worker then works through.

Per destination of the workspace, every newly stored event gets one `dispatches` row, decided in this order:

1. the event name is not in the destination's `conversion_names` → `skipped`, reason
   `Event {name} skipped — not a conversion event for Bing Ads` (not an error; never sent, never counted against
   the call budget);
2. `consent.ad_storage` is `denied` → `blocked`, reason `ad_storage_consent_denied` (never sent);
3. the conversion time is more than 90 days old → `failed`, reason `conversion_time_older_than_90_days`
   (Microsoft rejects such times with 5609; sending would only spend a call);
4. no MSCLKID, hashed e-mail or hashed phone (`events.match_keys`) → `failed`, reason `no_match_key` (Microsoft
   cannot attribute it; the event is still stored, so a later replay with better data remains possible);
5. otherwise `pending`, with the mapped conversion name and `next_attempt_at = now`: the worker's queue.

Consent comes before the age and match checks so that a denied event is always logged as blocked, whatever else
is wrong with it. Events of a workspace without destinations are stored with no dispatch rows; a destination
added later does not pick up earlier events.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, bindparam, insert, select

from bingbridge.conversions.prepare import MAX_AGE
from bingbridge.errors import ConfigurationError
from bingbridge.store.schema import destinations, dispatches, events
from bingbridge.tracking.dispatch_log import BLOCKED, CONSENT_DENIED, FAILED, PENDING, SKIPPED
from bingbridge.tracking.events import Event, match_keys
from bingbridge.tracking.workspaces import Workspace

NOT_A_CONVERSION = "Event {name} skipped — not a conversion event for Bing Ads"
NO_MATCH_KEY = "no_match_key"
TOO_OLD = "conversion_time_older_than_90_days"


@dataclass(frozen=True)
class Decision:
    """What ingestion decided for one event at one destination."""

    destination_id: int
    status: str  # pending, skipped, blocked or failed
    reason: str | None = None
    conversion_name: str | None = None


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class _Stored:
    """The stored columns `decide` and `match_keys` read (the event as the worker will see it)."""

    event_name: str
    occurred_at: datetime
    ad_storage: str | None
    hashed_email: str | None
    hashed_phone: str | None
    click_ids: dict[str, Any] | None
    properties: dict[str, Any] | None


def decide(event: _Stored, destination_id: int, conversion_names: Mapping[str, str], *, now: datetime) -> Decision:
    """The pipeline decision for one event at one destination (the order is the module docstring's)."""
    # Event names match the mapping exactly: the mapping is the user's, and "Purchase" may be meant differently.
    goal = conversion_names.get(event.event_name)
    if goal is None:
        return Decision(destination_id, SKIPPED, NOT_A_CONVERSION.format(name=event.event_name))
    if event.ad_storage == "denied":
        return Decision(destination_id, BLOCKED, CONSENT_DENIED, goal)
    if event.occurred_at < now - MAX_AGE:
        return Decision(destination_id, FAILED, TOO_OLD, goal)
    if match_keys(event) == (None, None, None):
        return Decision(destination_id, FAILED, NO_MATCH_KEY, goal)
    return Decision(destination_id, PENDING, None, goal)


def _stored(event: Event, now: datetime) -> _Stored:
    return _Stored(
        event_name=event.event_name,
        # A timestamp a little ahead of our clock (events.FUTURE_TOLERANCE) is taken as now: Microsoft refuses
        # conversion times in the future, and the difference is clock drift, not information.
        occurred_at=min(event.timestamp, now),
        ad_storage=event.consent.ad_storage if event.consent else None,
        hashed_email=event.user.hashed_email if event.user else None,
        hashed_phone=event.user.hashed_phone if event.user else None,
        click_ids=event.stored_click_ids(),
        properties=event.stored_properties(),
    )


def _insert_or_ignore(dialect: str) -> Any:
    """INSERT … ON CONFLICT (workspace_id, event_id) DO NOTHING RETURNING the keys, in `dialect`."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    else:
        raise ConfigurationError(f"event ingestion supports SQLite and PostgreSQL, not {dialect}")
    statement = dialect_insert(events).on_conflict_do_nothing(index_elements=["workspace_id", "event_id"])
    return statement.returning(events.c.workspace_id, events.c.event_id, events.c.id)


# Statements are built once per dialect: building and cache-keying them costs more than running them.
_INSERT_EVENTS: dict[str, Any] = {}
_DESTINATIONS = (
    select(destinations.c.workspace_id, destinations.c.id, destinations.c.conversion_names)
    .where(destinations.c.workspace_id.in_(bindparam("workspace_ids", expanding=True)))
    .order_by(destinations.c.id)
)
_INSERT_DISPATCHES = insert(dispatches)


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
    stored = [[_stored(event, r.now) for event in r.events] for r in requests]
    first: dict[tuple[int, str], tuple[int, int]] = {}  # (workspace, event id) -> (request, index) of its first
    for n, request in enumerate(requests):
        for index, event in enumerate(request.events):
            first.setdefault((request.workspace_id, event.event_id), (n, index))
    rows = [
        {
            "workspace_id": workspace_id,
            "event_id": event_id,
            "event_name": stored[n][i].event_name,
            "occurred_at": stored[n][i].occurred_at,
            "received_at": requests[n].now,
            "value": requests[n].events[i].value,
            "currency": requests[n].events[i].currency,
            "ad_storage": stored[n][i].ad_storage,
            "hashed_email": stored[n][i].hashed_email,
            "hashed_phone": stored[n][i].hashed_phone,
            "click_ids": stored[n][i].click_ids,
            "properties": stored[n][i].properties,
        }
        # Sorted by key: two PostgreSQL transactions inserting overlapping batches then take the unique index's
        # row locks in the same order and cannot deadlock.
        for (workspace_id, event_id), (n, i) in sorted(first.items())
    ]
    results: list[IngestResult] = []
    with engine.begin() as conn:
        _durable(conn)
        mappings: dict[int, dict[int, dict[str, str]]] = {r.workspace_id: {} for r in requests}
        for row in conn.execute(_DESTINATIONS, {"workspace_ids": list(mappings)}):
            mappings[row.workspace_id][row.id] = dict(row.conversion_names or {})
        inserted: dict[tuple[int, str], int] = {}
        if rows:
            dialect = conn.dialect.name
            statement = _INSERT_EVENTS.get(dialect)
            if statement is None:
                statement = _INSERT_EVENTS.setdefault(dialect, _insert_or_ignore(dialect))
            inserted = {(r.workspace_id, r.event_id): r.id for r in conn.execute(statement, rows)}
        dispatch_rows: list[dict[str, Any]] = []
        for n, request in enumerate(requests):
            outcome: list[EventResult] = []
            for index, event in enumerate(request.events):
                key = (request.workspace_id, event.event_id)
                pk = inserted.get(key)
                if pk is None or first[key] != (n, index):
                    outcome.append(EventResult(index, event.event_id, "duplicate"))
                    continue
                decisions = tuple(
                    decide(stored[n][index], destination_id, names, now=request.now)
                    for destination_id, names in mappings[request.workspace_id].items()
                )
                outcome.append(EventResult(index, event.event_id, "accepted", decisions))
                dispatch_rows.extend(_dispatch_row(pk, d, request.now) for d in decisions)
            results.append(IngestResult(outcome))
        if dispatch_rows:
            conn.execute(_INSERT_DISPATCHES, dispatch_rows)
    return results


def _dispatch_row(event_pk: int, decision: Decision, now: datetime) -> dict[str, Any]:
    return {
        "event_pk": event_pk,
        "destination_id": decision.destination_id,
        "status": decision.status,
        "reason": decision.reason,
        "conversion_name": decision.conversion_name,
        "attempts": 0,
        "next_attempt_at": now if decision.status == PENDING else None,
        "created_at": now,
        "updated_at": now,
    }


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
