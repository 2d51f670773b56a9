"""Inserts of many rows through the database driver, for the ingestion hot path.

SQLAlchemy's executemany spends about 25 µs of Python per row (building and processing each row's parameters),
more than the database spends storing it. Here SQLAlchemy compiles each statement once per dialect and shape, the
values go through the column types' own bind processors (so a value is stored exactly as SQLAlchemy would store
it), and the driver receives plain sequences. Rows are tuples in the order of `columns`, which is the table's.

- SQLite: multi-row `VALUES` statements of a few fixed sizes (`CHUNKS`) when rows come back, else one executemany.
- PostgreSQL: psycopg's executemany of the one-row statement, with `returning=True` when rows come back (one round
  trip in pipeline mode). psycopg caches and prepares a short statement; a multi-row `VALUES` of hundreds of
  parameters it would parse again at every call (it caches statements of up to 50), which cost more than the
  insert, and an `unnest` of arrays spends as much quoting each array element.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, Table, bindparam
from sqlalchemy.engine import Row

from bingbridge.errors import ConfigurationError

# Rows per multi-row SQLite statement: a few shapes to compile and cache, within SQLite's parameter limit.
CHUNKS = (256, 64, 16, 4, 1)

Processor = Callable[[Any], Any]


class BulkInsert:
    """`INSERT INTO table (columns)` for many rows, whose RETURNING rows (`returning`) come back. `skip_conflicts_on`
    names a unique key: rows that collide with it are not inserted (and return nothing)."""

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        skip_conflicts_on: Sequence[str] = (),
        returning: Sequence[str] = (),
    ) -> None:
        order = [c.name for c in table.columns if c.name in columns]
        if order != list(columns):
            raise ValueError(f"name the columns of {table.name} in the table's order: {', '.join(order)}")
        self.table = table
        self.columns = tuple(columns)
        self.skip_conflicts_on = tuple(skip_conflicts_on)
        self.returning = tuple(returning)
        self._compiled: dict[tuple[str, int], str] = {}
        self._processors: dict[str, list[tuple[int, Processor]]] = {}

    def run(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """Insert `rows` in `conn`'s transaction; the RETURNING rows, their columns as attributes (none without
        `returning`)."""
        if not rows:
            return []
        dialect = conn.dialect
        rows = self._processed(dialect, rows)
        if dialect.name == "postgresql":
            return self._executemany(conn, rows)
        if dialect.name != "sqlite":
            raise ConfigurationError(f"bulk inserts support SQLite and PostgreSQL, not {dialect.name}")
        if not self.returning:
            conn.exec_driver_sql(self._statement(dialect, 1), [tuple(row) for row in rows])
            return []
        found: list[Row[Any]] = []
        start = 0
        while start < len(rows):
            size = next(c for c in CHUNKS if c <= len(rows) - start)
            flat = tuple(value for row in rows[start : start + size] for value in row)
            found.extend(conn.exec_driver_sql(self._statement(dialect, size), flat).all())
            start += size
        return found

    def _executemany(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """PostgreSQL: the one-row statement for every row, through psycopg's cursor of `conn`'s transaction."""
        from psycopg.rows import namedtuple_row

        names = [f"r0_{j}" for j in range(len(self.columns))]
        cursor = conn.connection.driver_connection.cursor(row_factory=namedtuple_row)  # type: ignore[union-attr]
        try:
            cursor.executemany(
                self._statement(conn.dialect, 1),
                [dict(zip(names, row, strict=True)) for row in rows],
                returning=bool(self.returning),
            )
            if not self.returning:
                return []
            found = []
            while True:
                found.extend(cursor.fetchall())
                if not cursor.nextset():
                    return found
        finally:
            cursor.close()

    def _processed(self, dialect: Dialect, rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
        processors = self._processors.get(dialect.name)
        if processors is None:
            processors = []
            for index, name in enumerate(self.columns):
                found = self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                if found is not None:
                    processors.append((index, found))
            self._processors[dialect.name] = processors
        if not processors:
            return rows
        converted = [list(row) for row in rows]
        for index, processor in processors:
            last: Any = object()
            done: Any = None
            for values in converted:
                value = values[index]
                if value is not last:  # a value repeated row after row (the request's time) is converted once
                    last, done = value, processor(value)
                values[index] = done
        return converted

    def _statement(self, dialect: Dialect, size: int) -> str:
        """The SQL of a `size`-row statement, compiled once."""
        key = (dialect.name, size)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled.setdefault(key, self._compile(dialect, size))
        return compiled

    def _compile(self, dialect: Dialect, size: int) -> str:
        statement: Any = _dialect_insert(dialect, self.table)
        names = [f"r{i}_{j}" for i in range(size) for j in range(len(self.columns))]
        values: list[dict[str, Any]] = [
            {c: bindparam(names[i * len(self.columns) + j]) for j, c in enumerate(self.columns)} for i in range(size)
        ]
        statement = statement.values(values if size > 1 else values[0])
        if self.skip_conflicts_on:
            statement = statement.on_conflict_do_nothing(index_elements=list(self.skip_conflicts_on))
        if self.returning:
            statement = statement.returning(*(self.table.c[name] for name in self.returning))
        else:
            statement = statement.inline()  # no implicit RETURNING of the primary key
        compiled = statement.compile(dialect=dialect)
        if dialect.name == "sqlite" and list(compiled.positiontup or ()) != names:
            raise AssertionError(f"unexpected parameter order in {compiled.string}")  # `run` flattens row by row
        return str(compiled.string)


def _dialect_insert(dialect: Dialect, table: Table) -> Any:
    if dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    else:
        raise ConfigurationError(f"bulk inserts support SQLite and PostgreSQL, not {dialect.name}")
    return dialect_insert(table)
