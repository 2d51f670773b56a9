"""Conversion goals and UET tags of a destination's account: list them, create an offline goal (or every goal the
destination's event mapping names and the account lacks), create a UET tag and show its tracking script.

Calls act with the destination's own credentials and make no retries (`max_retries=0`): a person is waiting, and
pressing the button again is better than a page that hangs through a throttle window. Failures are shown with
Microsoft's codes and TrackingId.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.responses import Response
from starlette.routing import Route

from bingbridge.api.campaign_management import ItemResult
from bingbridge.api.client import BingAdsClient
from bingbridge.api.models.campaign import ConversionGoal, ConversionGoalRevenue, OfflineConversionGoal, UetTag
from bingbridge.errors import BingBridgeError, FieldProblem, ValidationError
from bingbridge.tracking.destinations import Destination, destination_client, get_destination
from bingbridge.web.dashboard.core import Ctx, Dashboard, Form, action, page

T = TypeVar("T")
REVENUE_TYPES = ("NoValue", "FixedValue", "VariableValue")
COUNT_TYPES = ("All", "Unique")


def _client(ctx: Ctx, destination: Destination) -> BingAdsClient:
    return destination_client(
        ctx.dash.engine, ctx.dash.box, destination, ctx.dash.settings, http=ctx.dash.http, max_retries=0
    )


def _call(ctx: Ctx, destination: Destination, work: Callable[[BingAdsClient], T]) -> tuple[T | None, str | None]:
    """Run `work` with the destination's client: (result, None) or (None, what went wrong)."""
    try:
        with _client(ctx, destination) as client:
            return work(client), None
    except ValidationError:
        raise
    except BingBridgeError as exc:
        return None, str(exc) + (f" — {exc.hint}" if exc.hint else "")


def _problems_by_field(problems: list[FieldProblem]) -> dict[str, str]:
    """'conversion_goals[0].revenue.value' -> 'revenue.value': the form's own field names."""
    found: dict[str, str] = {}
    for p in problems:
        name = p.field.split("].", 1)[1] if "]." in p.field else p.field
        found.setdefault(name, p.message)
    return found


def _item_error(results: list[ItemResult[T]]) -> str | None:
    errors = [e for r in results for e in r.errors]
    if not errors:
        return None
    tracking = results[0].tracking_id if results else None
    head = f"TrackingId {tracking}: " if tracking else ""
    return head + "; ".join(str(e) for e in errors)


def goals_page(
    ctx: Ctx,
    *,
    status: int = 200,
    goal_errors: dict[str, str] | None = None,
    tag_errors: dict[str, str] | None = None,
    new_tag: UetTag | None = None,
) -> Response:
    destination = get_destination(ctx.dash.engine, ctx.path_int("destination_id"))
    if destination is None:
        return ctx.not_found("This destination")

    def load(client: BingAdsClient) -> tuple[list[ConversionGoal], list[UetTag]]:
        service = client.campaign_management
        goals = service.get_conversion_goals(account_id=destination.account_id).conversion_goals or []
        tags = service.get_uet_tags(account_id=destination.account_id).uet_tags or []
        return [g for g in goals if g is not None], [t for t in tags if t is not None]

    loaded, load_error = _call(ctx, destination, load)
    goals, tags = loaded or ([], [])
    mapped = sorted(set(destination.conversion_names.values()))
    present = {g.name for g in goals if isinstance(g, OfflineConversionGoal)}
    return ctx.render(
        "goals.html",
        status,
        destination=destination,
        goals=goals,
        tags=tags,
        load_error=load_error,
        missing=[name for name in mapped if name not in present] if loaded else [],
        goal_errors=goal_errors or {},
        tag_errors=tag_errors or {},
        form=ctx.form,
        new_tag=new_tag,
        revenue_types=REVENUE_TYPES,
        count_types=COUNT_TYPES,
    )


def _goal_from_form(form: Form) -> tuple[OfflineConversionGoal | None, dict[str, str]]:
    errors: dict[str, str] = {}
    revenue_type = form.text("revenue_type") or "NoValue"
    if revenue_type not in REVENUE_TYPES:
        errors["revenue.type"] = f"choose one of {', '.join(REVENUE_TYPES)}"
    value = None
    if form.text("revenue_value"):
        try:
            value = float(form.text("revenue_value"))
        except ValueError:
            errors["revenue.value"] = "must be a number such as 25.00"
    days_text = form.text("window_days") or "30"
    if not days_text.isdigit() or not 1 <= int(days_text) <= 90:
        errors["conversion_window_in_minutes"] = "give 1 to 90 days"
    count_type = form.text("count_type") or "All"
    if count_type not in COUNT_TYPES:
        errors["count_type"] = "choose All or Unique"
    if errors:
        return None, errors
    goal = OfflineConversionGoal(
        name=form.text("name"),
        revenue=ConversionGoalRevenue(
            type=revenue_type,  # checked against REVENUE_TYPES above
            value=value,
            currency_code=form.text("currency_code").upper() or None,
        ),
        count_type=count_type,  # checked against COUNT_TYPES above
        conversion_window_in_minutes=int(days_text) * 1440,
    )
    return goal, {}


def create_goal(ctx: Ctx) -> Response:
    """Create one offline conversion goal (the seed's defaults for what the form leaves out)."""
    destination = get_destination(ctx.dash.engine, ctx.path_int("destination_id"))
    if destination is None:
        return ctx.not_found("This destination")
    goal, errors = _goal_from_form(ctx.form)
    if goal is None:
        return goals_page(ctx, status=422, goal_errors=errors)
    try:
        results, failure = _call(
            ctx,
            destination,
            lambda c: c.campaign_management.add_conversion_goals([goal], account_id=destination.account_id),
        )
    except ValidationError as exc:
        return goals_page(ctx, status=422, goal_errors=_problems_by_field(exc.problems))
    failure = failure or _item_error(results or [])
    if failure:
        return goals_page(ctx, status=502, goal_errors={"_": failure})
    goal_id = results[0].value if results else None
    return ctx.redirect(
        f"/destinations/{destination.id}/goals", ("ok", f"Offline goal {goal.name!r} created (id {goal_id}).")
    )


def create_mapped_goals(ctx: Ctx) -> Response:
    """Create an offline goal for every conversion name of the destination's mapping that the account lacks
    (uploads to a name without a goal are refused with 5606)."""
    destination = get_destination(ctx.dash.engine, ctx.path_int("destination_id"))
    if destination is None:
        return ctx.not_found("This destination")

    def create(client: BingAdsClient) -> list[str]:
        service = client.campaign_management
        existing = service.get_conversion_goals(["OfflineConversion"], account_id=destination.account_id)
        present = {g.name for g in existing.conversion_goals or [] if g is not None}
        names = [n for n in sorted(set(destination.conversion_names.values())) if n not in present]
        if names:
            results = service.add_conversion_goals(
                [OfflineConversionGoal(name=n) for n in names], account_id=destination.account_id
            )
            error = _item_error(results)
            if error:
                raise ValidationError([FieldProblem("goals", error)], operation="AddConversionGoals")
        return names

    try:
        created, failure = _call(ctx, destination, create)
    except ValidationError as exc:
        return goals_page(ctx, status=502, goal_errors={"_": str(exc)})
    if failure:
        return goals_page(ctx, status=502, goal_errors={"_": failure})
    text = f"Created offline goals: {', '.join(created)}." if created else "Every mapped goal exists already."
    return ctx.redirect(f"/destinations/{destination.id}/goals", ("ok", text))


def create_tag(ctx: Ctx) -> Response:
    """Create a UET tag and show its tracking script on the page that answers."""
    destination = get_destination(ctx.dash.engine, ctx.path_int("destination_id"))
    if destination is None:
        return ctx.not_found("This destination")
    tag = UetTag(name=ctx.form.text("tag_name"), description=ctx.form.text("tag_description") or None)
    try:
        results, failure = _call(
            ctx, destination, lambda c: c.campaign_management.add_uet_tags([tag], account_id=destination.account_id)
        )
    except ValidationError as exc:
        return goals_page(ctx, status=422, tag_errors=_problems_by_field(exc.problems))
    failure = failure or _item_error(results or [])
    if failure or not results or results[0].value is None:
        return goals_page(ctx, status=502, tag_errors={"_": failure or "Microsoft returned no tag"})
    ctx.form = Form()  # created: the form starts empty again
    return goals_page(ctx, status=201, new_tag=results[0].value)


def routes(dash: Dashboard) -> list[Route]:
    return [
        page(dash, "/destinations/{destination_id:int}/goals", goals_page),
        action(dash, "/destinations/{destination_id:int}/goals", create_goal),
        action(dash, "/destinations/{destination_id:int}/goals/mapped", create_mapped_goals),
        action(dash, "/destinations/{destination_id:int}/uet-tags", create_tag),
    ]
