"""Refused credentials: Down with the reason and the fix, delivery resumes the moment new ones are saved; and
workers sharing a destination never lock each other out by rotating its refresh token at the same time."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from bingbridge.cli import cli
from bingbridge.emulator.state import EmulatorConfig
from bingbridge.store.schema import destinations
from bingbridge.tracking.destination_state import read_state
from bingbridge.tracking.destinations import DestinationInput, save_destination
from bingbridge.tracking.health import destination_health
from bingbridge.tracking.worker import Worker
from tests.tracking.worker_fixtures import (
    FakeClock,
    TrackingWorld,
    clock,
    conversion_key,
    conversions,
    open_world,
    postgres_schema_url,
    store_events,
    world,
)

__all__ = ["clock", "world"]


def _forget_access_token(world: TrackingWorld, destination_id: int) -> None:
    """As for a destination just saved: no access token yet, the first call redeems the refresh token."""
    with world.engine.begin() as conn:
        conn.execute(
            update(destinations).where(destinations.c.id == destination_id).values(access_token_expires_at=None)
        )


def test_a_refused_refresh_token_is_down_and_delivery_resumes_right_after_save(
    world: TrackingWorld, clock: FakeClock
) -> None:
    destination = world.add_destination(world.accounts()[0])
    config = world.emulator.config
    typed = {
        "customer_id": destination.customer_id,
        "account_id": destination.account_id,
        "developer_token": config.developer_token,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "live": True,
    }
    save_destination(
        world.engine,
        world.box,
        world.workspace_id,
        DestinationInput(refresh_token="revoked-long-ago", **typed),  # type: ignore[arg-type]
        destination_id=destination.id,
    )
    store_events(world, conversions(300))
    with Worker(world.engine, world.box, world.settings, clock=clock) as worker:
        assert worker.run_once() == 300  # tried, given back untouched
        health = destination_health(world.engine, destination.id, clock.now)
        assert (health.status, health.reason) == (
            "Down",
            "credentials refused (invalid_grant): reconnect this destination",
        )
        assert world.statuses() == Counter({"pending": 300})
        assert {r.attempts for r in world.dispatch_rows()} == {0}
        assert worker.run_once() == 0  # paused: the same token would be refused again

        fresh = world.inspector.post("/_emulator/tokens").json()["refresh_token"]
        updated = CliRunner().invoke(  # the same save as the dashboard's Save and Connect
            cli,
            ["destinations", "update", str(destination.id), "--refresh-token", fresh],
            env={"BINGBRIDGE_DATABASE_URL": world.database_url, "BINGBRIDGE_SECRET_KEY": world.secret_key},
        )
        assert updated.exit_code == 0, updated.output
        assert worker.run_once() == 300  # at once: no waiting for the pause to end
    assert world.statuses() == Counter({"sent": 300})
    assert read_state(world.engine, destination.id).credentials_error is None
    # No longer Down; the refused call stays in the 15-minute window, so Degraded until it ages out.
    assert destination_health(world.engine, destination.id, clock.now).status == "Degraded"


@pytest.fixture(params=["postgresql", "sqlite"])
def rotating_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingWorld]:
    """A world whose emulator revokes a refresh token when it rotates it (so a second redemption of the same token
    is refused with invalid_grant): on PostgreSQL where BINGBRIDGE_TEST_POSTGRES_URL is set, and on SQLite."""
    rotating = EmulatorConfig(revoke_used_refresh_tokens=True)
    if request.param == "sqlite":
        yield from open_world(f"sqlite:///{tmp_path / 'tracking.db'}", tmp_path, rotating)
        return
    url = os.environ.get("BINGBRIDGE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("set BINGBRIDGE_TEST_POSTGRES_URL to run the PostgreSQL tests")
    with postgres_schema_url(url) as scoped:
        yield from open_world(scoped, tmp_path, rotating)


def test_two_workers_on_a_fresh_destination_never_get_invalid_grant(rotating_world: TrackingWorld) -> None:
    world = rotating_world
    destination = world.add_destination(world.accounts()[0])
    _forget_access_token(world, destination.id)
    store_events(world, conversions(2000))
    start = threading.Barrier(2)
    workers = [Worker(world.engine, world.box, world.settings, worker_id=name, batch_size=500) for name in ("w1", "w2")]

    def run(worker: Worker) -> None:
        start.wait()
        worker.run_once()

    try:
        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for worker in workers:
            worker.close()
    assert [c.code for c in world.call_rows() if not c.ok] == []
    assert read_state(world.engine, destination.id).credentials_error is None
    assert world.statuses() == Counter({"sent": 2000})
    received = [conversion_key(item) for item in world.received(destination.account_id)]
    assert len(received) == len(set(received)) == 2000
    assert {c.worker for c in world.call_rows()} == {"w1", "w2"}  # both worked, both with the rotated token
