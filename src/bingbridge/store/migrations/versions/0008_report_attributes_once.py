"""Report tables keep their repeated text once: each becomes a view over `<table>_facts` (key, measures, import)
and `<table>_attributes` (each distinct set of names, parent ids, URL, UTM values and currency), as
bingbridge.store.schema.ReportStorage describes. The rows of every report table the database has are moved over,
through the importer's own writer, a chunk at a time.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from bingbridge.metrics.report_types import AGGREGATIONS, REPORT_TYPES, ReportType
from bingbridge.store.ad_metrics import report_storage
from bingbridge.store.report_writer import ReportWriter, ensure_storage
from bingbridge.store.schema import ReportStorage, build_report_table

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_CHUNK_ROWS = 20_000
# Tables of more rows than this get a word before they are moved: a minute or so per 3 million rows (SQLite).
_TELL_FROM_ROWS = 100_000
logger = logging.getLogger(__name__)


def _storages(present: list[str]) -> list[tuple[ReportType, str, ReportStorage]]:
    """The report tables named in `present`, with their spec and aggregation."""
    found = [(spec, a, report_storage(spec, a)) for spec in REPORT_TYPES.values() for a in AGGREGATIONS.values()]
    return [entry for entry in found if entry[2].view.name in present]


def upgrade() -> None:
    conn = op.get_bind()
    for _, _, storage in _storages(sa.inspect(conn).get_table_names()):
        name = storage.view.name
        rows = conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar() or 0
        if rows > _TELL_FROM_ROWS:
            logger.warning(
                "bingbridge: upgrading the database: moving %s rows of %s to %s_facts and %s_attributes (about a "
                "minute per 3 million rows, once). The space of the old rows stays in the file for later imports; "
                "SQLite's VACUUM gives it back.",
                f"{rows:,}", name, name, name,
            )  # fmt: skip
        moved = f"{name}_before_0008"
        conn.exec_driver_sql(f'ALTER TABLE "{name}" RENAME TO "{moved}"')
        ensure_storage(conn, storage)
        old = sa.Table(moved, sa.MetaData(), *[sa.Column(c.name, c.type) for c in storage.view.columns])
        writer = ReportWriter(conn, storage)
        result = conn.execute(sa.select(old), execution_options={"yield_per": _CHUNK_ROWS})
        for rows in result.partitions():
            writer.write({c.name: list(values) for c, values in zip(old.columns, zip(*rows, strict=True), strict=True)})
        result.close()
        conn.exec_driver_sql(f'DROP TABLE "{moved}"')


def downgrade() -> None:
    conn = op.get_bind()
    for spec, aggregation, storage in _storages(sa.inspect(conn).get_view_names()):
        name = storage.view.name
        conn.exec_driver_sql(f'DROP VIEW "{name}"')
        restored = build_report_table(sa.MetaData(), spec, aggregation)
        sa.Index(f"ix_{name}_date", restored.c.date)
        restored.create(conn)
        conn.execute(sa.insert(restored).from_select(list(restored.c.keys()), storage.view_select()))
        storage.facts.drop(conn)
        storage.attributes.drop(conn)
