"""The read side of the dispatch log: what happened to each event at each destination, filtered and paged.

Used by `GET /v1/dispatch-log` (scoped to the key's workspace) and open to the CLI (all workspaces, or one).
Rows come newest first; `before_id` pages back from the last row of the previous page (ids only grow, so a page
never repeats or skips a row while new events arrive). `since` / `until` filter on when the dispatch row was
created, i.e. when its event arrived: a row keeps its place in time while the worker updates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from bingbridge.conversions.channels import CHANNELS
from bingbridge.errors import FieldProblem, ValidationError
from bingbridge.store.schema import dispatches, events
from bingbridge.tracking.dispatch_log import STATUSES

MAX_LIMIT = 1000


@dataclass(frozen=True)
class DispatchLogEntry:
    """One dispatch: the event, the destination, and its status with Microsoft's answer where there was one."""

    id: int
    destination_id: int
    channel: str  # offline | capi
    event_id: str
    event_name: str
    occurred_at: datetime
    status: str
    reason: str | None
    conversion_name: str | None
    code: int | None  # Microsoft's error code
    error_code: str | None
    batch_id: str | None
    tracking_id: str | None  # Microsoft's TrackingId of the upload call
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 in UTC with a `Z`."""
        return {k: _iso(v) if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def _iso(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value  # the database's times are naive UTC already
    return value.astimezone(UTC).replace(tzinfo=None)


def _problems(
    statuses: Sequence[str] | None,
    limit: int | None,
    texts: dict[str, str | None],
    times: dict[str, datetime | None],
) -> tuple[list[FieldProblem], dict[str, datetime | None]]:
    """What is wrong with the filters, and the times as naive UTC."""
    problems = []
    unknown = sorted(set(statuses or ()) - set(STATUSES))
    if unknown:
        problems.append(FieldProblem("status", f"unknown status {', '.join(unknown)}; use {', '.join(STATUSES)}"))
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        problems.append(FieldProblem("limit", f"must be between 1 and {MAX_LIMIT}"))
    for name, value in texts.items():
        if value is not None and "\x00" in value:  # PostgreSQL text cannot hold NUL: no row could match
            problems.append(FieldProblem(name, "must not contain NUL characters"))
    converted: dict[str, datetime | None] = {}
    for name, moment in times.items():
        try:
            converted[name] = _naive_utc(moment)
        except OverflowError:
            problems.append(FieldProblem(name, "is out of range once converted to UTC"))
    return problems, converted


def query_dispatch_log(
    engine: Engine,
    workspace_id: int | None,
    *,
    statuses: Sequence[str] | None = None,
    event_name: str | None = None,
    event_id: str | None = None,
    destination_id: int | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 100,
    before_id: int | None = None,
) -> list[DispatchLogEntry]:
    """Dispatch rows of a workspace (None: of all), newest first; `since` inclusive, `until` exclusive.

    Raises ValidationError naming the filter: an unknown status or channel, a limit outside 1..1000 (None: no
    limit, for exports), NUL in a text filter, a time that leaves the calendar once converted to UTC.
    """
    problems, times = _problems(
        statuses, limit, {"event_name": event_name, "event_id": event_id}, {"since": since, "until": until}
    )
    if channel is not None and channel not in CHANNELS:
        problems.append(FieldProblem("channel", f"unknown channel {channel!r}; use {', '.join(CHANNELS)}"))
    if problems:
        raise ValidationError(problems, operation="query dispatch log")
    d, e = dispatches.c, events.c
    query = (
        select(
            d.id,
            d.destination_id,
            d.channel,
            e.event_id,
            e.event_name,
            e.occurred_at,
            d.status,
            d.reason,
            d.conversion_name,
            d.code,
            d.error_code,
            d.batch_id,
            d.tracking_id,
            d.attempts,
            d.next_attempt_at,
            d.created_at,
            d.updated_at,
            d.sent_at,
        )
        .join(events, e.id == d.event_pk)
        .order_by(d.id.desc())
    )
    if workspace_id is not None:
        query = query.where(e.workspace_id == workspace_id)
    if statuses:
        query = query.where(d.status.in_(list(statuses)))
    if event_name is not None:
        query = query.where(e.event_name == event_name)
    if event_id is not None:
        query = query.where(e.event_id == event_id)
    if destination_id is not None:
        query = query.where(d.destination_id == destination_id)
    if channel is not None:
        query = query.where(d.channel == channel)
    if times["since"] is not None:
        query = query.where(d.created_at >= times["since"])
    if times["until"] is not None:
        query = query.where(d.created_at < times["until"])
    if before_id is not None:
        query = query.where(d.id < before_id)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [DispatchLogEntry(**row._asdict()) for row in conn.execute(query)]
