"""The CLI: help everywhere, JSON and tables, actionable errors without tracebacks, OAuth login."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from bingbridge.cli import cli
from bingbridge.emulator.server import RunningEmulator
from bingbridge.settings import Settings
from tests.conftest import cli_env


@pytest.fixture
def env(bingads_settings: Settings) -> dict[str, str]:
    return cli_env(bingads_settings)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "bingbridge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_customers_list_json_has_snake_case_keys(env: dict[str, str]) -> None:
    result = run(env, "customers", "list", "--top", "10", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"id": json.loads(result.stdout)[0]["id"], "name": "Northwind Agency"},
        {"id": json.loads(result.stdout)[1]["id"], "name": "Adatum Travel"},
    ]


def test_accounts_search_table(env: dict[str, str]) -> None:
    result = run(env, "accounts", "search", "--name", "Contoso")
    assert result.returncode == 0, result.stderr
    assert "Contoso Retail - Search" in result.stdout


def test_api_error_is_actionable_and_has_no_traceback(env: dict[str, str]) -> None:
    result = run(env, "customers", "get", "123456789")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "106 UserIsNotAuthorized" in result.stderr and "TrackingId:" in result.stderr
    assert "what to do:" in result.stderr


def test_bad_input_exit_code_2_names_field(env: dict[str, str]) -> None:
    result = run(
        env,
        "users",
        "invite",
        "--first-name",
        "A",
        "--last-name",
        "B",
        "--email",
        "nope",
        "--role-id",
        "100",
        "--customer-id",
        "1",
    )
    assert result.returncode == 2
    assert "email: is not an e-mail address" in result.stderr and "nothing was sent" in result.stderr


def test_missing_developer_token_names_the_variable(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k != "BINGBRIDGE_DEVELOPER_TOKEN"}
    result = run(env, "customers", "list")
    assert result.returncode == 2 and "BINGBRIDGE_DEVELOPER_TOKEN" in result.stderr


def test_auth_test_reports_latency_and_failing_credential(env: dict[str, str]) -> None:
    ok = run(env, "auth", "test", "--json")
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["ok"] and report["token_ms"] > 0 and report["api_ms"] > 0
    bad = run({**env, "BINGBRIDGE_DEVELOPER_TOKEN": "WRONG"}, "auth", "test", "--json")
    assert bad.returncode == 1 and json.loads(bad.stdout)["failed"] == "developer_token"
    secret = run({**env, "BINGBRIDGE_CLIENT_SECRET": "WRONG"}, "auth", "test", "--json")
    assert json.loads(secret.stdout)["failed"] == "client_secret"


def test_auth_status_after_test_shows_user(env: dict[str, str]) -> None:
    assert run(env, "auth", "test").returncode == 0
    status = run(env, "auth", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["user_name"].startswith("ada@")


def test_login_without_browser_reads_the_pasted_redirect(
    bingads_emulator: RunningEmulator, env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in env.items() if k != "BINGBRIDGE_REFRESH_TOKEN"}
    env["BINGBRIDGE_TOKEN_FILE"] = str(tmp_path / "tokens.json")
    env["BINGBRIDGE_REDIRECT_URI"] = "http://localhost:1/callback"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bingbridge", "auth", "login", "--no-browser", "--json"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    url = ""
    while "oauth2/v2.0/authorize" not in url:
        url = proc.stderr.readline().strip()
    assert "code_challenge_method=S256" in url and "state=" in url
    redirect = httpx.get(url, follow_redirects=False).headers["location"]
    out, err = proc.communicate(redirect + "\n", timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["connected"] is True


def test_emulator_command_help_runs_without_starting() -> None:
    result = CliRunner().invoke(cli, ["emulator", "--help"])
    assert result.exit_code == 0 and "BINGBRIDGE_API_BASE_URL" in result.output


def test_auth_status_warns_about_an_idle_refresh_token(env: dict[str, str]) -> None:
    from datetime import timedelta

    from bingbridge.auth.tokens import FileTokenStore, TokenSet, utcnow

    store = FileTokenStore(Path(env["BINGBRIDGE_TOKEN_FILE"]))
    store.save(
        f"production:{env['BINGBRIDGE_CLIENT_ID']}",
        TokenSet(
            access_token="a",
            refresh_token="r",
            expires_at=utcnow() - timedelta(days=70),
            refresh_token_used_at=utcnow() - timedelta(days=70),
            user_name="ada@example.com",
        ),
    )
    env = {k: v for k, v in env.items() if k != "BINGBRIDGE_REFRESH_TOKEN"}
    result = run(env, "auth", "status")
    assert result.returncode == 0, result.stderr
    assert "has not been used for 70 days" in result.stderr
    assert "ada@example.com" in result.stdout


def test_unreachable_api_is_a_clear_error(env: dict[str, str]) -> None:
    unreachable = {**env, "BINGBRIDGE_API_BASE_URL": "http://127.0.0.1:9", "BINGBRIDGE_MAX_RETRIES": "0"}
    result = run(unreachable, "customers", "list")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "ConnectError" in result.stderr and "BINGBRIDGE_API_BASE_URL" in result.stderr


def test_accounts_auto_tagging_reads_and_turns_it_on(env: dict[str, str], bingads_emulator: RunningEmulator) -> None:
    state = bingads_emulator.state
    account = next(iter(state.accounts_of(state.world.users[state.config.default_user_id].customer_id)))
    args = ["accounts", "auto-tagging", "--account-id", str(account.id), "--json"]
    state.campaign.account_properties.pop(int(account.id or 0), None)
    off = run(env, *args)
    assert off.returncode == 1 and json.loads(off.stdout)["msclkid_auto_tagging"] is False
    on = run(env, *args, "--enable")
    assert on.returncode == 0, on.stderr
    assert json.loads(on.stdout) == {"account_id": account.id, "msclkid_auto_tagging": True}
