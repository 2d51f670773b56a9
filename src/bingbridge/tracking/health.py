"""Health of a destination from its recent upload calls: Live, Degraded or Down.

The rule, over the destination's last `RECENT_CALLS` (20) calls made in the last `WINDOW` (15 minutes):

- **Down** when Microsoft refused the destination's credentials (105, 106, 109 after a refresh, or the token
  endpoint's `invalid_grant`, ...) and no call got through since nor were the credentials saved again
  (`destination_state`): "credentials refused (invalid_grant): reconnect this destination";
- **Down** when the last `DOWN_AFTER` (3) calls all failed: persistent failures, nothing gets through.
- **Degraded** when at least one of those calls failed but the last three did not all fail: intermittent errors
  (5xx, throttling, connection errors) that retries are working through.
- **Live** otherwise, including when there were no calls in the window ("no calls yet" when there never were).

A call "failed" when Microsoft did not answer it (`dispatch_calls.ok = 0`): faults, throttling, connection errors.
Per-item partial errors do not count: Microsoft answered, the events were bad, the destination is fine. Because
the window is 15 minutes, a destination turns back to Live once its failed calls age out of the window or 20
successful calls push them out, whichever comes first. An exhausted call budget does not change the status (it
is pacing, not an error); it is named in the reason and given in `budget`. During an outage the reason ends with
"waiting for Microsoft since …" (the first failed call of the outage).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Engine, select

from bingbridge.store.schema import dispatch_calls
from bingbridge.tracking.destination_state import credentials_advice, read_states
from bingbridge.tracking.destinations import get_destination
from bingbridge.tracking.dispatch_log import Budget, budget

Status = Literal["Live", "Degraded", "Down"]

WINDOW = timedelta(minutes=15)
RECENT_CALLS = 20
DOWN_AFTER = 3


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
    states = read_states(engine, destination_id).values()
    refused = next((st.credentials_error for st in states if st.credentials_error is not None), None)
    outages = [st for st in states if st.waiting_since is not None]
    waiting = min(outages, key=lambda st: st.waiting_since or now) if outages else None
    failures = [r for r in recent if not r.ok]
    minutes = int(WINDOW.total_seconds() // 60)
    status: Status
    if refused is not None:
        status, reason = "Down", credentials_advice(refused)
    elif not recent:
        status, reason = "Live", "no calls yet" if not ever else f"no calls in the last {minutes} minutes"
    elif len(recent) >= DOWN_AFTER and all(not r.ok for r in recent[:DOWN_AFTER]):
        status, reason = "Down", f"the last {DOWN_AFTER} calls failed (last: {_code(recent[0].code)})"
    elif failures:
        status = "Degraded"
        reason = (
            f"{len(failures)} of the last {len(recent)} calls failed in the last {minutes} minutes "
            f"(last failure: {_code(failures[0].code)} at {failures[0].at.isoformat(sep=' ', timespec='seconds')})"
        )
    else:
        status, reason = "Live", f"the last {len(recent)} calls succeeded"
    if waiting is not None and refused is None:
        reason += f"; {waiting.waiting()}"
    if left.exhausted:
        reason += f"; {left.describe()}"
    return Health(status, reason, len(recent), len(failures), last_success_at, left)
