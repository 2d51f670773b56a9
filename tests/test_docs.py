"""Docs are code: every command line and Python example of README.md and every `Example:` of `--help` runs here,
against the emulator.

A documented command passes when it exits 0 without a traceback. How the test finds commands and what it changes
in them (stand-in ids, ports) is in `tests/docs_support.py`; how it runs the ones that do not end by themselves
(`serve`, `emulator`: until they answer; `auth login`: with a browser or a pasted redirect) in `tests/docs_sandbox.py`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from tests.docs_sandbox import Sandbox, open_sandbox
from tests.docs_support import ROOT, all_commands, help_example, help_examples, readme_commands, readme_python

# The one README command not run here, because it is what runs this test: .ci/run -> scripts/test.sh -> pytest.
RUNS_THIS_TEST = "bash scripts/test.sh"


@pytest.fixture(scope="module")
def readme_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = open_sandbox(tmp_path_factory.mktemp("readme"))
    yield sandbox
    sandbox.emulator.stop()


@pytest.fixture(scope="module")
def help_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = open_sandbox(tmp_path_factory.mktemp("help"))
    yield sandbox
    sandbox.emulator.stop()


def succeeded(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("line", readme_commands())
def test_readme_command_runs_as_written(readme_sandbox: Sandbox, line: str) -> None:
    if line == RUNS_THIS_TEST:
        ci = (ROOT / ".ci" / "run").read_text()
        assert ci.rstrip().endswith(RUNS_THIS_TEST), "the CI entry point must run the README's test command"
        return
    succeeded(readme_sandbox.run(line))


@pytest.mark.parametrize("program", readme_python(), ids=lambda p: p.strip().splitlines()[-1][:60])
def test_readme_python_runs_as_written(readme_sandbox: Sandbox, program: str) -> None:
    """The library examples, with the settings a signed-in user has in the environment."""
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=readme_sandbox.folder,
        env=readme_sandbox.env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    succeeded(result)
    assert result.stdout.strip(), "a README example should print what it did"


@pytest.mark.parametrize("line", help_examples())
def test_help_example_runs_as_written(help_sandbox: Sandbox, line: str) -> None:
    succeeded(help_sandbox.run(line))


def test_the_readme_documents_the_commands_users_start_with() -> None:
    found = readme_commands()
    for line in ("bash scripts/demo.sh", RUNS_THIS_TEST, "bingbridge auth login", "bingbridge customers list"):
        assert any(c.startswith(line) or c == line for c in found), line


@pytest.mark.parametrize(("name", "command"), all_commands(), ids=[n for n, _ in all_commands()])
def test_every_command_and_group_has_an_example(name: str, command: click.Command) -> None:
    assert command.help, f"{name} has no help"
    example = help_example(command)
    assert (example and example.startswith(f"{name} ")) or example == name, f"{name}: Example: {example!r}"


def test_examples_are_printed_unwrapped_at_80_columns(tmp_path: Path) -> None:
    """Click rewraps help at the terminal width; an example must come out as one copyable command."""
    program = """
import sys
from click.testing import CliRunner
from bingbridge.cli import cli
runner = CliRunner()
for name in sys.argv[1:]:
    print("=====", name)
    print(runner.invoke(cli, [*name.split()[1:], "--help"], terminal_width=80).output)
"""
    names = [name for name, _ in all_commands()]
    result = subprocess.run(
        [sys.executable, "-c", program, *names], capture_output=True, text=True, timeout=120, env={"COLUMNS": "80"}
    )
    assert result.returncode == 0, result.stderr
    pages = dict(page.split("\n", 1) for page in result.stdout.split("===== ")[1:])
    for name, command in all_commands():
        text = command.help or ""
        first_line = "Example: " + text.split("Example:", 1)[1].strip().splitlines()[0].strip()
        assert first_line in pages[name], f"{name}: {first_line!r} is wrapped in\n{pages[name]}"


# Long-running servers print logs, not data; every other command can answer in JSON.
SERVERS = {"bingbridge serve", "bingbridge emulator", "bingbridge demo"}


@pytest.mark.parametrize(("name", "command"), all_commands(), ids=[n for n, _ in all_commands()])
def test_every_command_but_the_servers_has_json_output(name: str, command: click.Command) -> None:
    if isinstance(command, click.Group) or name in SERVERS:
        return
    [option] = [p for p in command.params if "--json" in getattr(p, "opts", [])]
    assert isinstance(option, click.Option) and option.is_flag, f"{name}: --json must be the output flag"
