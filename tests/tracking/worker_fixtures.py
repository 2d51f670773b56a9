"""Shared pieces of the dispatch worker tests: a tracking world on the emulator, events, a fake clock, inspection.

`TrackingWorld` holds a migrated database, a secret box, a workspace and live destinations on emulator accounts
(each with its own refresh token, its offline goals created and an access token already stored, so workers in
other threads or processes never race to rotate the refresh token). `store_events` puts events in the database
the way the ingestion API does (`events.parse_events`, then `ingest.ingest`).
"""

from __future__ import annotations

import os
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, func, make_url, select, text

from bingbridge.api.models.campaign import OfflineConversionGoal, UetTag
from bingbridge.emulator.server import RunningEmulator, start_in_thread
from bingbridge.emulator.state import EmulatorConfig
from bingbridge.settings import Settings
from bingbridge.store.engine import create_engine_for, migrate, normalize_url, utcnow
from bingbridge.store.schema import dispatch_calls, dispatches, events
from bingbridge.tracking.destinations import (
    DEFAULT_CONVERSION_NAMES,
    Destination,
    DestinationInput,
    destination_client,
    destination_input,
    get_destination,
    save_destination,
)
from bingbridge.tracking.dispatch_log import PENDING
from bingbridge.tracking.events import EventProblem, parse_events
from bingbridge.tracking.ingest import IngestResult, ingest
from bingbridge.tracking.secrets import SecretBox
from bingbridge.tracking.workspaces import create_workspace

GOALS = tuple(DEFAULT_CONVERSION_NAMES.values())  # Purchase, Lead, Sign Up, Subscribe, Add to Cart


class FakeClock:
    """Naive-UTC time that moves only when told; `sleep` advances it, so backoffs cost no wall time."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    sleep = advance


@dataclass
class TrackingWorld:
    """A database, a workspace and its destinations, all pointed at one emulator."""

    engine: Engine
    box: SecretBox
    secret_key: str
    database_url: str
    settings: Settings
    emulator: RunningEmulator
    inspector: httpx.Client
    workspace_id: int
    destinations: list[Destination] = field(default_factory=list)
    # The time ingestion stamps events with; the `clock` fixture makes it the worker's fake clock.
    clock: Callable[[], datetime] = utcnow

    def accounts(self) -> list[int]:
        """Active accounts the default user may act for, one per customer: offline goal names are unique per
        customer and Microsoft deduplicates per goal, so destinations on different customers never interfere."""
        state = self.emulator.state
        found: dict[int, int] = {}
        for account_id in state.visible_account_ids(state.config.default_user_id):
            account = state.world.accounts[account_id]
            if account.account_life_cycle_status == "Active" and account.parent_customer_id is not None:
                found.setdefault(account.parent_customer_id, account_id)
        return list(found.values())

    def customer_of(self, account_id: int) -> int:
        parent = self.emulator.state.world.accounts[account_id].parent_customer_id
        assert parent is not None
        return parent

    def add_destination(
        self,
        account_id: int,
        *,
        goals: Sequence[str] = GOALS,
        calls_per_hour: int = 1000,
        developer_token: str | None = None,
        live: bool = True,
    ) -> Destination:
        """A live destination on `account_id` with its own refresh token; `goals` are created as offline goals
        and the access token that creates them stays stored for the workers."""
        config = self.emulator.config
        refresh = self.inspector.post("/_emulator/tokens").json()["refresh_token"]
        data = DestinationInput(
            customer_id=self.customer_of(account_id),
            account_id=account_id,
            developer_token=developer_token or config.developer_token,
            client_id=config.client_id,
            client_secret=config.client_secret,
            refresh_token=refresh,
            live=live,
            calls_per_hour=calls_per_hour,
            name=f"account {account_id}",
        )
        destination = save_destination(self.engine, self.box, self.workspace_id, data)
        if goals:
            with destination_client(self.engine, self.box, destination, self.settings, max_retries=0) as client:
                created = client.campaign_management.add_conversion_goals(
                    [OfflineConversionGoal(name=g) for g in goals]
                )
                assert all(r.ok for r in created), [r.errors for r in created]
        fresh = get_destination(self.engine, destination.id)
        assert fresh is not None
        self.destinations.append(fresh)
        return fresh

    def add_capi(self, destination: Destination, *, event_channels: dict[str, list[str]] | None = None) -> Destination:
        """Give a destination the UET Conversions API: a new UET tag on its account and that tag's CAPI token."""
        with destination_client(self.engine, self.box, destination, self.settings, max_retries=0) as client:
            (created,) = client.campaign_management.add_uet_tags([UetTag(name=f"site {destination.id}")])
        assert created.value is not None and created.value.id is not None, created.errors
        answer = self.inspector.post("/_emulator/capi-tokens", json={"tag_id": created.value.id}).json()
        changes: dict[str, Any] = {"uet_tag_id": answer["tag_id"], "capi_token": answer["token"]}
        if event_channels is not None:
            changes["event_channels"] = event_channels
        data = destination_input(self.box, destination, **changes)
        saved = save_destination(self.engine, self.box, destination.workspace_id, data, destination_id=destination.id)
        self.destinations = [saved if d.id == saved.id else d for d in self.destinations]
        return saved

    # ---- the emulator's view ----

    def uet_events(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.inspector.get("/_emulator/uet-events").json()
        return found

    def capi_calls(self) -> int:
        return int(self.inspector.get("/_emulator/calls").json().get("UetConversionsApi", 0))

    def received(self, account_id: int | None = None) -> list[dict[str, Any]]:
        params = {"account_id": str(account_id)} if account_id is not None else {}
        found: list[dict[str, Any]] = self.inspector.get("/_emulator/offline-conversions", params=params).json()
        return found

    def upload_calls(self) -> int:
        return int(self.inspector.get("/_emulator/calls").json().get("ApplyOfflineConversions", 0))

    def configure(self, **changes: Any) -> None:
        """Change the emulator at run time; it also empties the 60 s throttling window."""
        self.inspector.post("/_emulator/config", json=changes).raise_for_status()

    # ---- the database's view ----

    def statuses(self) -> Counter[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(dispatches.c.status, func.count()).group_by(dispatches.c.status)).all()
        return Counter({status: count for status, count in rows})

    def dispatch_rows(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(dispatches, events.c.event_id, events.c.event_name)
                    .join(events, events.c.id == dispatches.c.event_pk)
                    .order_by(dispatches.c.id)
                )
            )

    def call_rows(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(dispatch_calls).order_by(dispatch_calls.c.id)))

    def due(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(dispatches.c.status == PENDING)).scalar_one())

    def next_due(self) -> datetime | None:
        """The earliest time a pending or dead-lettered row becomes due."""
        with self.engine.connect() as conn:
            found: datetime | None = conn.execute(
                select(func.min(dispatches.c.next_attempt_at)).where(
                    dispatches.c.status.in_((PENDING, "dead_lettered"))
                )
            ).scalar()
        return found


def open_world(database_url: str, tmp_path: Path, config: EmulatorConfig | None = None) -> Iterator[TrackingWorld]:
    """A tracking world on a fresh emulator and a migrated database (the generator behind the fixtures)."""
    engine = create_engine_for(database_url)
    migrate(engine)
    key = Fernet.generate_key().decode()
    box = SecretBox(key.encode())
    workspace, _ = create_workspace(engine, f"shop-{uuid.uuid4().hex[:6]}", now=utcnow())
    with start_in_thread(config or EmulatorConfig()) as emulator, httpx.Client(base_url=emulator.url) as inspector:
        settings = Settings(api_base_url=emulator.url, token_file=tmp_path / "unused-tokens.json", timeout_seconds=30)
        yield TrackingWorld(engine, box, key, database_url, settings, emulator, inspector, workspace.id)
    engine.dispose()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[TrackingWorld]:
    """A tracking world on SQLite in a temporary folder."""
    yield from open_world(f"sqlite:///{tmp_path / 'tracking.db'}", tmp_path)


@contextmanager
def postgres_schema_url(url: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema (dropped afterwards); usable by other processes too."""
    schema = f"bingbridge_worker_{uuid.uuid4().hex[:10]}"
    admin = create_engine_for(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = make_url(normalize_url(url)).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingWorld]:
    """A tracking world on SQLite, and on PostgreSQL where BINGBRIDGE_TEST_POSTGRES_URL is set (else skipped)."""
    if request.param == "sqlite":
        yield from open_world(f"sqlite:///{tmp_path / 'tracking.db'}", tmp_path)
        return
    url = os.environ.get("BINGBRIDGE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("set BINGBRIDGE_TEST_POSTGRES_URL to run the PostgreSQL tests")
    with postgres_schema_url(url) as scoped:
        yield from open_world(scoped, tmp_path)


@pytest.fixture
def clock(world: TrackingWorld) -> FakeClock:
    """A fake clock the world's ingestion uses too, so what is ingested is due for the worker at once."""
    fake = FakeClock()
    world.clock = fake
    return fake


# ---- events ----


def event(
    name: str,
    *,
    when: datetime,
    msclkid: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    consent: str = "granted",
    value: float | None = None,
    currency: str | None = "USD",
    event_id: str | None = None,
) -> dict[str, Any]:
    """An event in the ingestion API's format (names are the contract)."""
    payload: dict[str, Any] = {
        "event_id": event_id or uuid.uuid4().hex,
        "event_name": name,
        "timestamp": when.replace(tzinfo=UTC).isoformat(),
        "consent": {"ad_storage": consent},
        "click_ids": {"msclkid": msclkid} if msclkid else {},
        "user": {k: v for k, v in (("email", email), ("phone", phone)) if v},
        "properties": {},
    }
    if value is not None:
        payload["value"] = value
        payload["currency"] = currency
    return payload


def store_events(world: TrackingWorld, payloads: Sequence[dict[str, Any]]) -> tuple[IngestResult, list[EventProblem]]:
    """Validate and ingest events as `POST /v1/events` does (`events.parse_events`, then `ingest.ingest`): one
    dispatch row per destination of the workspace, skipped / blocked / failed / pending by ingestion's rules."""
    now = world.clock()
    valid, problems = parse_events({"events": list(payloads)}, now=now)
    return ingest(world.engine, world.workspace_id, [e for _, e in valid], now=now), problems


def conversions(
    count: int, *, seed: int = 1, name: str = "purchase", start: datetime | None = None
) -> list[dict[str, Any]]:
    """`count` conversion events with distinct click ids, times in the last days."""
    rng = random.Random(seed)
    start = start or utcnow()
    return [
        event(name, when=start - timedelta(minutes=10 + i), msclkid=f"{rng.getrandbits(128):032x}", value=10.0 + i % 50)
        for i in range(count)
    ]


def conversion_key(item: dict[str, Any]) -> tuple[str, str, str, str]:
    """What Microsoft deduplicates on: account, goal, identity, time (as the emulator lists them)."""
    identity = item.get("MicrosoftClickId") or f"{item.get('HashedEmailAddress')}/{item.get('HashedPhoneNumber')}"
    time = str(item["ConversionTime"]).removesuffix("Z")
    return str(item["AccountId"]), str(item["ConversionName"]), str(identity).lower(), time[:19]
