"""`bingbridge auth`: sign in, see who is connected, test the connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bingbridge.cli.common import (
    connection_options,
    emit,
    fail,
    json_option,
    load_settings,
    make_client,
    report_errors,
)


@click.group()
def auth() -> None:
    """OAuth 2.0 connection to Microsoft Advertising.

    Example: bingbridge auth status
    """


@auth.command("login")
@click.option("--no-browser", is_flag=True, help="Print the sign-in URL and paste the redirect address back.")
@click.option("--timeout", type=float, default=300, show_default=True, help="Seconds to wait for the redirect.")
@connection_options
@json_option
@report_errors
def login(no_browser: bool, timeout: float, as_json: bool, config_file: Path | None, **conn: Any) -> None:
    """Sign in with the authorization-code flow (PKCE) and store the tokens.

    Example: bingbridge auth login --no-browser
    """
    import webbrowser

    from bingbridge.auth.check import check_connection
    from bingbridge.auth.login import login as run_login

    def paste(url: str) -> str:
        click.echo(f"Open this URL, sign in, then paste the address you were sent back to:\n\n{url}\n", err=True)
        return str(click.prompt("Redirect address", err=True))

    def show_and_open(url: str) -> None:
        # Printed first, always: on a machine without a browser webbrowser.open() quietly does nothing.
        click.echo(f"Sign in at this URL (opening it in your browser, if there is one):\n\n{url}\n", err=True)
        click.echo(f"Waiting up to {timeout:.0f} s for the redirect to {client.settings.redirect_uri} ...", err=True)
        if not webbrowser.open(url):
            click.echo(
                "No browser found here. Open the URL where you can; if the redirect cannot reach this machine, "
                "stop (Ctrl-C) and run `bingbridge auth login --no-browser` to paste it instead.",
                err=True,
            )

    with make_client(config_file, **conn) as client:
        run_login(
            client.settings,
            client.tokens,
            client.http,
            open_url=None if no_browser else show_and_open,
            read_redirect=paste if no_browser else None,
            timeout=timeout,
        )
        report = check_connection(client)
    emit(
        {
            "connected": report.ok,
            "user_name": report.user_name,
            "token_file": str(client.settings.token_file),
        },
        as_json=as_json,
    )


@auth.command("status")
@connection_options
@json_option
@report_errors
def status(as_json: bool, config_file: Path | None, **conn: Any) -> None:
    """Show who is connected and when the tokens expire; warns about an idle refresh token.

    Example: bingbridge auth status
    """
    from bingbridge.auth.oauth import TokenManager
    from bingbridge.auth.tokens import REFRESH_TOKEN_IDLE_WARNING, FileTokenStore

    settings = load_settings(config_file, **conn)
    tokens = TokenManager(settings, FileTokenStore(settings.token_file)).tokens
    if tokens is None:
        fail("not connected", "Run `bingbridge auth login` (or set BINGBRIDGE_REFRESH_TOKEN).", code=1)
    idle = tokens.refresh_token_idle()
    warning = None
    if idle >= REFRESH_TOKEN_IDLE_WARNING:
        warning = (
            f"the refresh token has not been used for {idle.days} days; Microsoft may expire it at 90 days. "
            "Run `bingbridge auth test` to renew it."
        )
    data = {
        "environment": settings.environment,
        "client_id": settings.client_id,
        "user_name": tokens.user_name,
        "user_id": tokens.user_id,
        "access_token_expires_at": tokens.expires_at.isoformat(),
        "access_token_expired": tokens.expires_soon(),
        "refresh_token_last_used_at": tokens.refresh_token_used_at.isoformat(),
        "warning": warning,
    }
    emit(data, as_json=as_json)
    if warning and not as_json:
        click.echo(f"warning: {warning}", err=True)


@auth.command("test")
@connection_options
@json_option
@report_errors
def test(as_json: bool, config_file: Path | None, **conn: Any) -> None:
    """Get a fresh token and make a real API call (GetUser); say exactly what failed.

    Example: bingbridge auth test --json
    """
    from dataclasses import asdict

    from bingbridge.auth.check import check_connection

    with make_client(config_file, **conn) as client:
        report = check_connection(client)
    emit(asdict(report), as_json=as_json)
    if not report.ok:
        raise SystemExit(1)
