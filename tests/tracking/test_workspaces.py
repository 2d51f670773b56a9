"""Workspace keys in the library: kinds, validation, and workspaces made before keys existed (migration 0003)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, insert

from bingbridge.errors import ValidationError
from bingbridge.store import create_engine_for, migrate, utcnow
from bingbridge.store.schema import workspaces
from bingbridge.tracking.workspaces import (
    Workspace,
    create_key,
    key_hash,
    key_holder,
    list_keys,
    revoke_key,
    rotate_key,
)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_keys_of_an_existing_workspace_are_kept_by_the_migration(
    request: pytest.FixtureRequest, tmp_path: Path, dialect: str
) -> None:
    if dialect == "sqlite":
        engine = create_engine_for(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        engine = request.getfixturevalue("postgres_engine")
    config = Config()
    config.set_main_option("script_location", "bingbridge.store:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.execute(
            insert(workspaces).values(
                name="Old shop", key_hash=key_hash("bbk_old"), key_prefix="bbk_old", created_at=utcnow()
            )
        )
    migrate(engine)
    holder = key_holder(engine, "bbk_old")
    assert holder is not None and (holder.workspace.name, holder.kind) == ("Old shop", "ingestion")
    engine.dispose()


def test_a_key_kind_other_than_ingestion_or_api_is_refused(engine: Engine, workspace: Workspace) -> None:
    with pytest.raises(ValidationError, match="must be ingestion or api"):
        create_key(engine, workspace.id, "admin", now=utcnow())
    with pytest.raises(ValidationError, match="no workspace with id 99"):
        create_key(engine, 99, "api", now=utcnow())
    assert [k.kind for k in list_keys(engine, workspace.id)] == ["ingestion"]


def test_keys_of_each_kind_carry_their_prefix(engine: Engine, workspace: Workspace) -> None:
    ingestion = create_key(engine, workspace.id, "ingestion", now=utcnow())[1]
    api = create_key(engine, workspace.id, "api", now=utcnow())[1]
    assert ingestion.startswith("bbk_") and api.startswith("bbs_")
    assert [key_holder(engine, k).kind for k in (ingestion, api)] == ["ingestion", "api"]  # type: ignore[union-attr]


def test_a_rotated_key_works_through_its_grace_period_only(engine: Engine, workspace: Workspace) -> None:
    now = utcnow()
    old, old_key = create_key(engine, workspace.id, "ingestion", now=now)
    new, new_key = rotate_key(engine, old.id, now=now, grace=timedelta(hours=24))
    for moment in (now, now + timedelta(hours=23)):
        assert key_holder(engine, old_key, now=moment) is not None  # pages not yet updated keep sending
        assert [k.id for k in list_keys(engine, workspace.id, now=moment)][-2:] == [old.id, new.id]
    later = now + timedelta(hours=24, seconds=1)
    assert key_holder(engine, old_key, now=later) is None
    assert key_holder(engine, new_key, now=later) is not None
    assert old.id not in [k.id for k in list_keys(engine, workspace.id, now=later)]


def test_a_key_in_its_grace_period_can_be_revoked_sooner_but_not_rotated_twice_past_the_limit(
    engine: Engine, workspace: Workspace
) -> None:
    now = utcnow()
    old, old_key = create_key(engine, workspace.id, "api", now=now)
    with pytest.raises(ValidationError, match="0 to 720 hours"):
        rotate_key(engine, old.id, now=now, grace=timedelta(days=31))
    rotate_key(engine, old.id, now=now, grace=timedelta(hours=1))
    assert revoke_key(engine, old.id, now=now).revoked_at == now
    assert key_holder(engine, old_key, now=now + timedelta(seconds=1)) is None
    with pytest.raises(ValidationError, match="already revoked"):
        revoke_key(engine, old.id, now=now + timedelta(seconds=1))
