"""OAuth 2.0 authorization-code flow (with PKCE) and refresh for Microsoft Advertising.

Endpoints and scopes follow the Microsoft identity platform v2.0 as Microsoft's SDK uses them: production uses
`msads.manage`; sandbox uses the production login with the `si.ads.microsoft.com` scope.
The token requests are built with Authlib's RFC 6749/7636 helpers; the HTTP goes through the caller's httpx
client, so the sync and async clients share all of this.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl

from bingbridge.auth.tokens import TokenSet, TokenStore, fingerprint, utcnow
from bingbridge.errors import OAuthError
from bingbridge.settings import Settings

LOGIN_HOST = "https://login.microsoftonline.com"
SCOPES = {
    "production": "https://ads.microsoft.com/msads.manage offline_access",
    "sandbox": "https://si.ads.microsoft.com/msads.manage offline_access",
}


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str
    scope: str

    @classmethod
    def for_settings(cls, settings: Settings) -> Endpoints:
        base = settings.api_base_url or LOGIN_HOST
        root = f"{base}/{settings.tenant}/oauth2/v2.0"
        return cls(authorize=f"{root}/authorize", token=f"{root}/token", scope=SCOPES[settings.environment])


@dataclass(frozen=True)
class AuthorizationRequest:
    """One sign-in attempt: the URL to open and the secrets needed to finish it."""

    url: str
    state: str
    code_verifier: str
    redirect_uri: str


def start_authorization(settings: Settings, redirect_uri: str | None = None) -> AuthorizationRequest:
    """Build the consent URL with a fresh state and PKCE (S256) challenge."""
    # Imported here: only sign-in needs Authlib, and every other command starts faster without it.
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    client_id = settings.require("client_id")
    endpoints = Endpoints.for_settings(settings)
    redirect = redirect_uri or settings.redirect_uri
    state = generate_token(32)
    verifier = generate_token(64)
    url = prepare_grant_uri(
        endpoints.authorize,
        client_id=client_id,
        response_type="code",
        redirect_uri=redirect,
        scope=endpoints.scope,
        state=state,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
        response_mode="query",
    )
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier, redirect_uri=redirect)


def code_from_redirect(auth: AuthorizationRequest, redirect_url: str) -> str:
    """Take the authorization code out of the redirect URL, after checking the state matches."""
    query = dict(parse_qsl(redirect_url.split("?", 1)[1] if "?" in redirect_url else redirect_url))
    if "error" in query:
        raise OAuthError(query["error"], query.get("error_description"))
    if query.get("state") != auth.state:
        raise OAuthError("state_mismatch", "the redirect's state does not match this sign-in; start again")
    if not query.get("code"):
        raise OAuthError("missing_code", "the redirect URL has no code parameter")
    return query["code"]


def code_grant_form(settings: Settings, auth: AuthorizationRequest, code: str) -> dict[str, str]:
    form = {
        "client_id": settings.require("client_id"),
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": auth.redirect_uri,
        "scope": Endpoints.for_settings(settings).scope,
        "code_verifier": auth.code_verifier,
    }
    if settings.client_secret:
        form["client_secret"] = settings.client_secret.reveal()
    return form


def refresh_grant_form(settings: Settings, refresh_token: str) -> dict[str, str]:
    form = {
        "client_id": settings.require("client_id"),
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "scope": Endpoints.for_settings(settings).scope,
    }
    if settings.client_secret:
        form["client_secret"] = settings.client_secret.reveal()
    return form


def parse_token_response(status: int, body: bytes, *, origin: str, previous: TokenSet | None) -> TokenSet:
    """Turn the token endpoint's answer into a TokenSet, or raise OAuthError with what went wrong."""
    try:
        payload: dict[str, Any] = json.loads(body or b"{}")
    except ValueError:
        payload = {}
    if status >= 400 or "access_token" not in payload:
        raise OAuthError(
            str(payload.get("error") or f"http_{status}"),
            payload.get("error_description") or (body[:200].decode(errors="replace") if body else None),
            status=status,
        )
    now = utcnow()
    refresh = payload.get("refresh_token") or (previous.refresh_token if previous else "")
    tokens = TokenSet(
        access_token=payload["access_token"],
        refresh_token=refresh,
        expires_at=now + timedelta(seconds=int(payload.get("expires_in", 3600))),
        scope=payload.get("scope", ""),
        refresh_token_used_at=now,
        origin=origin,
    )
    if previous is not None:
        tokens = tokens.with_user(previous.user_name, previous.user_id)
    return tokens


@runtime_checkable
class SharedTokenStore(TokenStore, Protocol):
    """A token store several processes use at once: it serialises refreshes, because a refresh may rotate the
    refresh token and a second refresh with the old one may be refused (`invalid_grant`)."""

    def refresh_lock(self, key: str) -> AbstractContextManager[None]: ...


class TokenManager:
    """Decides which refresh token to use, when to refresh, and persists every rotation.

    Rule for a refresh token given in settings: if it is neither the token the stored chain started from
    nor the latest rotated one, it is a newer grant and replaces the stored chain.
    """

    def __init__(self, settings: Settings, store: TokenStore) -> None:
        self.settings = settings
        self.store = store
        self.key = f"{settings.environment}:{settings.client_id}"
        self.endpoints = Endpoints.for_settings(settings)
        self._tokens = self._initial_tokens()

    def _initial_tokens(self) -> TokenSet | None:
        stored = self.store.load(self.key)
        configured = self.settings.refresh_token.reveal() if self.settings.refresh_token else None
        if configured is None:
            return stored
        if stored is not None and fingerprint(configured) in (
            stored.origin,
            fingerprint(stored.refresh_token),
        ):
            return stored
        return None

    @property
    def tokens(self) -> TokenSet | None:
        return self._tokens

    def needs_refresh(self) -> bool:
        return self._tokens is None or self._tokens.expires_soon()

    @contextmanager
    def refreshing(self) -> Iterator[bool]:
        """Around one refresh: yields whether to call the token endpoint.

        With a `SharedTokenStore` the block holds its lock, and when someone else rotated the tokens meanwhile
        (the stored refresh token is no longer ours and its access token is fresh) those are taken instead and
        False is yielded: redeeming ours again could be refused, and one refresh per rotation is enough.
        """
        if not isinstance(self.store, SharedTokenStore):
            yield True
            return
        used = self._tokens.refresh_token if self._tokens else None
        with self.store.refresh_lock(self.key):
            stored = self.store.load(self.key)
            if stored is not None and stored.refresh_token != used and not stored.expires_soon():
                self._tokens = stored
                yield False
            else:
                yield True

    def refresh_form(self) -> tuple[str, dict[str, str]]:
        """URL and form of the next refresh request."""
        if self._tokens is not None:
            refresh = self._tokens.refresh_token
        elif self.settings.refresh_token:
            refresh = self.settings.refresh_token.reveal()
        else:
            raise self._no_tokens()
        return self.endpoints.token, refresh_grant_form(self.settings, refresh)

    def _no_tokens(self) -> OAuthError:
        """Nothing to refresh with; when the store holds tokens of another app, the client id is the likely typo."""
        listed = getattr(self.store, "keys", None)  # a custom TokenStore need not list its keys
        prefix = f"{self.settings.environment}:"
        keys = listed() if listed else []
        others = [k.removeprefix(prefix) for k in keys if k.startswith(prefix) and k != self.key]
        if others:
            return OAuthError(
                "no_tokens_for_client_id",
                f"no tokens for client id {self.settings.client_id!r}; the token file has tokens for client id "
                f"{', '.join(repr(o) for o in others)}",
            )
        return OAuthError("no_refresh_token", "no refresh token is stored or set")

    def accept(self, status: int, body: bytes, *, new_grant: bool = False) -> TokenSet:
        """Record a token endpoint answer and persist it; `new_grant` for a code exchange (a new chain)."""
        previous = None if new_grant else self._tokens
        origin = previous.origin if previous else ""
        if not origin and not new_grant and self.settings.refresh_token:
            origin = fingerprint(self.settings.refresh_token.reveal())
        tokens = parse_token_response(status, body, origin=origin, previous=previous)
        if not tokens.origin:
            tokens = replace(tokens, origin=fingerprint(tokens.refresh_token))
        self.remember(tokens)
        return tokens

    def remember(self, tokens: TokenSet) -> None:
        self._tokens = tokens
        self.store.save(self.key, tokens)

    def access_token(self) -> str:
        assert self._tokens is not None, "refresh before asking for the access token"
        return self._tokens.access_token
