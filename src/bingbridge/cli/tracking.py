"""Conversion tracking service commands: workspaces, keys, destinations, serve, worker, dispatch log, dead letters."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bingbridge.cli.common import emit, fail, json_option, load_settings, report_errors
from bingbridge.tracking.worker_main import WorkerOptions

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bingbridge.settings import Settings
    from bingbridge.tracking.secrets import SecretBox


def _service_options(func: Any) -> Any:
    func = click.option("--database-url", default=None, help="Default: BINGBRIDGE_DATABASE_URL or SQLite.")(func)
    return click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML settings file.")(func)


def _open(config_file: Path | None, database_url: str | None, **overrides: Any) -> tuple[Settings, Engine]:
    from bingbridge.store import open_database

    settings = load_settings(config_file, database_url=database_url, **overrides)
    return settings, open_database(settings.database_url)


def _box(settings: Settings) -> SecretBox:
    from bingbridge.tracking.secrets import SecretBox

    return SecretBox.for_settings(settings)


def _workspace_id(engine: Engine, name: str) -> int:
    from bingbridge.tracking.workspaces import workspace_named

    workspace = workspace_named(engine, name)
    if workspace is None:
        fail(f"no workspace named {name!r}", "List them with `bingbridge workspaces list`.", code=2)
    return workspace.id


@click.group()
def workspaces() -> None:
    """Workspaces: each has its own ingestion key and destinations.

    Example: bingbridge workspaces list
    """


@workspaces.command("create")
@click.argument("name")
@_service_options
@json_option
@report_errors
def workspaces_create(name: str, as_json: bool, config_file: Path | None, database_url: str | None) -> None:
    """Create a workspace and print its ingestion key (shown once; only its hash is stored).

    Example: bingbridge workspaces create "Web shop"
    """
    from bingbridge.store import utcnow
    from bingbridge.tracking.workspaces import create_workspace

    _, engine = _open(config_file, database_url)
    workspace, key = create_workspace(engine, name, now=utcnow())
    emit({"id": workspace.id, "name": workspace.name, "ingestion_key": key}, as_json=as_json)
    if not as_json:
        click.echo("Keep the ingestion key now: it cannot be shown again.", err=True)


@workspaces.command("list")
@_service_options
@json_option
@report_errors
def workspaces_list(as_json: bool, config_file: Path | None, database_url: str | None) -> None:
    """List workspaces (keys are shown by their prefix only).

    Example: bingbridge workspaces list
    """
    from dataclasses import asdict

    from bingbridge.tracking.workspaces import list_workspaces

    _, engine = _open(config_file, database_url)
    emit([asdict(w) for w in list_workspaces(engine)], as_json=as_json, columns=["id", "name", "created_at"])


@click.group()
def keys() -> None:
    """Workspace keys: public ingestion keys (post events only) and secret API keys (read and operate).

    Example: bingbridge keys list
    """


_KEY_COLUMNS = ["id", "workspace_id", "kind", "name", "key_prefix", "created_at", "revoked_at"]


def _shown_once(row: dict[str, Any], key: str, as_json: bool) -> None:
    emit({**row, "key": key}, as_json=as_json)
    if not as_json:
        click.echo("Keep the key now: it cannot be shown again.", err=True)


@keys.command("create")
@click.option("--workspace", required=True, help="Workspace name.")
@click.option(
    "--kind",
    type=click.Choice(["ingestion", "api"]),
    default="api",
    show_default=True,
    help="ingestion: public, for the snippet, may only post events; api: secret, reads and operates.",
)
@click.option("--name", default=None, help="A label to tell keys apart, e.g. reporting.")
@_service_options
@json_option
@report_errors
def keys_create(
    workspace: str, kind: str, name: str | None, as_json: bool, config_file: Path | None, database_url: str | None
) -> None:
    """Create a key for a workspace and print it (shown once; only its hash is stored).

    Example: bingbridge keys create --workspace "Web shop" --kind api --name reporting
    """
    from dataclasses import asdict

    from bingbridge.store import utcnow
    from bingbridge.tracking.workspaces import create_key

    _, engine = _open(config_file, database_url)
    created, key = create_key(engine, _workspace_id(engine, workspace), kind, name=name, now=utcnow())
    _shown_once(asdict(created), key, as_json)


@keys.command("list")
@click.option("--workspace", default=None, help="Only this workspace.")
@click.option("--revoked", is_flag=True, help="Include revoked keys.")
@_service_options
@json_option
@report_errors
def keys_list(
    workspace: str | None, revoked: bool, as_json: bool, config_file: Path | None, database_url: str | None
) -> None:
    """List keys by id, kind and first characters (the keys themselves are never shown again).

    Example: bingbridge keys list --workspace "Web shop"
    """
    from dataclasses import asdict

    from bingbridge.tracking.workspaces import list_keys

    _, engine = _open(config_file, database_url)
    workspace_id = _workspace_id(engine, workspace) if workspace else None
    rows = [asdict(k) for k in list_keys(engine, workspace_id, revoked=revoked)]
    emit(rows, as_json=as_json, columns=_KEY_COLUMNS)


@keys.command("rotate")
@click.argument("key_id", type=int)
@click.option(
    "--grace-hours",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Keep the old key working this long (web pages still carrying an old ingestion key).",
)
@_service_options
@json_option
@report_errors
def keys_rotate(
    key_id: int, grace_hours: float, as_json: bool, config_file: Path | None, database_url: str | None
) -> None:
    """Replace a key: the new one (same workspace, kind and name) is printed once, the old one is refused at once
    or after --grace-hours (an ingestion key within 5 seconds more, the time a service process may remember it).

    Example: bingbridge keys rotate 2 --grace-hours 24
    """
    from dataclasses import asdict
    from datetime import timedelta

    from bingbridge.store import utcnow
    from bingbridge.tracking.workspaces import rotate_key

    _, engine = _open(config_file, database_url)
    now = utcnow()
    grace = timedelta(hours=grace_hours)
    created, key = rotate_key(engine, key_id, now=now, grace=grace)
    _shown_once({**asdict(created), "replaces": key_id, "replaced_key_works_until": now + grace}, key, as_json)


@keys.command("revoke")
@click.argument("key_id", type=int)
@_service_options
@json_option
@report_errors
def keys_revoke(key_id: int, as_json: bool, config_file: Path | None, database_url: str | None) -> None:
    """Revoke a key: requests carrying it get 401 (an ingestion key within 5 seconds).

    Example: bingbridge keys revoke 3
    """
    from dataclasses import asdict

    from bingbridge.store import utcnow
    from bingbridge.tracking.workspaces import revoke_key

    _, engine = _open(config_file, database_url)
    emit(asdict(revoke_key(engine, key_id, now=utcnow())), as_json=as_json)


def _channel_option(func: Any) -> Any:
    return click.option(
        "--channel",
        "routes",
        multiple=True,
        help="Event to channels, e.g. --channel purchase=offline or --channel page_view=capi (repeat).",
    )(func)


def _pairs(values: tuple[str, ...], option: str, shape: str) -> dict[str, str]:
    from bingbridge.errors import FieldProblem, ValidationError

    found = {}
    for value in values:
        key, sep, target = value.partition("=")
        if not sep or not key.strip():
            raise ValidationError([FieldProblem(option, f"{value!r}: write {shape}")])
        found[key.strip()] = target.strip()
    return found


def _routes(values: tuple[str, ...]) -> dict[str, list[str]]:
    pairs = _pairs(values, "channel", "event=offline,capi")
    return {event: [c.strip() for c in listed.split(",") if c.strip()] for event, listed in pairs.items()}


def _emit_destination(destination: Any, as_json: bool) -> None:
    """The destination as safe to show; warnings (a conversion sent through both channels) also on stderr."""
    shown = destination.public()
    for warning in shown["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    emit(shown, as_json=as_json)


@click.group()
def destinations() -> None:
    """Microsoft Advertising destinations ("UET & Offline Conversions") of a workspace.

    Example: bingbridge destinations list
    """


@destinations.command("add")
@click.option("--workspace", required=True, help="Workspace name.")
@click.option("--customer-id", required=True)
@click.option("--account-id", required=True)
@click.option("--developer-token", required=True)
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True)
@click.option("--refresh-token", required=True)
@click.option("--access-token", default=None)
@click.option("--uet-tag-id", default=None, help="The UET tag for the Conversions API channel.")
@click.option("--capi-token", default=None, help="That UET tag's Conversions API token (stored encrypted).")
@click.option("--name", default="Microsoft Advertising", show_default=True)
@click.option("--environment", type=click.Choice(["production", "sandbox"]), default="production", show_default=True)
@click.option("--map", "mappings", multiple=True, help="Event to goal, e.g. --map purchase=Purchase (repeat).")
@_channel_option
@click.option("--calls-per-hour", type=int, default=1000, show_default=True)
@click.option("--live", is_flag=True, help="Start dispatching at once.")
@_service_options
@json_option
@report_errors
def destinations_add(
    workspace: str,
    customer_id: str,
    account_id: str,
    developer_token: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    access_token: str | None,
    uet_tag_id: str | None,
    capi_token: str | None,
    name: str,
    environment: str,
    mappings: tuple[str, ...],
    routes: tuple[str, ...],
    calls_per_hour: int,
    live: bool,
    as_json: bool,
    config_file: Path | None,
    database_url: str | None,
) -> None:
    """Add a destination; required fields are checked and secrets encrypted before saving.

    Without --map, the default event-to-goal mapping is used; with --map, exactly the mappings given. With
    --uet-tag-id and --capi-token the destination also has the UET Conversions API channel: page views go there as
    pageLoad, events without a goal as custom events; --channel EVENT=offline,capi routes an event name explicitly
    (both channels may make Microsoft count it twice: the answer warns).

    Example: bingbridge destinations add --workspace "Web shop" --customer-id 123456789 --account-id 987654321 \\
        --developer-token BBD37VB98 --client-id CLIENT_ID --client-secret CLIENT_SECRET --refresh-token REFRESH_TOKEN \\
        --map purchase=Purchase
    """
    from bingbridge.tracking.destinations import DEFAULT_CONVERSION_NAMES, DestinationInput, save_destination

    settings, engine = _open(config_file, database_url)
    names = _pairs(mappings, "map", "event=Goal name") if mappings else dict(DEFAULT_CONVERSION_NAMES)
    data = DestinationInput(
        customer_id=customer_id,
        account_id=account_id,
        developer_token=developer_token,
        client_id=client_id,
        client_secret=client_secret,
        refresh_token=refresh_token,
        access_token=access_token,
        uet_tag_id=uet_tag_id,
        capi_token=capi_token,
        name=name,
        environment=environment,
        live=live,
        conversion_names=names,
        calls_per_hour=calls_per_hour,
        event_channels=_routes(routes),
    )
    destination = save_destination(engine, _box(settings), _workspace_id(engine, workspace), data)
    _emit_destination(destination, as_json)
    if not as_json:
        source = "as given with --map" if mappings else "the defaults; pass --map event=Goal to choose your own"
        mapped = ", ".join(f"{event} -> {goal}" for event, goal in names.items())
        click.echo(f"Events sent as conversions ({source}): {mapped}. Other events are skipped.", err=True)


@destinations.command("update")
@click.argument("destination_id", type=int)
@click.option("--developer-token", default=None, help="A new developer token.")
@click.option("--client-id", default=None, help="A new app (client) id.")
@click.option("--client-secret", default=None, help="A new client secret.")
@click.option("--refresh-token", default=None, help="A new refresh token (drops the stored access token).")
@click.option("--access-token", default=None, help="An access token to use until it expires.")
@click.option("--uet-tag-id", default=None, help="The UET tag for the Conversions API channel.")
@click.option("--capi-token", default=None, help="That UET tag's Conversions API token (stored encrypted).")
@click.option("--map", "mappings", multiple=True, help="Event to goal, e.g. --map purchase=Purchase (repeat).")
@_channel_option
@click.option("--calls-per-hour", type=int, default=None)
@click.option("--name", default=None)
@_service_options
@json_option
@report_errors
def destinations_update(
    destination_id: int,
    developer_token: str | None,
    client_id: str | None,
    client_secret: str | None,
    refresh_token: str | None,
    access_token: str | None,
    uet_tag_id: str | None,
    capi_token: str | None,
    mappings: tuple[str, ...],
    routes: tuple[str, ...],
    calls_per_hour: int | None,
    name: str | None,
    as_json: bool,
    config_file: Path | None,
    database_url: str | None,
) -> None:
    """Change a destination: only the options given change (secrets stay encrypted and are never shown). New
    credentials end a pause for refused credentials at once; a new refresh token drops the stored access token.

    Example: bingbridge destinations update 1 --refresh-token REFRESH_TOKEN
    """
    from bingbridge.tracking.destinations import get_destination, update_destination

    settings, engine = _open(config_file, database_url)
    destination = get_destination(engine, destination_id)
    if destination is None:
        fail(f"no destination {destination_id}", "List them with `bingbridge destinations list`.", code=2)
    given = {
        "developer_token": developer_token,
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
        "access_token": access_token,
        "uet_tag_id": uet_tag_id,
        "capi_token": capi_token,
        "calls_per_hour": calls_per_hour,
        "name": name,
    }
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if mappings:
        changes["conversion_names"] = {**destination.conversion_names, **_pairs(mappings, "map", "event=Goal name")}
    if routes:
        changes["event_channels"] = {**destination.event_channels, **_routes(routes)}
    if not changes:
        fail(
            "nothing to update", "Give at least one option, e.g. --refresh-token or --capi-token (see --help).", code=2
        )
    _emit_destination(update_destination(engine, _box(settings), destination, **changes), as_json)


@destinations.command("list")
@click.option("--workspace", default=None, help="Only this workspace.")
@_service_options
@json_option
@report_errors
def destinations_list(workspace: str | None, as_json: bool, config_file: Path | None, database_url: str | None) -> None:
    """List destinations with their Live switch and health (secrets are never shown).

    Example: bingbridge destinations list --json
    """
    from bingbridge.store import utcnow
    from bingbridge.tracking.destinations import list_destinations
    from bingbridge.tracking.health import destination_health

    _, engine = _open(config_file, database_url)
    workspace_id = _workspace_id(engine, workspace) if workspace else None
    rows = []
    for d in list_destinations(engine, workspace_id):
        health = destination_health(engine, d.id, utcnow())
        rows.append({**d.public(), "health": health.status, "health_reason": health.reason})
    emit(rows, as_json=as_json, columns=["id", "workspace_id", "name", "customer_id", "account_id", "live", "health"])


@destinations.command("test")
@click.argument("destination_id", type=int)
@click.option("--base-url", "api_base_url", default=None, help="Send the calls here (e.g. the emulator).")
@_service_options
@json_option
@report_errors
def destinations_test(
    destination_id: int, api_base_url: str | None, as_json: bool, config_file: Path | None, database_url: str | None
) -> None:
    """Test a destination: get a token and make a real API call; latency in ms, what failed, and whether the account
    auto-tags clicks with an MSCLKID.

    Example: bingbridge destinations test 1
    """
    from dataclasses import asdict

    from bingbridge.tracking.destinations import check_destination, get_destination

    settings, engine = _open(config_file, database_url, api_base_url=api_base_url)
    destination = get_destination(engine, destination_id)
    if destination is None:
        fail(f"no destination {destination_id}", "List them with `bingbridge destinations list`.", code=2)
    check = check_destination(engine, _box(settings), destination, settings)
    emit({**asdict(check.connection), "msclkid_auto_tagging": check.auto_tagging}, as_json=as_json)
    if check.auto_tagging is False:
        click.echo(
            "warning: MSCLKID auto-tagging is off, so landing URLs carry no msclkid and no click can be matched: "
            f"bingbridge accounts auto-tagging --account-id {destination.account_id} --enable",
            err=True,
        )
    if not check.ok:
        raise SystemExit(1)


def _switch(destination_id: int, live: bool, as_json: bool, config_file: Path | None, database_url: str | None) -> None:
    from bingbridge.tracking.destinations import get_destination, set_live

    _, engine = _open(config_file, database_url)
    if get_destination(engine, destination_id) is None:
        fail(f"no destination {destination_id}", "List them with `bingbridge destinations list`.", code=2)
    set_live(engine, destination_id, live)
    emit({"id": destination_id, "live": live}, as_json=as_json)


@destinations.command("live")
@click.argument("destination_id", type=int)
@_service_options
@json_option
@report_errors
def destinations_live(destination_id: int, as_json: bool, config_file: Path | None, database_url: str | None) -> None:
    """Switch a destination Live: the worker starts dispatching its events.

    Example: bingbridge destinations live 1
    """
    _switch(destination_id, True, as_json, config_file, database_url)


@destinations.command("pause")
@click.argument("destination_id", type=int)
@_service_options
@json_option
@report_errors
def destinations_pause(destination_id: int, as_json: bool, config_file: Path | None, database_url: str | None) -> None:
    """Pause a destination: events keep being accepted and queue until it is Live again.

    Example: bingbridge destinations pause 1
    """
    _switch(destination_id, False, as_json, config_file, database_url)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes answering HTTP; with more than 1, this process watches them and dispatches and imports.",
)
@click.option("--no-worker", is_flag=True, help="Do not dispatch in this process (run `bingbridge worker` instead).")
@click.option("--no-schedule", is_flag=True, help="Do not run the daily metrics import in this process.")
@click.option("--base-url", "api_base_url", default=None, help="Send Microsoft calls here (e.g. the emulator).")
@_service_options
@report_errors
def serve(
    host: str,
    port: int,
    workers: int,
    no_worker: bool,
    no_schedule: bool,
    api_base_url: str | None,
    config_file: Path | None,
    database_url: str | None,
) -> None:
    """Run the tracking service: ingestion API under /v1, the dashboard under /, a worker and the daily import.

    With --workers N, N processes answer HTTP (on one database they behave as one) and this process starts and
    watches them and runs the dispatch worker and the daily import, once. SIGTERM or Ctrl-C stops them all.

    Example: bingbridge serve --port 8000
    """
    from bingbridge.service import run_service

    settings, engine = _open(config_file, database_url, api_base_url=api_base_url)
    processes = f"{workers} processes, " if workers > 1 else ""
    click.echo(
        f"bingbridge serving on http://{host}:{port}/ ({processes}API under /v1, OpenAPI at /openapi.json)", err=True
    )
    run_service(settings, engine, host=host, port=port, workers=workers, worker=not no_worker, schedule=not no_schedule)


@click.command()
@click.option("--once", is_flag=True, help="One pass over the queue, then exit (for cron).")
@click.option(
    "--lease-seconds",
    type=float,
    default=WorkerOptions.lease_seconds,
    show_default=True,
    help="Claim lifetime of a batch (renewed mid-call).",
)
@click.option("--poll-seconds", type=float, default=2.0, show_default=True)
@click.option(
    "--retry-window-hours",
    type=float,
    default=None,
    help="Retry failing events this long, then dead-letter them (default 72; never past Microsoft's age limit).",
)
@click.option("--base-url", "api_base_url", default=None, help="Send Microsoft calls here (e.g. the emulator).")
@_service_options
@json_option
@report_errors
def worker(
    once: bool,
    lease_seconds: float,
    poll_seconds: float,
    retry_window_hours: float | None,
    api_base_url: str | None,
    as_json: bool,
    config_file: Path | None,
    database_url: str | None,
) -> None:
    """Dispatch pending conversions to Microsoft until stopped (SIGTERM/Ctrl-C end it after the batch in flight).

    Several workers (on PostgreSQL, on several machines) share the queue without sending an event twice.

    Example: bingbridge worker --once
    """
    import logging
    import threading

    from bingbridge.tracking.worker_main import WorkerOptions, run_worker, stop_on_signals

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(config_file, database_url=database_url, api_base_url=api_base_url)
    options = WorkerOptions(
        lease_seconds=lease_seconds, poll_seconds=poll_seconds, retry_window_hours=retry_window_hours, once=once
    )
    stop = threading.Event()
    if not once:
        stop_on_signals(stop)
    handled = run_worker(settings, options, stop)
    if once:
        emit({"handled": handled}, as_json=as_json)


@click.command("dispatch-log")
@click.option("--workspace", default=None, help="Only this workspace.")
@click.option("--status", "statuses", multiple=True, help="sent, skipped, blocked, failed, dead_lettered, pending.")
@click.option("--event-name", default=None)
@click.option("--channel", default=None, help="Only this channel: offline or capi.")
@click.option("--since", default=None, help="ISO date or date-time (UTC).")
@click.option("--until", default=None, help="ISO date or date-time (UTC), exclusive.")
@click.option("--limit", type=int, default=100, show_default=True, help="1..1000.")
@_service_options
@json_option
@report_errors
def dispatch_log(
    workspace: str | None,
    statuses: tuple[str, ...],
    event_name: str | None,
    channel: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
    config_file: Path | None,
    database_url: str | None,
) -> None:
    """What happened to each event: status, reason, Microsoft code, batch, TrackingId, attempts.

    Example: bingbridge dispatch-log --status failed --status blocked --json
    """
    from dataclasses import asdict

    from bingbridge.tracking.log_queries import query_dispatch_log

    _, engine = _open(config_file, database_url)
    entries = query_dispatch_log(
        engine,
        _workspace_id(engine, workspace) if workspace else None,
        statuses=list(statuses) or None,
        event_name=event_name,
        channel=channel,
        since=_when(since, "since"),
        until=_when(until, "until"),
        limit=limit,
    )
    emit(
        [e.as_dict() if as_json else asdict(e) for e in entries],
        as_json=as_json,
        columns=["updated_at", "destination_id", "event_name", "event_id", "status", "reason", "code"],
        labels={"updated_at": "when (UTC)", "destination_id": "dest", "event_name": "event"},
    )
    if entries and not as_json:
        click.echo("TrackingId, batch and attempts of each: --json.", err=True)


def _when(value: str | None, field: str) -> Any:
    from datetime import datetime

    from bingbridge.errors import FieldProblem, ValidationError

    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError([FieldProblem(field, f"is not an ISO date or date-time: {value!r}")]) from None


@click.group()
def dlq() -> None:
    """The dead-letter queue: events that kept failing. They are retried automatically, or now with replay.

    Example: bingbridge dlq list
    """


@dlq.command("list")
@click.option("--destination-id", type=int, default=None)
@click.option("--limit", type=int, default=100, show_default=True)
@_service_options
@json_option
@report_errors
def dlq_list(
    destination_id: int | None, limit: int, as_json: bool, config_file: Path | None, database_url: str | None
) -> None:
    """List dead-lettered events with their last error and next automatic retry.

    Example: bingbridge dlq list --json
    """
    from dataclasses import asdict

    from bingbridge.tracking.dispatch_log import list_dead_letters

    _, engine = _open(config_file, database_url)
    rows = [asdict(d) for d in list_dead_letters(engine, destination_id=destination_id, limit=limit)]
    emit(
        rows,
        as_json=as_json,
        columns=["id", "destination_id", "event_name", "attempts", "reason", "code", "next_attempt_at"],
        labels={"destination_id": "dest", "event_name": "event", "next_attempt_at": "retried at (UTC)"},
    )


@dlq.command("replay")
@click.option("--destination-id", type=int, default=None, help="Only this destination's dead letters.")
@click.option("--id", "dispatch_ids", type=int, multiple=True, help="Only these dispatch ids (repeat).")
@_service_options
@json_option
@report_errors
def dlq_replay(
    destination_id: int | None,
    dispatch_ids: tuple[int, ...],
    as_json: bool,
    config_file: Path | None,
    database_url: str | None,
) -> None:
    """Make dead-lettered events due now; a running worker sends them on its next pass.

    Example: bingbridge dlq replay --destination-id 1
    """
    from bingbridge.store import utcnow
    from bingbridge.tracking.dispatch_log import replay_dead_letters

    _, engine = _open(config_file, database_url)
    count = replay_dead_letters(
        engine, destination_id=destination_id, dispatch_ids=list(dispatch_ids) or None, now=utcnow()
    )
    emit({"replayed": count}, as_json=as_json)
