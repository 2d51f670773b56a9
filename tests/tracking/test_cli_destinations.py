"""`bingbridge destinations add / update` with the Conversions API channel: the token is stored encrypted and
never shown; a mapping through both channels is warned about."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from bingbridge.cli import cli

TOKEN = "capi-token-value-123"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "BINGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "BINGBRIDGE_SECRET_KEY": Fernet.generate_key().decode(),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_add_and_update_the_conversions_api_channel(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "workspaces", "create", "Web shop")[0] == 0
    base = ["--workspace", "Web shop", "--customer-id", "1", "--account-id", "2", "--developer-token", "T"]
    code, out, _ = run(
        env, "destinations", "add", *base, "--client-id", "C", "--client-secret", "S", "--refresh-token", "R", "--json"
    )
    assert code == 0, out
    added = json.loads(out)
    assert added["channels"] == ["offline"]
    code, out, err = run(
        env, "destinations", "update", str(added["id"]), "--uet-tag-id", "77", "--capi-token", TOKEN,
        "--channel", "purchase=offline,capi", "--json",
    )  # fmt: skip
    assert code == 0, out
    updated = json.loads(out)
    assert (updated["channels"], updated["uet_tag_id"]) == (["offline", "capi"], 77)
    assert updated["event_channels"] == {"purchase": ["offline", "capi"]}
    assert "purchase" in err and "twice" in err
    assert TOKEN not in out + err and TOKEN.encode() not in (tmp_path / "db.sqlite").read_bytes()


def test_a_token_without_a_tag_is_refused(env: dict[str, str]) -> None:
    run(env, "workspaces", "create", "Web shop")
    code, out, err = run(
        env, "destinations", "add", "--workspace", "Web shop", "--customer-id", "1", "--account-id", "2",
        "--developer-token", "T", "--client-id", "C", "--client-secret", "S", "--refresh-token", "R",
        "--capi-token", TOKEN,
    )  # fmt: skip
    assert code == 2 and "uet_tag_id" in out + err
