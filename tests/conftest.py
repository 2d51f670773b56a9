"""Shared fixtures: the emulator (from bingbridge's pytest plugin) and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bingbridge.api.client import BingAdsClient
from bingbridge.auth.tokens import FileTokenStore
from bingbridge.emulator.server import RunningEmulator
from bingbridge.settings import Settings


class Recorder:
    """Counts the requests a client sends, so tests can prove nothing was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def api_calls(self) -> list[httpx.Request]:
        return [r for r in self.requests if "/oauth2/" not in r.url.path]


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a user would set to point the `bingbridge` command at the emulator."""
    assert settings.client_secret and settings.developer_token and settings.refresh_token
    return {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
        "BINGBRIDGE_CLIENT_ID": settings.client_id or "",
        "BINGBRIDGE_CLIENT_SECRET": settings.client_secret.reveal(),
        "BINGBRIDGE_DEVELOPER_TOKEN": settings.developer_token.reveal(),
        "BINGBRIDGE_REFRESH_TOKEN": settings.refresh_token.reveal(),
        "BINGBRIDGE_API_BASE_URL": settings.api_base_url or "",
        "BINGBRIDGE_TOKEN_FILE": str(settings.token_file),
        # The user's own ~/.config/bingbridge stays out of the tests.
        "XDG_CONFIG_HOME": str(settings.token_file.parent / "config"),
    }


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(
    bingads_emulator: RunningEmulator, bingads_settings: Settings, recorder: Recorder, sleeps: list[float]
) -> Iterator[BingAdsClient]:
    http = httpx.Client(event_hooks={"request": [recorder]})
    with BingAdsClient(
        bingads_settings, http=http, token_store=FileTokenStore(bingads_settings.token_file), sleep=sleeps.append
    ) as c:
        yield c
    http.close()
