"""One settings object, filled from arguments, then `BINGBRIDGE_*` environment variables, then a TOML file."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

from bingbridge.errors import ConfigurationError

Environment = Literal["production", "sandbox"]
ENV_PREFIX = "BINGBRIDGE_"


class Secret:
    """A string that shows as '**********' in repr, str and logs; `.reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def default_config_dir() -> Path:
    """Where bingbridge keeps its files: $XDG_CONFIG_HOME/bingbridge or ~/.config/bingbridge."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "bingbridge"


_SECRET_FIELDS = frozenset(
    {"client_secret", "developer_token", "refresh_token", "amplitude_api_key", "secret_key", "admin_password"}
)
_INT_FIELDS = frozenset({"customer_id", "account_id", "max_retries"})
_FLOAT_FIELDS = frozenset({"throttle_wait_seconds", "bulk_throttle_wait_seconds", "timeout_seconds"})


@dataclass(frozen=True)
class Settings:
    """Connection and behaviour settings. Every field `x` is filled by `BINGBRIDGE_X` too."""

    client_id: str | None = None
    client_secret: Secret | None = None
    developer_token: Secret | None = None
    refresh_token: Secret | None = None
    customer_id: int | None = None
    account_id: int | None = None
    environment: Environment = "production"
    tenant: str = "common"
    api_base_url: str | None = None
    redirect_uri: str = "http://localhost:8765/callback"
    token_file: Path = field(default_factory=lambda: default_config_dir() / "tokens.json")
    # 117 CallRateExceeded: Microsoft's sliding window is 60 s (services protocol guide).
    throttle_wait_seconds: float = 60.0
    # 4204: Microsoft says to wait "up to 15 minutes" for bulk calls.
    bulk_throttle_wait_seconds: float = 900.0
    max_retries: int = 5
    timeout_seconds: float = 60.0
    # Where imported metrics live: any SQLAlchemy URL; postgresql:// uses psycopg 3. SQLite runs in WAL mode.
    database_url: str = field(default_factory=lambda: f"sqlite:///{default_config_dir() / 'bingbridge.db'}")
    # `metrics export --format amplitude` without --output posts events to this batch endpoint with this key.
    amplitude_api_key: Secret | None = None
    amplitude_batch_url: str = "https://api2.amplitude.com/batch"
    # Encrypts destination secrets at rest: a Fernet key, else the key file (created 0600 on first use).
    secret_key: Secret | None = None
    secret_key_file: Path = field(default_factory=lambda: default_config_dir() / "secret.key")
    # The dashboard's sign-in password; without it one is generated on first start, printed once, and only its
    # scrypt hash kept in admin.json beside the secret key file.
    admin_password: Secret | None = None
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (IPs or networks, comma-separated; "*" for any).
    # Empty: the client address is the connection's peer, whatever the headers say.
    trusted_proxies: str = ""
    # The tracking service reads phone numbers without a +country prefix as numbers of this country (ISO 3166).
    tracking_default_country: str = "US"

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> Settings:
        """Merge overrides (highest), environment, then the TOML file (lowest) into Settings."""
        environ = os.environ if environ is None else environ
        path = config_file or _named_config(environ)
        if path is not None and not path.is_file():
            source = "--config" if config_file else ENV_PREFIX + "CONFIG"
            raise ConfigurationError(
                f"the config file {path} ({source}) does not exist",
                hint="Fix the path, create the file, or leave the option out to use the default file.",
            )
        path = path or default_config_dir() / "config.toml"
        merged: dict[str, Any] = {}
        if path.is_file():
            merged.update(_read_toml(path))
        for f in fields(cls):
            value = environ.get(ENV_PREFIX + f.name.upper())
            if value not in (None, ""):
                merged[f.name] = value
        merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return cls(**{name: _coerce(name, value) for name, value in merged.items()})

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with the given non-None values applied."""
        return replace(self, **{k: _coerce(k, v) for k, v in values.items() if v is not None})

    def require(self, name: str) -> Any:
        """Return a setting or raise ConfigurationError naming the variable that fills it."""
        value = getattr(self, name)
        if value is None or (isinstance(value, Secret) and not value):
            raise ConfigurationError(f"missing setting {name}", env_var=ENV_PREFIX + name.upper())
        return value


def _named_config(environ: Mapping[str, str]) -> Path | None:
    """The config file BINGBRIDGE_CONFIG names; it must exist (only the default file may be absent)."""
    explicit = environ.get(ENV_PREFIX + "CONFIG")
    return Path(explicit).expanduser() if explicit else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc}") from exc
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown keys in {path}: {', '.join(unknown)}; known keys: {', '.join(sorted(known))}"
        )
    return data


def _coerce(name: str, value: Any) -> Any:
    env_var = ENV_PREFIX + name.upper()
    if name in _SECRET_FIELDS:
        return value if isinstance(value, Secret) else Secret(str(value))
    if name in _INT_FIELDS:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{name} must be a whole number, got {value!r}", env_var=env_var) from None
    if name in _FLOAT_FIELDS:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{name} must be a number, got {value!r}", env_var=env_var) from None
    if name == "environment" and value not in get_args(Environment):
        raise ConfigurationError(f"environment must be production or sandbox, got {value!r}", env_var=env_var)
    if name == "tracking_default_country":
        code = str(value).strip().upper()
        if len(code) != 2 or not code.isascii() or not code.isalpha():
            raise ConfigurationError(
                f"{name} must be a two-letter ISO 3166 country code such as US, got {value!r}", env_var=env_var
            )
        return code
    if name == "trusted_proxies":
        return _proxies(str(value), env_var)
    if name in ("token_file", "secret_key_file"):
        return Path(value).expanduser()
    if name == "api_base_url":
        return str(value).rstrip("/")
    return value


def _proxies(value: str, env_var: str) -> str:
    """A comma-separated list of IP addresses and networks (or "*"), normalised; anything else is refused."""
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    if entries == ["*"]:
        return "*"
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigurationError(
                f"trusted_proxies must list IP addresses or networks (e.g. 10.0.0.1, 10.0.0.0/8) or be *, "
                f"got {entry!r}",
                env_var=env_var,
            ) from None
    return ",".join(entries)
