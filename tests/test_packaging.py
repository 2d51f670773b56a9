"""Packaging: the base install (client, CLI, emulator) works without the [server], [postgres], [metrics] extras."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from bingbridge.emulator.server import RunningEmulator
from bingbridge.settings import Settings
from tests.conftest import cli_env

ROOT = Path(__file__).resolve().parent.parent
# What the extras bring; a bare `pip install bingbridge` has none of them.
EXTRA_MODULES = ["fastapi", "jinja2", "itsdangerous", "psycopg", "pyarrow"]

# Run in a process where importing any extra fails, as if it were not installed.
BLOCKER = f"""
import sys
for name in {EXTRA_MODULES!r}:
    sys.modules[name] = None
"""


def without_extras(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    return subprocess.run(
        [sys.executable, *args],
        env={**env, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_extras_are_not_base_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"]).lower()
    for package in ("fastapi", "jinja2", "itsdangerous", "psycopg", "pyarrow"):
        assert package not in base, package
    assert set(project["optional-dependencies"]) >= {"server", "postgres", "metrics"}


def test_client_errors_and_every_help_import_without_the_extras(tmp_path: Path) -> None:
    program = """
import importlib
for extra in ("fastapi", "pyarrow", "psycopg", "jinja2"):
    try:
        importlib.import_module(extra)
    except ImportError:
        continue
    raise SystemExit(f"the blocker let {extra} in")
from click.testing import CliRunner
from bingbridge import ApiError, AsyncBingAdsClient, BingAdsClient, ValidationError
from bingbridge.cli import COMMANDS, cli
import bingbridge.emulator.server
runner = CliRunner()
for name in COMMANDS:
    result = runner.invoke(cli, [name, "--help"])
    assert result.exit_code == 0, (name, result.output, result.exception)
    command = cli.get_command(None, name)
    for sub in getattr(command, "commands", {}):
        result = runner.invoke(cli, [name, sub, "--help"])
        assert result.exit_code == 0, (name, sub, result.output, result.exception)
print("ok", BingAdsClient.__name__, AsyncBingAdsClient.__name__, ApiError.__name__, ValidationError.__name__)
"""
    result = without_extras(tmp_path, {"PATH": "/usr/bin:/bin"}, "-c", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok BingAdsClient AsyncBingAdsClient ApiError ValidationError"


def test_the_cli_calls_the_emulator_without_the_extras(
    tmp_path: Path, bingads_emulator: RunningEmulator, bingads_settings: Settings
) -> None:
    result = without_extras(tmp_path, cli_env(bingads_settings), "-m", "bingbridge", "customers", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert "Northwind Agency" in result.stdout


def test_the_license_is_an_spdx_expression() -> None:
    """setuptools deprecates `license = {text = ...}` and warned three times on every install."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["license"] == "MIT"
    assert "setuptools>=77" in data["build-system"]["requires"]  # the first to read SPDX expressions
