"""Workspaces and their ingestion keys. Only a key's SHA-256 is stored; the key itself is shown once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from bingbridge.errors import FieldProblem, ValidationError
from bingbridge.store.schema import workspaces

KEY_PREFIX = "bbk_"


@dataclass(frozen=True)
class Workspace:
    id: int
    name: str
    key_prefix: str
    created_at: datetime


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_workspace(engine: Engine, name: str, *, now: datetime) -> tuple[Workspace, str]:
    """Create a workspace; returns it with its ingestion key (not retrievable later)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError(
            [FieldProblem("name", "give a name of 1 to 100 characters")], operation="create workspace"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    prefix = key[:12]
    row = {"name": name, "key_hash": key_hash(key), "key_prefix": prefix, "created_at": now}
    try:
        with engine.begin() as conn:
            workspace_id = conn.execute(insert(workspaces).values(**row)).inserted_primary_key[0]  # type: ignore[index]
    except IntegrityError:
        raise ValidationError(
            [FieldProblem("name", f"a workspace named {name!r} already exists")], operation="create workspace"
        ) from None
    return Workspace(workspace_id, name, prefix, now), key


def workspace_for_key(engine: Engine, key: str) -> Workspace | None:
    with engine.connect() as conn:
        row = conn.execute(select(workspaces).where(workspaces.c.key_hash == key_hash(key))).first()
    return Workspace(row.id, row.name, row.key_prefix, row.created_at) if row else None


def workspace_named(engine: Engine, name: str) -> Workspace | None:
    with engine.connect() as conn:
        row = conn.execute(select(workspaces).where(workspaces.c.name == name)).first()
    return Workspace(row.id, row.name, row.key_prefix, row.created_at) if row else None


def list_workspaces(engine: Engine) -> list[Workspace]:
    with engine.connect() as conn:
        rows = conn.execute(select(workspaces).order_by(workspaces.c.id)).all()
    return [Workspace(r.id, r.name, r.key_prefix, r.created_at) for r in rows]
