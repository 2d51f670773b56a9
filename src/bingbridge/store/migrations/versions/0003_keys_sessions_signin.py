"""Workspace keys (a public ingestion key and secret API keys, each revocable), dashboard sessions kept
server-side, the sign-in limiter and pending Connect flows in the database (shared by every process).

Existing workspaces keep working: the key each was created with becomes its ingestion key (kind `ingestion`, same
hash and prefix), so pages and senders carrying it go on posting events. Reading the dispatch log or health now
needs a secret API key: create one with `bingbridge keys create --workspace NAME --kind api`.
`workspaces.key_hash` and `workspaces.key_prefix` stay as they are (SQLite cannot drop a UNIQUE column without
rebuilding the table, which would cascade-delete destinations and events); nothing reads them any more.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keys = op.create_table(
        "workspace_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(100)),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime),
    )
    op.create_index("ix_workspace_keys_workspace", "workspace_keys", ["workspace_id"])
    old = sa.table(
        "workspaces",
        sa.column("id", sa.Integer),
        sa.column("key_hash", sa.String),
        sa.column("key_prefix", sa.String),
        sa.column("created_at", sa.DateTime),
    )
    op.execute(
        keys.insert().from_select(
            ["workspace_id", "kind", "name", "key_hash", "key_prefix", "created_at"],
            sa.select(
                old.c.id,
                sa.literal("ingestion"),
                sa.literal("ingestion"),
                old.c.key_hash,
                old.c.key_prefix,
                old.c.created_at,
            ),
        )
    )
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
    )
    op.create_table(
        "signin_limits",
        sa.Column("peer", sa.String(100), primary_key=True),
        sa.Column("window_start", sa.DateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
    )
    op.create_table(
        "oauth_flows",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("oauth_flows")
    op.drop_table("signin_limits")
    op.drop_table("dashboard_sessions")
    op.drop_table("workspace_keys")
