"""Faults and throttling: everything is delivered in the end, and health turns Degraded and back to Live.

The worker runs on a fake clock, so backoffs and the 60 s throttle window cost no wall time; when the fake clock
has moved a minute on, the emulator's own (wall-clock) throttling window is emptied to match.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

from bingbridge.tracking.health import destination_health
from bingbridge.tracking.worker import Worker
from tests.tracking.worker_fixtures import (
    FakeClock,
    TrackingWorld,
    clock,
    conversion_key,
    conversions,
    store_events,
    world,
)

__all__ = ["clock", "world"]


def test_everything_arrives_through_faults_and_throttling_and_health_recovers(
    world: TrackingWorld, clock: FakeClock
) -> None:
    destination = world.add_destination(world.accounts()[0])
    store_events(world, conversions(1500))
    world.configure(error_rate=0.3, calls_per_minute=4)
    seen: list[str] = []
    window_start = clock.now
    worker = Worker(world.engine, world.box, world.settings, clock=clock, batch_size=100, rng=random.Random(7))
    with worker:
        for _ in range(500):
            handled = worker.run_once()
            seen.append(destination_health(world.engine, destination.id, clock.now).status)
            if world.statuses()["sent"] == 1500:
                break
            if handled == 0:
                clock.now = max(clock.now + timedelta(seconds=1), world.next_due() or clock.now)
            if clock.now - window_start >= timedelta(seconds=60):
                world.configure()  # a minute went by: the emulator's 60 s window is empty again
                window_start = clock.now
        assert world.statuses() == Counter({"sent": 1500})
        codes = Counter(c.code for c in world.call_rows() if not c.ok)
        assert codes[0] > 0 and codes[117] > 0  # both kinds of fault happened
        assert "Degraded" in seen

        # Faults gone: 20 good calls push the failures out of the health window.
        world.configure(error_rate=0.0, calls_per_minute=0)
        store_events(world, conversions(2000, seed=99))
        worker.run_once()
    health = destination_health(world.engine, destination.id, clock.now)
    assert (health.status, health.reason) == ("Live", "the last 20 calls succeeded")
    received = [conversion_key(item) for item in world.received(destination.account_id)]
    assert len(received) == len(set(received)) == 3500


def test_throttling_waits_the_60_second_window(world: TrackingWorld, clock: FakeClock) -> None:
    world.add_destination(world.accounts()[0])
    store_events(world, conversions(300))
    world.configure(calls_per_minute=1)
    with Worker(world.engine, world.box, world.settings, clock=clock, batch_size=100) as worker:
        worker.run_once()
        assert worker.run_once() == 0  # paused for the window, no call spent on another 117
    waiting = [r for r in world.dispatch_rows() if r.status == "pending" and r.attempts == 1]
    assert len(waiting) == 100
    assert {(r.code, r.error_code, r.next_attempt_at) for r in waiting} == {
        (117, "CallRateExceeded", clock.now + timedelta(seconds=60))
    }
    assert [c.code for c in world.call_rows()] == [None, 117]


def test_server_errors_back_off_exponentially_with_jitter(world: TrackingWorld, clock: FakeClock) -> None:
    world.add_destination(world.accounts()[0])
    store_events(world, conversions(10))
    world.configure(error_rate=1.0)
    delays = []
    with Worker(world.engine, world.box, world.settings, clock=clock, rng=random.Random(3)) as worker:
        for _ in range(5):
            before = clock.now
            worker.run_once()
            due = world.next_due()
            assert due is not None
            delays.append((due - before).total_seconds())
            clock.now = due
    # Full jitter: try n waits uniform(0, 2**n) seconds (api.retry.backoff), all rows of the batch together.
    assert all(0 <= d <= 2**n for n, d in enumerate(delays))
    assert len({r.next_attempt_at for r in world.dispatch_rows()}) == 1
