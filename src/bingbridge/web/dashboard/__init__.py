"""The web dashboard: connections, health, dispatch log, dead letters, goals and UET tags, metrics charts.

Server-rendered HTML (Jinja2 templates in `bingbridge/web/templates`), our own small CSS and script
(`bingbridge/web/static/dashboard.css|.js`), charts drawn on the server as SVG (`bingbridge.metrics.charts`).
A thin face over the library: every page calls `bingbridge.tracking`, `bingbridge.metrics` or `bingbridge.store`.

    GET  /login  POST /login  POST /logout  POST /logout/all   sign-in; sign out here or everywhere (`security`)
    GET  /                                                 workspaces, destinations, health badges
    POST /workspaces                                       create a workspace (its ingestion key is shown once)
    GET  /workspaces/{id}/keys  POST /workspaces/{id}/keys  its keys; create one (shown once)
    POST /keys/{id}/rotate  POST /keys/{id}/revoke         replace or revoke a key
    GET  /workspaces/{id}/destinations/new                 an empty "UET & Offline Conversions" card
    POST /workspaces/{id}/destinations[/connect]           Save / Connect Microsoft Advertising (new card)
    GET  /destinations/{id}  POST /destinations/{id}       the card; Save
    POST /destinations/{id}/test|live|connect              Test, the Live switch, Connect Microsoft Advertising
    GET  /oauth/callback                                   where Microsoft's sign-in returns
    GET  /dispatch                                         the dispatch log, filtered
    GET  /dead-letters  POST /dead-letters/replay  POST /dead-letters/{id}/replay
    GET  /destinations/{id}/goals  POST …/goals  POST …/goals/mapped  POST …/uet-tags
    GET  /metrics  POST /metrics/import  GET /api/imports/current
    GET  /assets/dashboard.css  /assets/dashboard.js       public, like /login

The dashboard is a Starlette app mounted at `/` after the ingestion API's routes, so `/v1`, `/sdk.js`, `/healthz`
and `/openapi.json` keep answering as before and the API's OpenAPI description does not list the dashboard.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import httpx
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bingbridge.auth.oauth import LOGIN_HOST
from bingbridge.settings import Settings
from bingbridge.tracking.secrets import SecretBox
from bingbridge.web.dashboard import connections, dispatch, goals, keys, metrics, signin
from bingbridge.web.dashboard.core import Dashboard, SecurityHeaders, SignInGate, security_headers
from bingbridge.web.dashboard.rendering import make_environment
from bingbridge.web.dashboard.security import (
    SESSION_COOKIE,
    SESSION_IDLE_SECONDS,
    AdminPassword,
    SecureCookieOnHttps,
)

__all__ = ["Dashboard", "build_dashboard", "mount_dashboard"]

_ASSETS = {"dashboard.css": "text/css; charset=utf-8", "dashboard.js": "application/javascript; charset=utf-8"}


def _asset_route(name: str) -> Route:
    body = resources.files("bingbridge.web").joinpath(f"static/{name}").read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"cache-control": "no-cache", "etag": etag}  # revalidate: a new release must show at once

    async def asset(request: Request) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=_ASSETS[name], headers=headers)

    return Route(f"/assets/{name}", asset, methods=["GET"], name=f"asset_{name}")


def build_dashboard(
    settings: Settings, engine: Engine, *, http: httpx.Client | None = None, password: AdminPassword | None = None
) -> tuple[Starlette, Dashboard]:
    """The dashboard as an ASGI app, and its state (whose `http` client the caller closes when it made none)."""
    box = SecretBox.for_settings(settings)
    dash = Dashboard(
        settings=settings,
        engine=engine,
        box=box,
        http=http or httpx.Client(timeout=httpx.Timeout(settings.timeout_seconds)),
        password=password or AdminPassword.for_settings(settings),
        session_key=box.derive("bingbridge dashboard sessions"),
        templates=make_environment(),
    )
    routes = [
        _asset_route("dashboard.css"),
        _asset_route("dashboard.js"),
        *signin.routes(dash),
        *connections.routes(dash),
        *keys.routes(dash),
        *dispatch.routes(dash),
        *goals.routes(dash),
        *metrics.routes(dash),
    ]
    login_origin = settings.api_base_url or LOGIN_HOST
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, headers=security_headers(login_origin)),
            Middleware(SecureCookieOnHttps, cookie=SESSION_COOKIE),
            Middleware(
                SessionMiddleware,
                secret_key=dash.session_key.hex(),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_IDLE_SECONDS,
                same_site="lax",
            ),
            Middleware(SignInGate, dash=dash),
        ],
    )
    return app, dash


def mount_dashboard(app: Any, settings: Settings, engine: Engine, *, http: httpx.Client | None = None) -> Dashboard:
    """Mount the dashboard at `/` of `app` (the FastAPI app of `create_app`, or any Starlette app). Call it after
    every other route is added: the mount answers every path the app's own routes do not.

    Without `http`, the dashboard makes its own client and closes it when the app shuts down (the app's lifespan
    is wrapped for that).
    """
    dashboard_app, dash = build_dashboard(settings, engine, http=http)
    app.mount("/", dashboard_app, name="dashboard")
    if http is None:
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(parent: Any) -> AsyncIterator[Any]:
            try:
                async with inner(parent) as state:
                    yield state
            finally:
                dash.http.close()

        app.router.lifespan_context = lifespan
    return dash
