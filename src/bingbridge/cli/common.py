"""What every command shares: connection options, the client, output as tables or JSON, and errors."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from bingbridge.errors import InputError

if TYPE_CHECKING:
    from bingbridge.api.client import BingAdsClient
    from bingbridge.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(func: F) -> F:
    """Options that override the connection settings for one call."""
    options = [
        click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML settings file."),
        click.option("--base-url", "api_base_url", help="Send every call here (e.g. the emulator's URL)."),
        click.option("--environment", type=click.Choice(["production", "sandbox"]), default=None),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(func)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    from bingbridge.settings import Settings

    return Settings.load(overrides, config_file=config_file)


def make_client(config_file: Path | None = None, **overrides: Any) -> BingAdsClient:
    from bingbridge.api.client import BingAdsClient

    return BingAdsClient(load_settings(config_file, **overrides))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_rows(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Models and dataclasses as snake_case dicts, unset fields left out."""
    rows = []
    for item in items:
        if hasattr(item, "model_dump"):
            rows.append(item.model_dump(exclude_none=True))
        elif isinstance(item, dict):
            rows.append(item)
        else:
            rows.append(dict(vars(item)))
    return rows


def emit(
    data: Any,
    *,
    as_json: bool,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> None:
    """Print `data` (a dict or a list of rows) as JSON or as a table of `columns`.

    Tables are made to read at 80 columns: a light border, times to the minute, headers from `labels`
    (default: the column name with spaces); long cells fold instead of pushing other columns away.
    """
    if as_json:
        click.echo(json.dumps(data, default=_plain, indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if isinstance(data, dict):
        table = Table(show_header=False, title=title, box=box.SIMPLE)
        for key, value in data.items():
            table.add_row(key, _cell(value))
        console.print(table)
        return
    if not data:
        console.print("(nothing found)")
        return
    columns = list(columns or data[0].keys())
    names = labels or {}
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    cells = [[_cell(row.get(c)) for c in columns] for row in data]
    for i, column in enumerate(columns):
        # Short values (ids, times, statuses) stay on one line; only long text folds.
        short = max(len(line[i]) for line in cells) <= 20
        table.add_column(names.get(column, column.replace("_", " ")), overflow="fold", no_wrap=short)
    for line in cells:
        table.add_row(*line)
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dict | list):
        return json.dumps(value, default=_plain)
    return str(value)


def report_errors(func: F) -> F:
    """Turn every error into a message on stderr and the exit code of `bingbridge.cli.boundary`, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.Abort):
            raise
        except Exception as exc:  # the promise is: never a traceback
            from bingbridge.cli.boundary import explain

            failure = explain(exc)
            fail(failure.message, failure.hint, details=failure.details, code=failure.code)

    return wrapper  # type: ignore[return-value]


def fail(message: str, hint: str | None, *, details: Sequence[str] = (), code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    for line in details:
        click.echo(f"  {line}", err=True)
    if hint:
        click.echo(f"what to do: {hint}", err=True)
    sys.exit(code)


def body_option(*, required: bool) -> Callable[[F], F]:
    """`--body FILE|-`: the request body of a command that sends one (`--json` is always the output flag)."""
    return click.option(
        "--body",
        "body_source",
        required=required,
        default=None,
        metavar="FILE|-",
        help="Request body file, or - for standard input.",
    )


def read_input(source: str) -> str:
    """Read a UTF-8 file, or standard input for '-'; a missing or unreadable file is an InputError."""
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(
            f"{source} does not exist", hint="Give the path of an existing file, or - to read standard input."
        ) from None
    except IsADirectoryError:
        raise InputError(f"{source} is a folder", hint="Give the path of a file, or - for standard input.") from None
    except UnicodeDecodeError:
        raise InputError(f"{source} is not UTF-8", hint="Save it as UTF-8 and try again.") from None


def read_json_input(source: str) -> Any:
    """Parse the JSON of a file or standard input ('-'); invalid JSON is an InputError naming where it broke."""
    text = read_input(source)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = "standard input" if source == "-" else source
        raise InputError(
            f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            hint="Fix the JSON; nothing was sent.",
        ) from None
