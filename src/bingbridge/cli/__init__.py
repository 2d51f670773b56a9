"""The `bingbridge` command. Sub-commands load lazily so a call imports only what it uses."""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any

# httpx imports its own command line tool (and with it rich and pygments, ~100 ms) whenever those are installed.
# The CLI never uses it; a None entry in sys.modules is Python's documented way to refuse an import, and httpx
# falls back to a stub. Library users are not affected: only the `bingbridge` command sets this.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import click  # noqa: E402

# name -> "module:attribute"; each module is imported only when its command runs (or for --help).
COMMANDS = {
    "auth": "bingbridge.cli.auth:auth",
    "customers": "bingbridge.cli.customers:customers",
    "accounts": "bingbridge.cli.customers:accounts",
    "client-links": "bingbridge.cli.customers:client_links",
    "users": "bingbridge.cli.customers:users",
    "goals": "bingbridge.cli.conversions:goals",
    "uet-tags": "bingbridge.cli.conversions:uet_tags",
    "conversions": "bingbridge.cli.conversions:conversions",
    "workspaces": "bingbridge.cli.tracking:workspaces",
    "keys": "bingbridge.cli.tracking:keys",
    "destinations": "bingbridge.cli.tracking:destinations",
    "serve": "bingbridge.cli.tracking:serve",
    "worker": "bingbridge.cli.tracking:worker",
    "dispatch-log": "bingbridge.cli.tracking:dispatch_log",
    "dlq": "bingbridge.cli.tracking:dlq",
    "raw": "bingbridge.cli.raw:raw",
    "metrics": "bingbridge.cli.metrics:metrics",
    "emulator": "bingbridge.cli.emulator:emulator",
    "demo": "bingbridge.cli.emulator:demo",
}


EXAMPLE = "Example:"
_EXAMPLE_PARAGRAPH = re.compile(r"\n([ \t]*)" + EXAMPLE)


def keep_examples(command: click.Command) -> click.Command:
    """Mark every `Example:` paragraph of a command (and its sub-commands) so click prints it unwrapped.

    Click rewraps help text at the terminal width and breaks lines at hyphens (`--order-` / `by`), which makes
    copied examples fail; a paragraph after a line holding only `\\b` is printed as written.
    """
    if command.help and EXAMPLE in command.help and "\b" not in command.help:
        command.help = _EXAMPLE_PARAGRAPH.sub(lambda m: f"\n{m[1]}\b\n{m[1]}{EXAMPLE}", command.help)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            keep_examples(sub)
    return command


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return keep_examples(command)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bingbridge")
def cli() -> None:
    """bingbridge: Microsoft Advertising from the command line.

    Settings come from options, BINGBRIDGE_* environment variables, then ~/.config/bingbridge/config.toml.

    Example: bingbridge customers list --top 10
    """


keep_examples(cli)


def main(argv: Any = None) -> None:
    cli.main(args=argv, prog_name="bingbridge")
