"""Sign-in, sessions and cross-site request protection of the dashboard.

- **Password.** `BINGBRIDGE_ADMIN_PASSWORD` when set. Otherwise one is generated on first start, written once to
  stderr (not to the log: log lines are shipped and kept, and secrets never reach them), and only its scrypt hash
  (n=2^14, r=8, p=1, 16-byte salt) kept in `admin.json` beside the secret key file, mode 0600. Delete the file
  and restart to get a new one.
- **Sessions** are Starlette's signed cookies (itsdangerous): HttpOnly, SameSite=Lax, `Secure` whenever the request
  came over https (`SecureCookieOnHttps`, since SessionMiddleware only knows a fixed flag), signed with a key
  derived from the secret key (`SecretBox.derive`), and backed by a record in the database (`SessionRecords`):
  signing out ends the record, so a copy of the cookie taken before is refused afterwards, by every process;
  "Sign out all sessions" ends every record. A session stays valid for 8 hours without use and 24 hours at
  most, and only while the password is unchanged: it holds a fingerprint of the password, so changing it signs
  everybody out. The cookie is signed, not encrypted, so it holds no secret: the session id, the sign-in marker
  and time, the CSRF token, the id of a pending Connect flow and one-time messages.
- **Cross-site requests.** Every POST needs the session's CSRF token (form field `csrf_token` or header
  `X-CSRF-Token`, compared in constant time); a request whose `Origin` is not this site, or whose
  `Sec-Fetch-Site` says cross-site, is refused before the token is even looked at.
- **Sign-in attempts** are limited per client address, in the database (`SignInLimiter`): at most 5 passwords are
  checked per address in a 15-minute window that starts with its first attempt, however many requests arrive
  in parallel and however many processes serve them. A right password clears its address's count. The address
  is the connection's peer; X-Forwarded-For counts only from a proxy listed in BINGBRIDGE_TRUSTED_PROXIES (set it
  behind a reverse proxy, or every browser shares the proxy's count). Other addresses are never locked out by
  someone else's failures; the owner's own address waits at most until its window ends.
- **HSTS**: every answer to an https request carries `Strict-Transport-Security` (`web.app`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, Table, case, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bingbridge.errors import ConfigurationError
from bingbridge.settings import Settings
from bingbridge.store.engine import utcnow
from bingbridge.store.schema import dashboard_sessions, signin_limits

SESSION_COOKIE = "bingbridge_session"
SESSION_IDLE_SECONDS = 8 * 3600
SESSION_MAX_SECONDS = 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# scrypt costs: RFC 7914's interactive-login parameters (about 16 MiB and 50 ms here).
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_RECORD_KEYS = frozenset({"n", "r", "p", "salt", "hash"})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


class AdminPassword:
    """Checks the dashboard password: the configured one, or the hash of the generated one."""

    def __init__(self, *, plain: str | None = None, record: dict[str, Any] | None = None) -> None:
        if (plain is None) == (record is None):
            raise ValueError("give the configured password or the stored hash record, not both")
        self._plain = plain
        self._record = record

    @classmethod
    def for_settings(cls, settings: Settings, *, announce: TextIO | None = None) -> AdminPassword:
        """The configured password, else the stored hash, else a new password announced once on `announce`."""
        if settings.admin_password:
            return cls(plain=settings.admin_password.reveal())
        path = admin_file(settings)
        try:
            return cls(record=_read_record(path))
        except FileNotFoundError:
            pass
        password = secrets.token_urlsafe(18)
        record = hash_record(password)
        if not _write_new(path, record):  # another process wrote one first: use theirs
            return cls(record=_read_record(path))
        out = announce or sys.stderr
        out.write(
            "\nbingbridge dashboard: no BINGBRIDGE_ADMIN_PASSWORD was set, so a password was generated.\n"
            f"  Sign in with: {password}\n"
            f"  It is shown only this once; its hash is kept in {path}. Delete that file and restart for a new one.\n\n"
        )
        out.flush()
        return cls(record=record)

    def verify(self, candidate: str) -> bool:
        if self._plain is not None:
            return hmac.compare_digest(candidate.encode(), self._plain.encode())
        assert self._record is not None
        record = self._record
        salt = base64.b64decode(record["salt"])
        digest = _scrypt(candidate, salt, int(record["n"]), int(record["r"]), int(record["p"]))
        return hmac.compare_digest(digest, base64.b64decode(record["hash"]))

    def fingerprint(self, key: bytes) -> str:
        """A short keyed digest of the password (or its hash) kept in sessions: a new password ends them."""
        material = self._plain.encode() if self._plain is not None else json.dumps(self._record).encode()
        return hmac.new(key, material, hashlib.sha256).hexdigest()[:32]


def admin_file(settings: Settings) -> Path:
    return settings.secret_key_file.parent / "admin.json"


def hash_record(password: str) -> dict[str, Any]:
    salt = os.urandom(16)
    digest = _scrypt(password, salt, **_SCRYPT)
    return {"scheme": "scrypt", **_SCRYPT, "salt": _b64(salt), "hash": _b64(digest)}


def _read_record(path: Path) -> dict[str, Any]:
    """The stored hash record; FileNotFoundError when there is none yet."""
    unreadable = ConfigurationError(f"{path} is not a bingbridge admin password file; delete it to make a new one")
    try:
        record = json.loads(path.read_text())
    except ValueError:
        raise unreadable from None
    if not isinstance(record, dict) or record.get("scheme") != "scrypt" or _RECORD_KEYS - record.keys():
        raise unreadable
    return record


def _write_new(path: Path, record: dict[str, Any]) -> bool:
    """Create the file owner-only; False when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh)
    return True


def client_address(scope: Scope) -> str:
    """The address sign-ins are counted by: the connection's peer, or the browser's as told by a proxy listed in
    BINGBRIDGE_TRUSTED_PROXIES (the app's ProxyHeadersMiddleware has then put it in the scope already)."""
    client = scope.get("client")
    return str(client[0])[:100] if client else "unknown"


class SignInLimiter:
    """Sign-in attempts per client address, counted in the database *before* the password is checked, so that
    parallel requests and several processes share one count: at most `max_attempts` passwords are checked per
    address per window. A right password clears its address's count; another address is never affected, so an
    attacker elsewhere cannot lock the owner out, and one on the owner's own address only until the window ends.
    The window is fixed: it starts at an address's first attempt and lasts `window_seconds`."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_attempts: int = 5,
        window_seconds: float = 15 * 60,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.max_attempts = max_attempts
        self.window = timedelta(seconds=window_seconds)
        self.clock = clock

    def reserve(self, peer: str) -> float | None:
        """Count one attempt of `peer`: None when its password may be checked now, else the seconds to wait."""
        now = self.clock()
        t = signin_limits.c
        expired = t.window_start <= now - self.window
        with self.engine.begin() as conn:
            conn.execute(_insert_new(conn, signin_limits, {"peer": peer, "window_start": now, "attempts": 0}))
            # One UPDATE decides: the row lock (PostgreSQL) or the single writer (SQLite) serialises parallel tries.
            counted = conn.execute(
                update(signin_limits)
                .where(t.peer == peer, or_(t.attempts < self.max_attempts, expired))
                .values(
                    attempts=case((expired, 1), else_=t.attempts + 1),
                    window_start=case((expired, now), else_=t.window_start),
                )
            )
            if counted.rowcount == 1:
                return None
            start: datetime = conn.execute(select(t.window_start).where(t.peer == peer)).scalar_one()
        return max(1.0, (start + self.window - now).total_seconds())

    def succeeded(self, peer: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(signin_limits).where(signin_limits.c.peer == peer))


def _insert_new(conn: Connection, table: Table, row: dict[str, Any]) -> Any:
    """INSERT that does nothing when the primary key exists (both dialects spell it ON CONFLICT DO NOTHING)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(**row).on_conflict_do_nothing()


class SessionRecords:
    """Signed-in sessions kept server-side: the signed cookie carries a random session id, and the session is
    valid only while its record (by the id's SHA-256) is neither ended nor older than SESSION_MAX_SECONDS. So
    signing out ends a session for every copy of its cookie, and "sign out all sessions" ends them all."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.clock = clock

    @staticmethod
    def _hash(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    def start(self) -> str:
        """A new session's id (for the cookie); records older than the longest session are cleared out."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(
                delete(dashboard_sessions).where(
                    dashboard_sessions.c.created_at < now - timedelta(seconds=SESSION_MAX_SECONDS)
                )
            )
            conn.execute(insert(dashboard_sessions).values(id_hash=self._hash(session_id), created_at=now))
        return session_id

    def active(self, session_id: object) -> bool:
        if not isinstance(session_id, str):
            return False
        s = dashboard_sessions.c
        oldest = self.clock() - timedelta(seconds=SESSION_MAX_SECONDS)
        query = select(s.id_hash).where(
            s.id_hash == self._hash(session_id), s.ended_at.is_(None), s.created_at > oldest
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def end(self, session_id: object) -> None:
        if isinstance(session_id, str):
            self._end(dashboard_sessions.c.id_hash == self._hash(session_id))

    def end_all(self) -> int:
        """End every session; returns how many were active."""
        return self._end(dashboard_sessions.c.ended_at.is_(None))

    def _end(self, which: Any) -> int:
        s = dashboard_sessions.c
        with self.engine.begin() as conn:
            ended = conn.execute(
                update(dashboard_sessions).where(which, s.ended_at.is_(None)).values(ended_at=self.clock())
            )
        return int(ended.rowcount)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(str(given).encode(), str(expected).encode())


def own_origin(scope: Scope) -> str:
    """scheme://host[:port] of this request, as a browser would write it in `Origin`."""
    headers = dict(scope["headers"])
    host = headers.get(b"host", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}"


def cross_site_reason(scope: Scope) -> str | None:
    """Why a state-changing request looks cross-site, or None. Requests without these headers (non-browser
    clients) still need the CSRF token."""
    headers = dict(scope["headers"])
    fetch_site = headers.get(b"sec-fetch-site", b"").decode("latin-1")
    if fetch_site and fetch_site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {fetch_site})"
    origin = headers.get(b"origin", b"").decode("latin-1")
    if origin and origin != own_origin(scope):
        return "cross-site request refused (Origin does not match this site)"
    return None


class SecureCookieOnHttps:
    """Adds `Secure` to the session cookie of responses to https requests (behind a proxy, set
    BINGBRIDGE_TRUSTED_PROXIES so the scheme is the client's)."""

    def __init__(self, app: ASGIApp, cookie: str = SESSION_COOKIE) -> None:
        self.app = app
        self.prefix = cookie + "="

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                cookies = headers.getlist("set-cookie")
                if any(c.startswith(self.prefix) for c in cookies):
                    del headers["set-cookie"]
                    for cookie in cookies:
                        secure = cookie.startswith(self.prefix) and "secure" not in cookie.lower().split("; ")
                        headers.append("set-cookie", cookie + "; secure" if secure else cookie)
            await send(message)

        await self.app(scope, receive, send_secure)
