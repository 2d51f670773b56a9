"""Workspaces and their keys. Only a key's SHA-256 is stored; the key itself is shown once.

Two kinds of key, so that what sits in web pages cannot read anything:
- `ingestion` (`bbk_...`): public, carried by the browser snippet; it may only post events.
- `api` (`bbs_...`): secret, for servers and operators; it reads the dispatch log and health, lists and replays
  dead letters (and may post events too).
A workspace may hold several keys of each kind. Rotating a key issues a new one of the same kind and name and
revokes the old one in the same transaction, at once or at the end of a grace period (`revoked_at` in the future:
pages still carrying an old ingestion key keep working while they are updated); a revoked key is refused from
then on (see `web.app.KeyCache` for how soon each process notices).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Engine, Row, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bingbridge.errors import FieldProblem, ValidationError
from bingbridge.store import utcnow
from bingbridge.store.schema import workspace_keys, workspaces

KeyKind = Literal["ingestion", "api"]
INGESTION: KeyKind = "ingestion"
API: KeyKind = "api"
KEY_PREFIXES: dict[KeyKind, str] = {INGESTION: "bbk_", API: "bbs_"}
KEY_PREFIX = KEY_PREFIXES[INGESTION]
# The longest an old key may keep working after its rotation.
MAX_GRACE = timedelta(days=30)


@dataclass(frozen=True)
class Workspace:
    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True)
class WorkspaceKey:
    """A key as listed: never the key itself, only its first characters."""

    id: int
    workspace_id: int
    kind: KeyKind
    name: str | None
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None  # in the future while a rotated key's grace period lasts

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None or self.revoked_at > now


@dataclass(frozen=True)
class KeyHolder:
    """Who a presented key belongs to, and what kind of key it is."""

    workspace: Workspace
    key_id: int
    kind: KeyKind


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _workspace(row: Row[Any]) -> Workspace:
    return Workspace(row.id, row.name, row.created_at)


def _key(row: Row[Any]) -> WorkspaceKey:
    return WorkspaceKey(row.id, row.workspace_id, row.kind, row.name, row.key_prefix, row.created_at, row.revoked_at)


def _new_key(kind: KeyKind) -> tuple[str, str]:
    key = KEY_PREFIXES[kind] + secrets.token_urlsafe(32)
    return key, key[:12]


def _insert_key(conn: Connection, workspace_id: int, kind: KeyKind, name: str | None, now: datetime) -> tuple[int, str]:
    key, prefix = _new_key(kind)
    row = {"workspace_id": workspace_id, "kind": kind, "name": name, "key_hash": key_hash(key), "key_prefix": prefix}
    key_id = conn.execute(insert(workspace_keys).values(**row, created_at=now)).inserted_primary_key[0]  # type: ignore[index]
    return int(key_id), key


def create_workspace(engine: Engine, name: str, *, now: datetime) -> tuple[Workspace, str]:
    """Create a workspace with one ingestion key; returns it with that key (not retrievable later)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError(
            [FieldProblem("name", "give a name of 1 to 100 characters")], operation="create workspace"
        )
    try:
        with engine.begin() as conn:
            # The 0002 columns still need a unique value: a random one that is no key (see schema.workspaces).
            filler, prefix = _new_key(INGESTION)
            row = {"name": name, "key_hash": key_hash(filler), "key_prefix": prefix, "created_at": now}
            workspace_id = conn.execute(insert(workspaces).values(**row)).inserted_primary_key[0]  # type: ignore[index]
            _, key = _insert_key(conn, workspace_id, INGESTION, INGESTION, now)
    except IntegrityError:
        raise ValidationError(
            [FieldProblem("name", f"a workspace named {name!r} already exists")], operation="create workspace"
        ) from None
    return Workspace(workspace_id, name, now), key


def create_key(
    engine: Engine, workspace_id: int, kind: str, *, name: str | None = None, now: datetime
) -> tuple[WorkspaceKey, str]:
    """A new key of `kind` for the workspace; returns it with the key itself (shown once)."""
    if kind not in KEY_PREFIXES:
        raise ValidationError([FieldProblem("kind", f"must be ingestion or api, got {kind!r}")], operation="create key")
    label = (name or "").strip() or None
    if label is not None and len(label) > 100:
        raise ValidationError([FieldProblem("name", "give a name of at most 100 characters")], operation="create key")
    with engine.begin() as conn:
        if conn.execute(select(workspaces.c.id).where(workspaces.c.id == workspace_id)).first() is None:
            raise ValidationError(
                [FieldProblem("workspace", f"no workspace with id {workspace_id}")], operation="create key"
            )
        key_id, key = _insert_key(conn, workspace_id, kind, label, now)
        row = conn.execute(select(workspace_keys).where(workspace_keys.c.id == key_id)).one()
    return _key(row), key


def _active(now: datetime) -> ColumnElement[bool]:
    """Keys not revoked, or revoked at a time still to come (a rotated key in its grace period)."""
    return or_(workspace_keys.c.revoked_at.is_(None), workspace_keys.c.revoked_at > now)


def list_keys(
    engine: Engine, workspace_id: int | None = None, *, revoked: bool = False, now: datetime | None = None
) -> list[WorkspaceKey]:
    """Keys (active at `now` only unless `revoked`), by workspace then age."""
    query = select(workspace_keys).order_by(workspace_keys.c.workspace_id, workspace_keys.c.id)
    if workspace_id is not None:
        query = query.where(workspace_keys.c.workspace_id == workspace_id)
    if not revoked:
        query = query.where(_active(now or utcnow()))
    with engine.connect() as conn:
        return [_key(row) for row in conn.execute(query)]


def get_key(engine: Engine, key_id: int) -> WorkspaceKey | None:
    with engine.connect() as conn:
        row = conn.execute(select(workspace_keys).where(workspace_keys.c.id == key_id)).first()
    return _key(row) if row else None


def _revoke(conn: Connection, key_id: int, now: datetime, operation: str, *, grace: timedelta) -> WorkspaceKey:
    """Revoke an active key at `now + grace` (a key in its grace period may be revoked again, sooner)."""
    k = workspace_keys.c
    done = conn.execute(update(workspace_keys).where(k.id == key_id, _active(now)).values(revoked_at=now + grace))
    row = conn.execute(select(workspace_keys).where(k.id == key_id)).first()
    if row is None:
        raise ValidationError([FieldProblem("key", f"no key with id {key_id}")], operation=operation)
    if done.rowcount != 1:
        raise ValidationError([FieldProblem("key", f"key {key_id} is already revoked")], operation=operation)
    return _key(row)


def revoke_key(engine: Engine, key_id: int, *, now: datetime) -> WorkspaceKey:
    """Refuse the key from now on (it stays listed, with its revocation time)."""
    with engine.begin() as conn:
        return _revoke(conn, key_id, now, "revoke key", grace=timedelta(0))


def rotate_key(
    engine: Engine, key_id: int, *, now: datetime, grace: timedelta = timedelta(0)
) -> tuple[WorkspaceKey, str]:
    """Issue the key's replacement (same workspace, kind and name) and revoke the old key, at once or when `grace`
    (at most MAX_GRACE) has passed, in one transaction."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        hours = MAX_GRACE // timedelta(hours=1)
        raise ValidationError(
            [FieldProblem("grace", f"give a grace period of 0 to {hours} hours")], operation="rotate key"
        )
    with engine.begin() as conn:
        old = _revoke(conn, key_id, now, "rotate key", grace=grace)
        new_id, key = _insert_key(conn, old.workspace_id, old.kind, old.name, now)
        row = conn.execute(select(workspace_keys).where(workspace_keys.c.id == new_id)).one()
    return _key(row), key


def key_holder(engine: Engine, key: str, *, now: datetime | None = None) -> KeyHolder | None:
    """The workspace and kind of a key active at `now` (default: the clock), None for any other string."""
    k = workspace_keys.c
    query = (
        select(workspaces, k.id.label("key_id"), k.kind)
        .join(workspace_keys, k.workspace_id == workspaces.c.id)
        .where(k.key_hash == key_hash(key), _active(now or utcnow()))
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return KeyHolder(_workspace(row), row.key_id, row.kind) if row else None


def workspace_for_key(engine: Engine, key: str) -> Workspace | None:
    """The workspace of an active key of either kind."""
    holder = key_holder(engine, key)
    return holder.workspace if holder else None


def workspace_named(engine: Engine, name: str) -> Workspace | None:
    with engine.connect() as conn:
        row = conn.execute(select(workspaces).where(workspaces.c.name == name)).first()
    return _workspace(row) if row else None


def get_workspace(engine: Engine, workspace_id: int) -> Workspace | None:
    with engine.connect() as conn:
        row = conn.execute(select(workspaces).where(workspaces.c.id == workspace_id)).first()
    return _workspace(row) if row else None


def list_workspaces(engine: Engine) -> list[Workspace]:
    with engine.connect() as conn:
        rows = conn.execute(select(workspaces).order_by(workspaces.c.id)).all()
    return [_workspace(r) for r in rows]
