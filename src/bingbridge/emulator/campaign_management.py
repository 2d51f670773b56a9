"""Campaign Management conversion operations as Microsoft answers them: goals, UET tags, offline conversions.

Codes, symbols and messages are Microsoft's (operation error code list; protocol reference 3.1, 3.3, 4.3).
A request that breaks a per-call rule (an empty or oversized list, missing types) fails as a whole with an
ApiFaultDetail fault (HTTP 400) carrying OperationErrors. An item that breaks a rule is reported in PartialErrors
as a BatchError with its Index and a FieldPath such as `OfflineConversions[3].ConversionTime`; index-aligned
results (new ids, tags, goals) hold null at its position, and the other items still succeed.

Where Microsoft documents no behaviour the emulator makes a choice; each is marked `Choice:` in a comment. The
broad ones:

- One error per item: the first rule the item breaks, in the order the checks below are written.
- Rules Microsoft names without a number (hashed e-mail/phone not hashed, external attribution) answer code 201
  with Microsoft's status name as ErrorCode.
- A conversion whose name matches no offline goal is answered 5606, as the error list describes, although
  Microsoft's own SDK sample says such rows may be accepted silently; a test that passes here cannot have lost
  rows that way. Names match exactly (case-sensitive).
- Uploads to a goal created less than two hours ago are accepted (no 5615): Microsoft accepts them and may not
  apply them, which a client should warn about. Well-formed click ids the emulator never issued are accepted
  too: Microsoft cannot match every click at upload time.
- Goals and UET tags belong to the customer that owns the CustomerAccountId account.
- A ConversionTime or AdjustmentTime that is not an xs:dateTime fails the whole request (201, like any body
  that cannot be read), a missing one fails its item (5608, 5619); 5607 and 5621 (time invalid) are not answered.
- Answers always carry PartialErrors, empty when nothing was refused (Microsoft's form for "no errors" is
  unverified; an empty list is what every client reads correctly).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bingbridge.api import campaign_management as rules
from bingbridge.api import goal_revenue
from bingbridge.api.goal_revenue import CURRENCY, CUSTOMER_ONLY, FIXED_REVENUE_ONLY
from bingbridge.api.models import campaign as m
from bingbridge.emulator import faults
from bingbridge.emulator.campaign_state import Accepted, StoredGoal, StoredTag
from bingbridge.emulator.context import Caller, Handler, require_account
from bingbridge.emulator.state import EmulatorState

# Microsoft's symbols and messages for the codes these operations answer (operation error code list).
ERRORS: dict[int, tuple[str, str]] = {
    201: ("ApiInputValidationError", "The request message is not valid."),
    5300: ("InvalidUetTagId", "The UET Tag ID is invalid."),
    5301: ("DuplicateUetTagId", "Duplicate UET Tag IDs are not allowed."),
    5302: ("DuplicateUetTagName", "Duplicate UET Tag names are not allowed."),
    5303: ("UetTagNameAlreadyExists", "The UET Tag with the same name already exists."),
    5304: ("UetTagIdsExceedsLimit", "The list of UET Tag IDs exceeds the limit."),
    5305: ("UetTagNameNotPassed", "The UET Tag name is required."),
    5306: ("InvalidUetTagName", "The UET Tag name is empty or exceeds the length limit."),
    5308: ("UetTagsNotPassed", "The UET Tags are required."),
    5309: ("UetTagArrayExceedsLimit", "The list of UET Tags exceeds the limit."),
    5311: ("UetTagIdIsNotNull", "The UET Tag ID should be null."),
    5312: ("UetTagIdIsNull", "The UET Tag ID is required."),
    5314: ("InvalidConversionGoalId", "The Conversion Goal ID is invalid."),
    5315: ("DuplicateConversionGoalId", "Duplicate Conversion Goal IDs are not allowed."),
    5316: ("DuplicateConversionGoalName", "Duplicate Conversion Goal names are not allowed."),
    5317: (
        "ConversionGoalNameAlreadyExists",
        "The Conversion Goal with the same name already exists for the customer.",
    ),
    5318: (
        "ConversionGoalIdArrayExceedsLimit",
        "The list of Conversion Goal IDs exceeds the limit for the current operation.",
    ),
    5319: ("ConversionGoalNameNotPassed", "The Conversion Goal name is required."),
    5320: ("InvalidConversionGoalName", "The Conversion Goal name is invalid or exceeds the length limit."),
    5321: ("ConversionGoalsNotPassed", "The Conversion Goals are required."),
    5322: ("ConversionGoalArrayExceedsLimit", "The list of Conversion Goals exceeds the limit."),
    5324: ("ConversionGoalIdIsNotNull", "The Conversion Goal ID must be null."),
    5325: ("ConversionGoalIdIsNull", "The Conversion Goal ID is required."),
    5328: ("InvalidConversionGoalStatus", "The Conversion Goal status is invalid."),
    5329: ("ConversionGoalTypesNotPassed", "The Conversion Goal types are required."),
    5330: ("UetTagIdsNotPassed", "The UET Tag IDs are required."),
    5332: ("InvalidConversionGoalRevenueType", "The Conversion Goal revenue type is invalid."),
    5333: ("InvalidConversionGoalRevenueValue", "The Conversion Goal revenue value is invalid."),
    5334: ("UrlGoalUrlExpressionNotPassed", "The Url Expression for Url Goal is required."),
    5335: ("AppInstallGoalStoreIdNotPassed", "The Store ID for App Install Goal is required."),
    5336: (
        "EventGoalExpressionWithOperatorNotPassed",
        "At least one expression and operator pair is required for an Event Goal.",
    ),
    5337: ("InvalidConversionGoalConversionWindow", "The Conversion Window for Conversion Goal is invalid."),
    5338: ("InvalidDurationGoalDurationTime", "The Duration Time for Duration Goal is invalid."),
    5339: ("InvalidMinimumPagesViewedForGoal", "The Minimum Pages Viewed is invalid for the goal."),
    5347: (
        "ConversionGoalTypesDoNotMatchExistingValue",
        "The requested conversion goal types do not match the existing conversion goal type.",
    ),
    5348: ("InvalidAppInstallGoalScope", "The App Install Goal should scope to the customer."),
    5351: ("InvalidGoalCurrencyCode", "The currency code of the goal is invalid."),
    5352: ("GoalCurrencyCodeNotSupported", "The currency code is not supported for this goal type."),
    5355: ("GoalCurrencyCodeIsNull", "The currency code is required for this goal type."),
    5356: (
        "GoalTypeCannotBeChanged",
        "The goal type can't be changed for In-Store Transaction Goal or Offline Conversion Goal.",
    ),
    5357: ("InStoreTransactionGoalScopeInvalid", "In-Store Transaction goals must be set to Customer level scope."),
    5358: (
        "OnlyOneInStoreTransactionGoalAllowedPerCustomer",
        "Only one In-Store Transaction Goal can be created per customer.",
    ),
    5600: ("OfflineConversionsNullOrEmpty", "The list of offline conversions cannot be null or empty."),
    5601: ("OfflineConversionsLimitExceeded", "The list of offline conversions exceeds the limit."),
    5603: (
        "OfflineConversionMicrosoftClickIdNullOrEmpty",
        "The Microsoft Click Id of offline conversion cannot be null or empty.",
    ),
    5604: ("OfflineConversionMicrosoftClickIdInvalid", "The Microsoft Click Id of the offline conversion is invalid."),
    5605: ("OfflineConversionNameNullOrEmpty", "The conversion name of offline conversion cannot be null or empty."),
    5606: ("OfflineConversionNameInvalid", "The conversion name do not match an existing offline conversion goal."),
    5608: ("OfflineConversionTimeNullOrEmpty", "The conversion time of offline conversion cannot be null or empty ."),
    5609: ("OfflineConversionTimeOutOfWindow", "The conversion time is out of the conversion window."),
    5610: ("OfflineConversionValueInvalid", "The conversion value of offline conversion is invalid."),
    5611: ("OfflineConversionCurrencyCodeInvalid", "The currency code of offline conversion is invalid."),
    5614: ("FutureConversionTimeCannotBeSet", "A future conversion time cannot be set."),
    5616: ("ConversionTimeEarlierThanClickTime", "The conversion time must be later than the click time."),
    5617: (
        "ClickIdDateTimeOutsideGoalConversionWindow",
        "The date and time for the click ID is outside the conversion window for this goal.",
    ),
    5618: ("OfflineConversionInvalidAdjustmentType", "The offline conversion adjustment type is invalid."),
    5619: ("OfflineConversionAdjustmentTimeNullOrEmpty", "The offline conversion adjustment time is empty."),
    5620: (
        "OfflineConversionAdjustmentTimeEarlierThanConversionTime",
        "The offline conversion adjustment time is earlier than conversion time.",
    ),
    5622: (
        "OfflineConversionFutureAdjustmentTimeCannotBeSet",
        "The offline conversion adjustment time cannot be in the future.",
    ),
    5623: (
        "OfflineConversionAdjustmentTimeOutOfWindow",
        "The offline conversion adjustment time is out of the window.",
    ),
    5624: ("OfflineConversionAdjustmentValueNotExpected", "The offline conversion adjustment value is not expected."),
    5625: ("OfflineConversionAdjustmentValueRequired", "The offline conversion adjustment value is required."),
    5626: ("OfflineConversionCurrencyValueRequired", "The offline conversion currency value is required."),
}

# Choice: Microsoft publishes status names but no numbers for these rules; they answer 201 with the name.
NOT_HASHED_EMAIL = (
    "ConversionEmailAddressIsNotHashed",
    "The e-mail address must be a SHA-256 hash (64 lower-case hex).",
)
NOT_HASHED_PHONE = ("ConversionPhoneNumberIsNotHashed", "The phone number must be a SHA-256 hash (64 lower-case hex).")
ATTRIBUTION_EMPTY = (
    "ExternalAttributionRequiredFieldEmpty",
    "One of the required external attribution fields is empty.",
)
ATTRIBUTION_CREDIT = (
    "ExternalAttributionCreditValueInvalid",
    "The external attribution credit must be between 0 and 1.",
)
NOT_EXTERNALLY_ATTRIBUTED = (
    "GoalNotEligibleForExternalAttribution",
    "The conversion goal is not externally attributed, so external attribution fields are not allowed.",
)

MAX_IDS = 100
UPLOAD_WINDOW = timedelta(days=90)  # conversions and adjustments older than this are refused (5609, 5623)
DEFAULT_WINDOW = rules.OFFLINE_GOAL_DEFAULT_WINDOW
CLICK_ID = re.compile(r"[0-9a-fA-F]{32}")  # Microsoft writes lower case; hex of either case is well formed
SHA256_HEX = re.compile(r"[0-9a-f]{64}")

# Goals measured by a UET tag; only these may change type into one another (5356 names the others).
TAG_GOAL_TYPES = frozenset({"Url", "Duration", "PagesViewedPerVisit", "Event"})
# Members Microsoft returns only when named in ReturnAdditionalFields (ConversionGoalAdditionalField docs: "in the
# next version the corresponding properties will be included by default").
ADDITIONAL_FIELDS = {
    "ViewThroughConversionWindowInMinutes": "view_through_conversion_window_in_minutes",
    "IsExternallyAttributed": "is_externally_attributed",
    "GoalCategory": "goal_category",
    "AttributionModelType": "attribution_model_type",
    "IsEnhancedConversionsEnabled": "is_enhanced_conversions_enabled",
    "IsAutoGoal": "is_auto_goal",
}
# Members an update cannot change. Choice: a different Scope on update is ignored, as read-only members are.
READ_ONLY_ON_UPDATE = frozenset({"id", "type", "scope", "tracking_status", "is_auto_goal"})


@dataclass(frozen=True)
class Problem:
    """Why an item was refused: a code, the member at fault, and for code 201 Microsoft's status name."""

    code: int
    member: str | None = None
    symbol: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Where:
    """The account of the CustomerAccountId header, its customer and billing currency."""

    account_id: int
    customer_id: int
    currency: str | None


def _where(state: EmulatorState, caller: Caller) -> Where:
    account_id = require_account(state, caller)
    account = state.world.accounts[account_id]
    assert account.parent_customer_id is not None
    return Where(account_id, account.parent_customer_id, account.currency_code)


def _operation_fault(code: int, message: str | None = None) -> faults.Fault:
    symbol, text = ERRORS[code]
    return faults.Fault("ApiFaultDetail", [(code, symbol, message or text)])


def _batch_error(list_name: str, index: int, problem: Problem) -> m.BatchError:
    symbol, message = ERRORS[problem.code]
    where = f"{list_name}[{index}]"
    return m.BatchError(
        code=problem.code,
        error_code=problem.symbol or symbol,
        message=problem.message or message,
        field_path=f"{where}.{problem.member}" if problem.member else where,
        index=index,
        type="BatchError",
    )


def _check_count(items: Sequence[object], limit: int, none_code: int, over_code: int) -> None:
    """A null or empty list, or one over the per-call limit, fails the whole call."""
    if not items:
        raise _operation_fault(none_code)
    if len(items) > limit:
        raise _operation_fault(over_code)


def _repeated(values: Sequence[object | None]) -> set[object]:
    """Values that occur more than once (None never counts)."""
    return {v for v, n in Counter(v for v in values if v is not None).items() if n > 1}


def _utc(value: datetime) -> datetime:
    # Choice: a time without an offset is taken as UTC, the zone Microsoft requires.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---- conversion goals ----


def _name_problem(name: str | None, *, adding: bool) -> Problem | None:
    if adding and not name:
        return Problem(5319, "Name")
    # On update a null name leaves the name unchanged; an empty or blank one is invalid.
    if name is not None and (not name.strip() or len(name) > rules.MAX_NAME):
        return Problem(5320, "Name")
    return None


def _name_taken(state: EmulatorState, customer_id: int, name: str, except_id: int | None = None) -> bool:
    """Goal names are unique per customer, ignoring case (Choice: deleted goals keep their names)."""
    wanted = name.lower()
    return any(
        (g.goal.name or "").lower() == wanted and g.id != except_id
        for g in state.campaign.goals_of_customer(customer_id)
    )


def _revenue_problem(goal: m.ConversionGoal) -> Problem | None:
    problem = goal_revenue.revenue_problem(goal.type, goal.scope, goal.revenue)
    return Problem(problem.code, problem.wire_member) if problem else None


def _event_has_condition(goal: m.EventGoal) -> bool:
    pairs = (
        (goal.action_expression, goal.action_operator),
        (goal.category_expression, goal.category_operator),
        (goal.label_expression, goal.label_operator),
    )
    return any(expression and operator for expression, operator in pairs) or (
        goal.value is not None and goal.value_operator is not None
    )


def _type_problem(state: EmulatorState, where: Where, goal: m.ConversionGoal) -> Problem | None:
    """The rules of the goal's own type: its UET tag, its required members, its scope."""
    if goal.type in TAG_GOAL_TYPES:
        tag = state.campaign.tags.get(goal.tag_id) if goal.tag_id is not None else None
        if tag is None or tag.customer_id != where.customer_id:
            return Problem(5300, "TagId")
    if isinstance(goal, m.UrlGoal) and not (goal.url_expression and goal.url_operator):
        return Problem(5334, "UrlExpression")
    if isinstance(goal, m.EventGoal) and not _event_has_condition(goal):
        return Problem(5336, "ActionExpression")
    if isinstance(goal, m.DurationGoal) and not (goal.minimum_duration_in_seconds or 0) > 0:
        return Problem(5338, "MinimumDurationInSeconds")
    if isinstance(goal, m.PagesViewedPerVisitGoal) and not (goal.minimum_pages_viewed or 0) > 0:
        return Problem(5339, "MinimumPagesViewed")
    if isinstance(goal, m.AppInstallGoal | m.AppDownloadGoal) and not goal.app_store_id:
        return Problem(5335, "AppStoreId")
    if goal.type in CUSTOMER_ONLY and goal.scope != "Customer":
        return Problem(CUSTOMER_ONLY[goal.type], "Scope")
    return None


def _goal_problem(state: EmulatorState, where: Where, goal: m.ConversionGoal) -> Problem | None:
    """Rules on a whole goal: a new one with its defaults, or a stored one with an update applied."""
    window = goal.conversion_window_in_minutes
    if window is not None and not rules.MIN_WINDOW <= window <= rules.MAX_WINDOW:
        return Problem(5337, "ConversionWindowInMinutes")
    view_through = goal.view_through_conversion_window_in_minutes
    # Choice: Microsoft has no own code for the view-through window (1..43200 minutes); 5337 names the rule.
    if view_through is not None and not 1 <= view_through <= rules.MAX_VIEW_THROUGH_WINDOW:
        return Problem(5337, "ViewThroughConversionWindowInMinutes")
    return _revenue_problem(goal) or _type_problem(state, where, goal)


def _with_account_currency(
    revenue: m.ConversionGoalRevenue, goal_type: str, scope: str | None, currency: str | None
) -> m.ConversionGoalRevenue:
    """Microsoft: an Account goal's revenue without a currency is reported in the account's billing currency."""
    valued = revenue.type in ("FixedValue", "VariableValue")
    # FIXED_REVENUE_ONLY types take no currency at all (5352).
    if valued and not revenue.currency_code and scope == "Account" and goal_type not in FIXED_REVENUE_ONLY:
        return revenue.model_copy(update={"currency_code": currency})
    return revenue


def _with_defaults(goal: m.ConversionGoal, where: Where) -> m.ConversionGoal:
    """A new goal as Microsoft stores it (less its id): documented defaults, members its type ignores dropped."""
    defaults: dict[str, Any] = {
        "scope": goal_revenue.default_scope(goal.type),
        "status": "Active",
        "count_type": "All",
        # Choice: the offline goal's documented default window for every type.
        "conversion_window_in_minutes": DEFAULT_WINDOW,
        "exclude_from_bidding": False,
        "goal_category": "None",  # Microsoft: a missing category is set to None
        "is_enhanced_conversions_enabled": False,
    }
    update: dict[str, Any] = {k: v for k, v in defaults.items() if getattr(goal, k) is None}
    update["is_auto_goal"] = False  # read-only; goals made through the API are not auto goals
    revenue = goal.revenue or m.ConversionGoalRevenue()
    revenue = revenue.model_copy(update={"type": revenue.type or "NoValue"})
    update["revenue"] = _with_account_currency(revenue, goal.type, goal.scope or update["scope"], where.currency)
    if goal.type in TAG_GOAL_TYPES:
        update["tracking_status"] = "TagUnverified"  # the emulator never sees a tag fire
    else:
        # "Not applicable" to goals without a UET tag: Microsoft ignores them, so they do not read back.
        update |= {"tag_id": None, "tracking_status": None, "view_through_conversion_window_in_minutes": None}
    if isinstance(goal, m.OfflineConversionGoal) and goal.is_externally_attributed is None:
        update["is_externally_attributed"] = False
    return goal.model_copy(update=update)


def add_conversion_goals(
    state: EmulatorState, caller: Caller, req: m.AddConversionGoalsRequest
) -> m.AddConversionGoalsResponse:
    where = _where(state, caller)
    goals = req.conversion_goals or []
    _check_count(goals, rules.MAX_GOALS_PER_CALL, 5321, 5322)
    # Choice: every item sharing a name with another item of the request is refused, not just the later ones.
    repeated = _repeated([g.name.lower() if g.name else None for g in goals])
    ids: list[int | None] = []
    errors: list[m.BatchError] = []
    for index, goal in enumerate(goals):
        prepared = _with_defaults(goal, where)
        problem = _new_goal_problem(state, where, goal, repeated) or _goal_problem(state, where, prepared)
        if problem is not None:
            errors.append(_batch_error("ConversionGoals", index, problem))
            ids.append(None)
            continue
        prepared = prepared.model_copy(update={"id": state.campaign.new_id()})
        stored = StoredGoal(prepared, where.customer_id, where.account_id, created_at=datetime.now(UTC))
        state.campaign.goals[stored.id] = stored
        ids.append(stored.id)
        if prepared.type == "OfflineConversion":  # Microsoft turns MSCLKID auto-tagging on with an offline goal
            state.campaign.account_properties.setdefault(where.account_id, {})[m.MSCLKID_AUTO_TAGGING] = "true"
    return m.AddConversionGoalsResponse(conversion_goal_ids=ids, partial_errors=errors)


def _new_goal_problem(
    state: EmulatorState, where: Where, goal: m.ConversionGoal, repeated: set[object]
) -> Problem | None:
    if goal.id is not None:
        return Problem(5324, "Id")
    problem = _name_problem(goal.name, adding=True)
    if problem is not None:
        return problem
    assert goal.name is not None
    if goal.name.lower() in repeated:
        return Problem(5316, "Name")
    if _name_taken(state, where.customer_id, goal.name):
        return Problem(5317, "Name")
    # Choice: a goal cannot be created already deleted; 5328 is the status code Microsoft has.
    if goal.status == "Deleted":
        return Problem(5328, "Status")
    if goal.type == "InStoreTransaction" and any(
        g.goal.type == "InStoreTransaction" for g in state.campaign.goals_of_customer(where.customer_id)
    ):
        return Problem(5358)
    return None


def _merged(stored: m.ConversionGoal, update: m.ConversionGoal) -> m.ConversionGoal:
    """Microsoft's partial update: members left null keep their value; a given Revenue replaces the old one."""
    changes = {k: v for k, v in update if v is not None and k not in READ_ONLY_ON_UPDATE}
    if type(update) is type(stored):
        return stored.model_copy(update=changes)
    # A UET goal changing type keeps the shared members; the old type's own members go.
    shared = {k: getattr(stored, k) for k in m.ConversionGoal.model_fields if k != "type"}
    return type(update)(**{**shared, **changes})


def update_conversion_goals(
    state: EmulatorState, caller: Caller, req: m.UpdateConversionGoalsRequest
) -> m.UpdateConversionGoalsResponse:
    where = _where(state, caller)
    goals = req.conversion_goals or []
    _check_count(goals, rules.MAX_GOALS_PER_CALL, 5321, 5322)
    repeated_ids = _repeated([g.id for g in goals])
    repeated_names = _repeated([g.name.lower() if g.name else None for g in goals])
    visible = {g.id: g for g in state.campaign.visible_goals(where.account_id, where.customer_id)}
    errors: list[m.BatchError] = []
    for index, goal in enumerate(goals):
        stored = visible.get(goal.id) if goal.id is not None else None
        problem = _update_problem(state, where, goal, stored, repeated_ids, repeated_names)
        merged = None
        if problem is None:
            assert stored is not None
            merged = _merged(stored.goal, goal)
            problem = _goal_problem(state, where, merged)
        if problem is not None:
            errors.append(_batch_error("ConversionGoals", index, problem))
            continue
        assert stored is not None and merged is not None
        update: dict[str, Any] = {"tracking_status": "TagUnverified"} if merged.type in TAG_GOAL_TYPES else {}
        if goal.revenue is not None and merged.revenue is not None:
            currency = state.world.accounts[stored.account_id].currency_code
            update["revenue"] = _with_account_currency(merged.revenue, merged.type, merged.scope, currency)
        stored.goal = merged.model_copy(update=update)
    return m.UpdateConversionGoalsResponse(partial_errors=errors)


def _update_problem(
    state: EmulatorState,
    where: Where,
    goal: m.ConversionGoal,
    stored: StoredGoal | None,
    repeated_ids: set[object],
    repeated_names: set[object],
) -> Problem | None:
    if goal.id is None:
        return Problem(5325, "Id")
    if goal.id in repeated_ids:
        return Problem(5315, "Id")
    if stored is None:
        return Problem(5314, "Id")
    # Microsoft: "The goal type can't be changed for In-Store Transaction Goal or Offline Conversion Goal";
    # UET goals may become another UET type. Choice: App goals are as fixed as offline ones.
    if goal.type != stored.goal.type and not {goal.type, stored.goal.type} <= TAG_GOAL_TYPES:
        return Problem(5356, "Type")
    problem = _name_problem(goal.name, adding=False)
    if problem is not None or goal.name is None:
        return problem
    if goal.name.lower() in repeated_names:
        return Problem(5316, "Name")
    if _name_taken(state, where.customer_id, goal.name, except_id=stored.id):
        return Problem(5317, "Name")
    return None


def _goal_types(value: list[str] | None) -> set[str]:
    """The ConversionGoalTypes flags; msads adds a `None` flag to multi-value sets, which means nothing."""
    names = {v for v in value or [] if v != "None"}
    if not names:
        raise _operation_fault(5329)
    unknown = names - set(m.GOAL_TYPES)
    if unknown:
        raise faults.Fault(
            "AdApiFaultDetail",
            [
                (
                    201,
                    "ApiInputValidationError",
                    f"ConversionGoalTypes has unknown values: {', '.join(sorted(unknown))}.",
                )
            ],
        )
    return names


def _as_returned(goal: m.ConversionGoal, requested: list[str] | None) -> m.ConversionGoal:
    """The goal as Get* returns it: additional fields only when asked for."""
    wanted = set(requested or [])
    hidden = {
        attr: None for name, attr in ADDITIONAL_FIELDS.items() if name not in wanted and attr in type(goal).model_fields
    }
    return goal.model_copy(update=hidden)


def get_conversion_goals_by_ids(
    state: EmulatorState, caller: Caller, req: m.GetConversionGoalsByIdsRequest
) -> m.GetConversionGoalsByIdsResponse:
    where = _where(state, caller)
    types = _goal_types(req.conversion_goal_types)
    ids = req.conversion_goal_ids
    if ids and len(ids) > MAX_IDS:
        raise _operation_fault(5318)
    visible = {g.id: g for g in state.campaign.visible_goals(where.account_id, where.customer_id)}
    fields = req.return_additional_fields
    if not ids:  # null or empty: every goal of the types that the account sees
        found = [_as_returned(g.goal, fields) for g in visible.values() if g.goal.type in types]
        return m.GetConversionGoalsByIdsResponse(conversion_goals=list(found), partial_errors=[])
    goals: list[m.ConversionGoal | None] = []
    errors: list[m.BatchError] = []
    for index, goal_id in enumerate(ids):
        stored = visible.get(goal_id)
        if stored is None:
            problem: Problem | None = Problem(5314)
        elif stored.goal.type not in types:
            problem = Problem(5347)  # Choice: the id exists but is not of the requested types
        else:
            problem = None
        if problem is not None:
            errors.append(_batch_error("ConversionGoalIds", index, problem))
            goals.append(None)
        else:
            assert stored is not None
            goals.append(_as_returned(stored.goal, fields))
    return m.GetConversionGoalsByIdsResponse(conversion_goals=list(goals), partial_errors=errors)


def get_conversion_goals_by_tag_ids(
    state: EmulatorState, caller: Caller, req: m.GetConversionGoalsByTagIdsRequest
) -> m.GetConversionGoalsByTagIdsResponse:
    where = _where(state, caller)
    tag_ids = req.tag_ids
    if not tag_ids:
        raise _operation_fault(5330)
    if len(tag_ids) > MAX_IDS:
        raise _operation_fault(5304)  # Choice: the UET tag id limit of GetUetTagsByIds
    types = _goal_types(req.conversion_goal_types)
    # Choice: unknown tag ids simply match no goal (the answer is not index-aligned with the tag ids).
    wanted = set(tag_ids)
    found = [
        _as_returned(g.goal, req.return_additional_fields)
        for g in state.campaign.visible_goals(where.account_id, where.customer_id)
        if g.goal.tag_id in wanted and g.goal.type in types
    ]
    return m.GetConversionGoalsByTagIdsResponse(conversion_goals=list(found), partial_errors=[])


# ---- UET tags ----


def tracking_script(tag_id: int) -> str:
    """The emulator's own UET snippet: it loads bat.bing.com/bat.js for tag `ti`, as Microsoft's snippet does."""
    return (
        f"<!-- UET tag {tag_id}, issued by the bingbridge emulator (not Microsoft's snippet) -->\n"
        "<script>\n"
        "  window.uetq = window.uetq || [];\n"
        "  (function (w, d) {\n"
        '    var s = d.createElement("script");\n'
        '    s.src = "https://bat.bing.com/bat.js";\n'
        "    s.async = true;\n"
        "    s.onload = function () {\n"
        f'      w.uetq = new UET({{ti:"{tag_id}", q: w.uetq}});\n'
        '      w.uetq.push("pageLoad");\n'
        "    };\n"
        "    d.head.appendChild(s);\n"
        "  })(window, document);\n"
        "</script>"
    )


def tracking_no_script(tag_id: int) -> str:
    """The non-JavaScript form: a 1x1 request to bat.bing.com's action endpoint for tag `ti`."""
    return (
        f'<noscript><img src="https://bat.bing.com/action/0?ti={tag_id}&amp;Ver=2" '
        'height="0" width="0" style="display:none" alt="" /></noscript>'
    )


def _tag_name_problem(name: str | None, *, adding: bool) -> Problem | None:
    if adding and name is None:
        return Problem(5305, "Name")
    if name is not None and (not name.strip() or len(name) > rules.MAX_NAME):
        return Problem(5306, "Name")
    return None


def _tag_name_taken(state: EmulatorState, customer_id: int, name: str, except_id: int | None = None) -> bool:
    """Choice: tag names are unique per customer ignoring case, like goal names."""
    wanted = name.lower()
    return any((t.tag.name or "").lower() == wanted and t.id != except_id for t in state.campaign.tags_of(customer_id))


def add_uet_tags(state: EmulatorState, caller: Caller, req: m.AddUetTagsRequest) -> m.AddUetTagsResponse:
    where = _where(state, caller)
    tags = req.uet_tags or []
    _check_count(tags, rules.MAX_TAGS_PER_CALL, 5308, 5309)
    repeated = _repeated([t.name.lower() if t.name else None for t in tags])
    added: list[m.UetTag | None] = []
    errors: list[m.BatchError] = []
    for index, tag in enumerate(tags):
        problem = None if tag.id is None else Problem(5311, "Id")
        problem = problem or _tag_name_problem(tag.name, adding=True)
        if problem is None and tag.name is not None:
            if tag.name.lower() in repeated:
                problem = Problem(5302, "Name")
            elif _tag_name_taken(state, where.customer_id, tag.name):
                problem = Problem(5303, "Name")
        if problem is not None:
            errors.append(_batch_error("UetTags", index, problem))
            added.append(None)
            continue
        tag_id = state.campaign.new_id()
        new = tag.model_copy(
            update={
                "id": tag_id,
                "tracking_status": "Unverified",
                "tracking_script": tracking_script(tag_id),
                "tracking_no_script": tracking_no_script(tag_id),
                "customer_share": None,  # reserved for future use
            }
        )
        state.campaign.tags[tag_id] = StoredTag(new, where.customer_id)
        added.append(new)
    return m.AddUetTagsResponse(uet_tags=added, partial_errors=errors)


def update_uet_tags(state: EmulatorState, caller: Caller, req: m.UpdateUetTagsRequest) -> m.UpdateUetTagsResponse:
    where = _where(state, caller)
    tags = req.uet_tags or []
    _check_count(tags, rules.MAX_TAGS_PER_CALL, 5308, 5309)
    repeated_ids = _repeated([t.id for t in tags])
    repeated_names = _repeated([t.name.lower() if t.name else None for t in tags])
    errors: list[m.BatchError] = []
    for index, tag in enumerate(tags):
        stored = state.campaign.tags.get(tag.id) if tag.id is not None else None
        if tag.id is None:
            problem: Problem | None = Problem(5312, "Id")
        elif tag.id in repeated_ids:
            problem = Problem(5301, "Id")
        elif stored is None or stored.customer_id != where.customer_id:
            problem = Problem(5300, "Id")
        else:
            problem = _tag_name_problem(tag.name, adding=False)
            if problem is None and tag.name is not None:
                if tag.name.lower() in repeated_names:
                    problem = Problem(5302, "Name")
                elif _tag_name_taken(state, where.customer_id, tag.name, except_id=stored.id):
                    problem = Problem(5303, "Name")
        if problem is not None:
            errors.append(_batch_error("UetTags", index, problem))
            continue
        assert stored is not None
        # Partial update of what a user owns; Id, tracking script and status are read-only.
        changes = {k: getattr(tag, k) for k in ("name", "description", "industry") if getattr(tag, k) is not None}
        stored.tag = stored.tag.model_copy(update=changes)
    return m.UpdateUetTagsResponse(partial_errors=errors)


def get_uet_tags_by_ids(
    state: EmulatorState, caller: Caller, req: m.GetUetTagsByIdsRequest
) -> m.GetUetTagsByIdsResponse:
    where = _where(state, caller)
    ids = req.tag_ids
    if ids and len(ids) > MAX_IDS:
        raise _operation_fault(5304)
    own = {t.id: t.tag for t in state.campaign.tags_of(where.customer_id)}
    if not ids:  # null or empty: all of the customer's tags
        return m.GetUetTagsByIdsResponse(uet_tags=list(own.values()), partial_errors=[])
    found: list[m.UetTag | None] = [own.get(tag_id) for tag_id in ids]
    errors = [_batch_error("TagIds", i, Problem(5300)) for i, tag in enumerate(found) if tag is None]
    return m.GetUetTagsByIdsResponse(uet_tags=found, partial_errors=errors)


# ---- offline conversions and adjustments ----


def _offline_goals(state: EmulatorState, where: Where) -> dict[str, StoredGoal]:
    """The account's offline goals by exact name. Choice: Deleted goals take no uploads; Paused ones do."""
    return {
        g.goal.name: g
        for g in state.campaign.visible_goals(where.account_id, where.customer_id)
        if g.goal.type == "OfflineConversion" and g.goal.status != "Deleted" and g.goal.name
    }


def _time_problem(
    value: datetime | None, now: datetime, member: str, *, missing: int, future: int, too_old: int
) -> Problem | None:
    if value is None:
        return Problem(missing, member)
    when = _utc(value)
    if when > now:
        return Problem(future, member)
    if when < now - UPLOAD_WINDOW:
        return Problem(too_old, member)
    return None


def _identity_problem(item: m.OfflineConversion | m.OfflineConversionAdjustment) -> Problem | None:
    """A click id, or a hashed e-mail or phone for enhanced conversions; each well formed when given.

    Choice: an empty string counts as absent, as Microsoft's NullOrEmpty codes suggest.
    """
    click_id = item.microsoft_click_id
    if not (click_id or item.hashed_email_address or item.hashed_phone_number):
        return Problem(5603, "MicrosoftClickId")
    if click_id and not CLICK_ID.fullmatch(click_id):
        return Problem(5604, "MicrosoftClickId")
    if item.hashed_email_address and not SHA256_HEX.fullmatch(item.hashed_email_address):
        return Problem(201, "HashedEmailAddress", *NOT_HASHED_EMAIL)
    if item.hashed_phone_number and not SHA256_HEX.fullmatch(item.hashed_phone_number):
        return Problem(201, "HashedPhoneNumber", *NOT_HASHED_PHONE)
    return None


def _attribution_problem(item: m.OfflineConversion, goal: m.ConversionGoal) -> Problem | None:
    """External attribution (model + credit in 0..1) on externally attributed goals only.

    Choice: Microsoft publishes no maximum length for the model, so ExternalAttributionModelTooLong is not checked.
    """
    model, credit = item.external_attribution_model, item.external_attribution_credit
    if not getattr(goal, "is_externally_attributed", False):
        if model or credit is not None:
            member = "ExternalAttributionModel" if model else "ExternalAttributionCredit"
            return Problem(201, member, *NOT_EXTERNALLY_ATTRIBUTED)
        return None
    if not model:
        return Problem(201, "ExternalAttributionModel", *ATTRIBUTION_EMPTY)
    if credit is None:
        return Problem(201, "ExternalAttributionCredit", *ATTRIBUTION_EMPTY)
    if not 0 <= credit <= 1:
        return Problem(201, "ExternalAttributionCredit", *ATTRIBUTION_CREDIT)
    return None


def _click_problem(state: EmulatorState, item: m.OfflineConversion, goal: m.ConversionGoal) -> Problem | None:
    """The conversion must follow a click the emulator issued, within the goal's conversion window."""
    if not item.microsoft_click_id or item.conversion_time is None:
        return None
    # Choice: a click is found by its MSCLKID alone (a GUID, unique across accounts), whichever account uploads.
    click = state.campaign.clicks.get(item.microsoft_click_id.lower())
    if click is None:
        return None  # a click the emulator never issued: Microsoft cannot match every click at upload time
    when = _utc(item.conversion_time)
    if when < click.click_time:  # Choice: a conversion at the very second of its click is accepted
        return Problem(5616, "ConversionTime")
    window = timedelta(minutes=goal.conversion_window_in_minutes or DEFAULT_WINDOW)
    if when > click.click_time + window:
        return Problem(5617, "ConversionTime")
    return None


def _conversion_problem(
    state: EmulatorState, item: m.OfflineConversion, goal: StoredGoal | None, now: datetime
) -> Problem | None:
    if not item.conversion_name:
        return Problem(5605, "ConversionName")
    if goal is None:
        return Problem(5606, "ConversionName")
    problem = _time_problem(item.conversion_time, now, "ConversionTime", missing=5608, future=5614, too_old=5609)
    problem = problem or _identity_problem(item)
    if problem is not None:
        return problem
    if item.conversion_value is not None and item.conversion_value < 0:
        return Problem(5610, "ConversionValue")
    if item.conversion_currency_code and not CURRENCY.fullmatch(item.conversion_currency_code):
        return Problem(5611, "ConversionCurrencyCode")
    return _attribution_problem(item, goal.goal) or _click_problem(state, item, goal.goal)


def _identity(item: m.OfflineConversion) -> tuple[str, ...]:
    if item.microsoft_click_id:
        return ("MicrosoftClickId", item.microsoft_click_id.lower())
    return ("Hashed", item.hashed_email_address or "", item.hashed_phone_number or "")


def apply_offline_conversions(
    state: EmulatorState, caller: Caller, req: m.ApplyOfflineConversionsRequest
) -> m.ApplyOfflineConversionsResponse:
    where = _where(state, caller)
    items = req.offline_conversions or []
    _check_count(items, rules.MAX_CONVERSIONS_PER_CALL, 5600, 5601)
    goals = _offline_goals(state, where)
    now = datetime.now(UTC)
    errors: list[m.BatchError] = []
    for index, item in enumerate(items):
        goal = goals.get(item.conversion_name or "")
        problem = _conversion_problem(state, item, goal, now)
        if problem is not None:
            errors.append(_batch_error("OfflineConversions", index, problem))
            continue
        assert goal is not None and item.conversion_time is not None
        # Microsoft ignores a repeat of the same click (or hashed identity), time and goal: the first one counts.
        when = _utc(item.conversion_time)
        key = (goal.id, _identity(item), when)
        if key in state.campaign.conversion_keys:
            continue
        state.campaign.conversion_keys.add(key)
        kept = item.model_copy(update={"conversion_time": when})  # kept in UTC, however it was written
        state.campaign.conversions.append(Accepted(kept, where.account_id, goal.id, now))
    return m.ApplyOfflineConversionsResponse(partial_errors=errors)


def _goal_currency(state: EmulatorState, goal: StoredGoal) -> str | None:
    """The goal's revenue currency; for an Account goal without one, its account's (Microsoft's revenue docs)."""
    if goal.goal.revenue and goal.goal.revenue.currency_code:
        return goal.goal.revenue.currency_code
    if goal.goal.scope == "Account":
        return state.world.accounts[goal.account_id].currency_code
    return None


def _adjustment_problem(
    state: EmulatorState, item: m.OfflineConversionAdjustment, goal: StoredGoal | None, now: datetime
) -> Problem | None:
    if not item.conversion_name:
        return Problem(5605, "ConversionName")
    if goal is None:
        return Problem(5606, "ConversionName")
    if item.conversion_time is None:
        return Problem(5608, "ConversionTime")
    if item.adjustment_type is None:
        return Problem(5618, "AdjustmentType")
    problem = _time_problem(item.adjustment_time, now, "AdjustmentTime", missing=5619, future=5622, too_old=5623)
    if problem is not None:
        return problem
    assert item.adjustment_time is not None
    if _utc(item.adjustment_time) < _utc(item.conversion_time):
        return Problem(5620, "AdjustmentTime")
    problem = _identity_problem(item)
    if problem is not None:
        return problem
    if item.adjustment_type == "Retract":
        return Problem(5624, "AdjustmentValue") if item.adjustment_value is not None else None
    if item.adjustment_value is None:
        return Problem(5625, "AdjustmentValue")
    if item.adjustment_value < 0:
        return Problem(5610, "AdjustmentValue")  # Choice: the conversion value code; no adjustment code exists
    if item.adjustment_currency_code:
        if not CURRENCY.fullmatch(item.adjustment_currency_code):
            return Problem(5611, "AdjustmentCurrencyCode")
    elif _goal_currency(state, goal) is None:
        return Problem(5626, "AdjustmentCurrencyCode")
    return None


def apply_offline_conversion_adjustments(
    state: EmulatorState, caller: Caller, req: m.ApplyOfflineConversionAdjustmentsRequest
) -> m.ApplyOfflineConversionAdjustmentsResponse:
    """Restate or retract uploaded conversions.

    Choice: the list limits and codes are those of ApplyOfflineConversions (5600, 5601 at 1,000), and an
    adjustment is accepted whether or not the emulator holds the conversion it names (Microsoft matches later).
    5627 (restate/retract not supported) is not answered: Microsoft does not say when it applies.
    """
    where = _where(state, caller)
    items = req.offline_conversion_adjustments or []
    _check_count(items, rules.MAX_CONVERSIONS_PER_CALL, 5600, 5601)
    goals = _offline_goals(state, where)
    now = datetime.now(UTC)
    errors: list[m.BatchError] = []
    for index, item in enumerate(items):
        goal = goals.get(item.conversion_name or "")
        problem = _adjustment_problem(state, item, goal, now)
        if problem is not None:
            errors.append(_batch_error("OfflineConversionAdjustments", index, problem))
            continue
        assert goal is not None and item.conversion_time is not None and item.adjustment_time is not None
        times = {"conversion_time": _utc(item.conversion_time), "adjustment_time": _utc(item.adjustment_time)}
        state.campaign.adjustments.append(Accepted(item.model_copy(update=times), where.account_id, goal.id, now))
    return m.ApplyOfflineConversionAdjustmentsResponse(partial_errors=errors)


def _property_names_fault(names: Sequence[str | None]) -> faults.Fault | None:
    unknown = [n for n in names if n not in m.ACCOUNT_PROPERTY_NAMES]
    if not names or unknown:
        text = f"AccountPropertyNames: unknown or missing names {unknown}" if names else "give property names"
        return faults.Fault("AdApiFaultDetail", [(201, "ApiInputValidationError", text)])
    return None


def get_account_properties(
    state: EmulatorState, caller: Caller, req: m.GetAccountPropertiesRequest
) -> m.GetAccountPropertiesResponse:
    where = _where(state, caller)
    names = list(req.account_property_names or [])
    fault = _property_names_fault(names)
    if fault is not None:
        raise fault
    stored = state.campaign.account_properties.get(where.account_id, {})
    # Auto-tagging is off on a new account until an offline goal is created or the property is set.
    defaults = {m.MSCLKID_AUTO_TAGGING: "false"}
    found = [m.AccountProperty(name=n, value=stored.get(n, defaults.get(n))) for n in names]
    return m.GetAccountPropertiesResponse(account_properties=found, partial_errors=[])


def set_account_properties(
    state: EmulatorState, caller: Caller, req: m.SetAccountPropertiesRequest
) -> m.SetAccountPropertiesResponse:
    where = _where(state, caller)
    items = [p for p in req.account_properties or [] if p is not None]
    fault = _property_names_fault([p.name for p in items])
    if fault is not None:
        raise fault
    for p in items:  # all or none: check every value before setting any
        if p.name == m.MSCLKID_AUTO_TAGGING and (p.value or "").lower() not in ("true", "false"):
            raise faults.Fault("AdApiFaultDetail", [(201, "ApiInputValidationError", f"{p.name} is true or false")])
    state.campaign.account_properties.setdefault(where.account_id, {}).update(
        {str(p.name): (p.value or "").lower() if p.name == m.MSCLKID_AUTO_TAGGING else p.value or "" for p in items}
    )
    return m.SetAccountPropertiesResponse()


HANDLERS: dict[str, Handler] = {
    "AddConversionGoals": add_conversion_goals,
    "UpdateConversionGoals": update_conversion_goals,
    "GetConversionGoalsByIds": get_conversion_goals_by_ids,
    "GetConversionGoalsByTagIds": get_conversion_goals_by_tag_ids,
    "ApplyOfflineConversions": apply_offline_conversions,
    "ApplyOfflineConversionAdjustments": apply_offline_conversion_adjustments,
    "AddUetTags": add_uet_tags,
    "UpdateUetTags": update_uet_tags,
    "GetUetTagsByIds": get_uet_tags_by_ids,
    "GetAccountProperties": get_account_properties,
    "SetAccountProperties": set_account_properties,
}


# ---- inspection: the emulator's own routes under /_emulator, not Microsoft's API ----


def _account_filter(request: Request) -> int | None:
    value = request.query_params.get("account_id")
    if value is None:
        return None
    if not value.isdigit():
        raise ValueError(f"account_id must be a number, got {value!r}")
    return int(value)


def _accepted_endpoint(kind: str) -> Any:
    async def endpoint(request: Request) -> Response:
        state: EmulatorState = request.app.state.emulator
        try:
            account_id = _account_filter(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        items: list[Accepted] = getattr(state.campaign, kind)
        return JSONResponse([a.to_json() for a in items if account_id is None or a.account_id == account_id])

    return endpoint


async def clicks_endpoint(request: Request) -> Response:
    """GET: the clicks the emulator issued (`?account_id=` for one account). POST {"AccountId", "ClickTime",
    optional "MicrosoftClickId"}: issue a click at a given time, for tests of the conversion-window rules."""
    state: EmulatorState = request.app.state.emulator
    if request.method == "GET":
        try:
            account_id = _account_filter(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse([c.to_json() for c in state.campaign.clicks_of(account_id)])
    body = await request.json()
    try:
        account_id = int(body["AccountId"])
        click_time = _utc(datetime.fromisoformat(str(body["ClickTime"])))
    except (KeyError, TypeError, ValueError) as exc:
        return JSONResponse({"error": f"give AccountId and an ISO 8601 ClickTime: {exc}"}, status_code=400)
    if account_id not in state.world.accounts:
        return JSONResponse({"error": f"no account {account_id}"}, status_code=404)
    click_id = body.get("MicrosoftClickId")
    if click_id is not None and not CLICK_ID.fullmatch(str(click_id)):
        return JSONResponse({"error": "MicrosoftClickId must be 32 hex characters"}, status_code=400)
    return JSONResponse(state.campaign.add_click(account_id, click_time, click_id).to_json(), status_code=201)


INSPECTION_ROUTES = [
    Route("/_emulator/offline-conversions", _accepted_endpoint("conversions"), methods=["GET"]),
    Route("/_emulator/offline-conversion-adjustments", _accepted_endpoint("adjustments"), methods=["GET"]),
    Route("/_emulator/clicks", clicks_endpoint, methods=["GET", "POST"]),
]
