"""`bingbridge serve` in one app: the ingestion API (/v1), the dashboard (/), a dispatch worker and the daily import.

The daily metrics import runs for the connection in the settings (BINGBRIDGE_CLIENT_ID, ... or `auth login`); with
no connection configured, the schedule stays off and says so in the log.

With several workers (`serve --workers N`), uvicorn answers HTTP from N child processes while the process that
started them, the supervisor, runs the dispatch worker and the daily import: each runs once, however many
processes serve. The children build their apps, without either, from the supervisor's settings, which reach them
pickled in an environment variable: not on disk, not on a command line. What the processes must share (sessions,
the sign-in count, Connect flows, pauses, keys) lives in the database.
"""

from __future__ import annotations

import base64
import logging
import os
import pickle
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from bingbridge.settings import Settings

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Where the supervisor leaves its settings for its child processes (each takes them out of its environment).
_SETTINGS_VARIABLE = "_BINGBRIDGE_SERVE_SETTINGS"


def _import_job(settings: Settings, engine: Engine) -> None:
    from bingbridge.api.client import BingAdsClient
    from bingbridge.errors import LeaseHeld
    from bingbridge.metrics.importer import ImportOptions, run_import

    with BingAdsClient(settings) as client:
        try:
            result = run_import(client, engine, ImportOptions(trigger="schedule"))
        except LeaseHeld as exc:  # an import runs already; the next daily run catches up the days missed
            log.info("scheduled metrics import skipped: %s", exc)
            return
    log.info("scheduled metrics import: %s", result)


def _has_connection(settings: Settings) -> bool:
    return bool(
        settings.client_id and settings.developer_token and (settings.refresh_token or settings.token_file.exists())
    )


@contextmanager
def background(settings: Settings, engine: Engine, *, worker: bool, schedule: bool) -> Iterator[None]:
    """A dispatch worker and the daily import (with a connection configured), each in a thread, for the block."""
    from bingbridge.metrics.schedule import run_daily
    from bingbridge.web.app import start_worker

    stop = threading.Event()
    threads = [start_worker(settings, engine, stop)] if worker else []
    if schedule and _has_connection(settings):
        job = lambda: _import_job(settings, engine)  # noqa: E731
        threads.append(threading.Thread(target=run_daily, args=(job,), kwargs={"stop": stop}, daemon=True))
        threads[-1].start()
    elif schedule:
        log.info("daily metrics import off: no connection configured (run `bingbridge auth login`)")
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def _with_schedule(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """Run the daily import for the app's lifetime."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(parent: Any) -> AsyncIterator[Any]:
        with background(settings, engine, worker=False, schedule=True):
            async with inner(parent) as state:
                yield state

    app.router.lifespan_context = lifespan


def build_service(settings: Settings, engine: Engine, *, worker: bool = True, schedule: bool = True) -> FastAPI:
    """The whole service as one ASGI app."""
    from bingbridge.web.app import create_app
    from bingbridge.web.dashboard import mount_dashboard

    app = create_app(settings, engine, run_worker=worker)
    if schedule:
        _with_schedule(app, settings, engine)
    mount_dashboard(app, settings, engine)
    return app


def run_service(
    settings: Settings,
    engine: Engine,
    *,
    host: str,
    port: int,
    workers: int = 1,
    worker: bool = True,
    schedule: bool = True,
) -> None:
    """Serve until SIGTERM or SIGINT: in this process, or from `workers` child processes started and watched by
    this one (which then runs the dispatch worker and the schedule itself)."""
    import uvicorn

    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    # uvicorn would believe X-Forwarded-* from loopback; the app does that itself, for BINGBRIDGE_TRUSTED_PROXIES only.
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "info", "proxy_headers": False}
    if workers == 1:
        uvicorn.run(build_service(settings, engine, worker=worker, schedule=schedule), **options)
        return
    _create_shared_files(settings)
    os.environ[_SETTINGS_VARIABLE] = base64.b64encode(pickle.dumps(settings)).decode()
    with background(settings, engine, worker=worker, schedule=schedule):
        uvicorn.run(f"{__name__}:child_process_app", factory=True, workers=workers, **options)


def _create_shared_files(settings: Settings) -> None:
    """Make the secret key file and the generated dashboard password (announced once) before the processes that
    read them start, so they never race to create them."""
    from bingbridge.tracking.secrets import SecretBox
    from bingbridge.web.dashboard.security import AdminPassword

    SecretBox.for_settings(settings)
    AdminPassword.for_settings(settings)


def child_process_app() -> FastAPI:
    """The app of one of `run_service`'s child processes (uvicorn calls this in each): HTTP only."""
    from bingbridge.store import open_database

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    settings: Settings = pickle.loads(base64.b64decode(os.environ.pop(_SETTINGS_VARIABLE)))
    return build_service(settings, open_database(settings.database_url), worker=False, schedule=False)
