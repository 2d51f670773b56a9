"""`bingbridge serve` in one app: the ingestion API (/v1), the dashboard (/), a dispatch worker and the daily import.

The daily metrics import runs for the connection in the settings (BINGBRIDGE_CLIENT_ID, ... or `auth login`); with
no connection configured, the schedule stays off and says so in the log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from bingbridge.settings import Settings

log = logging.getLogger(__name__)


def _import_job(settings: Settings, engine: Engine) -> None:
    from bingbridge.api.client import BingAdsClient
    from bingbridge.metrics.importer import ImportOptions, run_import

    with BingAdsClient(settings) as client:
        result = run_import(client, engine, ImportOptions(trigger="schedule"))
    log.info("scheduled metrics import: %s", result)


def _has_connection(settings: Settings) -> bool:
    return bool(
        settings.client_id and settings.developer_token and (settings.refresh_token or settings.token_file.exists())
    )


def _with_schedule(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """Run the daily import in a thread for the app's lifetime."""
    from bingbridge.metrics.schedule import run_daily

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(parent: Any) -> AsyncIterator[Any]:
        stop = threading.Event()
        thread = threading.Thread(
            target=run_daily, args=(lambda: _import_job(settings, engine),), kwargs={"stop": stop}, daemon=True
        )
        thread.start()
        try:
            async with inner(parent) as state:
                yield state
        finally:
            stop.set()
            thread.join(timeout=10)

    app.router.lifespan_context = lifespan


def build_service(settings: Settings, engine: Engine, *, worker: bool = True, schedule: bool = True) -> FastAPI:
    """The whole service as one ASGI app."""
    from bingbridge.web.app import create_app
    from bingbridge.web.dashboard import mount_dashboard

    app = create_app(settings, engine, run_worker=worker)
    if schedule and _has_connection(settings):
        _with_schedule(app, settings, engine)
    elif schedule:
        log.info("daily metrics import off: no connection configured (run `bingbridge auth login`)")
    mount_dashboard(app, settings, engine)
    return app
