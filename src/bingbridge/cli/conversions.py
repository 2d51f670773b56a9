"""Conversion goals, UET tags and offline conversion uploads."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bingbridge.cli.common import (
    body_option,
    connection_options,
    emit,
    json_option,
    make_client,
    read_json_input,
    report_errors,
    to_rows,
)
from bingbridge.errors import FieldProblem, InputError, ValidationError

if TYPE_CHECKING:
    from bingbridge.api.campaign_management import ItemResult
    from bingbridge.api.models.campaign import UetTag
    from bingbridge.conversions.upload import UploadResult

_account_option = click.option(
    "--account-id", type=int, default=None, help="Ad account (default BINGBRIDGE_ACCOUNT_ID)."
)
GOAL_TYPES = ["OfflineConversion", "Url", "Duration", "PagesViewedPerVisit", "Event"]
GOAL_CATEGORIES = [
    "Purchase", "AddToCart", "BeginCheckout", "Subscribe", "SubmitLeadForm", "BookAppointment", "Signup",
    "RequestQuote", "GetDirections", "OutboundClick", "Contact", "PageView", "Download", "Other", "None", "Unknown",
]  # fmt: skip
# Goal members Microsoft returns only when asked for them.
SHOWN_FIELDS = [
    "GoalCategory",
    "IsExternallyAttributed",
    "ViewThroughConversionWindowInMinutes",
    "AttributionModelType",
    "IsEnhancedConversionsEnabled",
]


def _item_rows(results: list[ItemResult[Any]], value_key: str) -> list[dict[str, Any]]:
    from pydantic import BaseModel

    rows = []
    for r in results:
        value = r.value.model_dump(exclude_none=True) if isinstance(r.value, BaseModel) else r.value
        rows.append({"index": r.index, "ok": r.ok, value_key: value, "errors": [str(e) for e in r.errors]})
    return rows


def _fail_if_any(results: list[ItemResult[Any]]) -> None:
    if not all(r.ok for r in results):
        raise SystemExit(1)


@click.group()
def goals() -> None:
    """Conversion goals: offline, URL, duration, pages per visit, event.

    Example: bingbridge goals list --type OfflineConversion
    """


@goals.command("add")
@click.option("--name", required=True, help="Unique per customer, at most 100 characters.")
@click.option("--type", "goal_type", type=click.Choice(GOAL_TYPES), default="OfflineConversion", show_default=True)
@click.option("--window", "window", type=int, help="Conversion window in minutes, 1..129600 (offline default 43200).")
@click.option("--count-type", type=click.Choice(["All", "Unique"]), help="Offline default: All.")
@click.option("--category", type=click.Choice(GOAL_CATEGORIES), help="Goal category, e.g. Purchase or SubmitLeadForm.")
@click.option("--scope", type=click.Choice(["Account", "Customer"]), help="Offline default: Account.")
@click.option("--status", type=click.Choice(["Active", "Paused"]), help="Offline default: Active.")
@click.option("--exclude-from-bidding/--include-in-bidding", default=None)
@click.option("--enhanced-conversions/--no-enhanced-conversions", default=None)
@click.option("--externally-attributed/--not-externally-attributed", default=None, help="Offline goals only.")
@click.option("--revenue-type", type=click.Choice(["FixedValue", "VariableValue", "NoValue"]))
@click.option("--revenue-value", type=float)
@click.option("--currency", help="Revenue currency, e.g. USD.")
@click.option("--tag-id", type=int, help="UET tag (Url, Duration, PagesViewedPerVisit and Event goals).")
@click.option("--url-expression")
@click.option("--url-operator", type=click.Choice(["Equals", "BeginsWith", "RegularExpression", "Contains"]))
@click.option("--min-duration", "minimum_duration_in_seconds", type=int, help="Duration goals: seconds.")
@click.option("--min-pages", "minimum_pages_viewed", type=int, help="PagesViewedPerVisit goals.")
@click.option("--action", "action_expression", help="Event goals: the event action.")
@click.option("--event-category", "category_expression", help="Event goals: the event category.")
@_account_option
@connection_options
@json_option
@report_errors
def goals_add(
    name: str,
    goal_type: str,
    window: int | None,
    count_type: str | None,
    category: str | None,
    scope: str | None,
    status: str | None,
    exclude_from_bidding: bool | None,
    enhanced_conversions: bool | None,
    externally_attributed: bool | None,
    revenue_type: str | None,
    revenue_value: float | None,
    currency: str | None,
    account_id: int | None,
    as_json: bool,
    config_file: Path | None,
    **rest: Any,
) -> None:
    """Create a conversion goal (AddConversionGoals); offline goals get the usual defaults.

    Example: bingbridge goals add --name "Closed deal" --revenue-type VariableValue --revenue-value 100 --currency USD
    """
    from datetime import UTC, datetime

    from bingbridge.api.models import campaign as m
    from bingbridge.conversions.goal_log import goal_log_for

    subtype_fields = {
        k: rest.pop(k)
        for k in (
            "tag_id",
            "url_expression",
            "url_operator",
            "minimum_duration_in_seconds",
            "minimum_pages_viewed",
            "action_expression",
            "category_expression",
        )
    }
    classes: dict[str, type[m.ConversionGoal]] = {
        "OfflineConversion": m.OfflineConversionGoal,
        "Url": m.UrlGoal,
        "Duration": m.DurationGoal,
        "PagesViewedPerVisit": m.PagesViewedPerVisitGoal,
        "Event": m.EventGoal,
    }
    cls = classes[goal_type]
    fields: dict[str, Any] = {
        "name": name,
        "conversion_window_in_minutes": window,
        "count_type": count_type,
        "goal_category": category,
        "scope": scope,
        "status": status,
        "exclude_from_bidding": exclude_from_bidding,
        "is_enhanced_conversions_enabled": enhanced_conversions,
        "revenue": m.ConversionGoalRevenue.model_validate(
            {"Type": revenue_type, "Value": revenue_value, "CurrencyCode": currency}
        )
        if revenue_type or revenue_value is not None or currency
        else None,
        **{k: v for k, v in subtype_fields.items() if v is not None and k in cls.model_fields},
    }
    if goal_type == "OfflineConversion":
        fields["is_externally_attributed"] = externally_attributed
    goal = cls.model_validate({k: v for k, v in fields.items() if v is not None})
    with make_client(config_file, **rest) as client:
        results = client.campaign_management.add_conversion_goals([goal], account_id=account_id)
        account = account_id or client.settings.account_id
        log = goal_log_for(client.settings.token_file)
    for result in results:
        if result.ok and account:
            log.remember(account, result.value, name, datetime.now(UTC))
    emit(_item_rows(results, "goal_id"), as_json=as_json)
    _fail_if_any(results)


@goals.command("list")
@click.option("--type", "types", type=click.Choice([*GOAL_TYPES, "AppInstall", "InStoreTransaction"]), multiple=True)
@click.option("--id", "ids", type=int, multiple=True, help="Only these goals (repeat).")
@_account_option
@connection_options
@json_option
@report_errors
def goals_list(
    types: tuple[str, ...],
    ids: tuple[int, ...],
    account_id: int | None,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """List the account's conversion goals (GetConversionGoalsByIds), all types unless --type is given.

    Example: bingbridge goals list --type OfflineConversion
    """
    from bingbridge.api.models.campaign import GOAL_TYPES as ALL_TYPES

    with make_client(config_file, **conn) as client:
        answer = client.campaign_management.get_conversion_goals(
            list(types) or list(ALL_TYPES), list(ids) or None, additional_fields=SHOWN_FIELDS, account_id=account_id
        )
    found = [g for g in answer.conversion_goals or [] if g is not None]
    emit(
        to_rows(found),
        as_json=as_json,
        columns=["id", "name", "type", "status", "scope", "conversion_window_in_minutes", "count_type"],
    )
    for error in answer.partial_errors or []:
        click.echo(f"warning: id at position {error.index}: {error.code} {error.error_code}", err=True)


@goals.command("update")
@click.argument("goal_id", type=int)
@click.option("--type", "goal_type", type=click.Choice(GOAL_TYPES), default="OfflineConversion", show_default=True)
@click.option("--name")
@click.option("--status", type=click.Choice(["Active", "Paused", "Deleted"]))
@click.option("--window", type=int, help="Conversion window in minutes, 1..129600.")
@click.option("--count-type", type=click.Choice(["All", "Unique"]))
@click.option("--exclude-from-bidding/--include-in-bidding", default=None)
@_account_option
@connection_options
@json_option
@report_errors
def goals_update(
    goal_id: int,
    goal_type: str,
    name: str | None,
    status: str | None,
    window: int | None,
    count_type: str | None,
    exclude_from_bidding: bool | None,
    account_id: int | None,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Change some members of a goal (UpdateConversionGoals); unset options stay as they are.

    Example: bingbridge goals update 123456 --status Paused
    """
    from pydantic import TypeAdapter

    from bingbridge.api.models.campaign import AnyConversionGoal

    changes = {
        "Type": goal_type,
        "Id": goal_id,
        "Name": name,
        "Status": status,
        "ConversionWindowInMinutes": window,
        "CountType": count_type,
        "ExcludeFromBidding": exclude_from_bidding,
    }
    goal = TypeAdapter(AnyConversionGoal).validate_python({k: v for k, v in changes.items() if v is not None})
    with make_client(config_file, **conn) as client:
        results = client.campaign_management.update_conversion_goals([goal], account_id=account_id)
    emit(_item_rows(results, "value"), as_json=as_json)
    _fail_if_any(results)


@click.group("uet-tags")
def uet_tags() -> None:
    """Universal Event Tracking (UET) tags.

    Example: bingbridge uet-tags list
    """


@uet_tags.command("add")
@click.option("--name", required=True, help="Unique per customer, at most 100 characters.")
@click.option("--description")
@_account_option
@connection_options
@json_option
@report_errors
def uet_tags_add(
    name: str, description: str | None, account_id: int | None, as_json: bool, config_file: Path | None, **conn: Any
) -> None:
    """Create a UET tag and print its id and tracking script (AddUetTags).

    Example: bingbridge uet-tags add --name "Website"
    """
    from bingbridge.api.models.campaign import UetTag

    with make_client(config_file, **conn) as client:
        results = client.campaign_management.add_uet_tags(
            [UetTag(name=name, description=description)], account_id=account_id
        )
    if as_json:
        emit(_item_rows(results, "uet_tag"), as_json=True)
    else:
        _print_new_tags(results)
    _fail_if_any(results)


def _print_new_tags(results: list[ItemResult[UetTag]]) -> None:
    """Each new tag's id, then its tracking script exactly as it goes into the page (not JSON-escaped)."""
    for r in results:
        if not r.ok or r.value is None:
            click.echo(f"error: {'; '.join(str(e) for e in r.errors)}", err=True)
            continue
        click.echo(f"UET tag {r.value.id} ({r.value.name}). Put this into every page, before </head>:\n")
        click.echo(r.value.tracking_script or "(Microsoft returned no tracking script)")


@uet_tags.command("list")
@click.option("--id", "ids", type=int, multiple=True)
@_account_option
@connection_options
@json_option
@report_errors
def uet_tags_list(
    ids: tuple[int, ...], account_id: int | None, as_json: bool, config_file: Path | None, **conn: Any
) -> None:
    """List UET tags (GetUetTagsByIds); all of the customer's tags unless --id is given.

    Example: bingbridge uet-tags list --json
    """
    with make_client(config_file, **conn) as client:
        answer = client.campaign_management.get_uet_tags(list(ids) or None, account_id=account_id)
    found = [t for t in answer.uet_tags or [] if t is not None]
    emit(to_rows(found), as_json=as_json, columns=["id", "name", "tracking_status", "description"])


@uet_tags.command("update")
@click.argument("tag_id", type=int)
@click.option("--name")
@click.option("--description")
@_account_option
@connection_options
@json_option
@report_errors
def uet_tags_update(
    tag_id: int,
    name: str | None,
    description: str | None,
    account_id: int | None,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Rename or describe a UET tag (UpdateUetTags).

    Example: bingbridge uet-tags update 654321 --description "Main site"
    """
    from bingbridge.api.models.campaign import UetTag

    with make_client(config_file, **conn) as client:
        tag = UetTag(id=tag_id, name=name, description=description)
        results = client.campaign_management.update_uet_tags([tag], account_id=account_id)
    emit(_item_rows(results, "value"), as_json=as_json)
    _fail_if_any(results)


@click.group()
def conversions() -> None:
    """Upload offline conversions and adjustments, with a result for every row.

    Example: bingbridge conversions upload deals.csv --dry-run
    """


def _upload_options(func: Any) -> Any:
    options = [
        click.option("--dry-run", is_flag=True, help="Validate and report only; nothing is sent."),
        click.option(
            "--report", "report_path", type=click.Path(path_type=Path), help="Per-row report (.csv or .json)."
        ),
        click.option("--country", default="US", show_default=True, help="Country of phone numbers without +code."),
        click.option("--timezone", "zone", default="UTC", show_default=True, help="Zone of times without offset."),
        _account_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


_encoding_option = click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Text encoding of the file, e.g. cp1252 (Excel's CSV) or utf-16 (Excel's Unicode Text).",
)


@contextmanager
def _progress(total_hint: int | None) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal; nothing when output is piped."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("rows", total=total_hint)
        yield lambda n: bar.advance(task, n)


def _run_upload(
    source: Any,
    label: str,
    dry_run: bool,
    report_path: Path | None,
    country: str,
    zone: str,
    account_id: int | None,
    as_json: bool,
    config_file: Path | None,
    conn: dict[str, Any],
    adjustments: bool = False,
) -> None:
    from datetime import UTC, datetime

    from bingbridge.conversions.goal_log import goal_log_for
    from bingbridge.conversions.prepare import PrepareOptions
    from bingbridge.conversions.upload import upload_adjustments, upload_conversions, write_report

    options = PrepareOptions(now=datetime.now(UTC), default_country=country, default_timezone=_zone(zone))
    with _progress(None) as progress:
        if dry_run:
            result = (upload_adjustments if adjustments else upload_conversions)(
                None, source, options, progress=progress
            )
        else:
            with make_client(config_file, **conn) as client:
                if adjustments:
                    result = upload_adjustments(client, source, options, account_id=account_id, progress=progress)
                else:
                    log = goal_log_for(client.settings.token_file)
                    result = upload_conversions(
                        client, source, options, account_id=account_id, goal_log=log, progress=progress
                    )
    if not result.outcomes:
        raise InputError(f"{label} has no rows", hint="Give a file with a header line and at least one conversion.")
    if report_path:
        write_report(result, report_path)
    _print_result(result, as_json)
    if not result.ok:
        raise SystemExit(1)


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            [FieldProblem("timezone", f"{name!r} is not an IANA time zone such as UTC or Europe/Berlin")]
        ) from None


def _print_result(result: UploadResult, as_json: bool) -> None:
    from dataclasses import asdict

    if as_json:
        emit({**result.summary(), "rows": [asdict(o) for o in result.outcomes if o.status != "accepted"]}, as_json=True)
        return
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    emit({k: v for k, v in result.summary().items() if k != "warnings"}, as_json=False)
    bad = [asdict(o) for o in result.outcomes if o.status != "accepted"]
    if bad:
        emit(
            bad[:20],
            as_json=False,
            columns=["row", "status", "field", "code", "error_code", "reason"],
            title="Rejected rows",
        )
        if len(bad) > 20:
            click.echo(f"... and {len(bad) - 20} more; use --report FILE for all of them", err=True)


@conversions.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_upload_options
@_encoding_option
@connection_options
@json_option
@report_errors
def conversions_upload(
    file: Path,
    dry_run: bool,
    report_path: Path | None,
    country: str,
    zone: str,
    encoding: str,
    account_id: int | None,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Upload offline conversions from a CSV, JSON Lines or JSON file; every row gets a result.

    Columns: ConversionName, ConversionTime, ConversionValue, ConversionCurrencyCode, MicrosoftClickId (or msclkid),
    HashedEmailAddress / email, HashedPhoneNumber / phone, ExternalAttributionModel, ExternalAttributionCredit
    (Microsoft's names or snake_case). Plain e-mail and phone values are hashed here and never sent.
    Exits 1 when any row was not accepted.

    Example: bingbridge conversions upload deals.csv --report results.csv
    """
    from bingbridge.conversions.rows import read_rows

    source = read_rows(file, encoding)
    _run_upload(source, file.name, dry_run, report_path, country, zone, account_id, as_json, config_file, conn)


@conversions.command("apply")
@body_option(required=True)
@_upload_options
@connection_options
@json_option
@report_errors
def conversions_apply(
    body_source: str,
    dry_run: bool,
    report_path: Path | None,
    country: str,
    zone: str,
    account_id: int | None,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Apply conversions given as Microsoft's JSON body (ApplyOfflineConversions), validated row by row.

    Takes Microsoft's body {"OfflineConversions": [...]} from a file, or from standard input with --body -.

    Example: bingbridge conversions apply --body body.json
    """
    from bingbridge.conversions.rows import body_records, rows_from_records

    label = "standard input" if body_source == "-" else body_source
    source = rows_from_records(body_records(read_json_input(body_source), label))
    _run_upload(source, label, dry_run, report_path, country, zone, account_id, as_json, config_file, conn)


@conversions.command("adjust")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_upload_options
@_encoding_option
@connection_options
@json_option
@report_errors
def conversions_adjust(
    file: Path,
    dry_run: bool,
    report_path: Path | None,
    country: str,
    zone: str,
    encoding: str,
    account_id: int | None,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Restate or retract uploaded conversions (ApplyOfflineConversionAdjustments).

    Columns: AdjustmentType (Restate|Retract), AdjustmentTime, AdjustmentValue, AdjustmentCurrencyCode,
    ConversionName, ConversionTime and the click id or e-mail / phone of the original conversion.

    Example: bingbridge conversions adjust refunds.csv --report adjust-results.json
    """
    from bingbridge.conversions.rows import read_rows

    source = read_rows(file, encoding)
    _run_upload(source, file.name, dry_run, report_path, country, zone, account_id, as_json, config_file, conn, True)
