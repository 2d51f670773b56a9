"""`bingbridge emulator` and `bingbridge demo`."""

from __future__ import annotations

import click

from bingbridge.cli.common import report_errors


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8099, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated data.")
@click.option("--client-id", default="emulator-client-id", show_default=True)
@click.option("--client-secret", default="emulator-client-secret", show_default=True)
@click.option("--developer-token", default="BBD37VB98", show_default=True)
@click.option("--access-token-ttl", type=int, default=3600, show_default=True, help="Seconds an access token lives.")
@click.option(
    "--calls-per-minute",
    type=int,
    default=0,
    show_default=True,
    help="Throttle with 117 above this (0: off).",
)
@click.option("--error-rate", type=float, default=0.0, show_default=True, help="Share of calls failing with 500.")
@click.option("--latency-ms", type=int, default=0, show_default=True, help="Delay added to every call.")
@click.option(
    "--accounts",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Accounts the seeded user reaches, over client customers in several time zones (0: the seeded 7).",
)
def emulator(
    host: str,
    port: int,
    seed: int,
    client_id: str,
    client_secret: str,
    developer_token: str,
    access_token_ttl: int,
    calls_per_minute: int,
    error_rate: float,
    latency_ms: int,
    accounts: int,
) -> None:
    """Run a local Microsoft Advertising (REST, SOAP and OAuth at Microsoft's paths).

    Point bingbridge at it with BINGBRIDGE_API_BASE_URL=http://127.0.0.1:8099.

    Example: bingbridge emulator --port 8099 --calls-per-minute 100 --accounts 1000
    """
    from bingbridge.emulator.server import serve_forever
    from bingbridge.emulator.state import EmulatorConfig

    config = EmulatorConfig(
        seed=seed,
        client_id=client_id,
        client_secret=client_secret,
        developer_token=developer_token,
        access_token_ttl=access_token_ttl,
        calls_per_minute=calls_per_minute,
        error_rate=error_rate,
        latency_ms=latency_ms,
        accounts=accounts,
    )
    if 0 < accounts < 7:
        raise click.BadParameter("at least 7 (the seeded world's accounts), or 0", param_hint="--accounts")
    click.echo(f"Emulator on http://{host}:{port} — export BINGBRIDGE_API_BASE_URL=http://{host}:{port}", err=True)
    serve_forever(config, host, port)


@click.command()
@click.option(
    "--serve/--no-serve",
    default=None,
    help="Keep serving the filled dashboard until Ctrl-C (default: when run on a terminal).",
)
@report_errors
def demo(serve: bool | None) -> None:
    """Run the end-to-end demo on an in-process emulator, then show the dashboard filled with its data.

    Signs in through the real OAuth flow, calls every customer-management operation, creates offline goals and
    uploads conversions, runs the tracking service (events in, worker dispatching) and a metrics import.

    Example: bingbridge demo --no-serve
    """
    import sys
    import threading

    from bingbridge.demo import run_demo

    keep_serving = sys.stdout.isatty() if serve is None else serve

    def wait(url: str, password: str) -> None:
        click.echo(f"\nDashboard at {url}/ (password: {password}). Press Ctrl-C to stop.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("stopping")

    run_demo(lambda line: click.echo(f"  ✓ {line}"), wait if keep_serving else None)
    click.echo("demo finished: every step succeeded")
    if not keep_serving:
        click.echo("Not serving the dashboard (no terminal, or --no-serve); `bingbridge demo --serve` keeps it open.")
