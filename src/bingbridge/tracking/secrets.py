"""Encrypting destination secrets at rest with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from bingbridge.errors import ConfigurationError
from bingbridge.settings import Settings


class SecretKeyChanged(ConfigurationError):
    """Stored secrets were sealed under another secret key than the one configured now."""

    def __init__(self) -> None:
        super().__init__(
            "the stored destination secrets cannot be decrypted: they were encrypted with another secret key "
            "(BINGBRIDGE_SECRET_KEY or the key file changed since they were saved)",
            hint="Restore the secret key they were saved with (BINGBRIDGE_SECRET_KEY, or the key file), or enter the "
            "destination's secrets again on its card in the dashboard and press Save.",
        )


class SecretBox:
    """Seals and opens a dict of secrets; the key comes from BINGBRIDGE_SECRET_KEY or the key file."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise ConfigurationError(
                "the secret key is not a Fernet key (32 url-safe base64 bytes)", env_var="BINGBRIDGE_SECRET_KEY"
            ) from None

    @classmethod
    def for_settings(cls, settings: Settings) -> SecretBox:
        if settings.secret_key:
            return cls(settings.secret_key.reveal().encode())
        return cls(_key_from_file(settings.secret_key_file))

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for another use (e.g. signing dashboard sessions), HMAC-SHA256 of `purpose` under the
        secret key: changing the secret key changes it, and it reveals nothing about the key itself."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()

    def seal(self, secrets: dict[str, str | None]) -> str:
        return self._fernet.encrypt(json.dumps(secrets).encode()).decode()

    def open(self, sealed: str) -> dict[str, str | None]:
        try:
            return dict(json.loads(self._fernet.decrypt(sealed.encode())))
        except InvalidToken:
            raise SecretKeyChanged from None


def _key_from_file(path: Path) -> bytes:
    """Read the key file, creating it (owner-only, 0600) with a fresh key the first time."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key
