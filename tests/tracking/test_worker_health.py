"""The health rule of `tracking.health`, one case per branch, from recorded calls (no emulator needed)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, update

from bingbridge.conversions.channels import OFFLINE
from bingbridge.store.engine import create_engine_for, migrate, utcnow
from bingbridge.store.schema import destinations
from bingbridge.tracking.destination_state import credentials_changed, pause_for_credentials, record_failed_call
from bingbridge.tracking.destinations import Destination, DestinationInput, get_destination, save_destination
from bingbridge.tracking.dispatch_log import Call, budget, record_call
from bingbridge.tracking.health import destination_health
from bingbridge.tracking.secrets import SecretBox
from bingbridge.tracking.workspaces import create_workspace

NOW = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'health.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def target(db: Engine) -> Destination:
    """A destination (never called: health reads only recorded calls) allowed `calls_per_hour` 1000."""
    workspace, _ = create_workspace(db, "shop", now=utcnow())
    data = DestinationInput(
        customer_id=1, account_id=2, developer_token="t", client_id="c", client_secret="s", refresh_token="r"
    )
    return save_destination(db, SecretBox(Fernet.generate_key()), workspace.id, data)


def calls(engine: Engine, destination: Destination, outcomes: Sequence[tuple[float, bool, int | None]]) -> None:
    """Record calls: (minutes before NOW, answered, Microsoft code)."""
    with engine.begin() as conn:
        for i, (minutes, ok, code) in enumerate(outcomes):
            record_call(conn, Call(destination.id, f"b{i}", NOW - timedelta(minutes=minutes), 100, ok, code))


def test_no_calls_yet_is_live(db: Engine, target: Destination) -> None:
    health = destination_health(db, target.id, NOW)
    assert (health.status, health.reason, health.recent_calls, health.last_success_at) == (
        "Live",
        "no calls yet",
        0,
        None,
    )
    assert (health.budget.remaining, health.budget.limit, health.budget.resets_at) == (1000, 1000, None)


def test_answered_calls_are_live(db: Engine, target: Destination) -> None:
    calls(db, target, [(5, True, None), (3, True, None)])
    health = destination_health(db, target.id, NOW)
    assert (health.status, health.reason) == ("Live", "the last 2 calls succeeded")
    assert health.last_success_at == NOW - timedelta(minutes=3)


def test_some_failures_are_degraded(db: Engine, target: Destination) -> None:
    calls(db, target, [(9, True, None), (8, False, 0), (7, True, None), (6, False, 117), (5, True, None)])
    health = destination_health(db, target.id, NOW)
    assert health.status == "Degraded"
    assert health.reason.startswith("2 of the last 5 calls failed in the last 15 minutes (last failure: code 117")
    assert (health.recent_calls, health.recent_failures) == (5, 2)


def test_three_failures_in_a_row_are_down(db: Engine, target: Destination) -> None:
    calls(db, target, [(9, True, None), (3, False, 0), (2, False, None), (1, False, 0)])
    health = destination_health(db, target.id, NOW)
    assert (health.status, health.reason) == ("Down", "the last 3 calls failed (last: code 0)")


def test_refused_credentials_are_down_at_once_until_they_are_saved_again(db: Engine, target: Destination) -> None:
    calls(db, target, [(2, True, None), (1, False, None)])
    with db.begin() as conn:
        pause_for_credentials(
            conn, target.id, OFFLINE, now=NOW, until=NOW + timedelta(minutes=5), error="invalid_grant"
        )
    health = destination_health(db, target.id, NOW)
    assert (health.status, health.reason) == ("Down", "credentials refused (invalid_grant): reconnect this destination")
    with db.begin() as conn:
        credentials_changed(conn, target.id, now=NOW)
    assert destination_health(db, target.id, NOW).status == "Degraded"


def test_an_outage_names_since_when(db: Engine, target: Destination) -> None:
    calls(db, target, [(3, False, None), (2, False, None), (1, False, None)])
    with db.begin() as conn:
        for minutes in (3, 2, 1):
            at = NOW - timedelta(minutes=minutes)
            record_failed_call(conn, target.id, OFFLINE, now=at, retry_at=at + timedelta(seconds=30))
    health = destination_health(db, target.id, NOW)
    assert health.status == "Down"
    since = (NOW - timedelta(minutes=3)).isoformat(sep=" ", timespec="seconds")
    assert health.reason.endswith(f"; waiting for Microsoft since {since} UTC")


def test_failures_age_out_of_the_window(db: Engine, target: Destination) -> None:
    calls(db, target, [(30, False, 0), (20, False, 0), (16, False, 0)])
    health = destination_health(db, target.id, NOW)
    assert (health.status, health.reason) == ("Live", "no calls in the last 15 minutes")


def test_twenty_good_calls_push_failures_out(db: Engine, target: Destination) -> None:
    calls(db, target, [(10, False, 0)] + [(9 - i * 0.1, True, None) for i in range(20)])
    assert destination_health(db, target.id, NOW).status == "Live"


def test_an_exhausted_budget_is_named_but_not_an_error(db: Engine, target: Destination) -> None:
    with db.begin() as conn:
        conn.execute(update(destinations).where(destinations.c.id == target.id).values(calls_per_hour=3))
    small = get_destination(db, target.id)
    assert small is not None
    calls(db, target, [(50, True, None), (40, True, None), (30, True, None), (20, True, None)])
    left = budget(db, small, NOW)
    # Four calls in the hour against a limit of three: a call may be made again when two have aged out.
    assert (left.remaining, left.used, left.resets_at) == (0, 4, NOW + timedelta(minutes=20))
    health = destination_health(db, target.id, NOW)
    assert health.status == "Live"
    assert health.reason.endswith("budget exhausted: 0 of 3 calls left, resets at 2026-03-01 12:20:00 UTC")


def test_an_unknown_destination_is_an_error(db: Engine) -> None:
    with pytest.raises(LookupError):
        destination_health(db, 999, utcnow())
