"""The dispatch log page (filters; reason, Microsoft code and TrackingId on each row) and the dead-letter queue."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import insert, select

from bingbridge.store.engine import utcnow
from bingbridge.store.schema import dispatches, events
from tests.web.conftest import DashboardWorld, unreachable_destination

TRACKING_ID = "0f4c6e1a-58a2-4f5c-9d0e-7d1b2c3a4e5f"


def add_dispatch(world: DashboardWorld, destination_id: int, event_id: str, **values: Any) -> int:
    created = values.pop("created_at", utcnow())
    with world.engine.begin() as conn:
        event_pk = conn.execute(
            insert(events).values(
                workspace_id=1,
                event_id=event_id,
                event_name=values.pop("event_name", "purchase"),
                occurred_at=created,
                received_at=created,
            )
        ).inserted_primary_key[0]
        row = {"status": "sent", "attempts": 1, "created_at": created, "updated_at": created, **values}
        result = conn.execute(insert(dispatches).values(event_pk=event_pk, destination_id=destination_id, **row))
        return int(result.inserted_primary_key[0])


def event_ids(html: str) -> list[str]:
    return re.findall(r'<span class="meta">(e-[\w-]+)</span>', html)


def test_each_row_shows_reason_code_and_tracking_id(signed_in: DashboardWorld) -> None:
    destination = unreachable_destination(signed_in)
    add_dispatch(
        signed_in, destination, "e-refused", status="failed", reason="The click id is too old.", code=5617,
        error_code="ConversionClickIdDateTimeOutsideGoalConversionWindow", tracking_id=TRACKING_ID,
    )  # fmt: skip
    page = signed_in.client.get("/dispatch").text
    assert "The click id is too old." in page
    assert '5617 <span class="meta">ConversionClickIdDateTimeOutsideGoalConversionWindow</span>' in page
    assert f'<code class="wrap">{TRACKING_ID}</code>' in page
    assert '<span aria-hidden="true">✕</span> failed' in page  # the status is text and shape, not colour alone


def test_the_log_filters_by_status_event_name_and_day(signed_in: DashboardWorld) -> None:
    destination = unreachable_destination(signed_in)
    day = dt.datetime(2026, 3, 10, 12, 0)
    add_dispatch(signed_in, destination, "e-sent", created_at=day)
    add_dispatch(signed_in, destination, "e-skip", status="skipped", event_name="page_view", created_at=day)
    add_dispatch(signed_in, destination, "e-old", created_at=day - dt.timedelta(days=3))
    add_dispatch(signed_in, destination, "e-blocked", status="blocked", reason="ad_storage_consent_denied")
    get = signed_in.client.get
    assert event_ids(get("/dispatch").text) == ["e-blocked", "e-old", "e-skip", "e-sent"]
    assert event_ids(get("/dispatch?status=sent").text) == ["e-old", "e-sent"]
    assert event_ids(get("/dispatch?event_name=page_view").text) == ["e-skip"]
    assert event_ids(get("/dispatch?since=2026-03-10&until=2026-03-10").text) == ["e-skip", "e-sent"]
    assert event_ids(get(f"/dispatch?destination_id={destination}&status=blocked").text) == ["e-blocked"]


def test_a_bad_filter_is_named(signed_in: DashboardWorld) -> None:
    answer = signed_in.client.get("/dispatch?since=yesterday&status=lost")
    assert answer.status_code == 400
    assert "not a date (YYYY-MM-DD): &#39;yesterday&#39;" in answer.text
    assert "unknown status" in answer.text


def test_the_log_pages_back_with_older(signed_in: DashboardWorld) -> None:
    destination = unreachable_destination(signed_in)
    for i in range(101):
        add_dispatch(signed_in, destination, f"e-{i:03d}")
    first = signed_in.client.get("/dispatch?status=sent").text
    assert len(event_ids(first)) == 100
    older = re.search(r'<a href="/dispatch\?([^"]+)">Older →</a>', first)
    assert older is not None
    second = signed_in.client.get("/dispatch?" + older.group(1).replace("&amp;", "&")).text
    assert event_ids(second) == ["e-000"]
    assert "← Newest" in second


def test_dead_letters_are_listed_and_replayed_one_or_all(signed_in: DashboardWorld) -> None:
    destination = unreachable_destination(signed_in)
    later = utcnow() + dt.timedelta(hours=1)
    ids = [
        add_dispatch(
            signed_in,
            destination,
            f"e-dead-{i}",
            status="dead_lettered",
            attempts=8,
            reason="boom",
            code=0,
            next_attempt_at=later,
        )
        for i in range(3)
    ]
    page = signed_in.client.get("/dead-letters").text
    assert all(f"e-dead-{i}" in page for i in range(3)) and "Replay all (3)" in page
    answer = signed_in.post(f"/dead-letters/{ids[0]}/replay")
    assert answer.headers["location"] == "/dead-letters"
    assert f"Dispatch {ids[0]} queued for replay" in signed_in.client.get("/dead-letters").text

    def due() -> dict[int, dt.datetime]:
        with signed_in.engine.connect() as conn:
            return dict(conn.execute(select(dispatches.c.id, dispatches.c.next_attempt_at)).all())

    assert due()[ids[0]] < later and due()[ids[1]] == later
    answer = signed_in.post("/dead-letters/replay", {"destination_id": str(destination)})
    assert answer.headers["location"] == f"/dead-letters?destination_id={destination}"
    assert "3 dead letters queued for replay." in signed_in.client.get(answer.headers["location"]).text
    assert all(when < later for when in due().values())


def test_replaying_a_row_that_is_no_longer_dead_says_so(signed_in: DashboardWorld) -> None:
    destination = unreachable_destination(signed_in)
    sent = add_dispatch(signed_in, destination, "e-sent")
    answer = signed_in.post(f"/dead-letters/{sent}/replay")
    assert f"Dispatch {sent} is no longer dead-lettered." in signed_in.client.get(answer.headers["location"]).text
