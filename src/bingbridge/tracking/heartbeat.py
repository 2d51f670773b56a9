"""Keeping a batch's lease alive while its call is in flight, so only a dead worker's batch is ever taken over."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine

from bingbridge.tracking.dispatch_log import renew

logger = logging.getLogger("bingbridge.tracking.worker")

# Renewals per lease: a lease survives three missed heartbeats (a slow database, a long pause of the process).
BEATS_PER_LEASE = 4


@contextmanager
def lease_kept(
    engine: Engine, worker_id: str, ids: Sequence[int], *, lease_seconds: float, clock: Callable[[], datetime]
) -> Iterator[None]:
    """Renew the lease on `ids` every lease/4 seconds in a thread for the block (the call to Microsoft).

    A failed renewal is logged and tried again at the next beat; the lease only runs out when the process stops
    renewing, which is what another worker must wait for before sending the batch again.
    """
    done = threading.Event()

    def beat() -> None:
        while not done.wait(lease_seconds / BEATS_PER_LEASE):
            try:
                renew(engine, worker_id, ids, now=clock(), lease_seconds=lease_seconds)
            except Exception:
                logger.exception("worker %s: renewing the lease of %d rows failed", worker_id, len(ids))

    thread = threading.Thread(target=beat, name=f"bingbridge-heartbeat-{worker_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
