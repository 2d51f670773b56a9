"""Signing in and out (see `security` for how passwords, sessions and CSRF tokens work)."""

from __future__ import annotations

import math
import time

from starlette.responses import Response
from starlette.routing import Route

from bingbridge.web.dashboard.core import Ctx, Dashboard, action, page, safe_next
from bingbridge.web.dashboard.security import client_address, new_token


def login_page(ctx: Ctx) -> Response:
    """The sign-in form; signed-in users go straight on."""
    target = safe_next(ctx.query("next", "/"))
    if ctx.dash.signed_in(ctx.session):
        return ctx.redirect(target)
    return ctx.render("login.html", next=target, error=None)


def login(ctx: Ctx) -> Response:
    """Count the attempt, then check the password; on success start a fresh session (new id and CSRF token)."""
    target = safe_next(ctx.form.get("next", "/"))
    client = client_address(ctx.request.scope)
    wait = ctx.dash.limiter.reserve(client)
    if wait is not None:
        minutes = math.ceil(wait / 60)
        error = f"Too many wrong passwords from this address. Try again in {minutes} minute{'s' * (minutes != 1)}."
        response = ctx.render("login.html", 429, next=target, error=error)
        response.headers["retry-after"] = str(math.ceil(wait))
        return response
    if not ctx.dash.password.verify(ctx.form.get("password")):
        return ctx.render("login.html", 401, next=target, error="Wrong password.")
    ctx.dash.limiter.succeeded(client)
    ctx.dash.sessions.end(ctx.session.get("sid"))
    ctx.session.clear()
    ctx.session.update(
        sid=ctx.dash.sessions.start(),
        admin=ctx.dash.password_fingerprint(),
        login_at=int(time.time()),
        csrf=new_token(),
    )
    return ctx.redirect(target)


def logout(ctx: Ctx) -> Response:
    """End this session everywhere: its record, so a copy of the cookie is refused too."""
    ctx.dash.sessions.end(ctx.session.get("sid"))
    ctx.session.clear()
    return ctx.redirect("/login", ("ok", "Signed out."))


def logout_all(ctx: Ctx) -> Response:
    """End every session of the dashboard, this one included (e.g. after signing in on a shared computer)."""
    ended = ctx.dash.sessions.end_all()
    ctx.session.clear()
    return ctx.redirect("/login", ("ok", f"Signed out everywhere ({ended} session{'s' * (ended != 1)} ended)."))


def routes(dash: Dashboard) -> list[Route]:
    """GET/POST /login are public (the gate lets /login through); POST /logout[/all] needs a session."""
    return [
        page(dash, "/login", login_page),
        action(dash, "/login", login),
        action(dash, "/logout", logout),
        action(dash, "/logout/all", logout_all),
    ]
