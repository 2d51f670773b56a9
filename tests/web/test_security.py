"""Sign-in, sessions and cross-site protection: nothing of the dashboard is reachable or changeable without a
session and its CSRF token, whatever the route."""

from __future__ import annotations

import base64
import io
import json
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.routing import Mount, Route

from bingbridge.settings import Settings
from bingbridge.store.schema import workspaces
from bingbridge.web.dashboard.core import PUBLIC_PATHS
from bingbridge.web.dashboard.security import AdminPassword, SignInLimiter, admin_file
from tests.web.conftest import (
    PASSWORD,
    DashboardWorld,
    TestClient,
    csrf_of,
    dashboard_settings,
    open_dashboard,
    sign_in,
)


def dashboard_routes(world: DashboardWorld) -> list[Route]:
    mount = next(r for r in world.app.routes if isinstance(r, Mount) and r.name == "dashboard")
    return [r for r in mount.routes if isinstance(r, Route)]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def routes_with(world: DashboardWorld, method: str) -> list[str]:
    return sorted(
        concrete(r.path)
        for r in dashboard_routes(world)
        if method in (r.methods or set()) and r.path not in PUBLIC_PATHS
    )


def test_every_post_route_is_a_csrf_checked_action(world: DashboardWorld) -> None:
    posts = [r for r in dashboard_routes(world) if "POST" in (r.methods or set())]
    assert len(posts) >= 14
    for route in posts:
        assert route.endpoint.__qualname__.startswith("action."), f"{route.path} bypasses the CSRF check"


def test_pages_redirect_to_sign_in_when_signed_out(world: DashboardWorld) -> None:
    pages = [p for p in routes_with(world, "GET") if not p.startswith("/api/")]
    assert "/" in pages and "/metrics" in pages and "/dispatch" in pages
    for path in pages:
        answer = world.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next="), path


def test_dashboard_api_answers_401_when_signed_out(world: DashboardWorld) -> None:
    answer = world.client.get("/api/imports/current")
    assert answer.status_code == 401
    assert answer.json() == {"detail": "sign in first"}


def test_every_post_answers_401_when_signed_out(world: DashboardWorld) -> None:
    token = csrf_of(world.client.get("/login").text)  # a valid token of a signed-out session is not enough
    posts = routes_with(world, "POST")
    assert "/workspaces" in posts
    for path in posts:
        answer = world.client.post(path, data={"csrf_token": token}, follow_redirects=False)
        assert answer.status_code == 401, path
    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(workspaces)).scalar_one() == 0


@pytest.mark.parametrize(
    ("token", "headers"),
    [
        (None, {}),
        ("forged-token", {}),
        ("valid", {"Origin": "https://evil.example"}),
        ("valid", {"Origin": "null"}),
        ("valid", {"Sec-Fetch-Site": "cross-site"}),
    ],
    ids=["no-token", "wrong-token", "foreign-origin", "null-origin", "cross-site-fetch"],
)
def test_every_post_refuses_cross_site_requests(
    signed_in: DashboardWorld, token: str | None, headers: dict[str, str]
) -> None:
    valid = csrf_of(signed_in.client.get("/").text)
    for path in [*routes_with(signed_in, "POST"), "/login"]:
        data = {"name": "Evil", "password": PASSWORD, "live": "1"}
        if token is not None:
            data["csrf_token"] = valid if token == "valid" else token
        answer = signed_in.client.post(path, data=data, headers=headers, follow_redirects=False)
        assert answer.status_code == 403, path
    with signed_in.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(workspaces)).scalar_one() == 0


def test_same_origin_post_with_token_is_accepted(signed_in: DashboardWorld) -> None:
    answer = signed_in.post("/workspaces", {"name": "Shop"}, headers={"Origin": "http://testserver"})
    assert answer.status_code == 201


def test_sign_in_with_the_right_password(world: DashboardWorld) -> None:
    token = csrf_of(world.client.get("/login?next=/metrics").text)
    answer = world.client.post(
        "/login", data={"csrf_token": token, "password": PASSWORD, "next": "/metrics"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/metrics"
    assert world.client.get("/metrics").status_code == 200


def test_sign_in_refuses_a_wrong_password(world: DashboardWorld) -> None:
    token = csrf_of(world.client.get("/login").text)
    answer = world.client.post("/login", data={"csrf_token": token, "password": "guess"}, follow_redirects=False)
    assert answer.status_code == 401
    assert "Wrong password." in answer.text
    assert world.client.get("/", follow_redirects=False).status_code == 303


def test_wrong_passwords_are_rate_limited(world: DashboardWorld) -> None:
    now = [datetime(2026, 3, 1, 12, 0)]
    world.dash.limiter = SignInLimiter(world.engine, max_attempts=5, window_seconds=900, clock=lambda: now[0])
    token = csrf_of(world.client.get("/login").text)
    for _ in range(5):
        assert world.client.post("/login", data={"csrf_token": token, "password": "guess"}).status_code == 401
    blocked = world.client.post("/login", data={"csrf_token": token, "password": PASSWORD}, follow_redirects=False)
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "900"
    assert "Too many wrong passwords" in blocked.text
    now[0] += timedelta(seconds=901)
    allowed = world.client.post("/login", data={"csrf_token": token, "password": PASSWORD}, follow_redirects=False)
    assert allowed.status_code == 303


def test_the_right_password_clears_the_count(world: DashboardWorld) -> None:
    token = csrf_of(world.client.get("/login").text)
    for _ in range(4):
        assert world.client.post("/login", data={"csrf_token": token, "password": "guess"}).status_code == 401
    token = sign_in(world.client)
    for _ in range(4):
        assert world.client.post("/login", data={"csrf_token": token, "password": "guess"}).status_code == 401


def test_failures_of_one_address_do_not_lock_out_another(world: DashboardWorld) -> None:
    limiter = SignInLimiter(world.engine, max_attempts=2)
    assert limiter.reserve("203.0.113.9") is None and limiter.reserve("203.0.113.9") is None
    assert limiter.reserve("203.0.113.9") is not None
    assert limiter.reserve("198.51.100.1") is None


def test_sign_in_never_redirects_off_site(world: DashboardWorld) -> None:
    token = csrf_of(world.client.get("/login").text)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        answer = world.client.post(
            "/login", data={"csrf_token": token, "password": PASSWORD, "next": target}, follow_redirects=False
        )
        assert answer.headers["location"] == "/", target
        world.client.cookies.clear()
        token = csrf_of(world.client.get("/login").text)


def test_session_cookie_is_http_only_and_same_site_lax(world: DashboardWorld) -> None:
    token = csrf_of(world.client.get("/login").text)
    answer = world.client.post("/login", data={"csrf_token": token, "password": PASSWORD}, follow_redirects=False)
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("bingbridge_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie.split("; ")  # plain http: a Secure cookie would never come back


def test_session_cookie_is_secure_over_https(tmp_path: Path) -> None:
    for world in open_dashboard(dashboard_settings(tmp_path), base_url="https://testserver"):
        token = csrf_of(world.client.get("/login").text)
        answer = world.client.post("/login", data={"csrf_token": token, "password": PASSWORD}, follow_redirects=False)
        assert "secure" in answer.headers["set-cookie"].lower().split("; ")


def test_the_session_cookie_holds_no_secret(signed_in: DashboardWorld) -> None:
    cookie = signed_in.client.cookies["bingbridge_session"]
    payload = json.loads(base64.b64decode(cookie.split(".")[0]))
    assert set(payload) <= {"sid", "admin", "login_at", "csrf", "flash"}
    assert PASSWORD not in json.dumps(payload)


def test_sign_out_ends_the_session(signed_in: DashboardWorld) -> None:
    answer = signed_in.post("/logout")
    assert answer.headers["location"] == "/login"
    assert signed_in.client.get("/", follow_redirects=False).status_code == 303


def test_a_cookie_copied_before_sign_out_is_refused_after_it(signed_in: DashboardWorld) -> None:
    copied = signed_in.client.cookies["bingbridge_session"]
    token = csrf_of(signed_in.client.get("/").text)
    assert signed_in.post("/logout").status_code == 303
    with TestClient(signed_in.app) as thief:
        thief.cookies.set("bingbridge_session", copied)
        assert thief.get("/", follow_redirects=False).status_code == 303
        assert thief.get("/api/imports/current").status_code == 401
        form = thief.post("/workspaces", data={"csrf_token": token, "name": "Evil"}, follow_redirects=False)
        assert form.status_code == 401
    with signed_in.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(workspaces)).scalar_one() == 0


def test_sign_out_all_sessions_ends_every_session(world: DashboardWorld) -> None:
    with TestClient(world.app) as laptop, TestClient(world.app) as phone:
        sign_in(laptop)
        sign_in(phone)
        token = csrf_of(phone.get("/").text)
        answer = phone.post("/logout/all", data={"csrf_token": token}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        assert "2 sessions ended" in phone.get("/login").text
        assert laptop.get("/", follow_redirects=False).status_code == 303
        assert phone.get("/", follow_redirects=False).status_code == 303
        sign_in(laptop)
        assert laptop.get("/", follow_redirects=False).status_code == 200


def test_hsts_on_https_only(tmp_path: Path, world: DashboardWorld) -> None:
    assert "strict-transport-security" not in world.client.get("/login").headers
    for https in open_dashboard(dashboard_settings(tmp_path / "https"), base_url="https://testserver"):
        for path in ("/login", "/healthz"):
            assert https.client.get(path).headers["strict-transport-security"] == "max-age=31536000"


def test_a_new_password_ends_existing_sessions(signed_in: DashboardWorld) -> None:
    assert signed_in.client.get("/", follow_redirects=False).status_code == 200
    signed_in.dash.password = AdminPassword(plain="a different password")
    assert signed_in.client.get("/", follow_redirects=False).status_code == 303


def test_a_forged_session_cookie_is_ignored(world: DashboardWorld) -> None:
    world.client.cookies.set("bingbridge_session", "eyJhZG1pbiI6ICJ4In0=.forged.signature")
    assert world.client.get("/", follow_redirects=False).status_code == 303


def test_generated_password_is_printed_once_and_only_its_hash_kept(tmp_path: Path) -> None:
    settings = Settings(secret_key_file=tmp_path / "keys" / "secret.key")
    out = io.StringIO()
    admin = AdminPassword.for_settings(settings, announce=out)
    password = re.search(r"Sign in with: (\S+)", out.getvalue())
    assert password is not None
    path = admin_file(settings)
    assert path == tmp_path / "keys" / "admin.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password.group(1) not in path.read_text()
    assert json.loads(path.read_text())["scheme"] == "scrypt"
    assert admin.verify(password.group(1)) and not admin.verify("wrong")
    again = io.StringIO()
    assert AdminPassword.for_settings(settings, announce=again).verify(password.group(1))
    assert again.getvalue() == ""


def test_configured_password_creates_no_file(tmp_path: Path) -> None:
    settings = dashboard_settings(tmp_path)
    assert AdminPassword.for_settings(settings).verify(PASSWORD)
    assert not admin_file(settings).exists()


def test_security_headers_on_pages(world: DashboardWorld) -> None:
    answer = world.client.get("/login")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "same-origin"


def test_assets_need_no_session(world: DashboardWorld) -> None:
    css = world.client.get("/assets/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    again = world.client.get("/assets/dashboard.css", headers={"If-None-Match": css.headers["etag"]})
    assert again.status_code == 304
    assert world.client.get("/assets/dashboard.js").status_code == 200


def test_the_ingestion_api_is_not_shadowed(world: DashboardWorld) -> None:
    assert world.client.post("/v1/events", content=b"{}").status_code == 401  # the API's own answer
    assert world.client.get("/healthz").json() == {"status": "ok"}
    assert world.client.get("/sdk.js").status_code == 200
    paths = world.client.get("/openapi.json").json()["paths"]
    assert all(p.startswith(("/v1/", "/sdk.js", "/healthz")) for p in paths)
    missing = world.client.get("/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}


def test_a_signed_out_client_cannot_read_the_import_state(world: DashboardWorld) -> None:
    sign_in(world.client)
    assert world.client.get("/api/imports/current").status_code == 200
    with TestClient(world.app) as other:
        assert other.get("/api/imports/current").status_code == 401
