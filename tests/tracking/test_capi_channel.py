"""The UET Conversions API channel end to end: a mixed stream through POST /v1/events to a destination with both
channels, the emulator's CAPI receiving what it should, and one dispatch-log row per event per channel."""

from __future__ import annotations

import hashlib
import math
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bingbridge.conversions.channels import NOT_A_CONVERSION, NOT_FOR_CAPI
from bingbridge.conversions.contract import CAPI_NO_IDENTITY, CAPI_TOO_OLD, OFFLINE_NO_IDENTITY
from bingbridge.store import utcnow
from bingbridge.store.schema import events
from bingbridge.tracking.health import destination_health
from bingbridge.tracking.worker import Worker
from bingbridge.tracking.workspaces import create_workspace
from bingbridge.web import create_app
from tests.tracking.ingest_support import TestClient
from tests.tracking.worker_fixtures import TrackingWorld, world

__all__ = ["world"]

PAGE_VIEWS = 1100  # more than one CAPI request holds


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _event(
    name: str, *, age: timedelta = timedelta(minutes=1), consent: str = "granted", **fields: Any
) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "event_name": name,
        "timestamp": (utcnow() - age).isoformat() + "Z",
        "consent": {"ad_storage": consent},
        **fields,
    }


def _page_view(i: int, **fields: Any) -> dict[str, Any]:
    page = {
        "url": f"https://shop.example/p/{i}",
        "referrer": "https://www.bing.com/",
        "title": f"P{i}",
        "load_id": f"l{i}",
    }
    return _event("page_view", page=page, user={"anonymous_id": f"anon-{i}"}, **fields)


def mixed_stream() -> dict[str, list[dict[str, Any]]]:
    """Each kind of event of the issue, by the outcome it should have."""
    msclkid = lambda i: f"{i + 1:032x}"  # noqa: E731
    return {
        "page_view": [_page_view(i, click_ids={"msclkid": msclkid(i)} if i % 2 else {}) for i in range(PAGE_VIEWS)],
        "purchase_msclkid": [
            _event("purchase", value=20 + i, currency="EUR", click_ids={"msclkid": msclkid(5000 + i)}) for i in range(5)
        ],
        "lead_email": [_event("lead", user={"email": f"Buyer{i}@Example.com"}) for i in range(3)],
        "sign_up_phone": [_event("sign_up", user={"phone": f"+1 206 555 01{i:02d}"}) for i in range(2)],
        "custom_email": [
            _event("add_payment_info", value=5, currency="USD", user={"email": f"c{i}@example.com"}) for i in range(4)
        ],
        "denied": [_page_view(9000 + i, consent="denied") for i in range(2)],
        "custom_too_old": [
            _event("search", age=timedelta(days=8), click_ids={"msclkid": msclkid(7000 + i)}) for i in range(2)
        ],
        "purchase_too_old_for_capi": [_event("purchase", age=timedelta(days=8), click_ids={"msclkid": msclkid(8000)})],
        "custom_no_identifier": [_event("search") for _ in range(2)],
        "purchase_no_identifier": [_event("purchase")],
    }


# (offline status, offline reason), (capi status, capi reason) per kind
EXPECTED = {
    "page_view": (("skipped", NOT_A_CONVERSION.format(name="page_view")), ("sent", None)),
    "purchase_msclkid": (("sent", None), ("skipped", NOT_FOR_CAPI.format(name="purchase"))),
    "lead_email": (("sent", None), ("skipped", NOT_FOR_CAPI.format(name="lead"))),
    "sign_up_phone": (("sent", None), ("skipped", NOT_FOR_CAPI.format(name="sign_up"))),
    "custom_email": (("skipped", NOT_A_CONVERSION.format(name="add_payment_info")), ("sent", None)),
    "denied": (("skipped", NOT_A_CONVERSION.format(name="page_view")), ("blocked", "ad_storage_consent_denied")),
    "custom_too_old": (("skipped", NOT_A_CONVERSION.format(name="search")), ("failed", CAPI_TOO_OLD.code)),
    "purchase_too_old_for_capi": (("sent", None), ("skipped", NOT_FOR_CAPI.format(name="purchase"))),
    "custom_no_identifier": (("skipped", NOT_A_CONVERSION.format(name="search")), ("failed", CAPI_NO_IDENTITY.code)),
    "purchase_no_identifier": (("failed", OFFLINE_NO_IDENTITY.code), ("skipped", NOT_FOR_CAPI.format(name="purchase"))),
}


@pytest.fixture
def both(world: TrackingWorld) -> tuple[TrackingWorld, str]:
    """A workspace (with its ingestion key) whose destination has both channels."""
    workspace, key = create_workspace(world.engine, "mixed", now=utcnow())
    world.workspace_id = workspace.id
    world.add_capi(world.add_destination(world.accounts()[0]))
    return world, key


def post_all(world: TrackingWorld, key: str, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    app = create_app(world.settings.with_overrides(database_url=world.database_url), world.engine)
    answers = []
    with TestClient(app) as client:
        for start in range(0, len(payloads), 500):
            response = client.post(
                "/v1/events", json={"events": payloads[start : start + 500]}, headers={"Authorization": f"Bearer {key}"}
            )
            assert response.status_code == 200, response.text
            answers.append(response.json())
    return answers


def test_a_mixed_stream_reaches_each_channel_once_with_a_row_per_channel(both: tuple[TrackingWorld, str]) -> None:
    world, key = both
    stream = mixed_stream()
    payloads = [p for kind in stream.values() for p in kind]
    repeats = [stream["page_view"][0], stream["purchase_msclkid"][0], stream["custom_email"][0]]
    answers = post_all(world, key, payloads + repeats)
    assert sum(len(a["duplicates"]) for a in answers) == len(repeats)

    with Worker(world.engine, world.box, world.settings) as worker:
        worker.run_once()

    eligible = stream["page_view"] + stream["custom_email"]
    received = world.uet_events()
    assert sorted(e["eventId"] for e in received) == sorted(p["event_id"] for p in eligible)  # each once
    assert world.capi_calls() == math.ceil(len(eligible) / 1000)
    by_id = {e["eventId"]: e for e in received}
    for p in stream["page_view"]:
        sent = by_id[p["event_id"]]
        assert (sent["eventType"], sent["eventSourceUrl"], sent["pageLoadId"]) == (
            "pageLoad",
            p["page"]["url"],
            p["page"]["load_id"],
        )
        assert (sent["referrerUrl"], sent["pageTitle"], sent["adStorageConsent"]) == (
            p["page"]["referrer"],
            p["page"]["title"],
            "G",
        )
        assert sent["userData"].get("msclkid") == p["click_ids"].get("msclkid")
        assert sent["userData"]["anonymousId"] == p["user"]["anonymous_id"]
    for p in stream["custom_email"]:
        sent = by_id[p["event_id"]]
        assert (sent["eventType"], sent["eventName"]) == ("custom", "add_payment_info")
        assert sent["userData"] == {"em": sha256(p["user"]["email"])}
        assert sent["customData"] == {"value": 5.0, "currency": "USD"}
        assert abs(sent["eventTime"] - utcnow().timestamp()) < 600

    offline = world.received()
    offline_kinds = ("purchase_msclkid", "lead_email", "sign_up_phone", "purchase_too_old_for_capi")
    assert len(offline) == sum(len(stream[k]) for k in offline_kinds)
    assert {o.get("HashedEmailAddress") for o in offline} >= {
        sha256(p["user"]["email"].lower()) for p in stream["lead_email"]
    }

    rows = world.dispatch_rows()
    kind_of = {p["event_id"]: kind for kind, items in stream.items() for p in items}
    per_event: dict[str, dict[str, tuple[str, str | None]]] = {}
    for row in rows:
        assert row.channel not in per_event.setdefault(row.event_id, {}), "one row per event per channel"
        per_event[row.event_id][row.channel] = (row.status, row.reason)
    assert set(per_event) == set(kind_of)
    for event_id, channels in per_event.items():
        offline_expected, capi_expected = EXPECTED[kind_of[event_id]]
        assert channels == {"offline": offline_expected, "capi": capi_expected}, kind_of[event_id]
    capi_sent = [r for r in rows if r.channel == "capi" and r.status == "sent"]
    assert all(r.tracking_id for r in capi_sent)  # Microsoft's traceId
    assert Counter(c.channel for c in world.call_rows()) == {"capi": 2, "offline": 1}


def test_a_refused_capi_token_pauses_only_that_channel(both: tuple[TrackingWorld, str]) -> None:
    world, key = both
    world.emulator.state.campaign.capi_tokens.clear()  # the token was revoked in Microsoft Advertising
    stream = mixed_stream()
    post_all(world, key, stream["custom_email"] + stream["purchase_msclkid"])
    with Worker(world.engine, world.box, world.settings) as worker:
        worker.run_once()
    statuses = Counter((r.channel, r.status) for r in world.dispatch_rows())
    assert statuses[("offline", "sent")] == 5
    assert statuses[("capi", "pending")] == 4  # given back untouched, for when the token works again
    refused = [c for c in world.call_rows() if c.channel == "capi"]
    assert [(c.ok, c.rows, c.code) for c in refused] == [(0, 4, 401)]
    health = destination_health(world.engine, world.destinations[0].id, utcnow())
    assert health.status == "Down" and "credentials refused" in health.reason


def test_per_event_refusals_fail_only_those_events(both: tuple[TrackingWorld, str]) -> None:
    world, key = both
    stream = mixed_stream()
    post_all(world, key, stream["custom_email"])
    # Events the emulator refuses: a time shifted past its 7-day window while queued (the answer's details[].index).
    with world.engine.begin() as conn:
        conn.execute(
            update(events)
            .where(events.c.event_id == stream["custom_email"][1]["event_id"])
            .values(occurred_at=utcnow() - timedelta(days=9))
        )
    with Worker(world.engine, world.box, world.settings) as worker:
        worker.run_once()
    rows = {r.event_id: r for r in world.dispatch_rows() if r.channel == "capi"}
    failed = rows[stream["custom_email"][1]["event_id"]]
    assert (failed.status, failed.code, failed.error_code) == ("failed", 400, "InvalidValue")
    assert "eventTime" in failed.reason and failed.tracking_id
    assert sum(1 for r in rows.values() if r.status == "sent") == 3


def test_a_mapping_through_both_channels_is_sent_twice_and_warned(world: TrackingWorld) -> None:
    workspace, key = create_workspace(world.engine, "both", now=utcnow())
    world.workspace_id = workspace.id
    destination = world.add_capi(
        world.add_destination(world.accounts()[0]), event_channels={"purchase": ["offline", "capi"]}
    )
    assert any("purchase" in w and "twice" in w for w in destination.public()["warnings"])
    purchase = _event("purchase", click_ids={"msclkid": "ab" * 16})
    post_all(world, key, [purchase])
    with Worker(world.engine, world.box, world.settings) as worker:
        worker.run_once()
    assert [e["eventId"] for e in world.uet_events()] == [purchase["event_id"]]
    assert len(world.received()) == 1


def test_a_capi_outage_is_retried_later(both: tuple[TrackingWorld, str]) -> None:
    world, key = both
    post_all(world, key, mixed_stream()["custom_email"])
    world.configure(error_rate=1.0)  # every call answers 500 InternalServerError
    with Worker(world.engine, world.box, world.settings) as worker:
        worker.run_once()
    rows = [r for r in world.dispatch_rows() if r.channel == "capi"]
    assert {(r.status, r.attempts, r.code) for r in rows} == {("pending", 1, 500)}
    assert all(r.next_attempt_at > utcnow() for r in rows) and world.uet_events() == []
