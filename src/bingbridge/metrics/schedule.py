"""The daily import on a schedule, for `bingbridge serve` (and anyone running a long-lived process).

Wiring into serve (a Starlette app): start `run_daily_async(job)` as a task in the app's lifespan and cancel it on
shutdown, where `job` runs `run_import(client, engine, ImportOptions(trigger="schedule"))`; the import is blocking,
so it runs in a worker thread and never stalls the event loop. Cron users run the plain command instead:

    15 6 * * *  bingbridge metrics import --json >> ~/.local/state/bingbridge-import.log 2>&1

The default time, 06:00 UTC, is our choice: Microsoft considers a day's books closed about three hours after it
ends (reference 5.4), which at 06:00 UTC holds for accounts from UTC+3 eastwards; accounts further west are still
in "yesterday" and import their previous day, and the 30-day lookback re-imports any day that was not yet final.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_RUN_AT = dt.time(6, 0)


def next_run(now: dt.datetime, at: dt.time = DEFAULT_RUN_AT, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
    """The first moment at or after `now` (aware) whose local time in `tz` is `at`."""
    local = now.astimezone(tz)
    candidate = dt.datetime.combine(local.date(), at, tzinfo=tz)
    if candidate < local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=tz)
    return candidate


def run_daily(
    job: Callable[[], Any],
    *,
    at: dt.time = DEFAULT_RUN_AT,
    tz: dt.tzinfo = dt.UTC,
    stop: threading.Event | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    sleep: Callable[[float], bool] | None = None,
    max_runs: int | None = None,
) -> int:
    """Call `job` every day at `at` until `stop` is set (or `max_runs` runs); returns how many runs happened.

    A failing run is logged and the schedule goes on. `sleep(seconds)` returns True when it was interrupted
    (default: waiting on `stop`), so setting `stop` ends the loop at once.
    """
    stop = stop or threading.Event()
    wait = sleep or stop.wait
    runs = 0
    while not stop.is_set() and (max_runs is None or runs < max_runs):
        now = clock()
        delay = (next_run(now, at, tz) - now).total_seconds()
        if delay > 0 and wait(delay):
            break
        started = time.monotonic()
        try:
            job()
        except Exception:  # the schedule must survive one bad day; the run log in the database has the details
            log.exception("scheduled metrics import failed")
        runs += 1
        log.info("scheduled metrics import took %.1f s", time.monotonic() - started)
        if clock() < next_run(now, at, tz) + dt.timedelta(seconds=1):
            wait(1.0)  # the job finished within the same second: do not run twice
    return runs


async def run_daily_async(job: Callable[[], Any], *, at: dt.time = DEFAULT_RUN_AT, tz: dt.tzinfo = dt.UTC) -> None:
    """The same schedule as an asyncio task (cancel it to stop); `job` runs in a worker thread."""
    import asyncio

    while True:
        now = dt.datetime.now(dt.UTC)
        await asyncio.sleep((next_run(now, at, tz) - now).total_seconds())
        try:
            await asyncio.to_thread(job)
        except Exception:
            log.exception("scheduled metrics import failed")
        await asyncio.sleep(1.0)
