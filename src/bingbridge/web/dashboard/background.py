"""Work the dashboard starts and does not wait for: the metrics import of "Run import now"."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx
from sqlalchemy import Engine

from bingbridge.api.client import BingAdsClient
from bingbridge.errors import BingBridgeError
from bingbridge.metrics.importer import IMPORT_LEASE, ImportOptions, run_import
from bingbridge.settings import Settings
from bingbridge.store import leases
from bingbridge.store.engine import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportState:
    """The dashboard's own view of its latest import (the run log row appears only once accounts are found)."""

    state: str  # idle, running, finished, failed
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    run_id: int | None = None
    status: str | None = None  # the run's status in import_runs
    rows: int | None = None
    error: str | None = None


class ImportRunner:
    """Runs `run_import` for the configured connection in a daemon thread (a blocking import must not hold a
    request). Imports are one at a time on the database (`run_import`'s lease), so an import another process,
    command or the schedule runs shows here as running too, and blocks a new one."""

    def __init__(
        self, settings: Settings, engine: Engine, http: httpx.Client, clock: Callable[[], dt.datetime]
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.http = http
        self.clock = clock
        self._lock = threading.Lock()
        self._state = ImportState("idle")
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> ImportState:
        with self._lock:
            mine = self._state
        if mine.state == "running":
            return mine
        elsewhere = leases.current(self.engine, IMPORT_LEASE, now=utcnow())
        return ImportState("running", started_at=elsewhere.taken_at) if elsewhere else mine

    def start(self, options: ImportOptions) -> bool:
        """Start an import; False when one is running already (here or anywhere else on the database)."""
        with self._lock:
            if self._state.state == "running" or leases.current(self.engine, IMPORT_LEASE, now=utcnow()):
                return False
            self._state = ImportState("running", started_at=self.clock())
            self._thread = threading.Thread(target=self._run, args=(options,), name="bingbridge-dashboard-import")
            self._thread.daemon = True
            self._thread.start()
            return True

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, options: ImportOptions) -> None:
        started = self.state
        try:
            with BingAdsClient(self.settings, http=self.http) as client:
                result = run_import(client, self.engine, options)
            outcome = replace(
                started,
                state="finished",
                run_id=result.run_id,
                status=result.status,
                rows=result.rows,
                error="; ".join(result.errors) or None,
            )
        except BingBridgeError as exc:
            outcome = replace(started, state="failed", error=str(exc) + (f" — {exc.hint}" if exc.hint else ""))
        except Exception as exc:  # the thread must record every ending; the traceback goes to the log
            log.exception("dashboard metrics import failed")
            outcome = replace(started, state="failed", error=f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._state = replace(outcome, finished_at=self.clock())
