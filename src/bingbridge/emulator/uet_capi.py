"""The UET Conversions API as Microsoft answers it (protocol reference 9), at the emulator's one base URL.

    POST /v1/{tagId}/events      Authorization: Bearer <the tag's CAPI token>
    POST /_emulator/capi-tokens  {"tag_id": N} → {"tag_id": N, "token": "…"} (the tag must exist)
    GET  /_emulator/uet-events   the events accepted, as received (deduplicated by eventId + eventName)

Validation follows §9: at most 1,000 events; `eventType` pageLoad or custom; `eventTime` in Unix seconds within
the last 7 days and not in the future; `eventSourceUrl` for page loads; at least one `userData` identifier; `em`
and `ph` SHA-256 hex; `adStorageConsent` G or D. Problems are reported per event in `error.details[]` by `index`.
With `continueOnValidationError` the valid events are kept (HTTP 200 when any was); otherwise any problem refuses
the whole request (400). A bad or unknown token is 401. Every answer carries a `traceId`.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bingbridge.api.conversions_api import MAX_EVENTS_PER_REQUEST, OPERATION
from bingbridge.conversions.contract import CAPI_WINDOW, FUTURE_TOLERANCE
from bingbridge.emulator.state import EmulatorState

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_IDENTIFIERS = ("em", "ph", "msclkid", "anonymousId", "externalId", "idfa", "gaid")


def _detail(index: int, name: str, message: str, code: str = "InvalidValue") -> dict[str, Any]:
    return {"index": index, "propertyName": name, "errorMessage": message, "errorCode": code, "isWarning": False}


def event_problems(index: int, event: Any, now: float) -> list[dict[str, Any]]:
    """The §9 rules one event breaks, as `details` entries."""
    if not isinstance(event, dict):
        return [_detail(index, "data", "An event must be a JSON object.")]
    found = []
    kind = event.get("eventType")
    if kind not in ("pageLoad", "custom"):
        found.append(_detail(index, "eventType", "eventType must be pageLoad or custom."))
    when = event.get("eventTime")
    if not isinstance(when, int) or isinstance(when, bool):
        found.append(_detail(index, "eventTime", "eventTime must be a Unix time in seconds."))
    elif when > now + FUTURE_TOLERANCE.total_seconds():
        found.append(_detail(index, "eventTime", "eventTime is in the future."))
    elif when < now - CAPI_WINDOW.total_seconds():
        found.append(_detail(index, "eventTime", "eventTime is older than 7 days."))
    if kind == "pageLoad" and not event.get("eventSourceUrl"):
        found.append(_detail(index, "eventSourceUrl", "eventSourceUrl is required for pageLoad events."))
    if kind == "custom" and not event.get("eventName"):
        found.append(_detail(index, "eventName", "eventName is required for custom events."))
    if event.get("adStorageConsent") not in (None, "G", "D"):
        found.append(_detail(index, "adStorageConsent", "adStorageConsent must be G or D."))
    user = event.get("userData")
    if not isinstance(user, dict) or not any(user.get(k) for k in _IDENTIFIERS):
        found.append(_detail(index, "userData", "At least one user identifier is required.", "MissingUserData"))
    else:
        for name in ("em", "ph"):
            if user.get(name) is not None and not _SHA256.match(str(user[name])):
                found.append(_detail(index, f"userData.{name}", f"{name} must be a SHA-256 hash (64 hex)."))
    return found


def _refused(
    status: int, code: str, message: str, trace_id: str, details: list[dict[str, Any]] | None = None
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return JSONResponse({"eventsReceived": 0, "error": error, "traceId": trace_id}, status_code=status)


async def events_endpoint(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    capi = state.campaign
    trace_id = str(uuid.uuid4())
    request.app.state.operation_calls[OPERATION] += 1
    tag_id = int(request.path_params["tag_id"])
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or capi.capi_tokens.get(auth[7:]) != tag_id:
        return _refused(401, "Unauthorized", "The API token is not valid for this UET tag.", trace_id)
    if state.config.error_rate and state.rng.random() < state.config.error_rate:
        return _refused(500, "InternalServerError", "An internal error occurred.", trace_id)
    try:
        body = await request.json()
    except ValueError:
        body = None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not 1 <= len(data) <= MAX_EVENTS_PER_REQUEST:
        message = f"data must be a list of 1 to {MAX_EVENTS_PER_REQUEST} events."
        return _refused(400, "InvalidRequest", message, trace_id, [])
    now = time.time()
    details = [d for i, event in enumerate(data) for d in event_problems(i, event, now)]
    bad = {d["index"] for d in details}
    keep = bool(body.get("continueOnValidationError")) if isinstance(body, dict) else False
    valid = [e for i, e in enumerate(data) if i not in bad]
    if details and (not keep or not valid):
        return _refused(400, "InvalidEvents", "One or more events are not valid.", trace_id, details)
    for event in valid:
        key = (tag_id, str(event.get("eventId")), str(event.get("eventName") or ""))
        if event.get("eventId") is None or key not in capi.uet_event_keys:
            capi.uet_event_keys.add(key)
            capi.uet_events.append(event)
    answer: dict[str, Any] = {"eventsReceived": len(valid), "traceId": trace_id}
    if details:
        answer["error"] = {"code": "InvalidEvents", "message": "Some events are not valid.", "details": details}
    return JSONResponse(answer)


async def mint_capi_token(request: Request) -> Response:
    """A CAPI token for an existing UET tag, as the Microsoft Advertising UI generates one."""
    state: EmulatorState = request.app.state.emulator
    body = await request.json() if await request.body() else {}
    tag_id = body.get("tag_id") if isinstance(body, dict) else None
    if not isinstance(tag_id, int) or tag_id not in state.campaign.tags:
        return JSONResponse({"error": f"no UET tag {tag_id}: create one with AddUetTags first"}, status_code=404)
    token = secrets.token_urlsafe(32)
    state.campaign.capi_tokens[token] = tag_id
    return JSONResponse({"tag_id": tag_id, "token": token})


async def uet_events(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    return JSONResponse(state.campaign.uet_events)


ROUTES = [
    Route("/v1/{tag_id:int}/events", events_endpoint, methods=["POST"]),
    Route("/_emulator/capi-tokens", mint_capi_token, methods=["POST"]),
    Route("/_emulator/uet-events", uet_events, methods=["GET"]),
]
