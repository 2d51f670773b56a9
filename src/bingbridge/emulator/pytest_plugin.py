"""A pytest fixture for users' own tests: `bingads_emulator`, a running emulator on a free port.

Use it with a client pointed at it:

    def test_my_sync(bingads_emulator, bingads_settings):
        client = BingAdsClient(bingads_settings, token_store=MemoryTokenStore())
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bingbridge.emulator.server import RunningEmulator, start_in_thread
from bingbridge.emulator.state import EmulatorConfig
from bingbridge.settings import Secret, Settings


@pytest.fixture
def bingads_emulator() -> Iterator[RunningEmulator]:
    """A fresh emulator with default seeded data, stopped after the test."""
    with start_in_thread(EmulatorConfig()) as emulator:
        yield emulator


def emulator_settings(emulator: RunningEmulator, token_file: Path) -> Settings:
    """Settings that reach `emulator`, with a refresh token minted for its default user."""
    config = emulator.config
    tokens = httpx.post(f"{emulator.url}/_emulator/tokens").json()
    return Settings(
        client_id=config.client_id,
        client_secret=Secret(config.client_secret),
        developer_token=Secret(config.developer_token),
        refresh_token=Secret(tokens["refresh_token"]),
        api_base_url=emulator.url,
        token_file=token_file,
    )


@pytest.fixture
def bingads_settings(bingads_emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings that reach the emulator, with a refresh token minted for its default user."""
    return emulator_settings(bingads_emulator, tmp_path_factory.mktemp("bingbridge") / "tokens.json")
