"""The client-link lifecycle, pilot features and invitations from the CLI, against the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bingbridge.emulator.server import RunningEmulator
from bingbridge.settings import Settings
from tests.conftest import cli_env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a fresh process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bingbridge", *args], env=env, capture_output=True, text=True, timeout=60
    )


def env_for(settings: Settings, emulator: RunningEmulator, user_id: int, tmp_path: Path) -> dict[str, str]:
    """The environment of `user_id` signed in, acting for their own customer."""
    refresh = httpx.post(f"{emulator.url}/_emulator/tokens", json={"user_id": user_id}).json()["refresh_token"]
    env = cli_env(settings)
    customer = emulator.state.world.users[user_id].customer_id
    env |= {
        "BINGBRIDGE_REFRESH_TOKEN": refresh,
        "BINGBRIDGE_TOKEN_FILE": str(tmp_path / f"tokens-{user_id}.json"),
        "BINGBRIDGE_CUSTOMER_ID": str(customer),
    }
    return env


@pytest.fixture
def agency(bingads_settings: Settings, bingads_emulator: RunningEmulator, tmp_path: Path) -> dict[str, str]:
    return env_for(bingads_settings, bingads_emulator, bingads_emulator.config.default_user_id, tmp_path)


@pytest.fixture
def client_user(bingads_emulator: RunningEmulator) -> int:
    """A user of a client customer whose second account nobody manages yet."""
    state = bingads_emulator.state
    home = state.world.users[state.config.default_user_id].customer_id
    return next(uid for uid, user in state.world.users.items() if user.customer_id != home)


def free_account(emulator: RunningEmulator, user_id: int) -> int:
    state = emulator.state
    account = state.accounts_of(state.world.users[user_id].customer_id)[1].id
    assert account is not None
    return account


def invite(agency: dict[str, str], account: int) -> None:
    result = run(agency, "client-links", "add", "--client-entity-id", str(account), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["ok"] is True


@pytest.fixture
def invited(
    agency: dict[str, str],
    client_user: int,
    bingads_settings: Settings,
    bingads_emulator: RunningEmulator,
    tmp_path: Path,
) -> tuple[int, dict[str, str]]:
    """An account the agency has invited to manage, and the environment of its client user."""
    account = free_account(bingads_emulator, client_user)
    invite(agency, account)
    return account, env_for(bingads_settings, bingads_emulator, client_user, tmp_path)


def statuses(emulator: RunningEmulator, account: int) -> list[str | None]:
    return [link.status for link in emulator.state.world.client_links if link.client_entity_id == account]


def test_the_client_accepts_an_agencys_link_and_the_agency_then_manages_the_account(
    agency: dict[str, str], invited: tuple[int, dict[str, str]], bingads_emulator: RunningEmulator
) -> None:
    account, client = invited
    result = run(client, "client-links", "accept", str(account), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"client_entity_id": account, "status": "LinkAccepted", "ok": True, "errors": []}
    ]
    assert statuses(bingads_emulator, account) == ["Active"]
    linked = run(agency, "accounts", "linked", "--json")
    assert account in [a["id"] for a in json.loads(linked.stdout)["accounts_info"]], linked.stdout


def test_the_client_declines_and_the_agency_cancels(
    agency: dict[str, str], invited: tuple[int, dict[str, str]], bingads_emulator: RunningEmulator
) -> None:
    account, client = invited
    assert run(client, "client-links", "decline", str(account)).returncode == 0
    invite(agency, account)
    assert run(agency, "client-links", "cancel", str(account)).returncode == 0
    assert statuses(bingads_emulator, account) == ["LinkDeclined", "LinkCanceled"]


def test_a_link_that_is_not_pending_cannot_be_accepted(
    client_user: int, bingads_settings: Settings, bingads_emulator: RunningEmulator, tmp_path: Path
) -> None:
    client = env_for(bingads_settings, bingads_emulator, client_user, tmp_path)
    result = run(client, "client-links", "accept", str(free_account(bingads_emulator, client_user)))
    assert result.returncode == 2
    assert "has no client link in status LinkPending" in result.stderr


def test_the_agency_cannot_accept_its_own_invitation_106(
    agency: dict[str, str], invited: tuple[int, dict[str, str]], bingads_emulator: RunningEmulator
) -> None:
    account, _ = invited
    result = run(agency, "client-links", "accept", str(account), "--json")
    assert result.returncode == 1
    assert [row["ok"] for row in json.loads(result.stdout)] == [False]
    assert "106" in json.loads(result.stdout)[0]["errors"][0]
    assert statuses(bingads_emulator, account) == ["LinkPending"]


def test_pilot_features_of_the_signed_in_customer(agency: dict[str, str]) -> None:
    result = run(agency, "customers", "pilot-features", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"feature_id": 574}]


def test_invitations_sent_are_listed(agency: dict[str, str]) -> None:
    sent = run(agency, "users", "invite", "--first-name", "Ada", "--last-name", "Lovelace", "--email",
               "ada@example.com", "--role-id", "100", "--json")  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    result = run(agency, "users", "invitations", "--json")
    assert result.returncode == 0, result.stderr
    (invitation,) = json.loads(result.stdout)
    assert (invitation["id"], invitation["email"]) == (json.loads(sent.stdout)["user_invitation_id"], "ada@example.com")
