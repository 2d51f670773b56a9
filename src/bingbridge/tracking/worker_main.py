"""Running a dispatch worker as a process: `python -m bingbridge.tracking.worker_main`, and `bingbridge worker`.

Settings (database URL, secret key, API base URL) come from `Settings.load()`: BINGBRIDGE_* variables and the
config file. SIGTERM and SIGINT stop the worker after the batch in flight.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType

from bingbridge.settings import Settings


@dataclass(frozen=True)
class WorkerOptions:
    """The knobs of `bingbridge worker`; the defaults suit production."""

    lease_seconds: float = 60.0
    poll_seconds: float = 2.0
    batch_size: int = 1000
    retry_window_hours: float | None = None  # None: retry_window.DEFAULT_RETRY_WINDOW
    dlq_retry_seconds: float = 3600.0
    once: bool = False  # one pass, then exit (cron, tests)


def run_worker(settings: Settings, options: WorkerOptions, stop_event: threading.Event | None = None) -> int:
    """Migrate the database, then dispatch until `stop_event` is set (or one pass with `once`); returns the rows
    handled by a single pass, else 0."""
    from bingbridge.store.engine import create_engine_for, migrate
    from bingbridge.tracking.retry_window import RetryWindow
    from bingbridge.tracking.secrets import SecretBox
    from bingbridge.tracking.worker import Worker

    engine = create_engine_for(settings.database_url)
    try:
        migrate(engine)
        with Worker(
            engine,
            SecretBox.for_settings(settings),
            settings,
            lease_seconds=options.lease_seconds,
            poll_seconds=options.poll_seconds,
            batch_size=options.batch_size,
            retry_window=(
                RetryWindow(window=timedelta(hours=options.retry_window_hours))
                if options.retry_window_hours is not None
                else None
            ),
            dlq_retry_seconds=options.dlq_retry_seconds,
        ) as worker:
            if options.once:
                return worker.run_once()
            worker.run(stop_event or threading.Event())
            return 0
    finally:
        engine.dispose()


def stop_on_signals(stop_event: threading.Event) -> None:
    """Set `stop_event` on SIGTERM and SIGINT (main thread only)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("bingbridge.tracking.worker").info("signal %s: stopping after the batch in flight", signum)
        stop_event.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, log to stderr, run a worker until a signal stops it."""
    defaults = WorkerOptions()
    parser = argparse.ArgumentParser(prog="bingbridge-worker", description=__doc__)
    parser.add_argument("--lease-seconds", type=float, default=defaults.lease_seconds)
    parser.add_argument("--poll-seconds", type=float, default=defaults.poll_seconds)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument(
        "--retry-window-hours",
        type=float,
        default=defaults.retry_window_hours,
        help="retry failing conversions this long before the dead-letter queue (default 72; never past Microsoft's age"
        " limit)",
    )
    parser.add_argument("--dlq-retry-seconds", type=float, default=defaults.dlq_retry_seconds)
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = WorkerOptions(
        lease_seconds=args.lease_seconds,
        poll_seconds=args.poll_seconds,
        batch_size=args.batch_size,
        retry_window_hours=args.retry_window_hours,
        dlq_retry_seconds=args.dlq_retry_seconds,
        once=args.once,
    )
    stop = threading.Event()
    stop_on_signals(stop)
    run_worker(Settings.load(), options, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
