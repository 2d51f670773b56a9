"""Workspaces and their Microsoft Advertising destinations: the "UET & Offline Conversions" card with its
credentials form, Save, Test, the Live switch, the health badge, and "Connect Microsoft Advertising".

Choices:
- Secrets are never put back into a page, not even after a failed Save: the form then asks for them again.
  On an existing destination an empty secret field keeps the stored value.
- Connect runs the authorization-code flow with PKCE; what waits for Microsoft to send the browser back is kept
  server-side, in the database (`flows`), so any process may finish it. The redirect URI is this dashboard's
  `/oauth/callback`: register it in the Azure app.
- The Live switch does not insist on a passed test (the seed's order is advice); switching on after a failed or
  missing test says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import httpx
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bingbridge.auth.oauth import (
    Endpoints,
    code_from_redirect,
    code_grant_form,
    parse_token_response,
    start_authorization,
)
from bingbridge.auth.tokens import fingerprint
from bingbridge.conversions.channels import CHANNELS
from bingbridge.errors import BingBridgeError, FieldProblem, OAuthError, ValidationError
from bingbridge.settings import Secret, Settings
from bingbridge.tracking.destinations import (
    DEFAULT_CALLS_PER_HOUR,
    DEFAULT_CONVERSION_NAMES,
    Destination,
    DestinationInput,
    DestinationTokenStore,
    check_destination,
    destination_client,
    get_destination,
    list_destinations,
    save_destination,
    set_live,
)
from bingbridge.tracking.health import destination_health
from bingbridge.tracking.secrets import SecretKeyChanged
from bingbridge.tracking.workspaces import Workspace, create_workspace, get_workspace, list_workspaces
from bingbridge.web.dashboard.core import Ctx, Dashboard, Form, action, page
from bingbridge.web.dashboard.flows import PendingFlow

SECRET_FIELDS = ("developer_token", "client_secret", "access_token", "refresh_token", "capi_token")


@dataclass(frozen=True)
class Field:
    """One input of the destination card."""

    name: str
    label: str
    help: str
    secret: bool = False
    required: bool = True
    numeric: bool = False


# The seed's seven credentials, in its order, then the optional UET tag id.
CREDENTIAL_FIELDS = (
    Field("customer_id", "Customer ID", "Settings → Account Settings in Microsoft Advertising.", numeric=True),
    Field("account_id", "Account ID", "The account number below the Customer ID.", numeric=True),
    Field("developer_token", "Developer Token", "Developer Portal → API Access (production access).", secret=True),
    Field("client_id", "Client ID (Azure)", "Azure App Registration → Application (client) ID."),
    Field(
        "client_secret", "Client Secret (Azure)", "Azure → Certificates & Secrets → the secret's Value.", secret=True
    ),
    Field(
        "access_token",
        "Access Token",
        "Optional: renewed from the refresh token automatically (lives about an hour).",
        secret=True,
        required=False,
    ),
    Field(
        "refresh_token",
        "Refresh Token",
        "From the OAuth sign-in; or leave empty and press Connect Microsoft Advertising.",
        secret=True,
    ),
    Field("uet_tag_id", "UET Tag ID", "Optional: Tools → UET Tags → the tag's ID.", required=False, numeric=True),
    Field(
        "capi_token",
        "CAPI Token (UET Conversions API)",
        "Optional, with the UET tag: the tag's Conversions API token. Page views and events without a goal then go "
        "to the Conversions API.",
        secret=True,
        required=False,
    ),
)


# ---- the card form ----


def _mapping_text(names: dict[str, str]) -> str:
    return "\n".join(f"{event} = {goal}" for event, goal in names.items())


def _parse_mapping(text: str) -> tuple[dict[str, str], list[FieldProblem]]:
    names: dict[str, str] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        event, sep, goal = line.partition("=")
        if not sep or not event.strip() or not goal.strip():
            problems.append(FieldProblem("conversion_names", f"line {number}: write event_name = Goal name"))
            continue
        names[event.strip()] = goal.strip()
    return names, problems


def _channels_text(routes: dict[str, list[str]]) -> str:
    return "\n".join(f"{event} = {', '.join(channels)}" for event, channels in routes.items())


def _parse_channels(text: str) -> tuple[dict[str, list[str]], list[FieldProblem]]:
    routes: dict[str, list[str]] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        event, sep, listed = line.partition("=")
        channels = [c.strip() for c in listed.split(",") if c.strip()]
        if not sep or not event.strip() or not channels:
            problems.append(FieldProblem("event_channels", f"line {number}: write event_name = offline, capi"))
            continue
        routes[event.strip()] = channels
    return routes, problems


def read_card(form: Form, stored: dict[str, str | None] | None) -> tuple[DestinationInput, list[FieldProblem]]:
    """The destination the form describes; empty secret fields keep `stored` values. Problems of the form's own
    parsing are returned; the destination's rules are `DestinationInput.problems()`."""
    problems: list[FieldProblem] = []
    calls_text = form.text("calls_per_hour") or str(DEFAULT_CALLS_PER_HOUR)
    try:
        calls = int(calls_text)
    except ValueError:
        problems.append(FieldProblem("calls_per_hour", f"must be a whole number, got {calls_text!r}"))
        calls = DEFAULT_CALLS_PER_HOUR
    names, mapping_problems = _parse_mapping(form.get("conversion_names"))
    routes, route_problems = _parse_channels(form.get("event_channels"))
    problems += mapping_problems + route_problems
    kept = stored or {}

    def secret(name: str) -> str | None:
        return form.text(name) or kept.get(name) or None

    data = DestinationInput(
        customer_id=form.text("customer_id"),
        account_id=form.text("account_id"),
        client_id=form.text("client_id"),
        uet_tag_id=form.text("uet_tag_id") or None,
        name=form.text("name") or "Microsoft Advertising",
        environment=form.text("environment") or "production",
        conversion_names=names if names or mapping_problems else dict(DEFAULT_CONVERSION_NAMES),
        calls_per_hour=calls,
        developer_token=secret("developer_token"),
        client_secret=secret("client_secret"),
        access_token=secret("access_token"),
        refresh_token=secret("refresh_token"),
        capi_token=secret("capi_token"),
        event_channels=routes,
    )
    return data, problems


def _errors(problems: list[FieldProblem]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(problem.field, []).append(problem.message)
    return errors


def _values(form: Form | None, destination: Destination | None) -> dict[str, str]:
    """What the non-secret inputs show: the form just sent, else the stored destination, else defaults."""
    if form is not None:
        names = ("name", "environment", "customer_id", "account_id", "client_id", "uet_tag_id", "calls_per_hour")
        values = {name: form.get(name) for name in names}
        values["conversion_names"] = form.get("conversion_names")
        values["event_channels"] = form.get("event_channels")
        return values
    if destination is not None:
        return {
            "name": destination.name,
            "environment": destination.environment,
            "customer_id": str(destination.customer_id),
            "account_id": str(destination.account_id),
            "client_id": destination.client_id,
            "uet_tag_id": str(destination.uet_tag_id or ""),
            "calls_per_hour": str(destination.calls_per_hour),
            "conversion_names": _mapping_text(destination.conversion_names),
            "event_channels": _channels_text(destination.event_channels),
        }
    return {
        "name": "Microsoft Advertising",
        "environment": "production",
        "customer_id": "",
        "account_id": "",
        "client_id": "",
        "uet_tag_id": "",
        "calls_per_hour": str(DEFAULT_CALLS_PER_HOUR),
        "conversion_names": _mapping_text(DEFAULT_CONVERSION_NAMES),
        "event_channels": "",
    }


def _stored_secrets(ctx: Ctx, destination: Destination | None) -> dict[str, str | None]:
    """The destination's secrets; none when they cannot be decrypted (the card then says why and asks for them:
    saving them again seals them under the current key)."""
    try:
        return ctx.dash.box.open(destination.sealed) if destination is not None else {}
    except SecretKeyChanged:
        return {}


def _key_problem(ctx: Ctx, destination: Destination | None) -> str | None:
    """Why the stored secrets cannot be read, or None."""
    try:
        if destination is not None:
            ctx.dash.box.open(destination.sealed)
    except SecretKeyChanged as exc:
        return f"{str(exc)[0].upper()}{str(exc)[1:]}. {exc.hint}"
    return None


def _workspace(ctx: Ctx, workspace_id: int) -> Workspace | None:
    return get_workspace(ctx.dash.engine, workspace_id)


def _card(
    ctx: Ctx,
    workspace: Workspace,
    destination: Destination | None,
    *,
    form: Form | None = None,
    problems: list[FieldProblem] | None = None,
    status: int = 200,
    oauth_error: str | None = None,
) -> Response:
    """The destination card: the form, and for a stored destination its test result, Live switch and health."""
    stored = _stored_secrets(ctx, destination)
    health = destination_health(ctx.dash.engine, destination.id, ctx.dash.clock()) if destination else None
    errors = _errors(problems or [])
    return ctx.render(
        "destination.html",
        status,
        workspace=workspace,
        destination=destination,
        fields=CREDENTIAL_FIELDS,
        values=_values(form, destination),
        secret_set={name: bool(stored.get(name)) for name in SECRET_FIELDS},
        errors=errors,
        error_list=[(f, m) for f, ms in errors.items() for m in ms],
        health=health,
        last_test=destination.last_test if destination else None,
        channels=[CHANNELS[c].label for c in destination.channels] if destination else [],
        warnings=destination.routing().double_counted() if destination else [],
        oauth_error=oauth_error,
        key_problem=_key_problem(ctx, destination),
    )


# ---- pages and actions ----


def home(ctx: Ctx, *, name_error: str | None = None, status: int = 200) -> Response:
    """Every workspace with its destinations and their health."""
    now = ctx.dash.clock()
    workspaces = [
        (w, [(d, destination_health(ctx.dash.engine, d.id, now)) for d in list_destinations(ctx.dash.engine, w.id)])
        for w in list_workspaces(ctx.dash.engine)
    ]
    return ctx.render("home.html", status, workspaces=workspaces, name_error=name_error, new_name=ctx.form.get("name"))


def create_workspace_action(ctx: Ctx) -> Response:
    """Create a workspace and show its ingestion key, once (only its hash is kept)."""
    try:
        workspace, key = create_workspace(ctx.dash.engine, ctx.form.get("name"), now=ctx.dash.clock())
    except ValidationError as exc:
        return home(ctx, name_error="; ".join(p.message for p in exc.problems), status=422)
    return ctx.render("workspace_created.html", 201, workspace=workspace, key=key)


def new_destination(ctx: Ctx) -> Response:
    workspace = _workspace(ctx, ctx.path_int("workspace_id"))
    if workspace is None:
        return ctx.not_found("This workspace")
    return _card(ctx, workspace, None)


def create_destination(ctx: Ctx) -> Response:
    """Save a new destination, or show the card again with each field's problem."""
    workspace = _workspace(ctx, ctx.path_int("workspace_id"))
    if workspace is None:
        return ctx.not_found("This workspace")
    data, problems = read_card(ctx.form, None)
    problems += data.problems()
    if problems:
        return _card(ctx, workspace, None, form=ctx.form, problems=problems, status=422)
    destination = save_destination(ctx.dash.engine, ctx.dash.box, workspace.id, data)
    return ctx.redirect(f"/destinations/{destination.id}", ("ok", "Saved. Press Test to check the connection."))


def _destination(ctx: Ctx) -> tuple[Workspace, Destination] | None:
    destination = get_destination(ctx.dash.engine, ctx.path_int("destination_id"))
    if destination is None:
        return None
    workspace = _workspace(ctx, destination.workspace_id)
    assert workspace is not None  # destinations are deleted with their workspace
    return workspace, destination


def destination_page(ctx: Ctx) -> Response:
    found = _destination(ctx)
    if found is None:
        return ctx.not_found("This destination")
    return _card(ctx, *found)


def update_destination(ctx: Ctx) -> Response:
    """Save the card; empty secret fields keep what is stored; the Live switch keeps its position."""
    found = _destination(ctx)
    if found is None:
        return ctx.not_found("This destination")
    workspace, destination = found
    data, problems = read_card(ctx.form, _stored_secrets(ctx, destination))
    data = replace(data, live=destination.live)
    problems += data.problems()
    if problems:
        return _card(ctx, workspace, destination, form=ctx.form, problems=problems, status=422)
    save_destination(ctx.dash.engine, ctx.dash.box, workspace.id, data, destination_id=destination.id)
    return ctx.redirect(f"/destinations/{destination.id}", ("ok", "Saved."))


def test_destination(ctx: Ctx) -> Response:
    """The Test button: a token, then a real API call; the result (with latency) is kept on the destination."""
    found = _destination(ctx)
    if found is None:
        return ctx.not_found("This destination")
    _, destination = found
    if _key_problem(ctx, destination):
        return ctx.redirect(f"/destinations/{destination.id}", ("error", "Test not run: the secrets cannot be read."))
    report = check_destination(
        ctx.dash.engine, ctx.dash.box, destination, ctx.dash.settings, http=ctx.dash.http
    ).connection
    total = (report.token_ms or 0) + (report.api_ms or 0)
    if report.ok:
        flash = ("ok", f"Test passed in {total:.0f} ms.")
    else:
        flash = ("error", f"Test failed ({report.failed}) after {total:.0f} ms; details below.")
    return ctx.redirect(f"/destinations/{destination.id}#test", flash)


def enable_auto_tagging(ctx: Ctx) -> Response:
    """Turn MSCLKID auto-tagging on for the destination's account, then test again (which reads it back)."""
    found = _destination(ctx)
    if found is None:
        return ctx.not_found("This destination")
    _, destination = found
    try:
        with destination_client(
            ctx.dash.engine, ctx.dash.box, destination, ctx.dash.settings, http=ctx.dash.http, max_retries=0
        ) as client:
            client.campaign_management.enable_msclkid_auto_tagging(account_id=destination.account_id)
    except BingBridgeError as exc:
        return ctx.redirect(f"/destinations/{destination.id}#test", ("error", f"Not turned on: {exc}"))
    check_destination(ctx.dash.engine, ctx.dash.box, destination, ctx.dash.settings, http=ctx.dash.http)
    return ctx.redirect(f"/destinations/{destination.id}#test", ("ok", "MSCLKID auto-tagging is on."))


def switch_live(ctx: Ctx) -> Response:
    """The Live switch: on starts dispatch of the destination's events, off pauses it (events keep queueing)."""
    found = _destination(ctx)
    if found is None:
        return ctx.not_found("This destination")
    _, destination = found
    live = ctx.form.get("live") == "1"
    set_live(ctx.dash.engine, destination.id, live)
    if not live:
        return ctx.redirect(f"/destinations/{destination.id}", ("ok", "Paused: events queue until it is Live again."))
    passed = bool(destination.last_test and destination.last_test.get("ok"))
    note = "" if passed else " Note: the last connection test did not pass."
    return ctx.redirect(f"/destinations/{destination.id}", ("ok", "Live: dispatch started." + note))


# ---- Connect Microsoft Advertising ----


def _oauth_settings(ctx: Ctx, data: DestinationInput) -> Settings:
    return ctx.dash.settings.with_overrides(
        client_id=data.client_id,
        client_secret=Secret(data.client_secret or ""),
        environment=data.environment,
    )


def _connect(ctx: Ctx, workspace: Workspace, destination: Destination | None) -> Response:
    data, problems = read_card(ctx.form, _stored_secrets(ctx, destination))
    if destination is not None:
        data = replace(data, live=destination.live)  # reconnecting leaves the Live switch where it is
    # The flow is what fills the tokens: only their absence is no problem here.
    problems += [p for p in data.problems() if p.field not in ("refresh_token", "access_token")]
    if problems:
        return _card(ctx, workspace, destination, form=ctx.form, problems=problems, status=422)
    redirect_uri = str(ctx.request.base_url).rstrip("/") + "/oauth/callback"
    auth = start_authorization(_oauth_settings(ctx, data), redirect_uri)
    flow = PendingFlow(auth, data, workspace.id, destination.id if destination else None)
    ctx.session["oauth_flow"] = ctx.dash.flows.put(flow)
    return RedirectResponse(auth.url, status_code=303)


def connect_new(ctx: Ctx) -> Response:
    workspace = _workspace(ctx, ctx.path_int("workspace_id"))
    if workspace is None:
        return ctx.not_found("This workspace")
    return _connect(ctx, workspace, None)


def connect_existing(ctx: Ctx) -> Response:
    found = _destination(ctx)
    if found is None:
        return ctx.not_found("This destination")
    return _connect(ctx, *found)


def oauth_callback(ctx: Ctx) -> Response:
    """Microsoft sends the browser back here: check the state, redeem the code (with the PKCE verifier) through
    the dashboard's HTTP client, and store the destination with its new tokens."""
    flow = ctx.dash.flows.take(ctx.session.pop("oauth_flow", None))
    if flow is None:
        return ctx.render(
            "error.html",
            400,
            title="Sign-in not recognised",
            message="This Microsoft sign-in is unknown or took longer than 10 minutes. Press Connect again.",
        )
    workspace = _workspace(ctx, flow.workspace_id)
    destination = get_destination(ctx.dash.engine, flow.destination_id) if flow.destination_id else None
    if workspace is None or (flow.destination_id and destination is None):
        return ctx.not_found("The destination being connected")
    try:
        code = code_from_redirect(flow.auth, str(ctx.request.url))
        settings = _oauth_settings(ctx, flow.data)
        answer = ctx.dash.http.post(
            Endpoints.for_settings(settings).token, data=code_grant_form(settings, flow.auth, code)
        )
        tokens = parse_token_response(answer.status_code, answer.content, origin="", previous=None)
    except OAuthError as exc:
        message = f"Microsoft refused the sign-in: {exc}" + (f" — {exc.hint}" if exc.hint else "")
        return _card(ctx, workspace, destination, status=400, oauth_error=message)
    except (BingBridgeError, httpx.HTTPError) as exc:
        return _card(ctx, workspace, destination, status=502, oauth_error=f"The sign-in could not finish: {exc}")
    data = replace(flow.data, refresh_token=tokens.refresh_token, access_token=tokens.access_token)
    saved = save_destination(ctx.dash.engine, ctx.dash.box, workspace.id, data, destination_id=flow.destination_id)
    # Stored with its expiry and as the start of its rotation chain, so the first call needs no refresh.
    DestinationTokenStore(ctx.dash.engine, ctx.dash.box, saved.id).save(
        "", replace(tokens, origin=fingerprint(tokens.refresh_token))
    )
    return ctx.redirect(
        f"/destinations/{saved.id}", ("ok", "Connected to Microsoft Advertising: tokens stored. Press Test.")
    )


def routes(dash: Dashboard) -> list[Route]:
    return [
        page(dash, "/", home),
        action(dash, "/workspaces", create_workspace_action),
        page(dash, "/workspaces/{workspace_id:int}/destinations/new", new_destination),
        action(dash, "/workspaces/{workspace_id:int}/destinations", create_destination),
        action(dash, "/workspaces/{workspace_id:int}/destinations/connect", connect_new),
        page(dash, "/destinations/{destination_id:int}", destination_page),
        action(dash, "/destinations/{destination_id:int}", update_destination),
        action(dash, "/destinations/{destination_id:int}/test", test_destination),
        action(dash, "/destinations/{destination_id:int}/live", switch_live),
        action(dash, "/destinations/{destination_id:int}/auto-tagging", enable_auto_tagging),
        action(dash, "/destinations/{destination_id:int}/connect", connect_existing),
        page(dash, "/oauth/callback", oauth_callback),
    ]
