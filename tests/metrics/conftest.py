"""Fixtures for the metrics tests: a SQLite database in a temporary folder, the emulator's ground truth."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from bingbridge.emulator.server import RunningEmulator
from bingbridge.store import create_engine_for
from tests.databases import postgres_engine

__all__ = ["postgres_engine"]


@pytest.fixture
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = create_engine_for(f"sqlite:///{tmp_path_factory.mktemp('db') / 'metrics.db'}")
    yield engine
    engine.dispose()


def ground_truth(emulator: RunningEmulator, account_id: int, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    params = {"account_id": account_id, "start": start.isoformat(), "end": end.isoformat()}
    rows: list[dict[str, Any]] = httpx.get(f"{emulator.url}/_emulator/metrics", params=params).json()["rows"]
    return rows


def truth_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums of the ground truth; money summed exactly, as decimals of the cents Microsoft writes."""
    return {
        "rows": len(rows),
        "impressions": sum(r["Impressions"] for r in rows),
        "clicks": sum(r["Clicks"] for r in rows),
        "spend": sum((Decimal(str(r["Spend"])) for r in rows), Decimal(0)),
        "conversions": sum(r["Conversions"] for r in rows),
        "revenue": sum((Decimal(str(r["Revenue"])) for r in rows), Decimal(0)),
    }


def exact(totals: dict[str, Any]) -> dict[str, Any]:
    """Database sums made comparable: money to the cent as Decimal (SQLite adds in floating point)."""
    return {
        **totals,
        "spend": Decimal(str(round(float(totals["spend"]), 2))),
        "revenue": Decimal(str(round(float(totals["revenue"]), 2))),
        "conversions": round(float(totals["conversions"]), 6),
    }
