"""Ingestion: durable, idempotent storage and the per-destination decision of every event."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from bingbridge.conversions.contract import OFFLINE_NO_IDENTITY, OFFLINE_TOO_OLD
from bingbridge.store import utcnow
from bingbridge.store.schema import dispatches, events
from bingbridge.tracking import ingest as ingest_module
from bingbridge.tracking.destinations import Destination, save_destination
from bingbridge.tracking.events import Event, parse_event
from bingbridge.tracking.ingest import GroupCommitter, IngestRequest, IngestResult, ingest
from bingbridge.tracking.secrets import SecretBox
from bingbridge.tracking.workspaces import Workspace, create_workspace
from tests.tracking.conftest import destination_input
from tests.tracking.ingest_support import MSCLKID, make_event, stored_dispatches, stored_events


def parsed(*raws: dict[str, Any]) -> list[Event]:
    found = [parse_event(raw, now=utcnow()) for raw in raws]
    assert all(isinstance(e, Event) for e in found), found
    return found  # type: ignore[return-value]


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def two_destinations(engine: Engine, box: SecretBox, workspace: Workspace) -> list[Destination]:
    """The default mapping, and one that renames purchase and does not take lead."""
    return [
        save_destination(engine, box, workspace.id, destination_input()),
        save_destination(
            engine,
            box,
            workspace.id,
            destination_input(name="Second", conversion_names={"purchase": "Sale", "sign_up": "Sign Up"}),
        ),
    ]


def test_the_same_event_id_twice_is_stored_once(any_engine: Engine, box: SecretBox) -> None:
    workspace, _ = create_workspace(any_engine, "Shop", now=utcnow())
    save_destination(any_engine, box, workspace.id, destination_input())
    first = ingest(any_engine, workspace, parsed(make_event("e-1")), now=utcnow())
    again = ingest(any_engine, workspace, parsed(make_event("e-1"), make_event("e-2")), now=utcnow())
    assert (first.accepted, first.duplicates) == (1, 0)
    assert (again.accepted, again.duplicates) == (1, 1)
    assert [(r.event_id, r.status) for r in again.results] == [("e-1", "duplicate"), ("e-2", "accepted")]
    assert count(any_engine, events) == 2
    assert count(any_engine, dispatches) == 2  # the duplicate made no new dispatch row


def test_a_repeat_within_one_batch_is_a_duplicate(any_engine: Engine, box: SecretBox) -> None:
    workspace, _ = create_workspace(any_engine, "Shop", now=utcnow())
    save_destination(any_engine, box, workspace.id, destination_input())
    result = ingest(any_engine, workspace, parsed(make_event("x"), make_event("x", value=1)), now=utcnow())
    assert [r.status for r in result.results] == ["accepted", "duplicate"]
    assert [row.value for row in stored_events(any_engine)] == [49.9]  # the first payload wins
    assert count(any_engine, dispatches) == 1


def test_concurrent_senders_of_the_same_events_store_them_once(any_engine: Engine, box: SecretBox) -> None:
    workspace, _ = create_workspace(any_engine, "Shop", now=utcnow())
    save_destination(any_engine, box, workspace.id, destination_input())
    batch = parsed(*(make_event(f"e-{i}") for i in range(50)))
    accepted: list[int] = []

    def send() -> None:
        accepted.append(ingest(any_engine, workspace, list(reversed(batch)), now=utcnow()).accepted)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(accepted) == 50
    assert (count(any_engine, events), count(any_engine, dispatches)) == (50, 50)


def test_event_ids_are_scoped_to_their_workspace(engine: Engine, workspace: Workspace) -> None:
    other, _ = create_workspace(engine, "Other shop", now=utcnow())
    ingest(engine, workspace, parsed(make_event("e-1")), now=utcnow())
    assert ingest(engine, other, parsed(make_event("e-1")), now=utcnow()).accepted == 1


def test_each_destination_decides_by_its_own_mapping(any_engine: Engine, box: SecretBox) -> None:
    workspace, _ = create_workspace(any_engine, "Shop", now=utcnow())
    first, second = two_destinations(any_engine, box, workspace)
    result = ingest(any_engine, workspace, parsed(make_event("p", "purchase"), make_event("l", "lead")), now=utcnow())
    decided = {
        (r.event_id, d.destination_id): (d.status, d.conversion_name) for r in result.results for d in r.dispatches
    }
    assert decided == {
        ("p", first.id): ("pending", "Purchase"),
        ("p", second.id): ("pending", "Sale"),
        ("l", first.id): ("pending", "Lead"),
        ("l", second.id): ("skipped", None),
    }
    assert result.statuses == {"pending": 3, "skipped": 1}
    rows = {(r.event_id, r.destination_id): r for r in stored_dispatches(any_engine)}
    assert rows["l", second.id].reason == "Event lead skipped — not a conversion event for Bing Ads"
    assert rows["p", second.id].conversion_name == "Sale"


def test_non_conversion_events_are_skipped_with_the_seed_text(
    engine: Engine, workspace: Workspace, destination: Destination
) -> None:
    result = ingest(engine, workspace, parsed(make_event("v", "page_view")), now=utcnow())
    (decision,) = result.results[0].dispatches
    assert (decision.status, decision.reason) == (
        "skipped",
        "Event page_view skipped — not a conversion event for Bing Ads",
    )
    (row,) = stored_dispatches(engine)
    assert (row.status, row.next_attempt_at, row.attempts) == ("skipped", None, 0)


def test_consent_denied_is_blocked_and_never_queued(
    engine: Engine, workspace: Workspace, destination: Destination
) -> None:
    ingest(engine, workspace, parsed(make_event("d", consent={"ad_storage": "denied"}, click_ids={})), now=utcnow())
    (row,) = stored_dispatches(engine)
    assert (row.status, row.reason, row.next_attempt_at) == ("blocked", "ad_storage_consent_denied", None)


def test_a_non_conversion_with_consent_denied_is_still_just_skipped(
    engine: Engine, workspace: Workspace, destination: Destination
) -> None:
    ingest(engine, workspace, parsed(make_event("d", "page_view", consent={"ad_storage": "denied"})), now=utcnow())
    assert stored_dispatches(engine)[0].status == "skipped"


def test_no_match_key_is_stored_and_failed(engine: Engine, workspace: Workspace, destination: Destination) -> None:
    ingest(engine, workspace, parsed(make_event("n", click_ids={"gclid": "g"}, properties={})), now=utcnow())
    (row,) = stored_dispatches(engine)
    assert (row.status, row.reason, row.conversion_name) == ("failed", OFFLINE_NO_IDENTITY.code, "Purchase")
    assert stored_events(engine)[0].click_ids == {"gclid": "g"}


def test_hashed_email_alone_is_enough(engine: Engine, workspace: Workspace, destination: Destination) -> None:
    ingest(engine, workspace, parsed(make_event("m", click_ids=None, user={"email": "a@example.com"})), now=utcnow())
    assert stored_dispatches(engine)[0].status == "pending"


def test_events_older_than_90_days_are_failed(engine: Engine, workspace: Workspace, destination: Destination) -> None:
    old = (utcnow() - timedelta(days=91)).isoformat()
    ingest(engine, workspace, parsed(make_event("o", timestamp=old)), now=utcnow())
    (row,) = stored_dispatches(engine)
    assert (row.status, row.reason) == ("failed", OFFLINE_TOO_OLD.code)


def test_pending_rows_are_due_now(engine: Engine, workspace: Workspace, destination: Destination) -> None:
    now = utcnow()
    ingest(engine, workspace, parsed(make_event("p", value=10, currency="usd")), now=now)
    (row,) = stored_dispatches(engine)
    assert (row.status, row.next_attempt_at, row.created_at, row.attempts) == ("pending", now, now, 0)
    (event,) = stored_events(engine)
    assert (event.value, event.currency, event.received_at, event.ad_storage) == (10.0, "USD", now, "granted")
    assert event.click_ids == {"msclkid": MSCLKID}


def test_a_timestamp_slightly_ahead_is_stored_as_now(engine: Engine, workspace: Workspace) -> None:
    now = utcnow()
    event = parse_event(make_event("f", timestamp=(now + timedelta(minutes=2)).isoformat()), now=now)
    assert isinstance(event, Event)
    ingest(engine, workspace, [event], now=now)
    assert stored_events(engine)[0].occurred_at == now


def test_a_workspace_without_destinations_stores_events_only(engine: Engine, workspace: Workspace) -> None:
    result = ingest(engine, workspace, parsed(make_event("a")), now=utcnow())
    assert (result.accepted, result.statuses) == (1, {})
    assert (count(engine, events), count(engine, dispatches)) == (1, 0)


def test_an_empty_batch_stores_nothing(engine: Engine, workspace: Workspace) -> None:
    assert ingest(engine, workspace.id, [], now=utcnow()).results == []


# ---- committing concurrent callers together ----


def concurrently(send: Callable[[int], None], callers: int, *, refuse: str | None = None) -> list[int]:
    """Run `send(0..callers-1)` in threads while each group commit takes 10 ms (a slow disk flush: callers arriving
    meanwhile wait for the next group) and fails when it holds the event id `refuse`; returns the group sizes."""
    groups: list[int] = []
    real = ingest_module.ingest_together

    def slow(engine: Engine, requests: Sequence[IngestRequest]) -> list[IngestResult]:
        groups.append(len(requests))
        time.sleep(0.01)
        if any(e.event_id == refuse for r in requests for e in r.events):
            raise OperationalError("INSERT", {}, Exception("value out of range"))
        return real(engine, requests)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest_module, "ingest_together", slow)
        threads = [threading.Thread(target=send, args=(n,)) for n in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return groups


def test_concurrent_callers_share_commits_and_get_their_own_results(engine: Engine, workspace: Workspace) -> None:
    committer = GroupCommitter(engine)
    results: dict[int, IngestResult] = {}

    def send(n: int) -> None:
        results[n] = committer.ingest(workspace, parsed(make_event(f"e-{n}"), make_event("shared")), now=utcnow())

    groups = concurrently(send, 12)
    assert sum(groups) == 12 and len(groups) < 12  # some commits carried several callers
    assert [results[n].results[0].status for n in range(12)] == ["accepted"] * 12
    assert sorted(results[n].results[1].status for n in range(12)) == ["accepted"] + ["duplicate"] * 11
    assert count(engine, events) == 13


def test_a_failed_group_commit_fails_every_caller_of_the_group(engine: Engine, workspace: Workspace) -> None:
    committer = GroupCommitter(engine)

    def failing(engine: Engine, requests: Sequence[IngestRequest]) -> list[IngestResult]:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest_module, "ingest_together", failing)
        with pytest.raises(OperationalError):
            committer.ingest(workspace, parsed(make_event()), now=utcnow())
    # The committer is not stuck: the next call commits.
    assert committer.ingest(workspace, parsed(make_event()), now=utcnow()).accepted == 1


def test_a_request_that_fails_does_not_fail_the_others_of_its_group(engine: Engine, workspace: Workspace) -> None:
    committer = GroupCommitter(engine)
    outcomes: dict[int, object] = {}

    def send(n: int) -> None:
        batch = parsed(make_event("poison" if n == 5 else f"e-{n}"))
        try:
            outcomes[n] = committer.ingest(workspace, batch, now=utcnow()).accepted
        except OperationalError:
            outcomes[n] = "refused"

    groups = concurrently(send, 12, refuse="poison")
    assert outcomes == {n: "refused" if n == 5 else 1 for n in range(12)}
    assert max(groups) > 1 and count(engine, events) == 11
