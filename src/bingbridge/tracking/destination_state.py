"""What every worker and process agrees on about a destination's delivery channel, kept in `destination_states`
(one row per destination and channel, never in memory), so an outage or a refused token of one channel (the UET
Conversions API) does not hold back the other (offline conversions):

- a pause (`paused_until`, `pause_reason`): after a failed call, until its retry is due; after refused
  credentials, until the credentials change (`credentials_changed`, called by every Save) or the retry pause ends;
- the credential error Microsoft gave (`credentials_error`: `invalid_grant`, `code 105`, ...), which health reports
  as Down until a call gets through or the credentials change;
- an outage: since when calls keep failing (`waiting_since`) and how many failed in a row (`failures`, the
  exponent of the backoff); the first answered call ends it;
- and, in `store.leases` rather than here, the lease on refreshing the destination's OAuth token
  (`refresh_lease`: the UET Conversions API token does not rotate), so one refresh at a time rotates the refresh
  token, whichever worker or process needs it.

A destination without a row has none of these.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, or_, select, update

from bingbridge.conversions.channels import OFFLINE
from bingbridge.errors import ConfigurationError
from bingbridge.store.engine import utcnow
from bingbridge.store.leases import waited_for
from bingbridge.store.schema import destination_states

# A token refresh is one HTTP call with the client's timeout (60 s by default); a holder that died frees it after.
REFRESH_LEASE = timedelta(seconds=90)


@dataclass(frozen=True)
class DestinationState:
    """A destination's shared state (all empty for a destination that never failed)."""

    paused_until: datetime | None = None
    pause_reason: str | None = None
    credentials_error: str | None = None
    waiting_since: datetime | None = None
    failures: int = 0

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and now < self.paused_until

    def waiting(self) -> str | None:
        """ "waiting for Microsoft since …" during an outage, else None."""
        if self.waiting_since is None:
            return None
        return f"waiting for Microsoft since {self.waiting_since.isoformat(sep=' ', timespec='seconds')} UTC"


def credentials_advice(error: str) -> str:
    """The reason a destination with refused credentials shows (health, logs)."""
    return f"credentials refused ({error}): reconnect this destination"


_c = destination_states.c
_COLUMNS = (_c.paused_until, _c.pause_reason, _c.credentials_error, _c.waiting_since, _c.failures)


def read_states(source: Engine | Connection, destination_id: int) -> dict[str, DestinationState]:
    """The state of each channel of a destination that has one."""
    query = select(_c.channel, *_COLUMNS).where(_c.destination_id == destination_id).order_by(_c.channel)
    if isinstance(source, Engine):
        with source.connect() as conn:
            rows = conn.execute(query).all()
    else:
        rows = source.execute(query).all()
    return {row[0]: DestinationState(*tuple(row)[1:]) for row in rows}


def read_state(source: Engine | Connection, destination_id: int, channel: str = OFFLINE) -> DestinationState:
    return read_states(source, destination_id).get(channel, DestinationState())


def _insert_ignoring(conn: Connection) -> Any:
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:
        raise ConfigurationError(f"destination state supports SQLite and PostgreSQL, not {conn.dialect.name}")
    return insert(destination_states).on_conflict_do_nothing(index_elements=["destination_id", "channel"])


def _row(destination_id: int, channel: str) -> Any:
    return (_c.destination_id == destination_id) & (_c.channel == channel)


def _change(conn: Connection, destination_id: int, channel: str, now: datetime, **values: Any) -> None:
    """Set `values` on the channel's row, creating the row first when there is none."""
    key = {"destination_id": destination_id, "channel": channel}
    conn.execute(_insert_ignoring(conn).values(**key, failures=0, updated_at=now))
    conn.execute(update(destination_states).where(_row(destination_id, channel)).values(updated_at=now, **values))


def record_failed_call(
    conn: Connection, destination_id: int, channel: str, *, now: datetime, retry_at: datetime
) -> None:
    """A call Microsoft did not answer: one more failure in a row, the outage goes on, pause until `retry_at`."""
    state = read_state(conn, destination_id, channel)
    since = state.waiting_since or now
    reason = DestinationState(waiting_since=since).waiting()
    _change(
        conn,
        destination_id,
        channel,
        now,
        failures=state.failures + 1,
        waiting_since=since,
        paused_until=retry_at,
        pause_reason=reason,
    )


def record_answered_call(conn: Connection, destination_id: int, channel: str, *, now: datetime) -> None:
    """Microsoft answered a call: an outage or a credentials problem of the channel is over."""
    conn.execute(
        update(destination_states)
        .where(
            _row(destination_id, channel),
            or_(_c.failures != 0, _c.waiting_since.is_not(None), _c.credentials_error.is_not(None)),
        )
        .values(
            failures=0, waiting_since=None, credentials_error=None, paused_until=None, pause_reason=None, updated_at=now
        )
    )


def pause_for_credentials(
    conn: Connection, destination_id: int, channel: str, *, now: datetime, until: datetime, error: str
) -> None:
    """Microsoft refused the channel's credentials: pause until `until` or until they change."""
    reason = credentials_advice(error)
    _change(conn, destination_id, channel, now, credentials_error=error, paused_until=until, pause_reason=reason)


def retry_now(conn: Connection, *, destination_id: int, channel: str, now: datetime) -> None:
    """Someone asked for a retry (a dead-letter replay): the channel's retry pause ends now. A credentials pause
    stays until the credentials change, and the outage goes on until a call gets through, so a retry that fails
    again backs off from where it was."""
    conn.execute(
        update(destination_states)
        .where(_row(destination_id, channel), _c.paused_until.is_not(None), _c.credentials_error.is_(None))
        .values(paused_until=None, pause_reason=None, updated_at=now)
    )


def credentials_changed(conn: Connection, destination_id: int, *, now: datetime) -> None:
    """New credentials were saved: any pause of any channel ends now and refused-credentials errors are forgotten."""
    conn.execute(
        update(destination_states)
        .where(_c.destination_id == destination_id)
        .values(paused_until=None, pause_reason=None, credentials_error=None, updated_at=now)
    )


def refresh_lease(
    engine: Engine,
    destination_id: int,
    *,
    lease: timedelta = REFRESH_LEASE,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> AbstractContextManager[None]:
    """Hold the destination's token-refresh lease for the block: one holder at a time across every process
    (`store.leases`, waited for), so the holder may write the rotated tokens before anyone else redeems them."""
    return waited_for(engine, f"token-refresh:{destination_id}", length=lease, clock=clock, sleep=sleep)
