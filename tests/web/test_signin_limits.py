"""The dashboard under real conditions: parallel wrong passwords on a real server, forged X-Forwarded-For, trusted
proxies, and two app instances on one database sharing the limiter and the Connect flows."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine, text

from bingbridge.emulator.server import RunningEmulator
from bingbridge.serving import serve_in_thread
from bingbridge.settings import Settings
from bingbridge.store.engine import create_engine_for, migrate, open_database, utcnow
from bingbridge.tracking.destinations import list_destinations
from bingbridge.tracking.workspaces import create_workspace
from bingbridge.web.app import create_app
from bingbridge.web.dashboard import Dashboard, mount_dashboard
from bingbridge.web.dashboard.security import AdminPassword
from tests.databases import postgres_engine
from tests.web.conftest import PASSWORD, csrf_of, dashboard_settings, emulator_account

__all__ = ["postgres_engine"]


class CountingPassword(AdminPassword):
    """The configured password, counting how often a candidate is checked against it."""

    def __init__(self) -> None:
        super().__init__(plain=PASSWORD)
        self.checked = 0
        self._lock = threading.Lock()

    def verify(self, candidate: str) -> bool:
        with self._lock:
            self.checked += 1
        return super().verify(candidate)


@dataclass
class Served:
    url: str
    dash: Dashboard


@contextmanager
def served(settings: Settings, engine: Engine) -> Iterator[Served]:
    """The service with the dashboard on uvicorn, on a free loopback port."""
    app = create_app(settings, engine)
    with httpx.Client(timeout=10) as http:
        dash = mount_dashboard(app, settings, engine, http=http)
        dash.password = CountingPassword()
        server = serve_in_thread(app)
        try:
            yield Served(server.url, dash)
        finally:
            server.stop()


def login_form(client: httpx.Client, url: str) -> str:
    return csrf_of(client.get(f"{url}/login").text)


def try_password(client: httpx.Client, url: str, token: str, password: str, **headers: str) -> int:
    form = {"csrf_token": token, "password": password, "next": "/"}
    return client.post(f"{url}/login", data=form, headers=headers, follow_redirects=False).status_code


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return dashboard_settings(tmp_path)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = open_database(settings.database_url)
    yield engine
    engine.dispose()


def test_40_parallel_wrong_passwords_check_at_most_5(settings: Settings, engine: Engine) -> None:
    with served(settings, engine) as service, httpx.Client(timeout=30) as client:
        token = login_form(client, service.url)
        with ThreadPoolExecutor(max_workers=40) as pool:
            answers = list(pool.map(lambda _: try_password(client, service.url, token, "guess"), range(40)))
        assert isinstance(service.dash.password, CountingPassword)
        assert service.dash.password.checked <= 5
        assert sorted(set(answers)) == [401, 429] and answers.count(401) == service.dash.password.checked
        assert try_password(client, service.url, token, PASSWORD) == 429


def test_a_forged_x_forwarded_for_does_not_reset_the_count(settings: Settings, engine: Engine) -> None:
    with served(settings, engine) as service, httpx.Client(timeout=30) as client:
        token = login_form(client, service.url)
        answers = [
            try_password(client, service.url, token, "guess", **{"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(6)
        ]
        assert answers == [401] * 5 + [429]


def test_behind_a_trusted_proxy_each_browser_has_its_own_count(tmp_path: Path) -> None:
    settings = dashboard_settings(tmp_path, trusted_proxies="127.0.0.1")
    engine = open_database(settings.database_url)
    with served(settings, engine) as service, httpx.Client(timeout=30) as client:
        token = login_form(client, service.url)
        owner = {"X-Forwarded-For": "198.51.100.7"}
        attacker = {"X-Forwarded-For": "203.0.113.66"}
        assert [try_password(client, service.url, token, "guess", **attacker) for _ in range(6)][-1] == 429
        assert try_password(client, service.url, token, PASSWORD, **owner) == 303
    engine.dispose()


# ---- several instances on one database ----


@pytest.fixture(params=["sqlite", "postgresql"])
def two_engines(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two engines (two connection pools, as two `serve` processes have) on one database: a SQLite file, or a
    PostgreSQL schema where BINGBRIDGE_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        first = open_database(f"sqlite:///{tmp_path / 'shared.db'}")
        second = open_database(f"sqlite:///{tmp_path / 'shared.db'}")
    else:
        first = request.getfixturevalue("postgres_engine")
        migrate(first)
        with first.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        url = os.environ["BINGBRIDGE_TEST_POSTGRES_URL"]
        second = create_engine_for(url, connect_args={"options": f"-csearch_path={schema}"})
    yield first, second
    second.dispose()
    first.dispose()


@pytest.fixture
def two_services(tmp_path: Path, two_engines: tuple[Engine, Engine]) -> Iterator[tuple[Served, Served]]:
    settings = dashboard_settings(tmp_path)
    with served(settings, two_engines[0]) as first, served(settings, two_engines[1]) as second:
        yield first, second


def test_two_instances_on_one_database_share_the_limiter(two_services: tuple[Served, Served]) -> None:
    first, second = two_services
    with httpx.Client(timeout=30) as client:
        token = login_form(client, first.url)
        assert [try_password(client, first.url, token, "guess") for _ in range(3)] == [401] * 3
        assert [try_password(client, second.url, token, "guess") for _ in range(3)] == [401, 401, 429]
        assert try_password(client, first.url, token, PASSWORD) == 429


def test_a_connect_flow_started_on_one_instance_completes_on_the_other(
    tmp_path: Path, two_engines: tuple[Engine, Engine], bingads_emulator: RunningEmulator
) -> None:
    config = bingads_emulator.config
    settings = dashboard_settings(tmp_path, api_base_url=bingads_emulator.url)
    customer_id, account_id = emulator_account(bingads_emulator)
    workspace, _ = create_workspace(two_engines[0], "Web shop", now=utcnow())
    form = {
        "customer_id": str(customer_id),
        "account_id": str(account_id),
        "developer_token": config.developer_token,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
    }
    with (
        served(settings, two_engines[0]) as first,
        served(settings, two_engines[1]) as second,
        httpx.Client(timeout=30) as client,
    ):
        token = login_form(client, first.url)
        assert try_password(client, first.url, token, PASSWORD) == 303
        token = csrf_of(client.get(f"{first.url}/").text)
        start = client.post(
            f"{first.url}/workspaces/{workspace.id}/destinations/connect", data={"csrf_token": token, **form}
        )
        assert start.status_code == 303, start.text
        back = httpx.get(start.headers["location"], follow_redirects=False)  # Microsoft's sign-in, auto-approved
        callback = urlsplit(back.headers["location"])
        assert callback.path == "/oauth/callback"
        done = client.get(f"{second.url}{callback.path}?{callback.query}", follow_redirects=False)
        assert done.status_code == 303, done.text
        (destination,) = list_destinations(two_engines[1], workspace.id)
        assert done.headers["location"] == f"/destinations/{destination.id}"
        assert second.dash.box.open(destination.sealed)["refresh_token"]
        again = client.get(f"{first.url}{callback.path}?{callback.query}", follow_redirects=False)
        assert again.status_code == 400  # taken once, by whichever instance


def test_40_parallel_wrong_passwords_on_two_instances_check_at_most_5(two_services: tuple[Served, Served]) -> None:
    first, second = two_services
    with httpx.Client(timeout=60) as client:
        token = login_form(client, first.url)
        urls = [first.url, second.url] * 20
        with ThreadPoolExecutor(max_workers=40) as pool:
            answers = list(pool.map(lambda url: try_password(client, url, token, "guess"), urls))
        checked = sum(s.dash.password.checked for s in (first, second) if isinstance(s.dash.password, CountingPassword))
        assert checked <= 5 and answers.count(401) == checked and answers.count(429) == 40 - checked
