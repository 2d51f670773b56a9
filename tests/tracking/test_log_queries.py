"""The read side of the dispatch log, as the API and the CLI query it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from bingbridge.errors import ValidationError
from bingbridge.store import utcnow
from bingbridge.tracking.destinations import Destination, save_destination
from bingbridge.tracking.events import Event, parse_event
from bingbridge.tracking.ingest import ingest
from bingbridge.tracking.log_queries import query_dispatch_log
from bingbridge.tracking.secrets import SecretBox
from bingbridge.tracking.workspaces import Workspace, create_workspace
from tests.tracking.conftest import destination_input
from tests.tracking.ingest_support import make_event


def event(event_id: str, name: str = "purchase") -> Event:
    parsed = parse_event(make_event(event_id, name), now=utcnow())
    assert isinstance(parsed, Event)
    return parsed


def test_all_workspaces_or_one(engine: Engine, box: SecretBox, workspace: Workspace, destination: Destination) -> None:
    other, _ = create_workspace(engine, "Other", now=utcnow())
    save_destination(engine, box, other.id, destination_input())
    ingest(engine, workspace, [event("mine")], now=utcnow())
    ingest(engine, other, [event("theirs")], now=utcnow())
    assert [r.event_id for r in query_dispatch_log(engine, None)] == ["theirs", "mine"]
    assert [r.event_id for r in query_dispatch_log(engine, workspace.id)] == ["mine"]
    assert [r.event_id for r in query_dispatch_log(engine, None, destination_id=destination.id)] == ["mine"]


def test_times_filter_on_when_the_event_arrived(engine: Engine, workspace: Workspace, destination: Destination) -> None:
    start = utcnow()
    ingest(engine, workspace, [event("early")], now=start)
    ingest(engine, workspace, [event("late")], now=start + timedelta(hours=1))
    assert [r.event_id for r in query_dispatch_log(engine, workspace.id, until=start + timedelta(minutes=1))] == [
        "early"
    ]
    assert [r.event_id for r in query_dispatch_log(engine, workspace.id, since=start + timedelta(minutes=1))] == [
        "late"
    ]


def test_entries_serialise_times_as_utc(engine: Engine, workspace: Workspace, destination: Destination) -> None:
    ingest(engine, workspace, [event("a")], now=utcnow())
    (entry,) = query_dispatch_log(engine, workspace.id)
    data = entry.as_dict()
    assert data["created_at"].endswith("Z") and data["sent_at"] is None
    assert (data["status"], data["conversion_name"], data["attempts"]) == ("pending", "Purchase", 0)


def test_channel_filter(engine: Engine, box: SecretBox, workspace: Workspace) -> None:
    save_destination(engine, box, workspace.id, destination_input(uet_tag_id="42", capi_token="capi-secret"))
    ingest(engine, workspace, [event("bought"), event("looked", "page_view")], now=utcnow())
    both = query_dispatch_log(engine, workspace.id)
    assert {(r.event_id, r.channel) for r in both} >= {("bought", "offline"), ("looked", "capi")}
    assert {r.channel for r in query_dispatch_log(engine, workspace.id, channel="capi")} == {"capi"}
    offline = query_dispatch_log(engine, workspace.id, channel="offline")
    assert {r.channel for r in offline} == {"offline"} and "bought" in {r.event_id for r in offline}


@pytest.mark.parametrize(
    ("options", "field"),
    [({"statuses": ["lost"]}, "status"), ({"limit": 0}, "limit"), ({"channel": "fax"}, "channel")],
)
def test_bad_filters_name_the_field(engine: Engine, options: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        query_dispatch_log(engine, None, **options)  # type: ignore[arg-type]
    assert caught.value.problems[0].field == field


def test_no_limit_for_exports(engine: Engine, workspace: Workspace, destination: Destination) -> None:
    ingest(engine, workspace, [event(str(i)) for i in range(1500)], now=utcnow())
    assert len(query_dispatch_log(engine, workspace.id, limit=None)) == 1500
