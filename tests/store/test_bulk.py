"""Bulk inserts through the driver store what SQLAlchemy's own inserts store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Engine, Index, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.types import JSON

from bingbridge.store.bulk import CHUNKS, BulkInsert

metadata = MetaData()
things = Table(
    "bulk_things",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(50), nullable=False),
    Column("at", DateTime),
    Column("data", JSON),
    Index("ux_bulk_things_name", "name", unique=True),
)
COLUMNS = ("name", "at", "data")
WHEN = datetime(2026, 12, 1, 13, 50, 0, 123456)


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)


def stored(engine: Engine, raw: bool = False) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        if raw:  # the text as the database holds it
            query = "SELECT name, CAST(at AS TEXT), CAST(data AS TEXT) FROM bulk_things ORDER BY name"
            return [tuple(row) for row in conn.execute(text(query))]
        return [tuple(row) for row in conn.execute(select(things.c.name, things.c.at, things.c.data).order_by("name"))]


def test_values_are_stored_as_sqlalchemy_stores_them(db: Engine) -> None:
    rows = [("a", WHEN, {"k": [1, "x"]}), ("b", None, None), ("c", WHEN, {"é": None})]
    with db.begin() as conn:
        BulkInsert(things, COLUMNS).run(conn, rows)
    ours = stored(db), stored(db, raw=True)
    with db.begin() as conn:
        conn.execute(things.delete())
        conn.execute(insert(things), [dict(zip(COLUMNS, row, strict=True)) for row in rows])
    assert (stored(db), stored(db, raw=True)) == ours
    assert ours[0] == rows


def test_returning_covers_every_chunk_and_skips_conflicts(db: Engine) -> None:
    many = sum(CHUNKS) + 3  # one statement of every shape, some twice
    bulk = BulkInsert(things, COLUMNS, skip_conflicts_on=("name",), returning=("name", "id"))
    with db.begin() as conn:
        first = bulk.run(conn, [(f"n{i:04}", WHEN, {"i": i}) for i in range(many)])
        again = bulk.run(conn, [("n0000", WHEN, {}), ("new", WHEN, {})])
    assert sorted(row.name for row in first) == [f"n{i:04}" for i in range(many)]
    assert len({row.id for row in first}) == many
    assert [row.name for row in again] == ["new"]
    assert len(stored(db)) == many + 1
    assert stored(db)[0] == ("n0000", WHEN, {"i": 0})  # the first row kept its values


def test_nothing_to_insert_is_no_statement(db: Engine) -> None:
    with db.begin() as conn:
        assert BulkInsert(things, COLUMNS, returning=("id",)).run(conn, []) == []
        assert BulkInsert(things, COLUMNS).run(conn, []) == []


def test_columns_out_of_the_tables_order_are_refused() -> None:
    with pytest.raises(ValueError, match="in the table's order: name, at, data"):
        BulkInsert(things, ("data", "name", "at"))
