"""A connection test that says exactly what is wrong: token first, then a real API call."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from bingbridge.errors import ApiError, BingBridgeError, ConfigurationError, OAuthError

if TYPE_CHECKING:
    from bingbridge.api.client import BingAdsClient


@dataclass
class ConnectionReport:
    """The outcome of `check_connection`: which step failed (if any), why, and how long each took."""

    ok: bool
    token_ms: float | None = None
    api_ms: float | None = None
    failed: str | None = None  # client_id | client_secret | refresh_token | developer_token | permissions | ...
    message: str | None = None
    tracking_id: str | None = None
    user_name: str | None = None
    user_id: int | None = None
    customer_ids: list[int] = field(default_factory=list)


def _oauth_failure(error: OAuthError) -> str:
    if error.error == "invalid_client":
        return "client_secret"
    if error.error in ("unauthorized_client", "invalid_request"):
        return "client_id"
    return "refresh_token"


def _api_failure(error: ApiError) -> str:
    if 105 in error.codes:
        return "developer_token"
    if 106 in error.codes:
        return "permissions"
    if 117 in error.codes:
        return "rate_limit"
    return "api"


def check_connection(client: BingAdsClient, *, refresh_token_advice: str | None = None) -> ConnectionReport:
    """Get a fresh access token, then call GetUser; report latency in ms and the failing credential.

    `refresh_token_advice` replaces the generic advice for a refused refresh token (`bingbridge auth login`) where
    the token belongs to something else, such as a tracking destination.
    """
    started = time.perf_counter()
    try:
        client.refresh_access_token()
    except OAuthError as exc:
        failed = _oauth_failure(exc)
        advice = refresh_token_advice if failed == "refresh_token" and refresh_token_advice else exc.hint
        return ConnectionReport(False, failed=failed, message=f"{exc} — {advice}")
    except ConfigurationError as exc:
        return ConnectionReport(False, failed="configuration", message=str(exc))
    except (BingBridgeError, httpx.TransportError) as exc:
        return ConnectionReport(False, failed="network", message=f"cannot reach the token endpoint: {exc}")
    token_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    try:
        answer = client.customer_management.get_user()
    except ApiError as exc:
        return ConnectionReport(
            False,
            token_ms=token_ms,
            failed=_api_failure(exc),
            message=f"{exc}" + (f" — {exc.hint}" if exc.hint else ""),
            tracking_id=exc.tracking_id,
        )
    except ConfigurationError as exc:
        return ConnectionReport(False, token_ms=token_ms, failed="configuration", message=str(exc))
    api_ms = (time.perf_counter() - started) * 1000
    user = answer.user
    name = None
    if user is not None:
        name = user.user_name or (user.contact_info.email if user.contact_info else None)
        tokens = client.tokens.tokens
        if tokens is not None:
            client.tokens.remember(tokens.with_user(name, user.id))
    return ConnectionReport(
        True,
        token_ms=token_ms,
        api_ms=api_ms,
        user_name=name,
        user_id=user.id if user else None,
        customer_ids=[r.customer_id for r in answer.customer_roles or []],
        tracking_id=answer.tracking_id,
    )
