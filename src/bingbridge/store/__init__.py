"""The database: one engine from `BINGBRIDGE_DATABASE_URL` (SQLite by default, PostgreSQL), ordered migrations
shipped in the package, and the tables of each feature.

Adding a feature's tables: declare them in `bingbridge.store.schema` (one MetaData for the whole database), add the
next numbered migration `migrations/versions/NNNN_what.py` (revision "NNNN", down_revision the previous number),
and keep the queries in a module of their own beside `ad_metrics.py`. `migrate()` brings any database to the
newest version; the version is the row in `alembic_version`.
"""

from __future__ import annotations

from bingbridge.store.engine import create_engine_for, migrate, open_database, schema_version, utcnow

__all__ = ["create_engine_for", "migrate", "open_database", "schema_version", "utcnow"]
