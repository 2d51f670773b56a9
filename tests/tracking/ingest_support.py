"""Helpers of the ingestion tests: events in the API's format, and reading what was stored."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from bingbridge.store import utcnow
from bingbridge.store.schema import dispatches, events

with warnings.catch_warnings():
    # starlette's TestClient names anyio.abc.BlockingPortal once, at import; anyio 4.x deprecates that alias.
    # Nothing else of it is affected, and under `-W error` the import itself would fail.
    warnings.filterwarnings("ignore", "The anyio.abc.BlockingPortal alias is deprecated", DeprecationWarning)
    from starlette.testclient import TestClient

__all__ = ["TestClient"]

MSCLKID = "a" * 32
OTHER_MSCLKID = "b" * 32
THIRD_MSCLKID = "c" * 32


def make_event(event_id: str = "e-1", event_name: str = "purchase", **fields: Any) -> dict[str, Any]:
    """A valid event (an MSCLKID, granted consent, a value) with `fields` replacing or adding keys."""
    event: dict[str, Any] = {
        "event_id": event_id,
        "event_name": event_name,
        "timestamp": (utcnow() - timedelta(minutes=5)).isoformat() + "Z",
        "value": 49.9,
        "currency": "EUR",
        "consent": {"ad_storage": "granted"},
        "click_ids": {"msclkid": MSCLKID},
        "properties": {"order": "A-1"},
    }
    event.update(fields)
    return event


def stored_events(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(events).order_by(events.c.id)))


def stored_dispatches(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(dispatches, events.c.event_id)
                .join(events, events.c.id == dispatches.c.event_pk)
                .order_by(dispatches.c.id)
            )
        )
