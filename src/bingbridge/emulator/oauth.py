"""The Microsoft identity platform as the emulator plays it: authorize (auto-approves) and token."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from bingbridge.emulator.state import EmulatorState

_ADS_SCOPE_SUFFIX = "msads.manage"
SCOPE_PRODUCTION = "https://ads.microsoft.com/msads.manage offline_access"


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def authorize(request: Request) -> Response:
    """Sign in the configured user without a page and redirect back with a code (or an error)."""
    state: EmulatorState = request.app.state.emulator
    q = request.query_params
    if q.get("client_id", "") != state.config.client_id:
        return _oauth_error("unauthorized_client", "AADSTS700016: Application not found in the directory.")
    redirect_uri = q.get("redirect_uri", "")
    if not redirect_uri:
        return _oauth_error("invalid_request", "AADSTS900144: The request body must contain 'redirect_uri'.")
    back = {"state": q["state"]} if "state" in q else {}
    if q.get("response_type", "") != "code":
        back.update(error="unsupported_response_type", error_description="Only response_type=code is supported.")
    elif _ADS_SCOPE_SUFFIX not in q.get("scope", ""):
        back.update(error="invalid_scope", error_description="AADSTS70011: The scope must include msads.manage.")
    elif q.get("code_challenge", "") and q.get("code_challenge_method", "plain") != "S256":
        back.update(error="invalid_request", error_description="Only the S256 code challenge method is supported.")
    else:
        user_id = int(q.get("login_hint", "") or state.config.default_user_id)
        back["code"] = state.issue_code(
            user_id, state.config.client_id, redirect_uri, q.get("code_challenge", ""), q.get("scope", "")
        )
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{sep}{urlencode(back)}", status_code=302)


async def token(request: Request) -> Response:
    """Redeem an authorization code (with PKCE) or a refresh token (a new one is issued; the used one stays valid)."""
    state: EmulatorState = request.app.state.emulator
    # The token endpoint takes application/x-www-form-urlencoded only, so parse_qsl is the whole parser.
    form = dict(parse_qsl((await request.body()).decode()))
    if form.get("client_id", "") != state.config.client_id:
        return _oauth_error("unauthorized_client", "AADSTS700016: Application not found in the directory.")
    if not form.get("client_secret"):
        return _oauth_error(
            "invalid_client",
            "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
            status=401,
        )
    if form["client_secret"] != state.config.client_secret:
        return _oauth_error("invalid_client", "AADSTS7000215: Invalid client secret provided.", status=401)
    grant_type = form.get("grant_type", "")
    now = time.time()
    if grant_type == "authorization_code":
        grant = state.codes.pop(form.get("code", ""), None)
        if grant is None or grant.expires_at < now:
            return _oauth_error("invalid_grant", "AADSTS70008: The provided authorization code has expired.")
        if grant.redirect_uri != form.get("redirect_uri", ""):
            return _oauth_error("invalid_grant", "AADSTS50011: The redirect URI does not match.")
        if grant.code_challenge and _s256(form.get("code_verifier", "")) != grant.code_challenge:
            return _oauth_error("invalid_grant", "AADSTS501481: The Code_Verifier does not match the code_challenge.")
        return JSONResponse(state.issue_tokens(grant.user_id, grant.client_id, grant.scope or form.get("scope", "")))
    if grant_type == "refresh_token":
        refresh = form.get("refresh_token", "")
        grant = state.refresh_tokens.get(refresh)
        if grant is None or grant.expires_at < now:
            return _oauth_error(
                "invalid_grant", "AADSTS70000: The provided refresh token is invalid, expired or revoked."
            )
        if state.config.revoke_used_refresh_tokens:
            del state.refresh_tokens[refresh]
        # Microsoft answers the scope the refresh asked for (reference 12); the grant's when it asked none.
        return JSONResponse(state.issue_tokens(grant.user_id, grant.client_id, form.get("scope") or grant.scope))
    return _oauth_error("unsupported_grant_type", f"AADSTS70003: grant_type {grant_type!r} is not supported.")
