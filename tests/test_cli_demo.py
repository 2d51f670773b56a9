"""`bingbridge demo` without a terminal: it says the dashboard is not served instead of printing a dead URL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner

from bingbridge.cli import cli


def test_demo_without_a_terminal_says_it_is_not_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    handed: list[object] = []

    def fake_demo(say: Callable[[str], None], show_dashboard: Callable[[str, str], None] | None = None) -> None:
        handed.append(show_dashboard)
        say("every step")

    monkeypatch.setattr("bingbridge.demo.run_demo", fake_demo)
    result = CliRunner().invoke(cli, ["demo"])  # CliRunner's stdout is not a terminal
    assert result.exit_code == 0, result.output
    assert handed == [None]  # so run_demo does not announce the dashboard's URL
    assert "Not serving the dashboard" in result.output and "http://" not in result.output
