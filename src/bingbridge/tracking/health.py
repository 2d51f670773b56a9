"""Health of a destination from its recent upload calls: Live, Degraded or Down.

The rule, over the destination's last `RECENT_CALLS` (20) calls made in the last `WINDOW` (15 minutes):

- **Down** when the last `DOWN_AFTER` (3) calls all failed, or the last call failed because Microsoft refused the
  credentials (105, 106, 109): persistent failures, nothing gets through.
- **Degraded** when at least one of those calls failed but the last three did not all fail: intermittent errors
  (5xx, throttling, connection errors) that retries are working through.
- **Live** otherwise, including when there were no calls in the window ("no calls yet" when there never were).

A call "failed" when Microsoft did not answer it (`dispatch_calls.ok = 0`): faults, throttling, connection errors.
Per-item partial errors do not count: Microsoft answered, the events were bad, the destination is fine. Because
the window is 15 minutes, a destination turns back to Live once its failed calls age out of the window or 20
successful calls push them out, whichever comes first. An exhausted call budget does not change the status (it
is pacing, not an error); it is named in the reason and given in `budget`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Engine, select

from bingbridge.store.schema import dispatch_calls
from bingbridge.tracking.destinations import get_destination
from bingbridge.tracking.dispatch_log import Budget, budget

Status = Literal["Live", "Degraded", "Down"]

WINDOW = timedelta(minutes=15)
RECENT_CALLS = 20
DOWN_AFTER = 3
# 105/106/109: Microsoft Advertising; 401/403: the UET Conversions API refused the tag's token (its HTTP status).
CREDENTIAL_CODES = frozenset({105, 106, 109, 401, 403})


@dataclass(frozen=True)
class Health:
    """A destination's health badge and the figures behind it."""

    status: Status
    reason: str
    recent_calls: int
    recent_failures: int
    last_success_at: datetime | None
    budget: Budget


def _code(code: int | None) -> str:
    return f"code {code}" if code is not None else "no Microsoft code (HTTP or connection error)"


def destination_health(engine: Engine, destination_id: int, now: datetime) -> Health:
    """The destination's health at `now` (naive UTC), by the rule in this module's docstring."""
    destination = get_destination(engine, destination_id)
    if destination is None:
        raise LookupError(f"no destination {destination_id}")
    c = dispatch_calls.c
    with engine.connect() as conn:
        recent = conn.execute(
            select(c.ok, c.code, c.at)
            .where(c.destination_id == destination_id, c.at > now - WINDOW, c.at <= now)
            .order_by(c.at.desc(), c.id.desc())
            .limit(RECENT_CALLS)
        ).all()
        last_success_at = conn.execute(
            select(c.at)
            .where(c.destination_id == destination_id, c.ok == 1, c.at <= now)
            .order_by(c.at.desc())
            .limit(1)
        ).scalar()
        ever = recent or conn.execute(select(c.id).where(c.destination_id == destination_id).limit(1)).first()
    left = budget(engine, destination, now)
    failures = [r for r in recent if not r.ok]
    minutes = int(WINDOW.total_seconds() // 60)
    status: Status
    if not recent:
        status, reason = "Live", "no calls yet" if not ever else f"no calls in the last {minutes} minutes"
    elif len(recent) >= DOWN_AFTER and all(not r.ok for r in recent[:DOWN_AFTER]):
        status, reason = "Down", f"the last {DOWN_AFTER} calls failed (last: {_code(recent[0].code)})"
    elif not recent[0].ok and recent[0].code in CREDENTIAL_CODES:
        status, reason = "Down", f"credentials refused ({_code(recent[0].code)}); fix them and dispatch resumes"
    elif failures:
        status = "Degraded"
        reason = (
            f"{len(failures)} of the last {len(recent)} calls failed in the last {minutes} minutes "
            f"(last failure: {_code(failures[0].code)} at {failures[0].at.isoformat(sep=' ', timespec='seconds')})"
        )
    else:
        status, reason = "Live", f"the last {len(recent)} calls succeeded"
    if left.exhausted:
        reason += f"; {left.describe()}"
    return Health(status, reason, len(recent), len(failures), last_success_at, left)
