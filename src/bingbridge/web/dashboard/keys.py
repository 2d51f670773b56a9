"""A workspace's keys: list them, create an ingestion or API key, rotate or revoke one (see `tracking.workspaces`).

A new key is shown once, on the page that answers the form, and never again (only its hash is kept)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from starlette.responses import Response
from starlette.routing import Route

from bingbridge.errors import ValidationError
from bingbridge.tracking.workspaces import (
    Workspace,
    WorkspaceKey,
    create_key,
    get_key,
    get_workspace,
    list_keys,
    revoke_key,
    rotate_key,
)
from bingbridge.web.dashboard.core import Ctx, Dashboard, action, page

# The grace periods the Rotate button offers, in hours (the library allows any up to `MAX_GRACE`).
GRACE_CHOICES = {0: "at once", 1: "in 1 hour", 24: "in 24 hours", 168: "in 7 days"}


def _keys_page(ctx: Ctx, workspace: Workspace, *, error: str | None = None, status: int = 200) -> Response:
    keys = list_keys(ctx.dash.engine, workspace.id, revoked=True)
    now = ctx.dash.clock()
    return ctx.render("keys.html", status, workspace=workspace, keys=keys, error=error, now=now, grace=GRACE_CHOICES)


def _shown_once(ctx: Ctx, workspace: Workspace, created: WorkspaceKey, key: str, replaced: int | None) -> Response:
    return ctx.render("key_created.html", 201, workspace=workspace, created=created, key=key, replaced=replaced)


def keys_page(ctx: Ctx) -> Response:
    workspace = get_workspace(ctx.dash.engine, ctx.path_int("workspace_id"))
    if workspace is None:
        return ctx.not_found("This workspace")
    return _keys_page(ctx, workspace)


def create_key_action(ctx: Ctx) -> Response:
    workspace = get_workspace(ctx.dash.engine, ctx.path_int("workspace_id"))
    if workspace is None:
        return ctx.not_found("This workspace")
    try:
        created, key = create_key(
            ctx.dash.engine, workspace.id, ctx.form.get("kind"), name=ctx.form.text("name"), now=ctx.dash.clock()
        )
    except ValidationError as exc:
        return _keys_page(ctx, workspace, error="; ".join(p.message for p in exc.problems), status=422)
    return _shown_once(ctx, workspace, created, key, None)


def _change_key(ctx: Ctx, change: Callable[[Workspace, WorkspaceKey], Response]) -> Response:
    """Run `change` on the key of the path; a key already revoked shows the keys page with the reason (409)."""
    found = get_key(ctx.dash.engine, ctx.path_int("key_id"))
    workspace = get_workspace(ctx.dash.engine, found.workspace_id) if found else None
    if workspace is None or found is None:
        return ctx.not_found("This key")
    try:
        return change(workspace, found)
    except ValidationError as exc:
        return _keys_page(ctx, workspace, error="; ".join(p.message for p in exc.problems), status=409)


def rotate_key_action(ctx: Ctx) -> Response:
    def rotate(workspace: Workspace, old: WorkspaceKey) -> Response:
        hours = ctx.form.get("grace_hours", "0")
        if not hours.isdigit() or int(hours) not in GRACE_CHOICES:
            return _keys_page(ctx, workspace, error="choose when the old key stops working", status=422)
        grace = timedelta(hours=int(hours))
        created, key = rotate_key(ctx.dash.engine, old.id, now=ctx.dash.clock(), grace=grace)
        return _shown_once(ctx, workspace, created, key, old.id)

    return _change_key(ctx, rotate)


def revoke_key_action(ctx: Ctx) -> Response:
    def revoke(workspace: Workspace, old: WorkspaceKey) -> Response:
        revoke_key(ctx.dash.engine, old.id, now=ctx.dash.clock())
        return ctx.redirect(f"/workspaces/{workspace.id}/keys", ("ok", f"Key {old.key_prefix}… revoked."))

    return _change_key(ctx, revoke)


def routes(dash: Dashboard) -> list[Route]:
    return [
        page(dash, "/workspaces/{workspace_id:int}/keys", keys_page),
        action(dash, "/workspaces/{workspace_id:int}/keys", create_key_action),
        action(dash, "/keys/{key_id:int}/rotate", rotate_key_action),
        action(dash, "/keys/{key_id:int}/revoke", revoke_key_action),
    ]
