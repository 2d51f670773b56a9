"""A worker killed with SIGKILL in the middle of a call loses nothing, re-sends at most the batch in flight, and
that batch is taken over within the lease (60 s, renewed while a call is in flight); a live worker's slow call
is never taken over."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from bingbridge.store.schema import dispatches
from bingbridge.tracking.worker import Worker
from tests.tracking.worker_fixtures import TrackingWorld, conversion_key, conversions, store_events, world

__all__ = ["world"]

EVENTS = 3500


def start_worker(world: TrackingWorld, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    """`python -m bingbridge.tracking.worker_main` with its default lease, configured as a user would: environment
    only."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "BINGBRIDGE_DATABASE_URL": world.database_url,
        "BINGBRIDGE_SECRET_KEY": world.secret_key,
        "BINGBRIDGE_API_BASE_URL": world.settings.api_base_url or "",
    }
    command = [sys.executable, "-m", "bingbridge.tracking.worker_main", "--poll-seconds", "0.1"]
    with (tmp_path / f"{name}.log").open("wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def in_flight(world: TrackingWorld) -> int:
    """Rows claimed by a worker and not yet settled: the batch of the call under way."""
    d = dispatches.c
    with world.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).where(d.status == "pending", d.claimed_by.is_not(None))).scalar_one()
        )


def test_a_killed_worker_loses_nothing_and_its_batch_is_delivered_within_90_seconds_of_restart(
    world: TrackingWorld, tmp_path: Path
) -> None:
    destination = world.add_destination(world.accounts()[0])
    store_events(world, conversions(EVENTS))
    world.configure(latency_ms=1500)  # every call takes 1.5 s: a kill lands mid-call

    first = start_worker(world, tmp_path, "first")
    try:
        # The first batch is sent and the second is in flight: kill it half-way through the call.
        wait_for(lambda: world.statuses()["sent"] >= 1000 and in_flight(world) > 0, 30, "a batch in flight")
        time.sleep(0.5)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    assert first.returncode == -signal.SIGKILL
    sent_before = world.statuses()["sent"]
    stranded = in_flight(world)
    assert sent_before < EVENTS and stranded == 1000  # claimed by the dead worker, waiting for its lease to end
    dead_worker = {r.claimed_by for r in world.dispatch_rows() if r.status == "pending" and r.claimed_by}
    assert len(dead_worker) == 1

    world.configure(latency_ms=0)
    second = start_worker(world, tmp_path, "second")
    restarted = time.monotonic()
    try:
        wait_for(lambda: world.statuses()["sent"] == EVENTS, 90, "every event sent within 90 s of the restart")
        assert time.monotonic() - restarted <= 90
        second.send_signal(signal.SIGTERM)  # a clean stop after the pass under way
        assert second.wait(timeout=10) == 0
    finally:
        second.kill()

    received = [conversion_key(item) for item in world.received(destination.account_id)]
    assert len(received) == len(set(received)) == EVENTS  # every conversion arrived exactly once
    minimum = math.ceil(EVENTS / 1000)
    recorded = world.call_rows()
    assert len(recorded) == minimum and all(c.ok for c in recorded)  # the killed call was never recorded
    # Microsoft (the emulator) saw at most one extra call: the batch in flight, sent again after the lease.
    assert minimum <= world.upload_calls() <= minimum + 1
    resent = [r for r in world.dispatch_rows() if r.claimed_by not in dead_worker]
    assert all(r.status == "sent" and r.attempts == 1 for r in resent)


def test_a_call_longer_than_the_lease_is_not_taken_over(world: TrackingWorld) -> None:
    world.add_destination(world.accounts()[0])
    store_events(world, conversions(500))
    world.configure(latency_ms=3000)  # the call takes three leases
    slow = Worker(world.engine, world.box, world.settings, worker_id="slow", lease_seconds=1.0)
    other = Worker(world.engine, world.box, world.settings, worker_id="other", lease_seconds=1.0)
    sending = threading.Thread(target=slow.run_once)
    with slow, other:
        sending.start()
        wait_for(lambda: in_flight(world) == 500, 10, "the batch in flight")
        while sending.is_alive():  # the other worker keeps looking while the call is under way
            assert other.run_once() == 0
            time.sleep(0.2)
        sending.join()
    assert world.statuses()["sent"] == 500
    assert world.upload_calls() == 1
    assert {r.claimed_by for r in world.dispatch_rows()} == {"slow"}
