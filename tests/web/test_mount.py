"""`mount_dashboard` on any FastAPI app: it adds its routes at `/` and, given no HTTP client, owns one."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from bingbridge.store.engine import open_database
from bingbridge.web.dashboard import mount_dashboard
from tests.web.conftest import TestClient, dashboard_settings, sign_in


def test_the_dashboard_mounts_on_a_bare_app_and_closes_its_client(tmp_path: Path) -> None:
    settings = dashboard_settings(tmp_path)
    engine = open_database(settings.database_url)
    app = FastAPI()

    @app.get("/v1/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    dash = mount_dashboard(app, settings, engine)
    with TestClient(app) as client:
        assert client.get("/v1/ping").json() == {"pong": "yes"}
        assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=%2F"
        sign_in(client)
        assert "Connections" in client.get("/").text
        assert not dash.http.is_closed
    assert dash.http.is_closed  # closed with the app's lifespan
    engine.dispose()
