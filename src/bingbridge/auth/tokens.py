"""OAuth tokens and where they are kept between runs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

# Microsoft says refresh tokens are "long-lived, e.g. 90 days" but may end earlier; warn well before that.
REFRESH_TOKEN_IDLE_WARNING = timedelta(days=60)
# Refresh access tokens this long before they expire, so a call never starts with a dying token.
EXPIRY_MARGIN = timedelta(minutes=2)


def utcnow() -> datetime:
    return datetime.now(UTC)


def fingerprint(token: str) -> str:
    """A short, non-reversible name for a token, safe to store and log."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint gave us, plus when we last used the refresh token."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    scope: str = ""
    refresh_token_used_at: datetime = field(default_factory=utcnow)
    # Fingerprint of the refresh token this chain of rotations started from (see TokenManager).
    origin: str = ""
    user_name: str | None = None
    user_id: int | None = None

    def expires_soon(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.expires_at - EXPIRY_MARGIN

    def refresh_token_idle(self, now: datetime | None = None) -> timedelta:
        return (now or utcnow()) - self.refresh_token_used_at

    def with_user(self, user_name: str | None, user_id: int | None) -> TokenSet:
        return replace(self, user_name=user_name, user_id=user_id)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat()
        data["refresh_token_used_at"] = self.refresh_token_used_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenSet:
        data = dict(data)
        data["expires_at"] = datetime.fromisoformat(data["expires_at"])
        data["refresh_token_used_at"] = datetime.fromisoformat(data["refresh_token_used_at"])
        return cls(**data)

    def __repr__(self) -> str:
        return f"TokenSet(expires_at={self.expires_at.isoformat()}, user_name={self.user_name!r}, tokens=***)"


class TokenStore(Protocol):
    """Where tokens live between runs. Implement it to keep tokens in a vault or a database."""

    def load(self, key: str) -> TokenSet | None: ...

    def save(self, key: str, tokens: TokenSet) -> None: ...


class MemoryTokenStore:
    """Keeps tokens for the life of the process (tests, short scripts)."""

    def __init__(self) -> None:
        self._tokens: dict[str, TokenSet] = {}

    def load(self, key: str) -> TokenSet | None:
        return self._tokens.get(key)

    def save(self, key: str, tokens: TokenSet) -> None:
        self._tokens[key] = tokens

    def keys(self) -> list[str]:
        return list(self._tokens)


class FileTokenStore:
    """A JSON file readable only by its owner (mode 0600), written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read_all(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return {}

    def keys(self) -> list[str]:
        """The `environment:client_id` keys that hold tokens."""
        return list(self._read_all())

    def load(self, key: str) -> TokenSet | None:
        data = self._read_all().get(key)
        return TokenSet.from_json(data) if data else None

    def save(self, key: str, tokens: TokenSet) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        everything = self._read_all()
        everything[key] = tokens.to_json()
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(everything, fh, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
