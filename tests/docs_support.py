"""What the documentation test runs: every command line of README.md and every `Example:` of `--help`.

Commands are found, not listed: a README code block line that starts with `bingbridge ` or `bash ` (a second
command on the same line, after three or more spaces, counts too), and every `Example:` paragraph of every command
and group. A command added to either place is run from then on without touching this file.

What the test changes in a command line, and why (nothing else is changed):
- Stand-ins for the reader's own values (`STAND_INS`): ids like 123456789 and the app's credentials in examples
  become the sandbox's real ones, so each command does its real work instead of being refused for an unknown id.
- `--port N` of a long-running server becomes a free port: this machine's ports are shared.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_PROGRAMS = ("bingbridge", "bash")
_SECOND_COMMAND = re.compile(r"\s{3,}(?=(?:bingbridge|bash) )")


def _code_blocks(text: str) -> Iterator[list[str]]:
    """Lines of indented (4 spaces) and fenced code blocks; fenced blocks of a language other than a shell are
    program text, not commands."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            language = line[3:].strip()
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
            if language in ("", "sh", "bash", "shell", "console"):
                yield lines[i + 1 : end]
            i = end + 1
            continue
        if line.startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            yield block
            continue
        i += 1


def _joined(block: list[str]) -> Iterator[str]:
    """Lines with shell continuations (a trailing backslash) joined."""
    pending = ""
    for line in block:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def commands_in(text: str) -> list[str]:
    """Every command line in a text's code blocks, comments dropped, in order of appearance."""
    found: list[str] = []
    for block in _code_blocks(text):
        for line in _joined(block):
            for part in _SECOND_COMMAND.split(line.strip()):
                if part.split(" ", 1)[0] not in _PROGRAMS:
                    continue  # an endpoint or other text in a code block, not a command
                words = shlex.split(part, comments=True)
                if words and words[0] in _PROGRAMS and shlex.join(words) not in found:
                    found.append(shlex.join(words))
    return found


def readme_commands() -> list[str]:
    return commands_in(README.read_text(encoding="utf-8"))


def readme_python() -> list[str]:
    """The README's ```python blocks: library examples, run as programs of their own."""
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)
    return [str(block) for block in blocks]


def _walk(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _walk(sub, f"{path} {name}")


def all_commands() -> list[tuple[str, click.Command]]:
    """Every command and group of the CLI, root included, by its full name."""
    from bingbridge.cli import COMMANDS, cli

    found: list[tuple[str, click.Command]] = [("bingbridge", cli)]
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        found += list(_walk(command, f"bingbridge {name}"))
    return found


def help_example(command: click.Command) -> str | None:
    """The command line of a command's `Example:` paragraph (continuation lines joined)."""
    text = command.help or ""
    if "Example:" not in text:
        return None
    paragraph = text.split("Example:", 1)[1].split("\n\n", 1)[0]
    return " ".join(" ".join(_joined(paragraph.strip().splitlines())).split())


def help_examples() -> list[str]:
    found: list[str] = []
    for _, command in all_commands():
        example = help_example(command)
        if example and example not in found:
            found.append(shlex.join(shlex.split(example)))
    return found
