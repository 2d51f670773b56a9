"""Keeping a batch's lease alive while its call is in flight, so only a dead worker's batch is ever taken over."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import Engine

from bingbridge.store.leases import RENEWALS_PER_LEASE, renewed
from bingbridge.tracking.dispatch_log import renew


def lease_kept(
    engine: Engine, worker_id: str, ids: Sequence[int], *, lease_seconds: float, clock: Callable[[], datetime]
) -> AbstractContextManager[None]:
    """Renew the lease on `ids` every lease/4 seconds in a thread for the block (the call to Microsoft).

    A failed renewal is logged and tried again at the next beat; the lease only runs out when the process stops
    renewing, which is what another worker must wait for before sending the batch again.
    """

    def renewal() -> bool:
        renew(engine, worker_id, ids, now=clock(), lease_seconds=lease_seconds)
        return True  # rows another worker took over meanwhile are settled as such (`dispatch_log.settle`)

    what = f"worker {worker_id}'s lease on {len(ids)} rows"
    return renewed(lease_seconds / RENEWALS_PER_LEASE, renewal, what=what)
