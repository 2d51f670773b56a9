"""Writing report rows (bingbridge.store.schema.ReportStorage): facts upserted on their key through the driver
(SQLite: executemany of multi-row statements; PostgreSQL: COPY), each distinct set of attributes stored once.

Rows come as columns: the view's column name -> values. The attribute sets of a load are numbered in one pass of
dictionary lookups; only the sets not seen before in the load are looked up in, or added to, the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from itertools import chain, islice
from typing import Any

from sqlalchemy import Connection, Date, Table, inspect, select

from bingbridge.store.bulk import BulkInsert
from bingbridge.store.schema import ReportStorage

# Rows per INSERT on SQLite: many rows per statement cut the per-row cost of the virtual machine (SQLite takes up
# to 32,766 parameters; 40 rows of the widest facts table use a few hundred).
SQLITE_ROWS_PER_STATEMENT = 40
SQLITE_CACHE_KIB = 32 * 1024
# Digests looked up per query (SQLite's default limit of bound parameters is 32,766; PostgreSQL's 65,535).
_LOOKUP = 500


def ensure_storage(conn: Connection, storage: ReportStorage) -> None:
    """Create a report table's tables and view if the database lacks them (report tables need no migration file)."""
    storage.facts.create(conn, checkfirst=True)
    storage.attributes.create(conn, checkfirst=True)
    if not inspect(conn).has_table(storage.view.name):
        query = storage.view_select().compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        conn.exec_driver_sql(f'CREATE VIEW "{storage.view.name}" AS {query}')


def _digest(values: Sequence[Any]) -> str:
    """The key of a set of attribute values (text, whole numbers, None) in its table."""
    return hashlib.blake2b(json.dumps(list(values)).encode(), digest_size=16).hexdigest()


class _Numbering(dict[tuple[Any, ...], int]):
    """Attribute sets -> their ids; a set not seen yet gets a provisional number (-1, -2, ...) and joins `new`."""

    def __init__(self) -> None:
        super().__init__()
        self.new: list[tuple[Any, ...]] = []

    def __missing__(self, key: tuple[Any, ...]) -> int:
        self.new.append(key)
        number = self[key] = -len(self.new)
        return number


class ReportWriter:
    """Upserts the rows of one report table in `conn`'s transaction, chunk after chunk (`write`)."""

    def __init__(self, conn: Connection, storage: ReportStorage) -> None:
        self.conn = conn
        self.storage = storage
        self._names = storage.attribute_names
        self._ids = _Numbering()
        self._insert = BulkInsert(storage.attributes, ("digest", *self._names), skip_conflicts_on=("digest",))

    def write(self, columns: Mapping[str, Sequence[Any]]) -> int:
        """Insert or update rows on their key; `columns` holds every column of the view. Returns the rows."""
        count = len(columns["account_id"])
        if not count:
            return 0
        facts = {c.name: columns[c.name] for c in self.storage.facts.columns if c.name != "attributes_id"}
        facts["attributes_id"] = self._attribute_ids(columns)
        if self.conn.dialect.name == "postgresql":
            _write_postgresql(self.conn, self.storage.facts, facts)
        else:
            _write_sqlite(self.conn, self.storage.facts, facts, count)
        return count

    def _attribute_ids(self, columns: Mapping[str, Sequence[Any]]) -> list[int]:
        ids = list(map(self._ids.__getitem__, zip(*(columns[name] for name in self._names), strict=True)))
        new = self._ids.new
        if not new:
            return ids
        stored = self._stored(new)
        real = [stored[key] for key in new]
        self._ids.update(zip(new, real, strict=True))
        self._ids.new = []
        return [real[-i - 1] if i < 0 else i for i in ids]

    def _stored(self, sets: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], int]:
        """The ids of attribute sets, adding those the table lacks."""
        keys = {_digest(values): values for values in sets}
        self._insert.run(self.conn, [(key, *values) for key, values in keys.items()])
        table = self.storage.attributes
        found: dict[tuple[Any, ...], int] = {}
        names = list(keys)
        for i in range(0, len(names), _LOOKUP):
            query = select(table.c.digest, table.c.id).where(table.c.digest.in_(names[i : i + _LOOKUP]))
            found.update({keys[key]: int(id_) for key, id_ in self.conn.execute(query)})
        return found


@contextmanager
def indexes_built_after(conn: Connection, storage: ReportStorage, rows: int | None) -> Iterator[None]:
    """Around a load of `rows` rows (None: not known) in `conn`'s transaction. On SQLite, when the load is at least
    as big as the table (a first import, a backfill), the facts' secondary indexes are dropped for the load and
    built again at its end, in the same transaction: one sort instead of an index update per row, about a fifth of
    the load's SQLite time (bench/report_reader.py). Other transactions keep seeing the indexes; a load that fails
    is rolled back with them. The key, which the upsert needs, always stays."""
    table = storage.facts
    secondary = sorted(table.indexes, key=lambda index: str(index.name))
    if conn.dialect.name != "sqlite" or not rows or not secondary:
        yield
        return
    present = conn.exec_driver_sql(f'SELECT max(rowid) FROM "{table.name}"').scalar() or 0
    if rows < present:
        yield
        return
    if not conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        # Python's sqlite3 opens the transaction at the first write and runs DDL before it in autocommit mode:
        # open it now, so that a load that fails takes the dropped indexes back with it.
        conn.exec_driver_sql("BEGIN")
    for index in secondary:
        index.drop(conn)
    yield
    for index in secondary:
        index.create(conn)


# ---- the facts, per database ----


def _upsert_sql(table: Table, source: str) -> str:
    """INSERT INTO table (...) <source> ON CONFLICT (key) DO UPDATE SET every other column."""
    names = [c.name for c in table.columns]
    keys = [c.name for c in table.primary_key.columns]
    quoted = ", ".join(f'"{n}"' for n in names)
    changes = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n not in keys)
    conflict = ", ".join(f'"{k}"' for k in keys)
    return f'INSERT INTO "{table.name}" ({quoted}) {source} ON CONFLICT ({conflict}) DO UPDATE SET {changes}'


@cache
def _sqlite_upsert(table: Table, rows: int) -> str:
    row = "(" + ", ".join("?" * len(table.columns)) + ")"
    return _upsert_sql(table, "VALUES " + ", ".join([row] * rows))


class _IsoDates(dict[dt.date, str]):
    def __missing__(self, key: dt.date) -> str:
        value = self[key] = key.isoformat()
        return value


def _write_sqlite(conn: Connection, table: Table, columns: Mapping[str, Sequence[Any]], count: int) -> None:
    """SQLite: days and times in the text forms SQLAlchemy's SQLite types read back; the rows go to the driver flat,
    SQLITE_ROWS_PER_STATEMENT at a time, through one executemany (the loop runs in C)."""
    dates = _IsoDates()
    converted = dict(columns)
    for column in table.columns:
        if isinstance(column.type, Date):
            converted[column.name] = list(map(dates.__getitem__, converted[column.name]))
    stamps = {t: t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in set(columns["imported_at"])}
    converted["imported_at"] = list(map(stamps.__getitem__, columns["imported_at"]))
    values = chain.from_iterable(zip(*(converted[c.name] for c in table.columns), strict=True))
    per = SQLITE_ROWS_PER_STATEMENT
    full, rest = divmod(count, per)
    # Statements of `per` rows each, cut from one flat pass over the values (zip of one iterator, in C) and handed
    # to the driver one at a time: zip reuses its tuple, no list of them is built.
    step = per * len(table.columns)
    statements = zip(*[islice(values, full * step)] * step, strict=True)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    # A bigger page cache than SQLite's default 2 MB (taken only as pages are used) keeps the indexes' pages at
    # hand: a million-row load into a new database (16 KiB pages) takes about a tenth less CPU time in SQLite;
    # 128 MB is no faster than 32 MB and holds 96 MB more at the peak (bench/report_reader.py).
    cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    if full:
        cursor.executemany(_sqlite_upsert(table, per), statements)
    if rest:
        cursor.execute(_sqlite_upsert(table, rest), tuple(values))
    cursor.close()


def _write_postgresql(conn: Connection, table: Table, columns: Mapping[str, Sequence[Any]]) -> None:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT ... ON CONFLICT DO UPDATE from it."""
    names = [c.name for c in table.columns]
    staging = f"_load_{table.name}"
    quoted = ", ".join(f'"{n}"' for n in names)
    conn.exec_driver_sql(
        f'CREATE TEMP TABLE IF NOT EXISTS "{staging}" (LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP'
    )
    conn.exec_driver_sql(f'TRUNCATE "{staging}"')
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{staging}" ({quoted}) FROM STDIN') as copy:
        for row in zip(*(columns[n] for n in names), strict=True):
            copy.write_row(row)
    conn.exec_driver_sql(_upsert_sql(table, f'SELECT {quoted} FROM "{staging}"'))
