"""The emulator as an ASGI app: OAuth, REST and SOAP at Microsoft's paths, inspection under /_emulator."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bingbridge.api import campaign_management as campaign_api
from bingbridge.api import customer_management as customer_api
from bingbridge.api import reporting as reporting_api
from bingbridge.api.operations import Operation
from bingbridge.api.services import SERVICES
from bingbridge.emulator import campaign_management, customer_management, faults, oauth, soapxml, uet_capi
from bingbridge.emulator import reporting as emulator_reporting
from bingbridge.emulator.context import Caller, Handler
from bingbridge.emulator.state import EmulatorConfig, EmulatorState

# Each REST service: the client's operation table and the emulator's handlers, matched by operation name.
REST_SERVICES: tuple[tuple[Iterable[Operation[Any, Any]], dict[str, Handler]], ...] = (
    (customer_api.OPERATIONS, customer_management.HANDLERS),
    (campaign_api.OPERATIONS, campaign_management.HANDLERS),
    (reporting_api.OPERATIONS, emulator_reporting.HANDLERS),
)

TRACKING_HEADER = "TrackingId"


def _authenticate(state: EmulatorState, developer_token: str | None, access_token: str | None) -> int:
    """The calling user's id, or the fault Microsoft answers for bad credentials."""
    if developer_token != state.config.developer_token:
        raise faults.ad_api(105)
    grant = state.access_tokens.get(access_token or "")
    if grant is None:
        raise faults.ad_api(105)
    if grant.expires_at < time.time():
        raise faults.ad_api(109)
    return grant.user_id


def _optional_id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def caller_for(state: EmulatorState, headers: dict[str, str | None]) -> Caller:
    """Authenticate, apply fault injection and throttling, and say who is calling."""
    if state.config.error_rate and state.rng.random() < state.config.error_rate:
        raise faults.ad_api(0)
    user_id = _authenticate(state, headers.get("DeveloperToken"), headers.get("AuthenticationToken"))
    customer_id = _optional_id(headers.get("CustomerId"))
    if state.over_rate_limit(customer_id or state.world.users[user_id].customer_id):
        raise faults.ad_api(117)
    return Caller(user_id=user_id, customer_id=customer_id, account_id=_optional_id(headers.get("CustomerAccountId")))


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else None


def _json(body: dict[str, Any], tracking_id: str, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, headers={TRACKING_HEADER: tracking_id})


def _dispatch(request: Request, name: str, handler: Handler, caller: Caller, body: Any) -> Any:
    """Run an operation's handler. The one place calls are counted: every REST or SOAP call that reaches a
    handler, whatever it answers (GET /_emulator/calls)."""
    request.app.state.operation_calls[name] += 1
    return handler(request.app.state.emulator, caller, body)


def rest_endpoint(op: Operation[Any, Any], handler: Handler) -> Any:

    async def endpoint(request: Request) -> Response:
        state: EmulatorState = request.app.state.emulator
        tracking_id = str(uuid.uuid4())
        state.public_url = str(request.base_url).rstrip("/")
        if state.config.latency_ms:
            await asyncio.sleep(state.config.latency_ms / 1000)
        try:
            caller = caller_for(
                state,
                {
                    "DeveloperToken": request.headers.get("DeveloperToken"),
                    "AuthenticationToken": _bearer(request),
                    "CustomerId": request.headers.get("CustomerId"),
                    "CustomerAccountId": request.headers.get("CustomerAccountId"),
                },
            )
            try:
                payload = json.loads(await request.body() or b"{}")
                body = op.request.model_validate(payload)
            except (ValueError, PydanticValidationError) as exc:
                raise faults.Fault("AdApiFaultDetail", [(201, "ApiInputValidationError", _describe(exc))]) from None
            result = _dispatch(request, op.name, handler, caller, body)
        except faults.Fault as fault:
            return _json(faults.fault_json(fault, tracking_id), tracking_id, fault.status)
        except Exception:  # an emulator bug must still look like Microsoft's InternalError, never a traceback
            internal = faults.ad_api(0)
            return _json(faults.fault_json(internal, tracking_id), tracking_id, internal.status)
        return _json(result.to_wire(), tracking_id)

    return endpoint


_CUSTOMER_OPERATIONS_BY_NAME = customer_api.OPERATIONS.by_name()


async def customer_management_soap(request: Request) -> Response:
    """Customer Management over SOAP 1.1: the same handlers, XML in and out, faults as SOAP faults (HTTP 500)."""
    state: EmulatorState = request.app.state.emulator
    namespace = SERVICES["customer-management"].namespace
    tracking_id = str(uuid.uuid4())
    if state.config.latency_ms:
        await asyncio.sleep(state.config.latency_ms / 1000)
    try:
        try:
            name, element, headers = soapxml.parse_request(await request.body())
        except soapxml.SoapXmlError as exc:
            raise faults.Fault("AdApiFaultDetail", [(201, "ApiInputValidationError", str(exc))]) from None
        op = _CUSTOMER_OPERATIONS_BY_NAME.get(name)
        if op is None:
            raise faults.Fault("AdApiFaultDetail", [(204, "OperationNotSupported", f"{name} is not supported.")])
        caller = caller_for(state, dict(headers))
        try:
            body = soapxml.element_to_model(element, op.request)
        except PydanticValidationError as exc:
            raise faults.Fault("AdApiFaultDetail", [(201, "ApiInputValidationError", _describe(exc))]) from None
        result = _dispatch(request, name, customer_management.HANDLERS[name], caller, body)
    except faults.Fault as fault:
        xml = soapxml.soap_fault(namespace, fault.kind, fault.errors, tracking_id)
        return Response(xml, status_code=500, media_type="text/xml; charset=utf-8")
    xml = soapxml.soap_response(namespace, name, result, tracking_id)
    return Response(xml, media_type="text/xml; charset=utf-8")


def _describe(exc: Exception) -> str:
    if isinstance(exc, PydanticValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"The request message is not valid: {where}: {first['msg']}."
    return f"The request body is not valid JSON: {exc}."


async def inspect_state(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    w = state.world
    return JSONResponse(
        {
            "config": asdict(state.config),
            "customers": [c.to_wire() for c in w.customers.values()],
            "accounts": [a.to_wire() for a in w.accounts.values()],
            "users": [{**u.user.to_wire(), "RoleId": u.role_id} for u in w.users.values()],
            "client_links": [link.to_wire() for link in w.client_links],
            "invitations": [i.to_wire() for i in w.invitations.values()],
        }
    )


async def update_config(request: Request) -> Response:
    """Change behaviour at run time, e.g. {"calls_per_minute": 5, "error_rate": 0.3}."""
    state: EmulatorState = request.app.state.emulator
    changes = await request.json()
    unknown = set(changes) - set(asdict(state.config))
    if unknown:
        return JSONResponse({"error": f"unknown settings: {sorted(unknown)}"}, status_code=400)
    for key, value in changes.items():
        setattr(state.config, key, value)
    state.calls.clear()
    return JSONResponse(asdict(state.config))


async def mint_tokens(request: Request) -> Response:
    """Give a test a refresh token for a user without a browser: {"user_id": N} (default user if absent)."""
    state: EmulatorState = request.app.state.emulator
    body = await request.json() if await request.body() else {}
    user_id = int(body.get("user_id") or state.config.default_user_id)
    if user_id not in state.world.users:
        return JSONResponse({"error": f"no user {user_id}"}, status_code=404)
    return JSONResponse(state.issue_tokens(user_id, state.config.client_id, oauth.SCOPE_PRODUCTION))


async def expire_access_tokens(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    return JSONResponse({"expired": state.expire_access_tokens()})


async def operation_calls(request: Request) -> Response:
    """GET: calls per operation that reached a handler, e.g. {"ApplyOfflineConversions": 3}; DELETE: start over."""
    calls: Counter[str] = request.app.state.operation_calls
    if request.method == "DELETE":
        calls.clear()
    return JSONResponse(dict(calls))


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """Build an emulator app with its own state."""
    routes = [
        Route("/{tenant}/oauth2/v2.0/authorize", oauth.authorize, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", oauth.token, methods=["POST"]),
        Route("/_emulator/state", inspect_state, methods=["GET"]),
        Route("/_emulator/config", update_config, methods=["POST"]),
        Route("/_emulator/tokens", mint_tokens, methods=["POST"]),
        Route("/_emulator/expire-access-tokens", expire_access_tokens, methods=["POST"]),
        Route("/_emulator/calls", operation_calls, methods=["GET", "DELETE"]),
        *campaign_management.INSPECTION_ROUTES,
        *uet_capi.ROUTES,
        Route("/_emulator/metrics", emulator_reporting.metrics_endpoint, methods=["GET"]),
        Route("/_emulator/revise", emulator_reporting.revise_endpoint, methods=["POST"]),
        Route("/_emulator/reports", emulator_reporting.jobs_endpoint, methods=["GET"]),
        Route("/_reports/{job_file}", emulator_reporting.download_endpoint, methods=["GET"]),
    ]
    for operations, handlers in REST_SERVICES:
        routes += [Route(op.path, rest_endpoint(op, handlers[op.name]), methods=[op.method]) for op in operations]
    routes.append(Route(SERVICES["customer-management"].soap_path, customer_management_soap, methods=["POST"]))
    app = Starlette(routes=routes)
    app.state.emulator = EmulatorState(config or EmulatorConfig())
    app.state.operation_calls = Counter()
    return app
