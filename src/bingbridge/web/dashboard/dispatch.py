"""The dispatch log (what happened to each event at each destination) and the dead-letter queue with replay.

A thin face over `tracking.log_queries.query_dispatch_log` and the DLQ functions of `tracking.dispatch_log`.
Dates in the filter are UTC days: "from" includes its whole day, "to" too (the query's `until` is the next day).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from bingbridge.conversions.channels import CHANNELS
from bingbridge.errors import ValidationError
from bingbridge.tracking.destinations import Destination, list_destinations
from bingbridge.tracking.dispatch_log import STATUSES, list_dead_letters, replay_dead_letters
from bingbridge.tracking.log_queries import query_dispatch_log
from bingbridge.tracking.workspaces import list_workspaces
from bingbridge.web.dashboard.core import Ctx, Dashboard, action, page

PAGE_SIZE = 100
DLQ_PAGE_SIZE = 500


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _day(text: str, name: str, errors: dict[str, str]) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[name] = f"not a date (YYYY-MM-DD): {text!r}"
        return None


def _destination_names(destinations: list[Destination], workspaces: dict[int, str]) -> dict[int, str]:
    return {d.id: f"{d.name} #{d.id} ({workspaces.get(d.workspace_id, '?')})" for d in destinations}


def dispatch_log(ctx: Ctx) -> Response:
    """Rows newest first, filtered by workspace, destination, status, event name and days; paged with before_id."""
    errors: dict[str, str] = {}
    workspaces = {w.id: w.name for w in list_workspaces(ctx.dash.engine)}
    destinations = list_destinations(ctx.dash.engine)
    filters = {
        "workspace_id": ctx.query("workspace_id"),
        "destination_id": ctx.query("destination_id"),
        "status": ctx.query("status"),
        "event_name": ctx.query("event_name"),
        "since": ctx.query("since"),
        "until": ctx.query("until"),
    }
    since = _day(filters["since"], "since", errors)
    until = _day(filters["until"], "until", errors)
    if filters["status"] and filters["status"] not in STATUSES:
        errors["status"] = f"unknown status; use one of {', '.join(STATUSES)}"
    rows = []
    if not errors:
        try:
            rows = query_dispatch_log(
                ctx.dash.engine,
                _int(filters["workspace_id"]),
                statuses=[filters["status"]] if filters["status"] else None,
                event_name=filters["event_name"] or None,
                destination_id=_int(filters["destination_id"]),
                since=dt.datetime.combine(since, dt.time()) if since else None,
                until=dt.datetime.combine(until + dt.timedelta(days=1), dt.time()) if until else None,
                limit=PAGE_SIZE,
                before_id=_int(ctx.query("before_id")),
            )
        except ValidationError as exc:
            errors.update({p.field: p.message for p in exc.problems})
    chosen = {k: v for k, v in filters.items() if v}
    older = urlencode({**chosen, "before_id": rows[-1].id}) if len(rows) == PAGE_SIZE else None
    return ctx.render(
        "dispatch.html",
        400 if errors else 200,
        rows=rows,
        filters=filters,
        errors=errors,
        statuses=STATUSES,
        workspaces=workspaces,
        destinations=_destination_names(destinations, workspaces),
        channels={name: channel.label for name, channel in CHANNELS.items()},
        older=older,
        newest=urlencode(chosen) if ctx.query("before_id") else None,
    )


def dead_letters(ctx: Ctx) -> Response:
    """Dispatches that kept failing, with their next automatic retry; replay one or all."""
    destination_id = _int(ctx.query("destination_id"))
    workspaces = {w.id: w.name for w in list_workspaces(ctx.dash.engine)}
    names = _destination_names(list_destinations(ctx.dash.engine), workspaces)
    letters = list_dead_letters(ctx.dash.engine, destination_id=destination_id, limit=DLQ_PAGE_SIZE)
    return ctx.render(
        "dead_letters.html",
        letters=letters,
        destinations=names,
        destination_id=destination_id,
        limit=DLQ_PAGE_SIZE,
    )


def _back(ctx: Ctx) -> str:
    destination_id = _int(ctx.form.text("destination_id"))
    return f"/dead-letters?destination_id={destination_id}" if destination_id else "/dead-letters"


def replay_one(ctx: Ctx) -> Response:
    dispatch_id = ctx.path_int("dispatch_id")
    count = replay_dead_letters(ctx.dash.engine, dispatch_ids=[dispatch_id], now=ctx.dash.clock())
    if not count:
        return ctx.redirect(_back(ctx), ("error", f"Dispatch {dispatch_id} is no longer dead-lettered."))
    return ctx.redirect(_back(ctx), ("ok", f"Dispatch {dispatch_id} queued for replay: the worker sends it next."))


def replay_all(ctx: Ctx) -> Response:
    destination_id = _int(ctx.form.text("destination_id"))
    count = replay_dead_letters(ctx.dash.engine, destination_id=destination_id, now=ctx.dash.clock())
    return ctx.redirect(_back(ctx), ("ok", f"{count} dead letter{'s' * (count != 1)} queued for replay."))


def routes(dash: Dashboard) -> list[Route]:
    return [
        page(dash, "/dispatch", dispatch_log),
        page(dash, "/dead-letters", dead_letters),
        action(dash, "/dead-letters/replay", replay_all),
        action(dash, "/dead-letters/{dispatch_id:int}/replay", replay_one),
    ]
