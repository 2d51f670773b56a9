"""`bingbridge raw`: any REST or SOAP operation, with your own body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bingbridge.api.services import SERVICES
from bingbridge.cli.common import (
    body_option,
    connection_options,
    emit,
    json_option,
    make_client,
    read_input,
    read_json_input,
    report_errors,
)

SOAP_SUNSET_NOTICE = "notice: Microsoft retires the SOAP API on 2027-01-31; use `bingbridge raw rest` instead."
_service_option = click.option(
    "--service", type=click.Choice(list(SERVICES)), default="customer-management", show_default=True
)
_scope_options = [
    click.option("--customer-id", type=int, default=None, help="CustomerId header (default from settings)."),
    click.option("--account-id", type=int, default=None, help="CustomerAccountId header (default from settings)."),
]


@click.group()
def raw() -> None:
    """Send a request of your own to any Microsoft Advertising service.

    Example: bingbridge raw rest POST /CustomerManagement/v13/User/Query --body user.json
    """


@raw.command("rest")
@_service_option
@click.argument("method", type=click.Choice(["GET", "POST", "PUT", "DELETE"], case_sensitive=False))
@click.argument("path")
@body_option(required=False)
@_scope_options[0]
@_scope_options[1]
@connection_options
@json_option
@report_errors
def rest(
    service: str,
    method: str,
    path: str,
    body_source: str | None,
    customer_id: int | None,
    account_id: int | None,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Send a REST/JSON request and print the answer.

    Example: bingbridge raw rest --service customer-management POST /CustomerManagement/v13/User/Query --body user.json
    """
    body = read_json_input(body_source) if body_source else {}
    with make_client(config_file, customer_id=customer_id, account_id=account_id, **conn) as client:
        reply = client.raw_rest(service, method, path, body)
    if as_json:
        emit({"status": reply.status, "tracking_id": reply.tracking_id, "body": reply.body}, as_json=True)
    else:
        click.echo(json.dumps(reply.body, indent=2))
        click.echo(f"TrackingId: {reply.tracking_id}", err=True)


@raw.command("soap")
@_service_option
@click.option("--action", required=True, help="The operation name, e.g. GetUser.")
@body_option(required=True)
@_scope_options[0]
@_scope_options[1]
@connection_options
@json_option
@report_errors
def soap(
    service: str,
    action: str,
    body_source: str,
    customer_id: int | None,
    account_id: int | None,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Wrap a SOAP body in an envelope with the service's headers, send it, print the reply body.

    Example: bingbridge raw soap --action GetUser --body request.xml
    """
    click.echo(SOAP_SUNSET_NOTICE, err=True)
    body = read_input(body_source)
    with make_client(config_file, customer_id=customer_id, account_id=account_id, **conn) as client:
        reply = client.raw_soap(service, action, body)
    if as_json:
        emit({"status": reply.status, "tracking_id": reply.tracking_id, "body": reply.body}, as_json=True)
    else:
        click.echo(reply.body)
        click.echo(f"TrackingId: {reply.tracking_id}", err=True)
