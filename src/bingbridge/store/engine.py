"""The engine for a database URL, and running the migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bingbridge.errors import ConfigurationError
from bingbridge.settings import default_config_dir


def utcnow() -> datetime:
    """The database's clock: naive UTC (SQLite keeps no time zones), to the microsecond."""
    return datetime.now(UTC).replace(tzinfo=None)


# The newest migration; `migrate()` brings a database here.
HEAD = "0008"


def normalize_url(url: str) -> str:
    """Plain `postgresql://` (and `postgres://`) URLs use psycopg 3, the driver bingbridge installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # 16 KiB pages (SQLite's default is 4 KiB) take report rows of a few hundred bytes with less B-tree work: about
    # 15% less CPU time in SQLite for a million-row load (bench/report_reader.py). Only a new database takes it
    # (before its first table and WAL); an existing one keeps its page size.
    cursor.execute("PRAGMA page_size=16384")
    # WAL lets readers (exports, `metrics runs`) work while an import writes; NORMAL is safe with WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_folder(database: str) -> None:
    """bingbridge's own folder is created on first use; any other folder must exist (a missing one is a typo)."""
    folder = Path(database).expanduser().parent
    if folder.is_dir():
        return
    if folder == default_config_dir():
        folder.mkdir(parents=True, exist_ok=True)
        return
    raise ConfigurationError(
        f"the folder of the SQLite database {database} does not exist",
        hint=f"Create {folder} first, or fix BINGBRIDGE_DATABASE_URL (or --database-url).",
    )


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigurationError(
            f"the database URL is not valid: {exc}",
            hint="Fix BINGBRIDGE_DATABASE_URL (or --database-url): sqlite:////path/to/file.db or postgresql://user@host/db.",
        ) from None
    return parsed


def create_engine_for(url: str, **options: Any) -> Engine:
    """An engine for `url`; SQLite runs in WAL mode, in a folder that exists (bingbridge's own is created)."""
    url = normalize_url(url)
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _sqlite_folder(database)
        engine = create_engine(url, **options)
        if database and database != ":memory:":
            event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, **options)


def schema_version(engine: Engine) -> str | None:
    """The migration the database is at (the `alembic_version` row), None for an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> str:
    """Apply every migration the database lacks, in order; returns the version it is at."""
    if schema_version(engine) == HEAD:
        return HEAD  # the common case costs one query, not alembic's import and script scan
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "bingbridge.store:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return schema_version(engine) or ""


def open_database(url: str) -> Engine:
    """An engine for `url` with every migration applied: what commands and the service start from."""
    engine = create_engine_for(url)
    migrate(engine)
    return engine
