"""Signing in and out (see `security` for how passwords, sessions and CSRF tokens work)."""

from __future__ import annotations

import math
import time

from starlette.responses import Response
from starlette.routing import Route

from bingbridge.web.dashboard.core import Ctx, Dashboard, action, page, safe_next
from bingbridge.web.dashboard.security import new_token


def _client(ctx: Ctx) -> str:
    client = ctx.request.client
    return client.host if client else "unknown"


def login_page(ctx: Ctx) -> Response:
    """The sign-in form; signed-in users go straight on."""
    target = safe_next(ctx.query("next", "/"))
    if ctx.dash.signed_in(ctx.session):
        return ctx.redirect(target)
    return ctx.render("login.html", next=target, error=None)


def login(ctx: Ctx) -> Response:
    """Check the password; on success start a fresh session (new CSRF token), else count the failure."""
    target = safe_next(ctx.form.get("next", "/"))
    client = _client(ctx)
    wait = ctx.dash.limiter.retry_after(client)
    if wait is not None:
        minutes = math.ceil(wait / 60)
        error = f"Too many wrong passwords from this address. Try again in {minutes} minute{'s' * (minutes != 1)}."
        response = ctx.render("login.html", 429, next=target, error=error)
        response.headers["retry-after"] = str(math.ceil(wait))
        return response
    if not ctx.dash.password.verify(ctx.form.get("password")):
        ctx.dash.limiter.failed(client)
        return ctx.render("login.html", 401, next=target, error="Wrong password.")
    ctx.dash.limiter.succeeded(client)
    ctx.session.clear()
    ctx.session.update(admin=ctx.dash.password_fingerprint(), login_at=int(time.time()), csrf=new_token())
    return ctx.redirect(target)


def logout(ctx: Ctx) -> Response:
    ctx.session.clear()
    return ctx.redirect("/login", ("ok", "Signed out."))


def routes(dash: Dashboard) -> list[Route]:
    """GET/POST /login are public (the gate lets /login through); POST /logout needs a session."""
    return [page(dash, "/login", login_page), action(dash, "/login", login), action(dash, "/logout", logout)]
