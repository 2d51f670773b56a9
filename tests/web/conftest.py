"""Fixtures of the dashboard tests: the tracking service app with the dashboard mounted, on SQLite in a temporary
folder, driven by Starlette's TestClient; and helpers to sign in and read CSRF tokens out of pages."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import Engine

from bingbridge.emulator.server import RunningEmulator
from bingbridge.settings import Secret, Settings
from bingbridge.store.engine import open_database, utcnow
from bingbridge.tracking.destinations import DestinationInput, save_destination
from bingbridge.tracking.workspaces import create_workspace
from bingbridge.web.app import create_app
from bingbridge.web.dashboard import Dashboard, mount_dashboard

with warnings.catch_warnings():
    # starlette's TestClient names anyio.abc.BlockingPortal once, at import; anyio 4.x deprecates that alias.
    warnings.filterwarnings("ignore", "The anyio.abc.BlockingPortal alias is deprecated", DeprecationWarning)
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"csrf_token": token, "password": password, "next": "/"}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)


@dataclass
class DashboardWorld:
    settings: Settings
    engine: Engine
    app: FastAPI
    dash: Dashboard
    client: TestClient

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: object) -> httpx.Response:
        """POST a form with the session's CSRF token, without following redirects."""
        token = csrf_of(self.client.get("/").text)
        return self.client.post(path, data={"csrf_token": token, **(data or {})}, follow_redirects=False, **kwargs)


def dashboard_settings(tmp_path: Path, **overrides: object) -> Settings:
    tmp_path.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'bingbridge.db'}",
        "secret_key": Secret(Fernet.generate_key().decode()),
        "secret_key_file": tmp_path / "secret.key",
        "admin_password": Secret(PASSWORD),
        "token_file": tmp_path / "tokens.json",
        # Nothing listens here: pages that would call Microsoft show the failure instead.
        "api_base_url": "http://127.0.0.1:9",
        "timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


def open_dashboard(settings: Settings, *, base_url: str = "http://testserver") -> Iterator[DashboardWorld]:
    engine = open_database(settings.database_url)
    app = create_app(settings, engine)
    with httpx.Client(timeout=10) as http:
        dash = mount_dashboard(app, settings, engine, http=http)
        with TestClient(app, base_url=base_url) as client:
            yield DashboardWorld(settings, engine, app, dash, client)
    engine.dispose()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DashboardWorld]:
    """The service with the dashboard, signed out, no Microsoft behind it."""
    yield from open_dashboard(dashboard_settings(tmp_path))


@pytest.fixture
def signed_in(world: DashboardWorld) -> DashboardWorld:
    sign_in(world.client)
    return world


@pytest.fixture
def emulated(bingads_emulator: RunningEmulator, tmp_path: Path) -> Iterator[DashboardWorld]:
    """Signed in, with the configured connection (metrics import) and the OAuth endpoints on the emulator."""
    config = bingads_emulator.config
    refresh = httpx.post(f"{bingads_emulator.url}/_emulator/tokens").json()["refresh_token"]
    settings = dashboard_settings(
        tmp_path,
        api_base_url=bingads_emulator.url,
        client_id=config.client_id,
        client_secret=Secret(config.client_secret),
        developer_token=Secret(config.developer_token),
        refresh_token=Secret(refresh),
    )
    for opened in open_dashboard(settings):
        sign_in(opened.client)
        yield opened


def emulator_account(emulator: RunningEmulator) -> tuple[int, int]:
    """(customer id, account id) of an active account of the emulator's default user."""
    state = emulator.state
    user = state.config.default_user_id
    for account_id in state.visible_account_ids(user):
        account = state.world.accounts[account_id]
        if account.account_life_cycle_status == "Active" and account.parent_customer_id is not None:
            return account.parent_customer_id, account_id
    raise AssertionError("the emulator has no active account")


def emulator_destination(world: DashboardWorld, emulator: RunningEmulator) -> int:
    """A workspace and a destination on the emulator's first active account (stored through the library)."""
    customer_id, account_id = emulator_account(emulator)
    config = emulator.config
    refresh = httpx.post(f"{emulator.url}/_emulator/tokens").json()["refresh_token"]
    workspace, _ = create_workspace(world.engine, "Emulated shop", now=utcnow())
    data = DestinationInput(
        customer_id=customer_id,
        account_id=account_id,
        developer_token=config.developer_token,
        client_id=config.client_id,
        client_secret=config.client_secret,
        refresh_token=refresh,
    )
    return save_destination(world.engine, world.dash.box, workspace.id, data).id


def unreachable_destination(world: DashboardWorld) -> int:
    """A workspace and a destination whose calls reach nothing (the settings' base URL has no server)."""
    workspace, _ = create_workspace(world.engine, "Web shop", now=utcnow())
    data = DestinationInput(
        customer_id=1, account_id=2, developer_token="d", client_id="c", client_secret="s", refresh_token="r"
    )
    return save_destination(world.engine, world.dash.box, workspace.id, data).id
