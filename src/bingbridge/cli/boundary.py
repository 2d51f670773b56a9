"""The CLI's one error boundary: every exception a command meets becomes a message, a fix and an exit code.

Exit codes: 2 when nothing was sent (bad input, settings, a missing extra, the database), 1 when Microsoft (or
the network on the way to it) refused, 70 only for what is truly a bug in bingbridge.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import click

from bingbridge.errors import (
    ApiError,
    BingBridgeError,
    ConfigurationError,
    ExportError,
    OAuthError,
    ValidationError,
)

NOTHING_SENT = 2
REFUSED = 1
BUG = 70

# Modules that come with an extra, and the extra that brings them (pyproject.toml's optional-dependencies).
EXTRA_OF_MODULE = {
    "fastapi": "server",
    "jinja2": "server",
    "itsdangerous": "server",
    "psycopg": "postgres",
    "psycopg_binary": "postgres",
    "pyarrow": "metrics",
}


@dataclass(frozen=True)
class Failure:
    """What the user reads on stderr, and the exit code."""

    message: str
    hint: str | None
    code: int
    details: list[str] = field(default_factory=list)


def explain(exc: Exception) -> Failure:
    """The Failure for any exception a command can raise."""
    if isinstance(exc, ValidationError):
        return Failure(str(exc), "Fix the fields named above; nothing was sent.", NOTHING_SENT)
    if isinstance(exc, ApiError):
        return _api_failure(exc)
    if isinstance(exc, ConfigurationError):
        return Failure(str(exc), _setting_hint(exc), NOTHING_SENT)
    if isinstance(exc, OAuthError):
        # With an HTTP status the token endpoint answered: a request was sent and refused.
        if exc.status is None:
            return Failure(f"sign-in failed: {exc}", exc.hint, NOTHING_SENT)
        return Failure(f"sign-in refused: {exc}", exc.hint, REFUSED)
    if isinstance(exc, ExportError) and exc.status is not None:
        return Failure(str(exc), exc.hint, REFUSED)
    if isinstance(exc, BingBridgeError):
        return Failure(str(exc), exc.hint, NOTHING_SENT)
    return _foreign_failure(exc)


def _api_failure(exc: ApiError) -> Failure:
    lines = [f"code {e}" for e in exc.errors]
    if exc.tracking_id:
        lines.append(f"TrackingId: {exc.tracking_id}")
    hint = exc.hint
    if exc.status is None:
        hint = "Microsoft could not be reached; check the network and BINGBRIDGE_API_BASE_URL."
    return Failure(str(exc), hint, REFUSED, lines)


def _setting_hint(exc: ConfigurationError) -> str | None:
    """Name the command's own option for the setting, when it has one; never an option it lacks."""
    option = _option_for(exc.setting) if exc.setting else None
    if option:
        return f"Pass {option}." + (f" {exc.hint}" if exc.hint else "")
    return exc.hint


def _option_for(setting: str) -> str | None:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    for param in ctx.command.params:
        if isinstance(param, click.Option) and param.name == setting:
            return max(param.opts, key=len)
    return None


def _foreign_failure(exc: Exception) -> Failure:
    """Exceptions of Python and of the libraries underneath, read for what the user did."""
    import httpx
    import pydantic

    if isinstance(exc, ModuleNotFoundError) and exc.name:
        extra = EXTRA_OF_MODULE.get(exc.name.split(".")[0])
        if extra:
            return Failure(
                f"this needs the {exc.name} package, which comes with bingbridge's [{extra}] extra",
                f"Install it: pip install 'bingbridge[{extra}]'.",
                NOTHING_SENT,
            )
    if isinstance(exc, pydantic.ValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()]
        return Failure(f"invalid {exc.title}", "Fix the values named above; nothing was sent.", NOTHING_SENT, problems)
    database = _database_failure(exc)
    if database is not None:
        return database
    if isinstance(exc, httpx.TransportError):
        return Failure(f"{type(exc).__name__}: {exc}", "Check the network and BINGBRIDGE_API_BASE_URL.", REFUSED)
    if isinstance(exc, OSError) and exc.filename:
        return Failure(
            f"cannot use {exc.filename}: {exc.strerror}", "Check the path and its permissions.", NOTHING_SENT
        )
    if isinstance(exc, OSError):
        return Failure(f"{type(exc).__name__}: {exc}", "Check the network and BINGBRIDGE_API_BASE_URL.", REFUSED)
    return Failure(f"unexpected {type(exc).__name__}: {exc}", "This is a bug in bingbridge; please report it.", BUG)


def _database_failure(exc: Exception) -> Failure | None:
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy import exc as db

    if isinstance(exc, db.ArgumentError | db.NoSuchModuleError):
        return Failure(
            f"the database URL is not valid: {exc}",
            "Fix BINGBRIDGE_DATABASE_URL (or --database-url), e.g. sqlite:////path/to/bingbridge.db or "
            "postgresql://user@host/db.",
            NOTHING_SENT,
        )
    if isinstance(exc, db.OperationalError | db.InterfaceError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return Failure(
            f"cannot use the database: {reason}",
            "Check that the database server runs and BINGBRIDGE_DATABASE_URL (or --database-url) points at it.",
            NOTHING_SENT,
        )
    return None
