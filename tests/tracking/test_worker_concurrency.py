"""Workers running at once share the work without sending anything twice: SKIP LOCKED claims on PostgreSQL,
serialised claims on SQLite, one code path."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from datetime import timedelta

from bingbridge.tracking import dispatch_log
from bingbridge.tracking.worker import Worker
from tests.tracking.worker_fixtures import (
    FakeClock,
    TrackingWorld,
    any_world,
    conversion_key,
    conversions,
    store_events,
)

__all__ = ["any_world"]

EVENTS = 5000
BATCH = 250


def test_two_workers_share_the_work_without_double_sends(any_world: TrackingWorld) -> None:
    world = any_world
    first, second = world.accounts()[:2]
    destinations = [world.add_destination(first), world.add_destination(second)]
    store_events(world, conversions(EVENTS))
    world.configure(latency_ms=20)  # calls overlap, so both workers claim while the other is mid-call

    stop = threading.Event()
    workers = [
        Worker(world.engine, world.box, world.settings, worker_id=name, batch_size=BATCH, poll_seconds=0.01)
        for name in ("worker-a", "worker-b")
    ]
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while world.statuses()["sent"] < 2 * EVENTS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for w in workers:
            w.close()

    assert world.statuses() == Counter({"sent": 2 * EVENTS})
    for d in destinations:
        received = [conversion_key(item) for item in world.received(d.account_id)]
        assert len(received) == len(set(received)) == EVENTS
    # Every batch went exactly once: Microsoft saw no call beyond the minimum, and no row was carried twice.
    assert world.upload_calls() == 2 * math.ceil(EVENTS / BATCH)
    rows = world.dispatch_rows()
    assert {r.attempts for r in rows} == {1}
    calls = world.call_rows()
    by_worker = Counter(c.worker for c in calls)
    assert set(by_worker) == {"worker-a", "worker-b"}, by_worker
    assert sum(c.rows for c in calls) == 2 * EVENTS
    assert Counter(r.claimed_by for r in rows) == Counter(
        {name: sum(c.rows for c in calls if c.worker == name) for name in by_worker}
    )


def test_a_claim_never_takes_rows_another_worker_holds(any_world: TrackingWorld) -> None:
    world = any_world
    destination = world.add_destination(world.accounts()[0])
    clock = FakeClock()
    world.clock = clock
    store_events(world, conversions(30))
    claim = dispatch_log.claim
    a = claim(world.engine, destination.id, "a", channel="offline", now=clock.now, lease_seconds=60, limit=20)
    b = claim(world.engine, destination.id, "b", channel="offline", now=clock.now, lease_seconds=60, limit=20)
    assert (len(a), len(b)) == (20, 10) and not {r.id for r in a} & {r.id for r in b}
    assert claim(world.engine, destination.id, "c", channel="offline", now=clock.now, lease_seconds=60, limit=20) == []
    later = clock.now + timedelta(seconds=60)  # both leases ran out: the rows are anyone's again
    assert (
        len(claim(world.engine, destination.id, "c", channel="offline", now=later, lease_seconds=60, limit=100)) == 30
    )


def test_concurrent_claims_partition_the_queue(any_world: TrackingWorld) -> None:
    """Eight threads claiming at once, many times: every row is claimed by exactly one of them."""
    world = any_world
    destination = world.add_destination(world.accounts()[0])
    store_events(world, conversions(2000))
    now = world.clock() + timedelta(seconds=1)
    taken: dict[str, list[int]] = {}

    def grab(name: str) -> None:
        mine = taken.setdefault(name, [])
        while True:
            got = dispatch_log.claim(
                world.engine, destination.id, name, channel="offline", now=now, lease_seconds=600, limit=37
            )
            if not got:
                return
            mine.extend(r.id for r in got)

    threads = [threading.Thread(target=grab, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = [i for ids in taken.values() for i in ids]
    assert len(every) == len(set(every)) == 2000
    assert sum(1 for ids in taken.values() if ids) > 1
