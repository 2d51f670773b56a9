"""The dashboard's plumbing: its shared state, per-request context, forms, routes that are pages or actions, the
sign-in gate and the security headers.

Every route is made by `page` (GET, signed-in only) or `action` (POST, signed-in only, CSRF-checked), or is one of
the few public routes named in `PUBLIC_PATHS`; the gate refuses everything else before any handler runs, so a new
route cannot be left open by forgetting a check. Handlers are plain functions run in the thread pool (they talk to
the database and to Microsoft, which block).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import jinja2
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bingbridge.settings import Settings
from bingbridge.store.engine import utcnow
from bingbridge.tracking.secrets import SecretBox
from bingbridge.web.dashboard.background import ImportRunner
from bingbridge.web.dashboard.flows import PendingFlows
from bingbridge.web.dashboard.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_MAX_SECONDS,
    AdminPassword,
    SessionRecords,
    SignInLimiter,
    cross_site_reason,
    new_token,
    tokens_match,
)

# Reachable without signing in: the sign-in page and the files it needs.
PUBLIC_PATHS = frozenset({"/login", "/assets/dashboard.css", "/assets/dashboard.js"})
# The ingestion API's paths: a request for one of them reaches the dashboard only when the API has no such route,
# and then gets the API's kind of answer (JSON 404), not a sign-in page.
API_PREFIXES = ("/v1/", "/v1", "/sdk.js", "/healthz", "/openapi.json", "/docs", "/redoc")
# Forms are small; anything bigger is not one of ours.
MAX_FORM_BYTES = 64 * 1024


@dataclass
class Dashboard:
    """What every handler may use: settings, database, secrets, the one HTTP client, templates and helpers."""

    settings: Settings
    engine: Engine
    box: SecretBox
    http: httpx.Client
    password: AdminPassword
    session_key: bytes
    templates: jinja2.Environment
    clock: Callable[[], datetime] = utcnow
    limiter: SignInLimiter = field(init=False)
    sessions: SessionRecords = field(init=False)
    flows: PendingFlows = field(init=False)
    imports: ImportRunner = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = SignInLimiter(self.engine, clock=self.clock)
        self.sessions = SessionRecords(self.engine, self.clock)
        self.flows = PendingFlows(self.engine, self.box, self.clock)
        self.imports = ImportRunner(self.settings, self.engine, self.http, self.clock)

    def password_fingerprint(self) -> str:
        return self.password.fingerprint(self.session_key)

    def signed_in(self, session: Mapping[str, Any]) -> bool:
        """A session signed in with the current password, no older than SESSION_MAX_SECONDS, whose record is not
        ended (blocking: it reads the database)."""
        login_at = session.get("login_at")
        return (
            isinstance(login_at, int | float)
            and time.time() - login_at < SESSION_MAX_SECONDS
            and tokens_match(session.get("admin"), self.password_fingerprint())
            and self.sessions.active(session.get("sid"))
        )


class Form:
    """A parsed application/x-www-form-urlencoded body."""

    def __init__(self, pairs: list[tuple[str, str]] | None = None) -> None:
        self.pairs = pairs or []

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.pairs:
            if key == name:
                return value
        return default

    def text(self, name: str) -> str:
        """The value, stripped of surrounding spaces."""
        return self.get(name).strip()


class Ctx:
    """One request as a handler sees it."""

    def __init__(self, request: Request, dash: Dashboard, form: Form | None = None) -> None:
        self.request = request
        self.dash = dash
        self.form = form or Form()

    @property
    def session(self) -> dict[str, Any]:
        session: dict[str, Any] = self.request.session
        return session

    def csrf_token(self) -> str:
        token = self.session.get("csrf")
        if not isinstance(token, str):
            token = self.session["csrf"] = new_token()
        return token

    def flash(self, kind: str, text: str) -> None:
        """A message for the next page shown ("ok" or "error"); never put a secret in one (the cookie is signed,
        not encrypted)."""
        self.session.setdefault("flash", []).append([kind, text])

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default).strip()

    def path_int(self, name: str) -> int:
        return int(self.request.path_params[name])

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        flashes = self.session.pop("flash", [])
        body = self.dash.templates.get_template(template).render(
            csrf_token=self.csrf_token(),
            flashes=flashes,
            signed_in=self.dash.signed_in(self.session),
            path=self.request.url.path,
            **values,
        )
        return HTMLResponse(body, status_code=status)

    def redirect(self, path: str, flash: tuple[str, str] | None = None) -> RedirectResponse:
        if flash is not None:
            self.flash(*flash)
        return RedirectResponse(path, status_code=303)

    def not_found(self, what: str) -> HTMLResponse:
        return self.render("error.html", 404, title="Not found", message=f"{what} does not exist.")


Handler = Callable[[Ctx], Response]


def page(dash: Dashboard, path: str, handler: Handler) -> Route:
    """A GET route for signed-in users (the gate has checked the session)."""

    async def endpoint(request: Request) -> Response:
        return await run_in_threadpool(handler, Ctx(request, dash))

    return Route(path, endpoint, methods=["GET"], name=handler.__name__)


def action(dash: Dashboard, path: str, handler: Handler) -> Route:
    """A POST route: the body must be a small form carrying the session's CSRF token, from this site."""

    async def endpoint(request: Request) -> Response:
        refused = cross_site_reason(request.scope)
        if refused:
            return PlainTextResponse(refused, status_code=403)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ("application/x-www-form-urlencoded", ""):
            return PlainTextResponse("send an HTML form (application/x-www-form-urlencoded)", status_code=415)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
            return PlainTextResponse("form too large", status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return PlainTextResponse("form too large", status_code=413)
        form = Form(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
        if not tokens_match(given, request.session.get("csrf")):
            return PlainTextResponse(
                "the form's security token is missing or out of date: reload the page and try again", status_code=403
            )
        return await run_in_threadpool(handler, Ctx(request, dash, form))

    return Route(path, endpoint, methods=["POST"], name=handler.__name__)


def _json_404() -> JSONResponse:
    return JSONResponse({"detail": "Not Found"}, status_code=404)


class SignInGate:
    """Lets through signed-in sessions and the public paths; otherwise pages redirect to /login and everything
    else (POSTs, /api/) gets 401. Sits inside SessionMiddleware."""

    def __init__(self, app: ASGIApp, dash: Dashboard) -> None:
        self.app = app
        self.dash = dash

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        response: Response
        if path.startswith(API_PREFIXES):
            response = _json_404()
        elif path in PUBLIC_PATHS or await run_in_threadpool(self.dash.signed_in, scope["session"]):
            await self.app(scope, receive, send)
            return
        elif scope["method"] in ("GET", "HEAD") and not path.startswith("/api/"):
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + ("?" + query if query else "")
            response = RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
        else:
            response = JSONResponse({"detail": "sign in first"}, status_code=401)
        await response(scope, receive, send)


def security_headers(form_action_origin: str) -> dict[str, str]:
    """Headers for every dashboard response. `form_action_origin` is the sign-in host of Microsoft: the Connect
    form posts here and is redirected there, which `form-action` must allow."""
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"form-action 'self' {form_action_origin}; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        # The OAuth callback URL carries a code: never send it on as a Referer.
        "referrer-policy": "same-origin",
        "cache-control": "no-store",
    }


class SecurityHeaders:
    """Adds `security_headers` to every response that does not set them itself (assets set their own caching)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def safe_next(target: str) -> str:
    """A local path to go to after sign-in; anything else (other hosts, //host, schemes) becomes '/'."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
