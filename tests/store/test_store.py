"""The database: migrations, schema version, WAL, and upserts that never duplicate (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Engine, MetaData, Table, func, insert, inspect, select

from bingbridge.errors import ConfigurationError
from bingbridge.metrics.report_types import report_type
from bingbridge.store import ad_metrics as db
from bingbridge.store import create_engine_for, migrate, schema_version
from bingbridge.store.engine import HEAD, normalize_url
from bingbridge.store.report_writer import indexes_built_after
from bingbridge.store.schema import ad_metrics_daily, ad_metrics_storage, build_report_table, import_runs

DAY = dt.date(2026, 3, 1)
NOW = dt.datetime(2026, 3, 2, 6, 0, 0, 123456)


def _row(ad_id: int, day: dt.date = DAY, clicks: int = 5, spend: float = 3.21, run_id: int = 1) -> tuple[object, ...]:
    return (
        111, day, ad_id, "Contoso", 222, "Brand", 333, "Core", "Ad", "https://x.example/", 100, clicks, spend,
        1.5, 45.0, "USD", "bing", "cpc", "Brand", "Ad", None, run_id, NOW,
    )  # fmt: skip


def test_migrate_creates_the_tables_and_records_the_version(engine: Engine) -> None:
    assert schema_version(engine) is None
    assert migrate(engine) == HEAD
    assert schema_version(engine) == HEAD
    tables = set(inspect(engine).get_table_names())
    assert {"ad_metrics_daily_facts", "ad_metrics_daily_attributes", "import_runs", "report_jobs"} <= tables
    assert "alembic_version" in tables
    assert inspect(engine).get_view_names() == ["ad_metrics_daily"]


def test_migrate_twice_changes_nothing(engine: Engine) -> None:
    migrate(engine)
    assert migrate(engine) == HEAD


def test_upsert_updates_in_place_and_never_duplicates(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        db.upsert_ad_metrics(conn, [_row(444), _row(445)])
    with engine.begin() as conn:
        db.upsert_ad_metrics(conn, [_row(444, clicks=9, spend=7.5, run_id=2), _row(446)])
    with engine.connect() as conn:
        rows = {r.ad_id: r for r in conn.execute(select(ad_metrics_daily))}
        assert conn.execute(select(func.count()).select_from(ad_metrics_daily)).scalar() == 3
    assert (rows[444].clicks, float(rows[444].spend), rows[444].run_id) == (9, 7.5, 2)
    assert rows[444].date == DAY and rows[444].imported_at == NOW


def test_stored_records_read_back_in_date_order(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        db.upsert_ad_metrics(conn, [_row(2, DAY + dt.timedelta(days=1)), _row(1, DAY)])
    got = [(r["date"], r["ad_id"]) for r in db.iter_ad_metrics(engine, since=DAY)]
    assert got == [(DAY, 1), (DAY + dt.timedelta(days=1), 2)]
    assert list(db.iter_ad_metrics(engine, until=DAY - dt.timedelta(days=1))) == []


def test_runs_are_logged_and_a_stale_running_run_becomes_interrupted(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        first = db.start_run(conn, "cli")
    with engine.begin() as conn:
        second = db.start_run(conn, "schedule")
        db.finish_run(conn, second, status="succeeded", rows=3, report_ids=["r1"], errors=[])
    runs = {r["id"]: r for r in db.list_runs(engine)}
    assert runs[first]["status"] == "interrupted"
    assert (runs[second]["status"], runs[second]["report_ids"], runs[second]["rows"]) == ("succeeded", ["r1"], 3)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(import_runs)).scalar() == 2


def test_sqlite_runs_in_wal_mode(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_the_default_sqlite_folder_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path = tmp_path / "xdg" / "bingbridge" / "bingbridge.db"
    engine = create_engine_for(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    assert path.exists()


def test_any_other_missing_sqlite_folder_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "metrics.db"
    with pytest.raises(ConfigurationError, match=r"folder of the SQLite database .* does not exist"):
        create_engine_for(f"sqlite:///{path}")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("url", ["nonsense", "oracle+nothing://h/db"])
def test_an_invalid_database_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="database URL is not valid"):
        create_engine_for(url)


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_migration_0006_keeps_the_metrics_and_jobs_of_a_0002_database(engine: Engine) -> None:
    from sqlalchemy import text

    _upgrade_to(engine, "0002")
    with engine.begin() as conn:
        _insert_old_rows(conn, [_row(444)])
        conn.execute(text("INSERT INTO import_runs (started_at, status, trigger, accounts, rows) "
                          "VALUES ('2026-03-02 06:00:00', 'failed', 'cli', 1, 1)"))  # fmt: skip
        conn.execute(text("INSERT INTO report_jobs (run_id, account_id, start_date, end_date, status) "
                          "VALUES (1, 111, '2026-03-01', '2026-03-01', 'loaded')"))  # fmt: skip
    assert migrate(engine) == HEAD
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ad_metrics_daily)).scalar() == 1
        job = conn.execute(text("SELECT report_type, aggregation, account_ids FROM report_jobs")).one()
    assert (job.report_type, job.aggregation, job.account_ids) == ("ad", "Daily", None)


def _insert_old_rows(conn: Connection, rows: list[tuple[object, ...]]) -> None:
    """Rows into ad_metrics_daily as a table, as it was before migration 0008."""
    old = Table("ad_metrics_daily", MetaData(), *[Column(c.name, c.type) for c in ad_metrics_daily.columns])
    conn.execute(insert(old), [dict(zip(db.UPSERT_COLUMNS, row, strict=True)) for row in rows])


def _upgrade_to(engine: Engine, revision: str, *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "bingbridge.store:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def _stored(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(ad_metrics_daily).order_by(ad_metrics_daily.c.ad_id))]


def test_migration_0008_stores_each_set_of_attributes_once_and_back(engine: Engine) -> None:
    _upgrade_to(engine, "0007")
    bare = _row(3)
    rows = [_row(1), _row(2, clicks=7), (*bare[:3], *[None] * 7, *bare[10:15], None, *[None] * 5, *bare[21:])]
    with engine.begin() as conn:
        _insert_old_rows(conn, rows)
        # A report table made on first use, before 0008.
        weekly = build_report_table(MetaData(), report_type("campaign"), "Weekly")
        weekly.create(conn)
        campaign = {"account_id": 111, "date": DAY, "campaign_id": 222, "account_name": "Contoso", "impressions": 9,
                    "clicks": 2, "spend": 1.5, "conversions": 0.0, "revenue": 0.0, "imported_at": NOW}  # fmt: skip
        conn.execute(insert(weekly), [campaign])
    before = _stored(engine)
    assert len(before) == 3
    _upgrade_to(engine, "0008")
    assert _stored(engine) == before
    with engine.connect() as conn:
        (moved,) = conn.execute(select(db.report_table(report_type("campaign"), "Weekly"))).mappings()
    assert {name: moved[name] for name in campaign} == campaign and moved["campaign_name"] is None
    with engine.connect() as conn:
        # Ads 1 and 2 share names, URL and UTM; ad 3 has none of them.
        assert conn.execute(select(func.count()).select_from(ad_metrics_storage.attributes)).scalar() == 2
        assert "ad_metrics_daily_before_0008" not in inspect(conn).get_table_names()
    _upgrade_to(engine, "0007", down=True)
    assert _stored(engine) == before
    with engine.connect() as conn:
        assert "ad_metrics_daily" in inspect(conn).get_table_names()
        assert {i["name"] for i in inspect(conn).get_indexes("ad_metrics_daily")} == {"ix_ad_metrics_daily_date"}


def test_attributes_are_stored_once_across_loads_and_follow_a_rename(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        db.upsert_ad_metrics(conn, [_row(ad, DAY + dt.timedelta(days=d)) for ad in (1, 2) for d in range(30)])
    with engine.begin() as conn:  # the next day's load finds the stored sets
        db.upsert_ad_metrics(conn, [_row(1, DAY + dt.timedelta(days=30))])
    renamed = (*_row(2)[:3], "Contoso Ltd", *_row(2)[4:])
    with engine.begin() as conn:  # a revised day: the account's new name
        db.upsert_ad_metrics(conn, [renamed])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ad_metrics_storage.attributes)).scalar() == 2
        assert conn.execute(select(func.count()).select_from(ad_metrics_daily)).scalar() == 61
        names = conn.execute(
            select(ad_metrics_daily.c.ad_id, ad_metrics_daily.c.account_name).where(ad_metrics_daily.c.date == DAY)
        )
        assert sorted(names) == [(1, "Contoso"), (2, "Contoso Ltd")]


def _indexes(conn: Connection) -> set[str]:
    return {i["name"] for i in inspect(conn).get_indexes("ad_metrics_daily_facts") if i["name"]}


def test_a_load_as_big_as_the_table_builds_its_indexes_after_it(sqlite_engine: Engine) -> None:
    migrate(sqlite_engine)
    with sqlite_engine.begin() as conn:
        with indexes_built_after(conn, ad_metrics_storage, 3):
            assert _indexes(conn) == set()  # dropped for the load (inside its transaction only)
            db.upsert_ad_metrics(conn, [_row(1), _row(2), _row(3)])
        assert _indexes(conn) == {"ix_ad_metrics_daily_facts_date"}
    # A small load into a bigger table keeps them.
    with sqlite_engine.begin() as conn, indexes_built_after(conn, ad_metrics_storage, 1):
        assert _indexes(conn) == {"ix_ad_metrics_daily_facts_date"}
        db.upsert_ad_metrics(conn, [_row(4)])
    with pytest.raises(RuntimeError), sqlite_engine.begin() as conn, indexes_built_after(conn, ad_metrics_storage, 99):
        raise RuntimeError("the download broke")
    with sqlite_engine.connect() as conn:  # rolled back with the load
        assert _indexes(conn) == {"ix_ad_metrics_daily_facts_date"}
        assert conn.execute(select(func.count()).select_from(ad_metrics_daily)).scalar() == 4
