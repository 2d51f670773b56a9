"""Fixtures of the tracking tests: a migrated SQLite database in a temporary folder (PostgreSQL too where
BINGBRIDGE_TEST_POSTGRES_URL is set), a workspace with its ingestion key, a destination, and the web app.

The destination points at nothing: ingestion never calls Microsoft, so no emulator is needed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import Engine

from bingbridge.settings import Secret, Settings
from bingbridge.store import create_engine_for, migrate, utcnow
from bingbridge.tracking.destinations import Destination, DestinationInput, save_destination
from bingbridge.tracking.secrets import SecretBox
from bingbridge.tracking.workspaces import Workspace, create_key, create_workspace
from bingbridge.web import create_app
from tests.databases import postgres_engine
from tests.tracking.ingest_support import TestClient

__all__ = ["postgres_engine"]


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    return tmp_path / "tracking.db"


@pytest.fixture
def engine(database_path: Path) -> Iterator[Engine]:
    """SQLite in a temporary folder, migrated to head."""
    engine = create_engine_for(f"sqlite:///{database_path}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """The test runs on SQLite and, where BINGBRIDGE_TEST_POSTGRES_URL is set, on PostgreSQL (own schema)."""
    found: Engine = request.getfixturevalue("engine" if request.param == "sqlite" else "postgres_engine")
    migrate(found)
    return found


@pytest.fixture
def secret_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def box(secret_key: str) -> SecretBox:
    return SecretBox(secret_key.encode())


@pytest.fixture
def settings(database_path: Path, secret_key: str) -> Settings:
    # Port 9 (discard) on loopback: nothing in these tests may reach Microsoft, and nothing would answer there.
    return Settings(
        database_url=f"sqlite:///{database_path}",
        secret_key=Secret(secret_key),
        api_base_url="http://127.0.0.1:9",
        token_file=database_path.parent / "tokens.json",
    )


@pytest.fixture
def workspace_and_key(engine: Engine) -> tuple[Workspace, str]:
    return create_workspace(engine, "Web shop", now=utcnow())


@pytest.fixture
def workspace(workspace_and_key: tuple[Workspace, str]) -> Workspace:
    return workspace_and_key[0]


@pytest.fixture
def ingestion_key(workspace_and_key: tuple[Workspace, str]) -> str:
    return workspace_and_key[1]


def destination_input(**overrides: object) -> DestinationInput:
    values: dict[str, object] = {
        "customer_id": 1001,
        "account_id": 2002,
        "developer_token": "BBD37VB98",
        "client_id": "client",
        "client_secret": "secret",
        "refresh_token": "refresh",
    }
    values.update(overrides)
    return DestinationInput(**values)  # type: ignore[arg-type]


@pytest.fixture
def destination(engine: Engine, box: SecretBox, workspace: Workspace) -> Destination:
    """The workspace's destination with the default mapping (purchase → Purchase, ...), not Live."""
    return save_destination(engine, box, workspace.id, destination_input())


@pytest.fixture
def app(settings: Settings, engine: Engine, destination: Destination) -> FastAPI:
    return create_app(settings, engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def auth(ingestion_key: str) -> dict[str, str]:
    """The workspace's public ingestion key: it may only post events."""
    return {"Authorization": f"Bearer {ingestion_key}"}


@pytest.fixture
def api_key(engine: Engine, workspace: Workspace) -> str:
    return create_key(engine, workspace.id, "api", name="tests", now=utcnow())[1]


@pytest.fixture
def api_auth(api_key: str) -> dict[str, str]:
    """A secret API key of the workspace: it reads and operates."""
    return {"Authorization": f"Bearer {api_key}"}
