"""Microsoft unreachable for a while: nothing is dead-lettered, and delivery resumes by itself, once per event.

The outage is played by the worker's HTTP transport refusing every connection (the one seam to the network); the
worker runs on a fake clock, so ten minutes of backoff cost no wall time.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta

import httpx
from click.testing import CliRunner

from bingbridge.cli import cli
from bingbridge.tracking.destination_state import read_state
from bingbridge.tracking.destinations import Destination
from bingbridge.tracking.health import destination_health
from bingbridge.tracking.log_queries import query_dispatch_log
from bingbridge.tracking.retry_window import RetryWindow
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

EVENTS = 2500


class Outage(httpx.BaseTransport):
    """Loopback HTTP, except that while `down` every connection is refused (as when Microsoft is unreachable)."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self.refused += 1
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def one_pass(worker: Worker, world: TrackingWorld, *, destination_id: int, clock: FakeClock) -> None:
    """One pass; when it handled nothing, the fake clock moves to when the destination's pause ends (or 1 s on)."""
    if worker.run_once() == 0:
        paused_until = read_state(world.engine, destination_id).paused_until
        clock.now = max(clock.now + timedelta(seconds=1), paused_until or clock.now)


def short_window_worker(world: TrackingWorld, clock: FakeClock) -> tuple[Destination, Outage, httpx.Client, Worker]:
    """A destination and a worker whose retry window is 2 minutes, reaching Microsoft through an `Outage`."""
    destination = world.add_destination(world.accounts()[0])
    network = Outage()
    http = httpx.Client(transport=network, timeout=30)
    window = RetryWindow(window=timedelta(minutes=2))
    worker = Worker(
        world.engine, world.box, world.settings, clock=clock, http=http, retry_window=window, rng=random.Random(5)
    )
    return destination, network, http, worker


def test_a_10_minute_outage_dead_letters_nothing_and_delivery_resumes_without_a_replay(
    world: TrackingWorld, clock: FakeClock
) -> None:
    destination = world.add_destination(world.accounts()[0])
    store_events(world, conversions(1000))
    network = Outage()
    http = httpx.Client(transport=network, timeout=30)
    worker = Worker(world.engine, world.box, world.settings, clock=clock, http=http, rng=random.Random(5))

    def pass_and_wait() -> None:
        one_pass(worker, world, destination_id=destination.id, clock=clock)

    with worker, http:
        worker.run_once()  # a first batch goes out before the outage
        assert world.statuses()["sent"] == 1000
        store_events(world, conversions(EVENTS - 1000, seed=2))
        network.down = True
        outage_started = clock.now
        while clock.now < outage_started + timedelta(minutes=10):
            pass_and_wait()
        assert world.statuses() == Counter({"sent": 1000, "pending": EVENTS - 1000})  # nothing dead-lettered
        # Capped backoff: an outage of ten minutes costs a handful of calls, not hundreds.
        assert 3 <= network.refused <= 15
        since = outage_started.isoformat(sep=" ", timespec="seconds")
        waiting = f"waiting for Microsoft since {since} UTC"
        health = destination_health(world.engine, destination.id, clock.now)
        assert health.status == "Down" and health.reason.endswith(waiting)
        tried = query_dispatch_log(world.engine, world.workspace_id, statuses=["pending"], limit=1000)
        assert {row.reason.split(":")[0] for row in tried if row.attempts} == {waiting.split(":")[0]}
        shown = CliRunner().invoke(
            cli,
            ["dispatch-log", "--status", "pending", "--limit", "1000", "--json", "--database-url", world.database_url],
        )
        assert shown.exit_code == 0 and any(waiting in (row["reason"] or "") for row in json.loads(shown.output))

        network.down = False
        recovered = clock.now
        while world.statuses()["sent"] < EVENTS and clock.now < recovered + timedelta(minutes=10):
            pass_and_wait()
    # Back within the backoff cap (5 minutes), every event delivered once, and no replay was asked for.
    assert clock.now - recovered <= timedelta(minutes=5)
    assert world.statuses() == Counter({"sent": EVENTS})
    received = [conversion_key(item) for item in world.received(destination.account_id)]
    assert len(received) == len(set(received)) == EVENTS
    assert read_state(world.engine, destination.id).waiting_since is None
    assert destination_health(world.engine, destination.id, clock.now).status != "Down"


def test_dead_letters_of_an_outage_longer_than_the_window_go_out_when_it_ends(
    world: TrackingWorld, clock: FakeClock
) -> None:
    destination, network, http, worker = short_window_worker(world, clock)

    def pass_and_wait() -> None:
        one_pass(worker, world, destination_id=destination.id, clock=clock)

    with worker, http:
        store_events(world, conversions(1500))
        network.down = True
        outage_started = clock.now
        while clock.now < outage_started + timedelta(minutes=10):
            pass_and_wait()
        assert world.statuses() == Counter({"dead_lettered": 1500})  # the 2-minute window is long over
        store_events(world, conversions(200, seed=3))  # the shop keeps selling during the outage
        network.down = False
        recovered = clock.now
        while world.statuses()["sent"] < 1700 and clock.now < recovered + timedelta(minutes=10):
            pass_and_wait()
    # Within the backoff cap, not the dead-letter interval (an hour at least), and without a replay.
    assert clock.now - recovered <= timedelta(minutes=5)
    assert world.statuses() == Counter({"sent": 1700})
    received = [conversion_key(item) for item in world.received(destination.account_id)]
    assert len(received) == len(set(received)) == 1700


def test_a_replay_during_the_backoff_is_sent_at_once(world: TrackingWorld, clock: FakeClock) -> None:
    destination, network, http, worker = short_window_worker(world, clock)
    with worker, http:
        store_events(world, conversions(300))
        network.down = True
        while world.statuses() != Counter({"dead_lettered": 300}):  # the 2-minute window runs out
            one_pass(worker, world, destination_id=destination.id, clock=clock)
        network.down = False  # Microsoft is back, but nothing new arrives to show it: the operator replays
        assert read_state(world.engine, destination.id).paused(clock.now)
        replayed = CliRunner().invoke(
            cli, ["dlq", "replay", "--destination-id", str(destination.id), "--database-url", world.database_url]
        )
        assert replayed.exit_code == 0, replayed.output
        worker.run_once()  # the same instant: the replay ended the backoff pause
    assert world.statuses() == Counter({"sent": 300})
    assert len(world.received(destination.account_id)) == 300


def test_dead_letters_of_an_outage_go_out_when_it_ends_even_with_no_new_events(
    world: TrackingWorld, clock: FakeClock
) -> None:
    destination, network, http, worker = short_window_worker(world, clock)
    with worker, http:
        store_events(world, conversions(1500))
        network.down = True
        outage_started = clock.now
        while clock.now < outage_started + timedelta(minutes=30):
            one_pass(worker, world, destination_id=destination.id, clock=clock)
        assert world.statuses() == Counter({"dead_lettered": 1500})
        calls_in_outage = network.refused
        network.down = False  # nothing new is sold, nobody replays: the lane's backoff probes with dead letters
        recovered = clock.now
        while world.statuses()["sent"] < 1500 and clock.now < recovered + timedelta(minutes=30):
            one_pass(worker, world, destination_id=destination.id, clock=clock)
    assert clock.now - recovered <= timedelta(minutes=5)  # the backoff cap, not the dead-letter interval
    assert world.statuses() == Counter({"sent": 1500})
    assert len(world.received(destination.account_id)) == 1500
    assert calls_in_outage <= 30  # probing keeps to the backoff: a few calls in half an hour, not hundreds
