"""Campaign Management for conversions: conversion goals, UET tags, offline conversions and adjustments.

Limits and codes: protocol reference 2.2, 3.1 and 3.3 (100 goals or tags per call, 1,000 conversions per call,
conversion window 1..129,600 minutes, names up to 100 characters).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bingbridge.api.calls import AsyncService, Call, SyncService, answer, operation
from bingbridge.api.goal_revenue import default_scope, revenue_problem
from bingbridge.api.models import campaign as m
from bingbridge.api.models.base import WireResponse
from bingbridge.api.operations import OperationTable
from bingbridge.errors import ErrorDetail, FieldProblem, ValidationError

OPERATIONS = OperationTable("campaign-management", "/CampaignManagement/v13", needs_account=True)
ADD_CONVERSION_GOALS = OPERATIONS.add(
    "POST", "/ConversionGoals", m.AddConversionGoalsRequest, m.AddConversionGoalsResponse
)
UPDATE_CONVERSION_GOALS = OPERATIONS.add(
    "PUT", "/ConversionGoals", m.UpdateConversionGoalsRequest, m.UpdateConversionGoalsResponse
)
GET_CONVERSION_GOALS_BY_IDS = OPERATIONS.add(
    "POST", "/ConversionGoals/QueryByIds", m.GetConversionGoalsByIdsRequest, m.GetConversionGoalsByIdsResponse
)
GET_CONVERSION_GOALS_BY_TAG_IDS = OPERATIONS.add(
    "POST",
    "/ConversionGoals/QueryByTagIds",
    m.GetConversionGoalsByTagIdsRequest,
    m.GetConversionGoalsByTagIdsResponse,
)
APPLY_OFFLINE_CONVERSIONS = OPERATIONS.add(
    "POST", "/OfflineConversions/Apply", m.ApplyOfflineConversionsRequest, m.ApplyOfflineConversionsResponse
)
APPLY_OFFLINE_CONVERSION_ADJUSTMENTS = OPERATIONS.add(
    "POST",
    "/OfflineConversionAdjustments/Apply",
    m.ApplyOfflineConversionAdjustmentsRequest,
    m.ApplyOfflineConversionAdjustmentsResponse,
)
ADD_UET_TAGS = OPERATIONS.add("POST", "/UetTags", m.AddUetTagsRequest, m.AddUetTagsResponse)
UPDATE_UET_TAGS = OPERATIONS.add("PUT", "/UetTags", m.UpdateUetTagsRequest, m.UpdateUetTagsResponse)
GET_UET_TAGS_BY_IDS = OPERATIONS.add("POST", "/UetTags/QueryByIds", m.GetUetTagsByIdsRequest, m.GetUetTagsByIdsResponse)
GET_ACCOUNT_PROPERTIES = OPERATIONS.add(
    "POST", "/AccountProperties/Query", m.GetAccountPropertiesRequest, m.GetAccountPropertiesResponse
)
SET_ACCOUNT_PROPERTIES = OPERATIONS.add(
    "POST", "/AccountProperties/Set", m.SetAccountPropertiesRequest, m.SetAccountPropertiesResponse
)

MAX_GOALS_PER_CALL = 100
MAX_TAGS_PER_CALL = 100
MAX_CONVERSIONS_PER_CALL = 1000
MAX_NAME = 100
MIN_WINDOW, MAX_WINDOW = 1, 129_600
MAX_VIEW_THROUGH_WINDOW = 43_200
OFFLINE_GOAL_DEFAULT_WINDOW = 43_200  # 30 days, the seed's and Microsoft's default

T = TypeVar("T")


@dataclass(frozen=True)
class ItemResult(Generic[T]):
    """What happened to item `index` of a request: its result (an id, a tag, ...) or its errors."""

    index: int
    value: T | None = None
    errors: list[ErrorDetail] = field(default_factory=list)
    tracking_id: str | None = None  # of the call that carried the item

    @property
    def ok(self) -> bool:
        return not self.errors


def batch_details(errors: Sequence[m.BatchError] | None) -> dict[int, list[ErrorDetail]]:
    """Group partial errors by request index."""
    grouped: dict[int, list[ErrorDetail]] = {}
    for e in errors or []:
        grouped.setdefault(e.index, []).append(
            ErrorDetail(
                code=e.code,
                error_code=e.error_code,
                message=e.message,
                field_path=e.field_path,
                index=e.index,
                details=e.details,
            )
        )
    return grouped


def per_item(
    count: int, answer: WireResponse, errors: Sequence[m.BatchError] | None, values: Sequence[T | None] = ()
) -> list[ItemResult[T]]:
    """Index-aligned results: value where the item succeeded, errors where it did not."""
    grouped = batch_details(errors)
    return [
        ItemResult(i, values[i] if i < len(values) else None, grouped.get(i, []), answer.tracking_id)
        for i in range(count)
    ]


def _check(problems: list[FieldProblem], operation: str) -> None:
    if problems:
        raise ValidationError(problems, operation=operation)


def _count(items: Sequence[object], limit: int, name: str, problems: list[FieldProblem]) -> None:
    if not 1 <= len(items) <= limit:
        problems.append(FieldProblem(name, f"give 1 to {limit} per call, got {len(items)}"))


def _goal_problems(goal: m.ConversionGoal, where: str, *, adding: bool) -> list[FieldProblem]:
    problems = []
    if adding:
        if not goal.name:
            problems.append(FieldProblem(f"{where}.name", "required"))
        if goal.id is not None:
            problems.append(FieldProblem(f"{where}.id", "must be empty when adding; Microsoft assigns it"))
    elif goal.id is None:
        problems.append(FieldProblem(f"{where}.id", "required to update a goal"))
    if goal.name is not None and len(goal.name) > MAX_NAME:
        problems.append(FieldProblem(f"{where}.name", f"at most {MAX_NAME} characters, got {len(goal.name)}"))
    window = goal.conversion_window_in_minutes
    if window is not None and not MIN_WINDOW <= window <= MAX_WINDOW:
        problems.append(
            FieldProblem(
                f"{where}.conversion_window_in_minutes",
                f"must be {MIN_WINDOW}..{MAX_WINDOW} minutes (90 days), got {window}",
            )
        )
    view_through = goal.view_through_conversion_window_in_minutes
    # Microsoft: "The minimum value supported is 1 minute" (ConversionGoal.ViewThroughConversionWindowInMinutes).
    if view_through is not None and not 1 <= view_through <= MAX_VIEW_THROUGH_WINDOW:
        problems.append(
            FieldProblem(
                f"{where}.view_through_conversion_window_in_minutes", f"must be 1..{MAX_VIEW_THROUGH_WINDOW} minutes"
            )
        )
    scope = goal.scope or (default_scope(goal.type) if adding else None)
    revenue = revenue_problem(goal.type, scope, goal.revenue)
    if revenue is not None:
        problems.append(FieldProblem(f"{where}.revenue.{revenue.member}", revenue.message))
    problems += _subtype_problems(goal, where, adding=adding)
    return problems


def _subtype_problems(goal: m.ConversionGoal, where: str, *, adding: bool) -> list[FieldProblem]:
    problems = []
    if isinstance(goal, m.OfflineConversionGoal) and goal.tag_id is not None:
        problems.append(FieldProblem(f"{where}.tag_id", "offline goals have no UET tag; leave it empty"))
    if not adding:
        return problems
    if isinstance(goal, m.UrlGoal | m.EventGoal | m.DurationGoal | m.PagesViewedPerVisitGoal) and goal.tag_id is None:
        problems.append(FieldProblem(f"{where}.tag_id", f"{goal.type} goals need the id of a UET tag"))
    if isinstance(goal, m.UrlGoal) and not (goal.url_expression and goal.url_operator):
        problems.append(FieldProblem(f"{where}.url_expression", "Url goals need url_expression and url_operator"))
    # Microsoft 5336: "At least one expression and operator pair is required for an Event Goal."
    if isinstance(goal, m.EventGoal) and not any(
        (
            goal.action_expression and goal.action_operator,
            goal.category_expression and goal.category_operator,
            goal.label_expression and goal.label_operator,
            goal.value is not None and goal.value_operator,
        )
    ):
        problems.append(
            FieldProblem(f"{where}.action_expression", "Event goals need at least one expression with its operator")
        )
    if isinstance(goal, m.DurationGoal) and not (goal.minimum_duration_in_seconds or 0) > 0:
        problems.append(FieldProblem(f"{where}.minimum_duration_in_seconds", "must be more than 0"))
    if isinstance(goal, m.PagesViewedPerVisitGoal) and not (goal.minimum_pages_viewed or 0) > 0:
        problems.append(FieldProblem(f"{where}.minimum_pages_viewed", "must be more than 0"))
    return problems


def with_offline_defaults(goal: m.ConversionGoal) -> m.ConversionGoal:
    """The seed's defaults for a new offline goal: 30-day window, count All, Account scope, Active, flags off."""
    if not isinstance(goal, m.OfflineConversionGoal):
        return goal
    defaults = {
        "conversion_window_in_minutes": OFFLINE_GOAL_DEFAULT_WINDOW,
        "count_type": "All",
        "exclude_from_bidding": False,
        "is_enhanced_conversions_enabled": False,
        "is_externally_attributed": False,
        "scope": "Account",
        "status": "Active",
    }
    return goal.model_copy(update={k: v for k, v in defaults.items() if getattr(goal, k) is None})


def add_conversion_goals_request(goals: Sequence[m.ConversionGoal]) -> m.AddConversionGoalsRequest:
    problems: list[FieldProblem] = []
    _count(goals, MAX_GOALS_PER_CALL, "conversion_goals", problems)
    prepared = [with_offline_defaults(g) for g in goals]
    seen: set[str] = set()
    for i, goal in enumerate(prepared):
        where = f"conversion_goals[{i}]"
        problems += _goal_problems(goal, where, adding=True)
        if goal.name and goal.name.lower() in seen:
            problems.append(FieldProblem(f"{where}.name", f"{goal.name!r} appears twice; goal names are unique"))
        seen.add((goal.name or "").lower())
    _check(problems, ADD_CONVERSION_GOALS.name)
    return m.AddConversionGoalsRequest(conversion_goals=prepared)


def update_conversion_goals_request(goals: Sequence[m.ConversionGoal]) -> m.UpdateConversionGoalsRequest:
    problems: list[FieldProblem] = []
    _count(goals, MAX_GOALS_PER_CALL, "conversion_goals", problems)
    for i, goal in enumerate(goals):
        problems += _goal_problems(goal, f"conversion_goals[{i}]", adding=False)
    _check(problems, UPDATE_CONVERSION_GOALS.name)
    return m.UpdateConversionGoalsRequest(conversion_goals=list(goals))


def goal_types_problem(types: Sequence[str]) -> list[FieldProblem]:
    unknown = [t for t in types if t not in m.GOAL_TYPES]
    if not types or unknown:
        return [FieldProblem("conversion_goal_types", f"give one or more of {', '.join(m.GOAL_TYPES)}")]
    return []


def _tag_problems(tag: m.UetTag, where: str, *, adding: bool) -> list[FieldProblem]:
    problems = []
    if adding and not tag.name:
        problems.append(FieldProblem(f"{where}.name", "required"))
    if adding and tag.id is not None:
        problems.append(FieldProblem(f"{where}.id", "must be empty when adding; Microsoft assigns it"))
    if not adding and tag.id is None:
        problems.append(FieldProblem(f"{where}.id", "required to update a tag"))
    if tag.name is not None and len(tag.name) > MAX_NAME:
        problems.append(FieldProblem(f"{where}.name", f"at most {MAX_NAME} characters, got {len(tag.name)}"))
    if tag.tracking_script or tag.tracking_no_script or tag.tracking_status:
        problems.append(FieldProblem(f"{where}.tracking_script", "is read-only; leave the tracking fields empty"))
    return problems


def uet_tags_problems(tags: Sequence[m.UetTag], *, adding: bool) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    _count(tags, MAX_TAGS_PER_CALL, "uet_tags", problems)
    for i, tag in enumerate(tags):
        problems += _tag_problems(tag, f"uet_tags[{i}]", adding=adding)
    return problems


class _CampaignManagementCalls:
    """The typed conversion calls, described once for both clients.

    Every call acts for the account in BINGBRIDGE_ACCOUNT_ID unless `account_id` is given.
    """

    @operation
    def add_conversion_goals(
        self, goals: Sequence[m.ConversionGoal], *, account_id: int | None = None
    ) -> Call[list[ItemResult[int]]]:
        """Create goals (offline goals get the seed's defaults); the id of each, or why it was refused."""
        request = add_conversion_goals_request(goals)
        return Call.of(
            ADD_CONVERSION_GOALS,
            request,
            lambda r: per_item(len(goals), r, r.partial_errors, r.conversion_goal_ids or []),
            account_id=account_id,
        )

    @operation
    def update_conversion_goals(
        self, goals: Sequence[m.ConversionGoal], *, account_id: int | None = None
    ) -> Call[list[ItemResult[None]]]:
        """Partial update: only the members you set change."""
        request = update_conversion_goals_request(goals)
        return Call.of(
            UPDATE_CONVERSION_GOALS, request, lambda r: per_item(len(goals), r, r.partial_errors), account_id=account_id
        )

    @operation
    def get_conversion_goals(
        self,
        types: Sequence[str] = m.GOAL_TYPES,
        ids: Sequence[int] | None = None,
        *,
        additional_fields: Sequence[str] | None = None,
        account_id: int | None = None,
    ) -> Call[m.GetConversionGoalsByIdsResponse]:
        """Goals by id (None where an id is unknown), or every goal of `types` when `ids` is None."""
        problems = goal_types_problem(types)
        if ids is not None and len(ids) > MAX_GOALS_PER_CALL:
            problems.append(FieldProblem("ids", f"at most {MAX_GOALS_PER_CALL} ids per call, got {len(ids)}"))
        _check(problems, GET_CONVERSION_GOALS_BY_IDS.name)
        request = m.GetConversionGoalsByIdsRequest(
            conversion_goal_ids=list(ids) if ids is not None else None,
            conversion_goal_types=list(types),
            return_additional_fields=list(additional_fields) if additional_fields else None,
        )
        return Call.of(GET_CONVERSION_GOALS_BY_IDS, request, answer, account_id=account_id)

    @operation
    def get_conversion_goals_by_tag_ids(
        self,
        tag_ids: Sequence[int],
        types: Sequence[str] = m.GOAL_TYPES,
        *,
        account_id: int | None = None,
    ) -> Call[m.GetConversionGoalsByTagIdsResponse]:
        """The goals of `types` measured by these UET tags."""
        problems = goal_types_problem(types)
        if not tag_ids:
            problems.append(FieldProblem("tag_ids", "give at least one UET tag id"))
        _check(problems, GET_CONVERSION_GOALS_BY_TAG_IDS.name)
        request = m.GetConversionGoalsByTagIdsRequest(tag_ids=list(tag_ids), conversion_goal_types=list(types))
        return Call.of(GET_CONVERSION_GOALS_BY_TAG_IDS, request, answer, account_id=account_id)

    @operation
    def add_uet_tags(
        self, tags: Sequence[m.UetTag], *, account_id: int | None = None
    ) -> Call[list[ItemResult[m.UetTag]]]:
        """Create tags; each result carries the new tag with its id, tracking script and status."""
        _check(uet_tags_problems(tags, adding=True), ADD_UET_TAGS.name)
        return Call.of(
            ADD_UET_TAGS,
            m.AddUetTagsRequest(uet_tags=list(tags)),
            lambda r: per_item(len(tags), r, r.partial_errors, r.uet_tags or []),
            account_id=account_id,
        )

    @operation
    def update_uet_tags(
        self, tags: Sequence[m.UetTag], *, account_id: int | None = None
    ) -> Call[list[ItemResult[None]]]:
        """Rename or describe tags; only the members you set change."""
        _check(uet_tags_problems(tags, adding=False), UPDATE_UET_TAGS.name)
        return Call.of(
            UPDATE_UET_TAGS,
            m.UpdateUetTagsRequest(uet_tags=list(tags)),
            lambda r: per_item(len(tags), r, r.partial_errors),
            account_id=account_id,
        )

    @operation
    def get_uet_tags(
        self, ids: Sequence[int] | None = None, *, account_id: int | None = None
    ) -> Call[m.GetUetTagsByIdsResponse]:
        """Tags by id (None where unknown), or all of the customer's tags when `ids` is None."""
        if ids is not None and len(ids) > MAX_TAGS_PER_CALL:
            _check([FieldProblem("ids", f"at most {MAX_TAGS_PER_CALL} ids per call")], GET_UET_TAGS_BY_IDS.name)
        request = m.GetUetTagsByIdsRequest(tag_ids=list(ids) if ids is not None else None)
        return Call.of(GET_UET_TAGS_BY_IDS, request, answer, account_id=account_id)

    @operation
    def apply_offline_conversions(
        self, conversions: Sequence[m.OfflineConversion], *, account_id: int | None = None
    ) -> Call[list[ItemResult[None]]]:
        """One call of up to 1,000 conversions. For files and larger lists use `bingbridge.conversions.upload`."""
        problems: list[FieldProblem] = []
        _count(conversions, MAX_CONVERSIONS_PER_CALL, "offline_conversions", problems)
        _check(problems, APPLY_OFFLINE_CONVERSIONS.name)
        request = m.ApplyOfflineConversionsRequest(offline_conversions=list(conversions))
        return Call.of(
            APPLY_OFFLINE_CONVERSIONS,
            request,
            lambda r: per_item(len(conversions), r, r.partial_errors),
            account_id=account_id,
        )

    @operation
    def apply_offline_conversion_adjustments(
        self, adjustments: Sequence[m.OfflineConversionAdjustment], *, account_id: int | None = None
    ) -> Call[list[ItemResult[None]]]:
        """Restate or retract up to 1,000 uploaded offline conversions in one call."""
        problems: list[FieldProblem] = []
        _count(adjustments, MAX_CONVERSIONS_PER_CALL, "offline_conversion_adjustments", problems)
        _check(problems, APPLY_OFFLINE_CONVERSION_ADJUSTMENTS.name)
        request = m.ApplyOfflineConversionAdjustmentsRequest(offline_conversion_adjustments=list(adjustments))
        return Call.of(
            APPLY_OFFLINE_CONVERSION_ADJUSTMENTS,
            request,
            lambda r: per_item(len(adjustments), r, r.partial_errors),
            account_id=account_id,
        )

    @operation
    def get_account_properties(
        self, names: Sequence[str], *, account_id: int | None = None
    ) -> Call[dict[str, str | None]]:
        """The account's properties by name (e.g. MSCLKIDAutoTaggingEnabled -> "true")."""
        _check([FieldProblem("names", "give at least one property name")] if not names else [], "GetAccountProperties")
        return _get_properties(names, _properties, account_id)

    @operation
    def set_account_properties(self, properties: dict[str, str], *, account_id: int | None = None) -> Call[None]:
        """Set properties; Microsoft sets all of them or none."""
        _check(
            [FieldProblem("properties", "give at least one property")] if not properties else [], "SetAccountProperties"
        )
        return _set_properties(properties, account_id)

    @operation
    def msclkid_auto_tagging(self, *, account_id: int | None = None) -> Call[bool]:
        """Whether the account adds an msclkid to landing URLs (without it no click can be matched)."""
        return _get_properties(
            [m.MSCLKID_AUTO_TAGGING],
            lambda r: (_properties(r).get(m.MSCLKID_AUTO_TAGGING) or "").strip().lower() == "true",
            account_id,
        )

    @operation
    def enable_msclkid_auto_tagging(self, *, account_id: int | None = None) -> Call[None]:
        """Turn MSCLKID auto-tagging on for the account."""
        return _set_properties({m.MSCLKID_AUTO_TAGGING: "true"}, account_id)


def _properties(answer: m.GetAccountPropertiesResponse) -> dict[str, str | None]:
    return {p.name: p.value for p in answer.account_properties or [] if p is not None and p.name}


def _get_properties(
    names: Sequence[str], read: Callable[[m.GetAccountPropertiesResponse], T], account_id: int | None
) -> Call[T]:
    request = m.GetAccountPropertiesRequest(account_property_names=list(names))
    return Call.of(GET_ACCOUNT_PROPERTIES, request, read, account_id=account_id)


def _set_properties(properties: dict[str, str], account_id: int | None) -> Call[None]:
    items = [m.AccountProperty(name=name, value=value) for name, value in properties.items()]
    request = m.SetAccountPropertiesRequest(account_properties=items)
    return Call.of(SET_ACCOUNT_PROPERTIES, request, lambda r: None, account_id=account_id)


class CampaignManagement(_CampaignManagementCalls, SyncService):
    """Typed conversion-related Campaign Management operations, `client.campaign_management`."""


class AsyncCampaignManagement(_CampaignManagementCalls, AsyncService):
    """Typed conversion-related Campaign Management operations for AsyncBingAdsClient."""
