"""The emulator's token endpoint answers as Microsoft's identity platform does (reference 12)."""

from __future__ import annotations

import httpx

from bingbridge.emulator.server import RunningEmulator
from bingbridge.errors import OAuthError

SCOPE = "https://ads.microsoft.com/msads.manage offline_access"


def _refresh(emulator: RunningEmulator, refresh_token: str, **overrides: str) -> httpx.Response:
    form = {
        "client_id": emulator.config.client_id,
        "client_secret": emulator.config.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "scope": SCOPE,
    }
    form.update(overrides)
    form = {k: v for k, v in form.items() if v}
    return httpx.post(f"{emulator.url}/common/oauth2/v2.0/token", data=form)


def _minted(emulator: RunningEmulator) -> str:
    token: str = httpx.post(f"{emulator.url}/_emulator/tokens").json()["refresh_token"]
    return token


def test_a_used_refresh_token_stays_valid(bingads_emulator: RunningEmulator) -> None:
    first = _minted(bingads_emulator)
    rotated = _refresh(bingads_emulator, first)
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != first
    again = _refresh(bingads_emulator, first)
    assert again.status_code == 200 and again.json()["access_token"]


def test_revocation_on_use_is_a_setting(bingads_emulator: RunningEmulator) -> None:
    bingads_emulator.config.revoke_used_refresh_tokens = True
    first = _minted(bingads_emulator)
    assert _refresh(bingads_emulator, first).status_code == 200
    refused = _refresh(bingads_emulator, first)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_a_missing_client_secret_is_aadsts7000218(bingads_emulator: RunningEmulator) -> None:
    answer = _refresh(bingads_emulator, _minted(bingads_emulator), client_secret="")
    body = answer.json()
    assert answer.status_code == 401 and body["error"] == "invalid_client"
    assert body["error_description"].startswith("AADSTS7000218")
    assert "BINGBRIDGE_CLIENT_SECRET" in OAuthError(body["error"], body["error_description"]).hint


def test_a_wrong_client_secret_is_aadsts7000215(bingads_emulator: RunningEmulator) -> None:
    answer = _refresh(bingads_emulator, _minted(bingads_emulator), client_secret="not-the-secret")
    assert answer.status_code == 401 and answer.json()["error_description"].startswith("AADSTS7000215")


def test_a_refresh_answers_the_requested_scope(bingads_emulator: RunningEmulator) -> None:
    sandbox = "https://si.ads.microsoft.com/msads.manage offline_access"
    answer = _refresh(bingads_emulator, _minted(bingads_emulator), scope=sandbox)
    assert answer.json()["scope"] == sandbox
