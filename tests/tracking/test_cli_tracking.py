"""Tracking commands: `bingbridge keys` (create, list, rotate, revoke) and a changed secret key explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from bingbridge.cli import cli
from bingbridge.store import open_database
from bingbridge.tracking.workspaces import key_holder


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text("")
    return {"BINGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "BINGBRIDGE_CONFIG": str(config)}


def run(env: dict[str, str], *args: str, code: int = 0) -> Any:
    """The command's --json answer (exit 0), or its whole output for any other expected exit code."""
    result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 else result.output


def holder(env: dict[str, str], key: str) -> Any:
    engine = open_database(env["BINGBRIDGE_DATABASE_URL"])
    try:
        return key_holder(engine, key)
    finally:
        engine.dispose()


def test_create_list_rotate_and_revoke(env: dict[str, str]) -> None:
    ingestion = run(env, "workspaces", "create", "Web shop")["ingestion_key"]
    created = run(env, "keys", "create", "--workspace", "Web shop", "--kind", "api", "--name", "reporting")
    assert created["kind"] == "api" and created["key"].startswith("bbs_") and created["name"] == "reporting"
    listed = run(env, "keys", "list", "--workspace", "Web shop")
    assert [(k["kind"], k["name"]) for k in listed] == [("ingestion", "ingestion"), ("api", "reporting")]
    assert all("key" not in k and "key_hash" not in k for k in listed)

    rotated = run(env, "keys", "rotate", str(created["id"]))
    assert rotated["replaces"] == created["id"] and rotated["kind"] == "api"
    assert holder(env, created["key"]) is None
    assert holder(env, rotated["key"]).kind == "api"

    ingestion_id = listed[0]["id"]
    revoked = run(env, "keys", "revoke", str(ingestion_id))
    assert revoked["revoked_at"] is not None
    assert holder(env, ingestion) is None
    assert [k["id"] for k in run(env, "keys", "list")] == [rotated["id"]]
    assert len(run(env, "keys", "list", "--revoked")) == 3


def test_a_rotation_with_a_grace_period_keeps_the_old_key_working(env: dict[str, str]) -> None:
    ingestion = run(env, "workspaces", "create", "Web shop")["ingestion_key"]
    (key,) = run(env, "keys", "list")
    rotated = run(env, "keys", "rotate", str(key["id"]), "--grace-hours", "24")
    assert rotated["replaces"] == key["id"] and rotated["replaced_key_works_until"] > rotated["created_at"]
    assert holder(env, ingestion) is not None and holder(env, rotated["key"]) is not None
    assert [k["id"] for k in run(env, "keys", "list")] == [key["id"], rotated["id"]]
    assert "0 to 720 hours" in run(env, "keys", "rotate", str(rotated["id"]), "--grace-hours", "721", code=2)


def test_revoking_twice_or_an_unknown_key_is_exit_2(env: dict[str, str]) -> None:
    run(env, "workspaces", "create", "Web shop")
    (key,) = run(env, "keys", "list")
    run(env, "keys", "revoke", str(key["id"]))
    assert "already revoked" in run(env, "keys", "revoke", str(key["id"]), code=2)
    assert "no key with id 99" in run(env, "keys", "rotate", "99", code=2)
    assert "no workspace named" in run(env, "keys", "create", "--workspace", "Nope", code=2)


def test_a_changed_secret_key_is_explained_not_a_traceback(env: dict[str, str]) -> None:
    run(env, "workspaces", "create", "Web shop")
    first = {**env, "BINGBRIDGE_SECRET_KEY": Fernet.generate_key().decode()}
    card = ["--customer-id", "1", "--account-id", "2", "--developer-token", "T", "--client-id", "C"]
    card += ["--client-secret", "S", "--refresh-token", "R"]
    destination = run(first, "destinations", "add", "--workspace", "Web shop", *card)
    changed = {**env, "BINGBRIDGE_SECRET_KEY": Fernet.generate_key().decode()}
    output = run(changed, "destinations", "test", str(destination["id"]), code=2)
    assert "encrypted with another secret key" in output and "Restore the secret key" in output
    assert "Traceback" not in output
