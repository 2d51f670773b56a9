"""The dispatch worker against the emulator: batching, outcomes in the dispatch log, budget, dead letters, leases."""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest

from bingbridge.conversions.contract import OFFLINE_NO_IDENTITY
from bingbridge.conversions.hashing import hash_email, hash_phone
from bingbridge.emulator import faults
from bingbridge.store.engine import utcnow
from bingbridge.tracking import dispatch_log
from bingbridge.tracking.destination_state import record_answered_call
from bingbridge.tracking.destinations import DestinationInput, get_destination, save_destination
from bingbridge.tracking.health import destination_health
from bingbridge.tracking.retry_window import RETRY_BACKOFF_CAP_SECONDS, RetryWindow
from bingbridge.tracking.worker import (
    Worker,
    budget,
    list_dead_letters,
    new_worker_id,
    replay_dead_letters,
)
from tests.tracking.worker_fixtures import (
    FakeClock,
    TrackingWorld,
    any_world,
    clock,
    conversion_key,
    conversions,
    event,
    store_events,
    world,
)

__all__ = ["any_world", "clock", "world"]


def mixed_events(seed: int = 3) -> tuple[list[dict[str, object]], Counter[str]]:
    """Thousands of mixed events, shuffled, and how many unique events of each kind they hold.

    eligible: conversion events with consent and a click id, e-mail or phone; skipped: not conversion events;
    blocked: ad_storage denied; unmatched: nothing to match with; bad: payloads the API refuses; plus repeats of
    event ids already in the list.
    """
    rng = random.Random(seed)
    now = utcnow()
    names = ["purchase", "lead", "sign_up", "subscribe", "add_to_cart"]
    out: list[dict[str, object]] = []
    kinds: Counter[str] = Counter()

    def when() -> datetime:
        return now - timedelta(days=rng.randint(0, 60), minutes=rng.randint(5, 1000), seconds=rng.randint(0, 59))

    def add(kind: str, payload: dict[str, object]) -> None:
        kinds[kind] += 1
        out.append(payload)

    for i in range(2300):
        add("eligible", event(rng.choice(names), when=when(), msclkid=f"{rng.getrandbits(128):032x}", value=i % 90))
    for i in range(300):
        add("eligible", event(rng.choice(names), when=when(), email=f"Person.{i}@Example.com", value=12.5))
    for i in range(100):
        add("eligible", event("lead", when=when(), phone=f"+1425555{i:04d}"))
    for _ in range(400):
        add("skipped", event(rng.choice(["page_view", "view_content", "scroll"]), when=when()))
    for _ in range(200):
        add("blocked", event("purchase", when=when(), msclkid=f"{rng.getrandbits(128):032x}", consent="denied"))
    for _ in range(50):
        add("unmatched", event("purchase", when=when()))
    for i in range(60):
        bad = event("purchase", when=when(), msclkid=f"{rng.getrandbits(128):032x}")
        bad.update([{"timestamp": "yesterday"}, {"event_name": ""}, {"value": -5}][i % 3])
        add("bad", bad)
    for repeat in rng.sample(out, 150):  # the same event ids posted again: stored once
        kinds["repeat"] += 1
        out.append(dict(repeat))
    rng.shuffle(out)
    return out, kinds


def test_mixed_events_arrive_exactly_once_in_the_fewest_calls(any_world: TrackingWorld) -> None:
    world = any_world
    first, second = world.accounts()[:2]
    destinations = [world.add_destination(first), world.add_destination(second)]
    payloads, kinds = mixed_events()
    stored, problems = store_events(world, payloads)
    eligible = kinds["eligible"]
    # Bad payloads are refused at the door; repeated event ids are stored once.
    assert len({p.index for p in problems}) >= kinds["bad"]
    assert stored.accepted == eligible + kinds["skipped"] + kinds["blocked"] + kinds["unmatched"]

    with Worker(world.engine, world.box, world.settings, poll_seconds=0) as worker:
        handled = worker.run_once()

    assert handled == 2 * eligible
    assert world.upload_calls() == 2 * math.ceil(eligible / 1000) == 6
    for d in destinations:
        received = Counter(conversion_key(item) for item in world.received(d.account_id))
        assert set(received.values()) == {1}
        assert sum(received.values()) == eligible
    log = world.dispatch_rows()
    by_status = Counter((r.destination_id, r.status) for r in log)
    for d in destinations:
        assert by_status[(d.id, "sent")] == eligible
        assert by_status[(d.id, "skipped")] == kinds["skipped"]
        assert by_status[(d.id, "blocked")] == kinds["blocked"]
        assert by_status[(d.id, "failed")] == kinds["unmatched"]
    for row in log:
        if row.status == "sent":
            assert row.batch_id and row.tracking_id and row.sent_at and row.attempts == 1 and row.reason is None
        elif row.status == "skipped":
            assert row.reason == f"Event {row.event_name} skipped — not a conversion event for Bing Ads"
        elif row.status == "blocked":
            assert row.reason == "ad_storage_consent_denied"
        else:
            assert (row.status, row.reason, row.attempts) == ("failed", OFFLINE_NO_IDENTITY.code, 0)
    calls = world.call_rows()
    assert len(calls) == 6 and all(c.ok for c in calls)
    assert sorted(c.rows for c in calls) == [700, 700, 1000, 1000, 1000, 1000]


def test_click_id_goes_alone_and_hashes_go_without_one(world: TrackingWorld) -> None:
    destination = world.add_destination(world.accounts()[0])
    now = utcnow() - timedelta(hours=1)
    click = "ab" * 16
    store_events(
        world,
        [
            event("purchase", when=now, msclkid=click, email="ada@example.com", value=9.5, currency="EUR"),
            event("lead", when=now, email=" Grace@Example.com ", phone="+14255550100"),
        ],
    )
    with Worker(world.engine, world.box, world.settings) as worker:
        worker.run_once()
    by_name = {item["ConversionName"]: item for item in world.received(destination.account_id)}
    assert by_name["Purchase"]["MicrosoftClickId"] == click
    assert by_name["Purchase"].get("HashedEmailAddress") is None
    assert (by_name["Purchase"]["ConversionValue"], by_name["Purchase"]["ConversionCurrencyCode"]) == (9.5, "EUR")
    assert by_name["Lead"].get("MicrosoftClickId") is None
    assert by_name["Lead"]["HashedEmailAddress"] == hash_email("grace@example.com")
    assert by_name["Lead"]["HashedPhoneNumber"] == hash_phone("+14255550100", "US")


def test_items_microsoft_refuses_fail_with_their_code_and_are_never_retried(
    world: TrackingWorld, clock: FakeClock
) -> None:
    world.add_destination(world.accounts()[0], goals=["Purchase"])  # no "Lead" goal: Microsoft answers 5606
    store_events(world, conversions(20, name="purchase") + conversions(10, seed=2, name="lead"))
    with Worker(world.engine, world.box, world.settings, clock=clock) as worker:
        worker.run_once()
        clock.advance(7 * 86400)
        assert worker.run_once() == 0

    assert world.upload_calls() == 1
    failed = [r for r in world.dispatch_rows() if r.status == "failed"]
    assert len(failed) == 10 and world.statuses()["sent"] == 20
    assert {(r.code, r.error_code, r.attempts) for r in failed} == {(5606, "OfflineConversionNameInvalid", 1)}
    assert all("do not match an existing offline conversion goal" in r.reason and r.tracking_id for r in failed)


def test_a_refused_call_fails_its_batch_without_retry(world: TrackingWorld, clock: FakeClock) -> None:
    world.add_destination(world.accounts()[0])
    store_events(world, conversions(5))
    seen: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        body = faults.fault_json(faults.Fault("AdApiFaultDetail", [(201, "ApiInputValidationError", "bad")]), "t-1")
        return httpx.Response(400, json=body, headers={"TrackingId": "t-1"})

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    with http, Worker(world.engine, world.box, world.settings, clock=clock, http=http) as worker:
        assert worker.run_once() == 5
        clock.advance(86400)
        assert worker.run_once() == 0
    assert seen == ["/CampaignManagement/v13/OfflineConversions/Apply"]
    rows = world.dispatch_rows()
    assert {(r.status, r.code, r.error_code, r.tracking_id, r.attempts) for r in rows} == {
        ("failed", 201, "ApiInputValidationError", "t-1", 1)
    }
    assert rows[0].reason.startswith("TrackingId t-1: ApplyOfflineConversions failed (HTTP 400)")


def _resave(world: TrackingWorld, destination_id: int, developer_token: str) -> None:
    """Save the destination again with another developer token (its current, rotated refresh token kept)."""
    destination = get_destination(world.engine, destination_id)
    assert destination is not None
    secrets = world.box.open(destination.sealed)
    data = DestinationInput(
        customer_id=destination.customer_id,
        account_id=destination.account_id,
        developer_token=developer_token,
        client_id=destination.client_id,
        client_secret=secrets["client_secret"],
        refresh_token=secrets["refresh_token"],
        live=True,
    )
    save_destination(world.engine, world.box, destination.workspace_id, data, destination_id=destination.id)


def test_refused_credentials_keep_events_pending_and_the_destination_down(
    world: TrackingWorld, clock: FakeClock
) -> None:
    destination = world.add_destination(world.accounts()[0])
    _resave(world, destination.id, "WRONG-TOKEN")
    store_events(world, conversions(40))
    with Worker(world.engine, world.box, world.settings, clock=clock) as worker:
        assert worker.run_once() == 40
        assert worker.run_once() == 0  # the destination is paused: no call spent on the same refusal
        rows = world.dispatch_rows()
        assert {(r.status, r.attempts, r.claimed_by) for r in rows} == {("pending", 0, None)}
        health = destination_health(world.engine, destination.id, clock.now)
        assert health.status == "Down" and "code 105" in health.reason

        _resave(world, destination.id, world.emulator.config.developer_token)
        clock.advance(5 * 60)
        worker.run_once()
    assert world.statuses() == Counter({"sent": 40})
    assert len(world.received()) == 40
    assert [c.ok for c in world.call_rows()] == [0, 1]


def test_budget_exhaustion_waits_for_the_reset(
    world: TrackingWorld, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    destination = world.add_destination(world.accounts()[0], calls_per_hour=2)
    store_events(world, conversions(450))
    start = clock.now
    with Worker(world.engine, world.box, world.settings, clock=clock, batch_size=100) as worker:
        caplog.set_level(logging.WARNING, logger="bingbridge.tracking.worker")
        worker.run_once()
        assert world.statuses()["sent"] == 200
        left = budget(world.engine, destination, clock.now)
        assert (left.remaining, left.limit, left.resets_at) == (0, 2, start + timedelta(hours=1))
        message = f"budget exhausted: 0 of 2 calls left, resets at {left.resets_at:%Y-%m-%d %H:%M:%S} UTC"
        assert message in caplog.text
        assert message in destination_health(world.engine, destination.id, clock.now).reason

        clock.advance(59 * 60)
        assert worker.run_once() == 0
        clock.now = start + timedelta(hours=1)
        worker.run_once()
        assert world.statuses()["sent"] == 400
        clock.advance(3600)
        worker.run_once()
    assert world.statuses() == Counter({"sent": 450})
    assert world.upload_calls() == 5


def _dead_letter_all(world: TrackingWorld, worker: Worker, clock: FakeClock, count: int) -> None:
    for _ in range(10):
        worker.run_once()
        if world.statuses()["dead_lettered"] == count:
            return
        clock.now = max(clock.now, world.next_due() or clock.now)
    raise AssertionError(f"not all dead-lettered: {world.statuses()}")


def test_rows_dead_letter_when_their_retry_window_is_over_and_are_retried_automatically(
    world: TrackingWorld, clock: FakeClock
) -> None:
    destination = world.add_destination(world.accounts()[0])
    store_events(world, conversions(30))
    world.configure(error_rate=1.0)  # every call: 0 InternalError, HTTP 500
    worker = Worker(
        world.engine,
        world.box,
        world.settings,
        clock=clock,
        retry_window=RetryWindow(window=timedelta(seconds=5)),
        dlq_retry_seconds=600,
        rng=random.Random(1),
    )
    with worker:
        _dead_letter_all(world, worker, clock, 30)
        dead = list_dead_letters(world.engine, destination_id=destination.id)
        assert len(dead) == 30
        assert {d.code for d in dead} == {0} and len({d.next_attempt_at for d in dead}) == 1
        assert all("retry window over" in (d.reason or "") and "InternalError" in (d.reason or "") for d in dead)
        assert destination_health(world.engine, destination.id, clock.now).status == "Down"
        first_retry = dead[0].next_attempt_at
        assert first_retry == clock.now + timedelta(seconds=600)

        clock.now = first_retry
        worker.run_once()  # the automatic DLQ retry fails too: the interval grows with the rows' age
        again = list_dead_letters(world.engine)
        assert len({d.next_attempt_at for d in again}) == 1
        interval = again[0].next_attempt_at - clock.now  # type: ignore[operator]
        assert interval > timedelta(seconds=600)

        world.configure(error_rate=0.0)
        # The outage goes on, so the lane probes with its dead letters at the backoff pace (at most 5 minutes),
        # not only at their growing DLQ interval: the first pass after the pause sends them all.
        assert interval > timedelta(seconds=RETRY_BACKOFF_CAP_SECONDS)
        clock.advance(RETRY_BACKOFF_CAP_SECONDS)
        assert worker.run_once() == 30
    assert world.statuses() == Counter({"sent": 30})
    assert len(world.received()) == 30
    assert [c.ok for c in world.call_rows()][-1] == 1


def test_replay_makes_dead_letters_due_now(world: TrackingWorld, clock: FakeClock) -> None:
    destination = world.add_destination(world.accounts()[0])
    store_events(world, conversions(30))
    world.configure(error_rate=1.0)
    no_retries = RetryWindow(window=timedelta(0))
    with Worker(
        world.engine, world.box, world.settings, clock=clock, retry_window=no_retries, dlq_retry_seconds=3600
    ) as worker:
        _dead_letter_all(world, worker, clock, 30)
        world.configure(error_rate=0.0)
        with world.engine.begin() as conn:  # another lane's call got through: no outage left to probe for
            record_answered_call(conn, destination.id, "offline", now=clock.now)
        assert worker.run_once() == 0  # not due for an hour

        some = [d.id for d in list_dead_letters(world.engine)][:10]
        assert replay_dead_letters(world.engine, dispatch_ids=some, now=clock.now) == 10
        assert worker.run_once() == 10
        assert replay_dead_letters(world.engine, destination_id=destination.id + 1, now=clock.now) == 0
        assert replay_dead_letters(world.engine, destination_id=destination.id, now=clock.now) == 20
        assert worker.run_once() == 20
    assert world.statuses() == Counter({"sent": 30})
    assert replay_dead_letters(world.engine, now=clock.now) == 0  # sent rows are never touched


def test_rows_of_a_dead_worker_are_claimed_again_when_the_lease_ends(world: TrackingWorld, clock: FakeClock) -> None:
    destination = world.add_destination(world.accounts()[0])
    store_events(world, conversions(50))
    taken = dispatch_log.claim(
        world.engine, destination.id, "dead-worker", channel="offline", now=clock.now, lease_seconds=60, limit=1000
    )
    assert len(taken) == 50
    with Worker(world.engine, world.box, world.settings, worker_id="w2", clock=clock) as worker:
        assert worker.run_once() == 0
        clock.advance(60)
        assert worker.run_once() == 50
    # The dead worker comes back late: its outcome is not written over the other worker's.
    late = [dispatch_log.Outcome(t.id, "failed", 1, reason="late") for t in taken]
    with world.engine.begin() as conn:
        assert dispatch_log.settle(conn, "dead-worker", late, now=clock.now) == 0
    assert {(r.status, r.claimed_by) for r in world.dispatch_rows()} == {("sent", "w2")}


def test_consent_and_missing_identity_are_decided_once_at_ingestion(world: TrackingWorld) -> None:
    world.add_destination(world.accounts()[0])
    now = utcnow()
    store_events(
        world,
        [event("purchase", when=now, msclkid="cd" * 16, consent="denied"), event("lead", when=now)],
    )
    with Worker(world.engine, world.box, world.settings) as worker:
        assert worker.run_once() == 0  # nothing pending: the worker never decides again
    assert world.upload_calls() == 0 and world.received() == []
    assert {(r.status, r.reason) for r in world.dispatch_rows()} == {
        ("blocked", "ad_storage_consent_denied"),
        ("failed", OFFLINE_NO_IDENTITY.code),
    }


def test_logs_never_show_personal_data_or_tokens(
    world: TrackingWorld, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    world.add_destination(world.accounts()[0], goals=["Purchase"])
    caplog.set_level(logging.DEBUG)
    email, phone = "secret.person@example.com", "+14255550199"
    store_events(
        world,
        [
            event("purchase", when=utcnow(), email=email, phone=phone),
            event("lead", when=utcnow(), email=email),  # refused: no Lead goal
        ],
    )
    with Worker(world.engine, world.box, world.settings, clock=clock) as worker:
        worker.run_once()
        world.configure(error_rate=1.0)
        store_events(world, [event("purchase", when=utcnow(), phone=phone)])
        worker.run_once()
    text = caplog.text
    assert "batch" in text
    for secret in (email, phone, hash_email(email), hash_phone(phone, "US"), world.emulator.config.client_secret):
        assert secret not in text
    secrets = world.box.open(world.destinations[0].sealed)
    assert secrets["refresh_token"] not in text


def test_run_dispatches_until_stopped(world: TrackingWorld) -> None:
    world.add_destination(world.accounts()[0])
    stop = threading.Event()
    with Worker(world.engine, world.box, world.settings, poll_seconds=0.02) as worker:
        thread = threading.Thread(target=worker.run, args=(stop,))
        thread.start()
        store_events(world, conversions(120))
        deadline = time.monotonic() + 10
        while world.statuses()["sent"] < 120 and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert world.statuses() == Counter({"sent": 120})


def test_worker_ids_name_host_process_and_a_random_part() -> None:
    first, second = new_worker_id(), new_worker_id()
    assert re.fullmatch(r".+:\d+:[0-9a-f]{8}", first) and first != second


def test_one_pass_handles_every_destination_in_turn(world: TrackingWorld) -> None:
    first, second = world.accounts()[:2]
    a, b = world.add_destination(first), world.add_destination(second)
    store_events(world, conversions(250))
    with Worker(world.engine, world.box, world.settings, batch_size=100) as worker:
        assert worker.run_once() == 500
    # Turns: a, b, a, b, a, b — not all of a's batches first.
    assert [c.destination_id for c in world.call_rows()] == [a.id, b.id] * 3
