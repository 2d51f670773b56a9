"""Named leases in the database: one holder at a time across every thread, process and machine on the database.

A lease is one row of `leases`, taken by a conditional write (free, or its holder let it run out) and held in the
row rather than in an open transaction, so the holder may write elsewhere meanwhile and SQLite's single writer is
not held. A holder that dies loses its lease when it runs out; one that lives renews it (`kept`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, or_, select, update

from bingbridge.errors import LeaseHeld
from bingbridge.store.engine import utcnow
from bingbridge.store.schema import leases

logger = logging.getLogger(__name__)

# Renewals per lease length: a lease survives three missed renewals (a slow database, a paused process).
RENEWALS_PER_LEASE = 4


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    taken_at: datetime
    until: datetime


def new_holder() -> str:
    return uuid.uuid4().hex


def _insert_ignoring(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(leases).on_conflict_do_nothing(index_elements=["name"])


def take(engine: Engine, name: str, holder: str, *, length: timedelta, now: datetime) -> bool:
    """Take the lease for `length` if it is free or ran out (or renew it, for its holder); whether it was taken."""
    c = leases.c
    with engine.begin() as conn:
        conn.execute(_insert_ignoring(conn).values(name=name, holder=holder, taken_at=now, until=now + length))
        free = or_(c.until <= now, c.holder == holder)
        done = conn.execute(
            update(leases).where(c.name == name, free).values(holder=holder, taken_at=now, until=now + length)
        )
    return bool(done.rowcount)


def renew(engine: Engine, name: str, holder: str, *, length: timedelta, now: datetime) -> bool:
    """Extend a lease its holder still has; False when it ran out and someone else took it."""
    c = leases.c
    with engine.begin() as conn:
        done = conn.execute(update(leases).where(c.name == name, c.holder == holder).values(until=now + length))
    return bool(done.rowcount)


def release(engine: Engine, name: str, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))


def current(engine: Engine, name: str, *, now: datetime) -> Lease | None:
    """The lease while someone holds it, else None."""
    with engine.connect() as conn:
        row = conn.execute(select(leases).where(leases.c.name == name, leases.c.until > now)).first()
    return Lease(row.name, row.holder, row.taken_at, row.until) if row else None


@contextmanager
def waited_for(
    engine: Engine,
    name: str,
    *,
    length: timedelta,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 0.05,
) -> Iterator[None]:
    """Hold the lease for the block, waiting (polling) while someone else holds it. For short work: no renewal."""
    holder = new_holder()
    while not take(engine, name, holder, length=length, now=clock()):
        sleep(poll_seconds)
    try:
        yield
    finally:
        release(engine, name, holder)


@contextmanager
def kept(
    engine: Engine,
    name: str,
    *,
    length: timedelta,
    busy: Callable[[Lease], LeaseHeld],
    clock: Callable[[], datetime] = utcnow,
) -> Iterator[Lease]:
    """Hold the lease for the block, renewed in a thread every length/4; raises `busy(lease)` when it is held.

    For long work (a metrics import): if the process dies, another may take over once the lease runs out.
    """
    holder = new_holder()
    now = clock()
    if not take(engine, name, holder, length=length, now=now):
        held = current(engine, name, now=now)
        raise busy(held or Lease(name, "", now, now))

    def renewal() -> bool:
        if renew(engine, name, holder, length=length, now=clock()):
            return True
        logger.error("lease %s ran out and was taken over", name)
        return False

    try:
        with renewed(length.total_seconds() / RENEWALS_PER_LEASE, renewal, what=f"lease {name}"):
            yield Lease(name, holder, now, now + length)
    finally:
        release(engine, name, holder)


@contextmanager
def renewed(seconds: float, renewal: Callable[[], bool], *, what: str) -> Iterator[None]:
    """Call `renewal` every `seconds` in a thread for the block, until it returns False. A failure is logged and
    tried again at the next beat: a lease only runs out when its process stops renewing it."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(seconds):
            try:
                if not renewal():
                    return
            except Exception:
                logger.exception("renewing %s failed; trying again", what)

    thread = threading.Thread(target=beat, name=f"bingbridge-renew-{what}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
