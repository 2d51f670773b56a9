"""The emulator's Campaign Management: conversion goals, UET tags, offline conversions and adjustments.

Every rule is driven through `client.campaign_management`, or through `client.raw_rest` where the client's own
checks would stop the request before it left; answers are read as a user reads them (codes, indexes, nulls).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bingbridge.api import campaign_management as cm
from bingbridge.api.campaign_management import CampaignManagement, ItemResult, add_conversion_goals_request
from bingbridge.api.client import BingAdsClient
from bingbridge.api.models import campaign as m
from bingbridge.auth.tokens import MemoryTokenStore, TokenSet
from bingbridge.emulator.campaign_state import CampaignState
from bingbridge.emulator.server import RunningEmulator, start_in_thread
from bingbridge.emulator.state import EmulatorConfig, EmulatorState
from bingbridge.errors import ApiError, ValidationError
from bingbridge.settings import Secret, Settings

OPERATIONS = {op.name: op for op in cm.OPERATIONS}
# The members Microsoft returns only when ReturnAdditionalFields names them.
ALL_FIELDS = [
    "ViewThroughConversionWindowInMinutes",
    "IsExternallyAttributed",
    "GoalCategory",
    "AttributionModelType",
    "IsEnhancedConversionsEnabled",
    "IsAutoGoal",
]
GOAL = "Offline sales"
EMAIL_HASH = hashlib.sha256(b"ada@example.com").hexdigest()
PHONE_HASH = hashlib.sha256(b"+14255550100").hexdigest()


@dataclass(frozen=True)
class World:
    """The default user's customer, two of its accounts, and an account of a client customer the user manages."""

    http: httpx.Client  # to the emulator's own /_emulator routes
    state: EmulatorState
    customer: int
    account: int
    sibling: int
    linked: int


@pytest.fixture(scope="module")
def running() -> Iterator[RunningEmulator]:
    """One emulator for the module; `world` gives each test a fresh Campaign Management state.

    Starting and stopping an emulator per test costs ~0.3 s; these tests touch only the campaign state (goals,
    tags, clicks, uploads) and the call counts, both of which `world` replaces.
    """
    with start_in_thread(EmulatorConfig()) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def inspector(running: RunningEmulator) -> Iterator[httpx.Client]:
    # verify=False: plain HTTP, and it spares the ~0.1 s of loading a CA bundle.
    with httpx.Client(base_url=running.url, verify=False) as http:
        yield http


@pytest.fixture
def world(running: RunningEmulator, inspector: httpx.Client) -> World:
    state = running.state
    state.campaign = CampaignState.seeded(state.config.seed, state.world.accounts, state.new_id)
    inspector.delete("/_emulator/calls").raise_for_status()
    home = state.world.users[state.config.default_user_id].customer_id
    own = [a.id for a in state.accounts_of(home) if a.id is not None]
    linked = next(a for a in state.visible_account_ids(state.config.default_user_id) if a not in own)
    return World(inspector, state, home, own[0], own[1], linked)


@pytest.fixture
def client(running: RunningEmulator, world: World, tmp_path: Path) -> Iterator[BingAdsClient]:
    """A client signed in as the default user, acting for the home customer's first account."""
    config = running.config
    tokens = world.http.post("/_emulator/tokens").json()
    settings = Settings(
        client_id=config.client_id,
        client_secret=Secret(config.client_secret),
        developer_token=Secret(config.developer_token),
        refresh_token=Secret(tokens["refresh_token"]),
        api_base_url=running.url,
        token_file=tmp_path / "tokens.json",
        customer_id=world.customer,
        account_id=world.account,
    )
    with BingAdsClient(settings, token_store=MemoryTokenStore(), sleep=lambda _: None) as c:
        expires = datetime.now(UTC) + timedelta(seconds=tokens["expires_in"])
        c.tokens.remember(TokenSet(tokens["access_token"], tokens["refresh_token"], expires))
        yield c


@pytest.fixture
def service(client: BingAdsClient) -> CampaignManagement:
    return client.campaign_management


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def new_click() -> str:
    """A well-formed MSCLKID the emulator never issued."""
    return uuid.uuid4().hex


def raw(client: BingAdsClient, operation: str, body: Any) -> Any:
    """Send `body` as is, past the client's own checks; the JSON answer."""
    op = OPERATIONS[operation]
    return client.raw_rest("campaign-management", op.method, op.path, body).body


def raw_fault(client: BingAdsClient, operation: str, body: Any) -> ApiError:
    """The fault Microsoft answers `body` with."""
    with pytest.raises(ApiError) as raised:
        raw(client, operation, body)
    return raised.value


def errors(results: list[ItemResult[Any]]) -> list[tuple[int, int, str | None, str | None]]:
    """(index, code, error code, field path) of every refused item."""
    return [(e.index or 0, e.code, e.error_code, e.field_path) for r in results for e in r.errors]


def batch(answer: dict[str, Any]) -> list[tuple[int, int, str, str]]:
    return [(e["Index"], e["Code"], e["ErrorCode"], e["FieldPath"]) for e in answer["PartialErrors"]]


def add_goal(service: CampaignManagement, goal: m.ConversionGoal, **options: Any) -> int:
    (result,) = service.add_conversion_goals([goal], **options)
    assert result.ok and result.value is not None, result.errors
    return result.value


def add_tag(service: CampaignManagement, name: str = "Site tag", **options: Any) -> m.UetTag:
    (result,) = service.add_uet_tags([m.UetTag(name=name)], **options)
    assert result.ok and result.value is not None, result.errors
    return result.value


def conversion(**fields: Any) -> m.OfflineConversion:
    values: dict[str, Any] = {
        "conversion_name": GOAL,
        "conversion_time": ago(days=1),
        "microsoft_click_id": new_click(),
    }
    return m.OfflineConversion(**(values | fields))


def arrived(world: World, kind: str = "offline-conversions", **params: Any) -> list[dict[str, Any]]:
    answer = world.http.get(f"/_emulator/{kind}", params=params)
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()
    return result


def seeded_click(world: World, account_id: int) -> dict[str, Any]:
    """A click the emulator seeded 10 to 60 days ago: room for conversions before and after it."""
    clicks = world.http.get("/_emulator/clicks", params={"account_id": account_id}).json()
    return next(c for c in clicks if ago(days=60) < datetime.fromisoformat(c["ClickTime"]) < ago(days=10))


# ---- conversion goals ----


def test_offline_goal_reads_back_as_offline_conversion_with_the_seed_defaults(service: CampaignManagement) -> None:
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL))
    answer = service.get_conversion_goals(["OfflineConversion"], [goal_id], additional_fields=ALL_FIELDS)
    (goal,) = answer.conversion_goals or []
    assert isinstance(goal, m.OfflineConversionGoal)
    assert (goal.id, goal.name, goal.type) == (goal_id, GOAL, "OfflineConversion")
    assert (goal.conversion_window_in_minutes, goal.count_type, goal.scope, goal.status) == (
        43200,
        "All",
        "Account",
        "Active",
    )
    assert (goal.exclude_from_bidding, goal.is_enhanced_conversions_enabled, goal.is_externally_attributed) == (
        False,
        False,
        False,
    )
    assert goal.goal_category == "None"
    assert goal.revenue == m.ConversionGoalRevenue(type="NoValue")
    assert (goal.tag_id, goal.tracking_status, goal.view_through_conversion_window_in_minutes) == (None, None, None)


def test_goal_members_beyond_the_base_come_back_only_when_asked_for(service: CampaignManagement) -> None:
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL, goal_category="Purchase"))
    (plain,) = service.get_conversion_goals(["OfflineConversion"], [goal_id]).conversion_goals or []
    assert isinstance(plain, m.OfflineConversionGoal)
    assert (plain.goal_category, plain.is_externally_attributed, plain.is_enhanced_conversions_enabled) == (
        None,
        None,
        None,
    )
    asked = service.get_conversion_goals(["OfflineConversion"], [goal_id], additional_fields=["GoalCategory"])
    (goal,) = asked.conversion_goals or []
    assert isinstance(goal, m.OfflineConversionGoal)
    assert (goal.goal_category, goal.is_externally_attributed) == ("Purchase", None)


def test_fixed_revenue_of_an_account_goal_takes_the_account_currency(service: CampaignManagement) -> None:
    revenue = m.ConversionGoalRevenue(type="FixedValue", value=25)
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL, revenue=revenue))
    (goal,) = service.get_conversion_goals(["OfflineConversion"], [goal_id]).conversion_goals or []
    assert goal is not None and goal.revenue == m.ConversionGoalRevenue(
        type="FixedValue", value=25, currency_code="USD"
    )


TAG = "{tag}"  # replaced by the id of a tag the test creates
OK_URL_GOAL = {"Type": "Url", "TagId": TAG, "UrlExpression": "thanks", "UrlOperator": "Contains"}
OFFLINE = {"Type": "OfflineConversion", "Name": "G"}
DURATION = {"Type": "Duration", "Name": "G", "TagId": TAG, "MinimumDurationInSeconds": 30}
BAD_GOALS = [
    pytest.param({**OFFLINE, "Id": "123"}, 5324, "ConversionGoalIdIsNotNull", "Id", id="id-given"),
    pytest.param({"Type": "OfflineConversion"}, 5319, "ConversionGoalNameNotPassed", "Name", id="no-name"),
    pytest.param({**OFFLINE, "Name": ""}, 5319, "ConversionGoalNameNotPassed", "Name", id="empty-name"),
    pytest.param({**OFFLINE, "Name": "x" * 101}, 5320, "InvalidConversionGoalName", "Name", id="long-name"),
    pytest.param({**OFFLINE, "Name": "   "}, 5320, "InvalidConversionGoalName", "Name", id="blank-name"),
    pytest.param({**OFFLINE, "Status": "Deleted"}, 5328, "InvalidConversionGoalStatus", "Status", id="deleted"),
    pytest.param(
        {**OFFLINE, "ConversionWindowInMinutes": 0},
        5337, "InvalidConversionGoalConversionWindow", "ConversionWindowInMinutes", id="window-0",
    ),
    pytest.param(
        {**OFFLINE, "ConversionWindowInMinutes": 129601},
        5337, "InvalidConversionGoalConversionWindow", "ConversionWindowInMinutes", id="window-129601",
    ),
    pytest.param(
        {**OK_URL_GOAL, "Name": "G", "ViewThroughConversionWindowInMinutes": 43201},
        5337, "InvalidConversionGoalConversionWindow", "ViewThroughConversionWindowInMinutes", id="view-through",
    ),
    pytest.param(
        {**OFFLINE, "Revenue": {"Type": "FixedValue"}},
        5333, "InvalidConversionGoalRevenueValue", "Revenue.Value", id="fixed-without-value",
    ),
    pytest.param(
        {**OFFLINE, "Revenue": {"Type": "VariableValue", "Value": -1}},
        5333, "InvalidConversionGoalRevenueValue", "Revenue.Value", id="negative-value",
    ),
    pytest.param(
        {**OFFLINE, "Revenue": {"Type": "NoValue", "Value": 5}},
        5333, "InvalidConversionGoalRevenueValue", "Revenue.Value", id="no-value-with-value",
    ),
    pytest.param(
        {**DURATION, "Revenue": {"Type": "VariableValue", "Value": 1}},
        5332, "InvalidConversionGoalRevenueType", "Revenue.Type", id="variable-duration",
    ),
    pytest.param(
        {**DURATION, "Revenue": {"Type": "FixedValue", "Value": 1, "CurrencyCode": "USD"}},
        5352, "GoalCurrencyCodeNotSupported", "Revenue.CurrencyCode", id="duration-currency",
    ),
    pytest.param(
        {**OFFLINE, "Revenue": {"Type": "FixedValue", "Value": 1, "CurrencyCode": "usd"}},
        5351, "InvalidGoalCurrencyCode", "Revenue.CurrencyCode", id="lower-case-currency",
    ),
    pytest.param(
        {**OFFLINE, "Scope": "Customer", "Revenue": {"Type": "FixedValue", "Value": 1}},
        5355, "GoalCurrencyCodeIsNull", "Revenue.CurrencyCode", id="customer-goal-without-currency",
    ),
    pytest.param({**OK_URL_GOAL, "Name": "G", "TagId": "1"}, 5300, "InvalidUetTagId", "TagId", id="unknown-tag"),
    pytest.param({**OK_URL_GOAL, "Name": "G", "TagId": None}, 5300, "InvalidUetTagId", "TagId", id="no-tag"),
    pytest.param(
        {**OK_URL_GOAL, "Name": "G", "UrlExpression": None},
        5334, "UrlGoalUrlExpressionNotPassed", "UrlExpression", id="url-without-expression",
    ),
    pytest.param(
        {"Type": "Event", "Name": "G", "TagId": TAG, "ActionExpression": "buy"},
        5336, "EventGoalExpressionWithOperatorNotPassed", "ActionExpression", id="event-without-operator",
    ),
    pytest.param(
        {**DURATION, "MinimumDurationInSeconds": 0},
        5338, "InvalidDurationGoalDurationTime", "MinimumDurationInSeconds", id="duration-0",
    ),
    pytest.param(
        {"Type": "PagesViewedPerVisit", "Name": "G", "TagId": TAG},
        5339, "InvalidMinimumPagesViewedForGoal", "MinimumPagesViewed", id="pages-missing",
    ),
    pytest.param(
        {"Type": "AppInstall", "Name": "G", "AppPlatform": "Android"},
        5335, "AppInstallGoalStoreIdNotPassed", "AppStoreId", id="app-without-store-id",
    ),
    pytest.param(
        {"Type": "AppInstall", "Name": "G", "AppStoreId": "com.x", "Scope": "Account"},
        5348, "InvalidAppInstallGoalScope", "Scope", id="app-account-scope",
    ),
    pytest.param(
        {"Type": "InStoreTransaction", "Name": "G", "Scope": "Account"},
        5357, "InStoreTransactionGoalScopeInvalid", "Scope", id="in-store-account-scope",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "code", "symbol", "member"), BAD_GOALS)
def test_goal_breaking_a_rule_is_refused_at_its_index_and_the_others_are_added(
    bad: dict[str, Any],
    code: int,
    symbol: str,
    member: str,
    client: BingAdsClient,
    service: CampaignManagement,
    world: World,
) -> None:
    tag = str(add_tag(service).id)
    bad = {k: tag if v == TAG else v for k, v in bad.items()}
    good = {"Type": "OfflineConversion", "Name": "Good goal"}
    answer = raw(client, "AddConversionGoals", {"ConversionGoals": [good, bad, {**good, "Name": "Also good"}]})
    first, failed, third = answer["ConversionGoalIds"]
    assert failed is None and first and third
    assert batch(answer) == [(1, code, symbol, f"ConversionGoals[1].{member}")]
    assert answer["PartialErrors"][0]["Type"] == "BatchError"
    assert {g.goal.name for g in world.state.campaign.goals.values()} == {"Good goal", "Also good"}


CUSTOMER_FIXED = {"Scope": "Customer", "Revenue": {"Type": "FixedValue", "Value": 2}}
NO_CURRENCY_GOALS = [
    pytest.param({"Type": "AppInstall", "AppStoreId": "com.x", **CUSTOMER_FIXED}, id="app-install"),
    pytest.param({**DURATION, **CUSTOMER_FIXED}, id="duration"),
    pytest.param({"Type": "PagesViewedPerVisit", "TagId": TAG, "MinimumPagesViewed": 3, **CUSTOMER_FIXED}, id="pages"),
    pytest.param({**OFFLINE, "Revenue": {"Type": "VariableValue"}}, id="variable-without-value"),
]


@pytest.mark.parametrize("goal", NO_CURRENCY_GOALS)
def test_goals_that_need_no_revenue_currency_are_added_without_one(
    goal: dict[str, Any], client: BingAdsClient, service: CampaignManagement
) -> None:
    tag = str(add_tag(service).id)
    goal = {k: tag if v == TAG else v for k, v in goal.items()} | {"Name": "G"}
    answer = raw(client, "AddConversionGoals", {"ConversionGoals": [goal]})
    assert batch(answer) == [] and answer["ConversionGoalIds"][0]


REVENUE_CASES = [
    (goal, scope, m.ConversionGoalRevenue(type=kind, value=value, currency_code=currency))
    for goal in (m.OfflineConversionGoal, m.UrlGoal, m.DurationGoal, m.AppInstallGoal)
    for scope in ("Account", "Customer")
    for kind in ("FixedValue", "VariableValue", "NoValue")
    for value in (None, 0.0, 5.0, -1.0)
    for currency in (None, "USD")
]


def _valid_goal(goal_type: type[m.ConversionGoal], scope: str, tag_id: int, revenue: m.ConversionGoalRevenue) -> Any:
    members: dict[str, Any] = {"name": f"G {uuid.uuid4().hex[:8]}", "scope": scope, "revenue": revenue}
    if goal_type is m.UrlGoal:
        members |= {"tag_id": tag_id, "url_expression": "thanks", "url_operator": "Contains"}
    if goal_type is m.DurationGoal:
        members |= {"tag_id": tag_id, "minimum_duration_in_seconds": 30}
    if goal_type is m.AppInstallGoal:
        members |= {"app_store_id": "com.x"}
    return goal_type(**members)


def test_client_and_emulator_hold_the_same_revenue_rules(client: BingAdsClient, service: CampaignManagement) -> None:
    tag = add_tag(service).id
    assert tag is not None
    disagreements = []
    for goal_type, scope, revenue in REVENUE_CASES:
        goal = _valid_goal(goal_type, scope, tag, revenue)
        if goal_type is m.AppInstallGoal and scope == "Account":
            continue  # refused for its scope (5348), whatever the revenue
        try:
            add_conversion_goals_request([goal])
            client_accepts = True
        except ValidationError:
            client_accepts = False
        answer = raw(client, "AddConversionGoals", m.AddConversionGoalsRequest(conversion_goals=[goal]).to_wire())
        if client_accepts != (batch(answer) == []):
            disagreements.append((goal_type.__name__, scope, revenue, batch(answer)))
    assert disagreements == []


def test_every_goal_sharing_a_name_within_a_request_is_refused_5316(client: BingAdsClient) -> None:
    goals = [{"Type": "OfflineConversion", "Name": n} for n in ("Lead", "Sale", "LEAD", "Visit")]
    answer = raw(client, "AddConversionGoals", {"ConversionGoals": goals})
    assert [i is None for i in answer["ConversionGoalIds"]] == [True, False, True, False]
    assert [(i, c) for i, c, _, _ in batch(answer)] == [(0, 5316), (2, 5316)]


def test_goal_names_are_unique_per_customer_ignoring_case_5317(service: CampaignManagement, world: World) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    (from_sibling,) = service.add_conversion_goals(
        [m.OfflineConversionGoal(name=GOAL.upper())], account_id=world.sibling
    )
    assert errors([from_sibling]) == [(0, 5317, "ConversionGoalNameAlreadyExists", "ConversionGoals[0].Name")]
    assert from_sibling.value is None
    # Another customer's account has its own names.
    add_goal(service, m.OfflineConversionGoal(name=GOAL), account_id=world.linked)


def test_only_one_in_store_transaction_goal_per_customer_5358(service: CampaignManagement) -> None:
    add_goal(service, m.InStoreTransactionGoal(name="Stores"))
    (second,) = service.add_conversion_goals([m.InStoreTransactionGoal(name="More stores")])
    assert [e.code for e in second.errors] == [5358]


@pytest.mark.parametrize(
    ("goals", "code"),
    [
        pytest.param([{"Type": "OfflineConversion", "Name": f"G{i}"} for i in range(101)], 5322, id="101"),
        pytest.param([], 5321, id="empty"),
        pytest.param(None, 5321, id="null"),
    ],
)
def test_goal_list_limits_fail_the_whole_call(goals: Any, code: int, client: BingAdsClient, world: World) -> None:
    fault = raw_fault(client, "AddConversionGoals", {"ConversionGoals": goals})
    assert (fault.status, fault.codes) == (400, [code])
    assert not world.state.campaign.goals


def test_account_goal_is_seen_only_by_the_account_that_made_it(service: CampaignManagement, world: World) -> None:
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL))
    answer = service.get_conversion_goals(["OfflineConversion"], [goal_id], account_id=world.sibling)
    assert answer.conversion_goals == [None]
    assert [(e.index, e.code, e.field_path) for e in answer.partial_errors or []] == [(0, 5314, "ConversionGoalIds[0]")]


def test_customer_goal_is_seen_by_every_account_of_the_customer_only(service: CampaignManagement, world: World) -> None:
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL, scope="Customer"))
    from_sibling = service.get_conversion_goals(["OfflineConversion"], account_id=world.sibling)
    assert [g.id for g in from_sibling.conversion_goals or [] if g] == [goal_id]
    from_linked = service.get_conversion_goals(["OfflineConversion"], account_id=world.linked)
    assert from_linked.conversion_goals == []


def test_update_changes_only_the_members_given(service: CampaignManagement) -> None:
    revenue = m.ConversionGoalRevenue(type="FixedValue", value=10, currency_code="EUR")
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL, revenue=revenue, goal_category="Purchase"))
    update = m.OfflineConversionGoal(id=goal_id, conversion_window_in_minutes=1440, status="Paused", scope="Customer")
    assert errors(service.update_conversion_goals([update])) == []
    answer = service.get_conversion_goals(["OfflineConversion"], [goal_id], additional_fields=ALL_FIELDS)
    (stored,) = answer.conversion_goals or []
    assert isinstance(stored, m.OfflineConversionGoal)
    assert (stored.name, stored.conversion_window_in_minutes, stored.status) == (GOAL, 1440, "Paused")
    assert (stored.revenue, stored.goal_category) == (revenue, "Purchase")
    assert stored.scope == "Account"  # read-only once set


def test_update_with_revenue_replaces_the_whole_revenue(service: CampaignManagement) -> None:
    revenue = m.ConversionGoalRevenue(type="FixedValue", value=10, currency_code="EUR")
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL, revenue=revenue))
    new = m.ConversionGoalRevenue(type="VariableValue", value=3)
    assert errors(service.update_conversion_goals([m.OfflineConversionGoal(id=goal_id, revenue=new)])) == []
    (goal,) = service.get_conversion_goals(["OfflineConversion"], [goal_id]).conversion_goals or []
    assert goal is not None and goal.revenue == m.ConversionGoalRevenue(
        type="VariableValue", value=3, currency_code="USD"
    )


def test_update_rules_answer_partial_errors_at_their_index(client: BingAdsClient, service: CampaignManagement) -> None:
    first = add_goal(service, m.OfflineConversionGoal(name="First"))
    second = add_goal(service, m.OfflineConversionGoal(name="Second"))
    third = add_goal(service, m.OfflineConversionGoal(name="Third"))
    goals = [
        {"Type": "OfflineConversion", "Name": "No id"},
        {"Type": "OfflineConversion", "Id": "1"},
        {"Type": "OfflineConversion", "Id": str(first), "Name": ""},
        {"Type": "OfflineConversion", "Id": str(second), "Name": "third"},
        {"Type": "OfflineConversion", "Id": str(third), "ConversionWindowInMinutes": 200000},
    ]
    answer = raw(client, "UpdateConversionGoals", {"ConversionGoals": goals})
    assert batch(answer) == [
        (0, 5325, "ConversionGoalIdIsNull", "ConversionGoals[0].Id"),
        (1, 5314, "InvalidConversionGoalId", "ConversionGoals[1].Id"),
        (2, 5320, "InvalidConversionGoalName", "ConversionGoals[2].Name"),
        (3, 5317, "ConversionGoalNameAlreadyExists", "ConversionGoals[3].Name"),
        (4, 5337, "InvalidConversionGoalConversionWindow", "ConversionGoals[4].ConversionWindowInMinutes"),
    ]


def test_update_refuses_repeated_ids_and_names_5315_5316(client: BingAdsClient, service: CampaignManagement) -> None:
    first = add_goal(service, m.OfflineConversionGoal(name="First"))
    second = add_goal(service, m.OfflineConversionGoal(name="Second"))
    third = add_goal(service, m.OfflineConversionGoal(name="Third"))
    goals = [
        {"Type": "OfflineConversion", "Id": str(first), "Status": "Paused"},
        {"Type": "OfflineConversion", "Id": str(first), "Status": "Active"},
        {"Type": "OfflineConversion", "Id": str(second), "Name": "Renamed"},
        {"Type": "OfflineConversion", "Id": str(third), "Name": "RENAMED"},
    ]
    answer = raw(client, "UpdateConversionGoals", {"ConversionGoals": goals})
    assert [(i, c) for i, c, _, _ in batch(answer)] == [(0, 5315), (1, 5315), (2, 5316), (3, 5316)]


def test_offline_goal_cannot_change_type_5356(service: CampaignManagement) -> None:
    tag = add_tag(service)
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL))
    change = m.UrlGoal(id=goal_id, tag_id=tag.id, url_expression="thanks", url_operator="Contains")
    assert errors(service.update_conversion_goals([change])) == [
        (0, 5356, "GoalTypeCannotBeChanged", "ConversionGoals[0].Type")
    ]


def test_uet_goal_may_become_another_uet_type(service: CampaignManagement) -> None:
    tag = add_tag(service)
    goal_id = add_goal(
        service, m.UrlGoal(name="Thanks page", tag_id=tag.id, url_expression="thanks", url_operator="Contains")
    )
    change = m.EventGoal(id=goal_id, action_expression="purchase", action_operator="Equals")
    assert errors(service.update_conversion_goals([change])) == []
    (goal,) = service.get_conversion_goals(["Event"], [goal_id]).conversion_goals or []
    assert isinstance(goal, m.EventGoal)
    assert (goal.name, goal.tag_id, goal.action_expression, goal.tracking_status) == (
        "Thanks page",
        tag.id,
        "purchase",
        "TagUnverified",
    )


def test_get_goals_needs_types_5329(client: BingAdsClient) -> None:
    assert raw_fault(client, "GetConversionGoalsByIds", {"ConversionGoalIds": None}).codes == [5329]
    assert raw_fault(client, "GetConversionGoalsByIds", {"ConversionGoalTypes": "None"}).codes == [5329]


def test_get_goals_takes_at_most_100_ids_5318(client: BingAdsClient) -> None:
    body = {"ConversionGoalIds": [str(i) for i in range(101)], "ConversionGoalTypes": "OfflineConversion"}
    assert raw_fault(client, "GetConversionGoalsByIds", body).codes == [5318]


@pytest.mark.parametrize("ids", [None, []])
def test_get_goals_without_ids_returns_every_goal_of_the_types(
    ids: list[int] | None, service: CampaignManagement
) -> None:
    tag = add_tag(service)
    offline = add_goal(service, m.OfflineConversionGoal(name=GOAL))
    duration = add_goal(service, m.DurationGoal(name="Long visit", tag_id=tag.id, minimum_duration_in_seconds=60))
    both = service.get_conversion_goals(["OfflineConversion", "Duration"], ids)
    assert [g.id for g in both.conversion_goals or [] if g] == [offline, duration]
    only_offline = service.get_conversion_goals(["OfflineConversion"], ids)
    assert [g.id for g in only_offline.conversion_goals or [] if g] == [offline]


def test_get_goals_answers_none_for_unknown_ids_and_other_types(service: CampaignManagement) -> None:
    offline = add_goal(service, m.OfflineConversionGoal(name=GOAL))
    tag = add_tag(service)
    duration = add_goal(service, m.DurationGoal(name="Long visit", tag_id=tag.id, minimum_duration_in_seconds=60))
    answer = service.get_conversion_goals(["OfflineConversion"], [duration, 12345, offline])
    goals = answer.conversion_goals or []
    assert [g.id if g else None for g in goals] == [None, None, offline]
    assert [(e.index, e.code, e.error_code) for e in answer.partial_errors or []] == [
        (0, 5347, "ConversionGoalTypesDoNotMatchExistingValue"),
        (1, 5314, "InvalidConversionGoalId"),
    ]


def test_goals_by_tag_ids_are_those_of_the_tags_and_types(service: CampaignManagement) -> None:
    first, second = add_tag(service, "First"), add_tag(service, "Second")
    assert first.id is not None and second.id is not None
    url = add_goal(service, m.UrlGoal(name="Thanks", tag_id=first.id, url_expression="t", url_operator="Contains"))
    add_goal(service, m.PagesViewedPerVisitGoal(name="Pages", tag_id=second.id, minimum_pages_viewed=3))
    event = add_goal(service, m.EventGoal(name="Buy", tag_id=first.id, value=1, value_operator="GreaterThan"))
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    answer = service.get_conversion_goals_by_tag_ids([first.id, 999], ["Url", "Event", "PagesViewedPerVisit"])
    assert [g.id for g in answer.conversion_goals or [] if g] == [url, event]
    only_url = service.get_conversion_goals_by_tag_ids([first.id, second.id], ["Url"])
    assert [g.id for g in only_url.conversion_goals or [] if g] == [url]


def test_goals_by_tag_ids_need_tag_ids_5330(client: BingAdsClient) -> None:
    assert raw_fault(client, "GetConversionGoalsByTagIds", {"ConversionGoalTypes": "Url"}).codes == [5330]
    assert raw_fault(client, "GetConversionGoalsByTagIds", {"TagIds": ["1"]}).codes == [5329]


# ---- UET tags ----


def test_new_tag_gets_an_id_unverified_status_and_tracking_scripts(service: CampaignManagement) -> None:
    (result,) = service.add_uet_tags([m.UetTag(name="Site tag", description="All pages")])
    tag = result.value
    assert tag is not None and tag.id is not None
    assert (tag.name, tag.description, tag.tracking_status) == ("Site tag", "All pages", "Unverified")
    assert "bat.bing.com/bat.js" in (tag.tracking_script or "")
    assert f'ti:"{tag.id}"' in (tag.tracking_script or "")
    assert "emulator" in (tag.tracking_script or "")
    assert f"bat.bing.com/action/0?ti={tag.id}" in (tag.tracking_no_script or "")
    assert (service.get_uet_tags([tag.id]).uet_tags or []) == [tag]


def test_tags_belong_to_the_customer(service: CampaignManagement, world: World) -> None:
    first = add_tag(service, "First")
    second = add_tag(service, "Second", account_id=world.sibling)
    assert [t.id for t in service.get_uet_tags().uet_tags or [] if t] == [first.id, second.id]
    assert service.get_uet_tags(account_id=world.linked).uet_tags == []
    assert first.id is not None
    foreign = service.get_uet_tags([first.id], account_id=world.linked)
    assert foreign.uet_tags == [None]
    assert [(e.index, e.code, e.field_path) for e in foreign.partial_errors or []] == [(0, 5300, "TagIds[0]")]


def test_get_tags_answers_none_for_unknown_ids(service: CampaignManagement) -> None:
    tag = add_tag(service)
    assert tag.id is not None
    answer = service.get_uet_tags([4242, tag.id])
    assert [t.id if t else None for t in answer.uet_tags or []] == [None, tag.id]
    assert [(e.index, e.code, e.error_code) for e in answer.partial_errors or []] == [(0, 5300, "InvalidUetTagId")]


def test_update_tag_changes_only_name_and_description_given(service: CampaignManagement) -> None:
    tag = add_tag(service)
    assert tag.id is not None
    assert errors(service.update_uet_tags([m.UetTag(id=tag.id, description="Checkout pages")])) == []
    (updated,) = service.get_uet_tags([tag.id]).uet_tags or []
    assert updated == tag.model_copy(update={"description": "Checkout pages"})


def test_add_tag_rules_answer_partial_errors_at_their_index(client: BingAdsClient, service: CampaignManagement) -> None:
    add_tag(service, "Taken")
    tags = [
        {"Name": "Fine"},
        {"Name": "Has id", "Id": "5"},
        {"Description": "No name"},
        {"Name": "x" * 101},
        {"Name": " "},
        {"Name": "Twice"},
        {"Name": "twice"},
        {"Name": "TAKEN"},
    ]
    answer = raw(client, "AddUetTags", {"UetTags": tags})
    assert [t is None for t in answer["UetTags"]] == [False] + [True] * 7
    assert batch(answer) == [
        (1, 5311, "UetTagIdIsNotNull", "UetTags[1].Id"),
        (2, 5305, "UetTagNameNotPassed", "UetTags[2].Name"),
        (3, 5306, "InvalidUetTagName", "UetTags[3].Name"),
        (4, 5306, "InvalidUetTagName", "UetTags[4].Name"),
        (5, 5302, "DuplicateUetTagName", "UetTags[5].Name"),
        (6, 5302, "DuplicateUetTagName", "UetTags[6].Name"),
        (7, 5303, "UetTagNameAlreadyExists", "UetTags[7].Name"),
    ]


def test_update_tag_rules_answer_partial_errors_at_their_index(
    client: BingAdsClient, service: CampaignManagement
) -> None:
    first, second = add_tag(service, "First"), add_tag(service, "Second")
    tags = [
        {"Name": "No id"},
        {"Id": "77", "Name": "Unknown"},
        {"Id": str(first.id), "Name": "a"},
        {"Id": str(first.id), "Name": "b"},
        {"Id": str(second.id), "Name": "first"},
    ]
    answer = raw(client, "UpdateUetTags", {"UetTags": tags})
    assert batch(answer) == [
        (0, 5312, "UetTagIdIsNull", "UetTags[0].Id"),
        (1, 5300, "InvalidUetTagId", "UetTags[1].Id"),
        (2, 5301, "DuplicateUetTagId", "UetTags[2].Id"),
        (3, 5301, "DuplicateUetTagId", "UetTags[3].Id"),
        (4, 5303, "UetTagNameAlreadyExists", "UetTags[4].Name"),
    ]


@pytest.mark.parametrize(
    ("operation", "body", "code"),
    [
        ("AddUetTags", {"UetTags": [{"Name": f"T{i}"} for i in range(101)]}, 5309),
        ("AddUetTags", {"UetTags": []}, 5308),
        ("UpdateUetTags", {"UetTags": None}, 5308),
        ("UpdateUetTags", {"UetTags": [{"Id": str(i)} for i in range(101)]}, 5309),
        ("GetUetTagsByIds", {"TagIds": [str(i) for i in range(101)]}, 5304),
        ("GetConversionGoalsByTagIds", {"TagIds": [str(i) for i in range(101)], "ConversionGoalTypes": "Url"}, 5304),
    ],
    ids=["add-101", "add-empty", "update-null", "update-101", "get-101-ids", "goals-by-101-tags"],
)
def test_tag_list_limits_fail_the_whole_call(operation: str, body: Any, code: int, client: BingAdsClient) -> None:
    fault = raw_fault(client, operation, body)
    assert (fault.status, fault.codes) == (400, [code])


# ---- offline conversions ----


def test_accepted_conversions_arrive_with_microsoft_field_names_and_the_account(
    service: CampaignManagement, world: World
) -> None:
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL))
    when = ago(hours=5).replace(microsecond=0)
    sent = conversion(conversion_time=when, conversion_value=12.5, conversion_currency_code="EUR")
    assert errors(service.apply_offline_conversions([sent])) == []
    (got,) = arrived(world)
    assert {k: got[k] for k in ("ConversionName", "ConversionValue", "ConversionCurrencyCode", "MicrosoftClickId")} == {
        "ConversionName": GOAL,
        "ConversionValue": 12.5,
        "ConversionCurrencyCode": "EUR",
        "MicrosoftClickId": sent.microsoft_click_id,
    }
    assert datetime.fromisoformat(got["ConversionTime"]) == when
    assert (got["AccountId"], got["ConversionGoalId"]) == (str(world.account), str(goal_id))
    assert datetime.now(UTC) - datetime.fromisoformat(got["ReceivedTime"]) < timedelta(minutes=1)
    assert arrived(world, account_id=world.sibling) == []


def test_goal_created_moments_ago_takes_uploads_and_unissued_click_ids_are_accepted(
    service: CampaignManagement, world: World
) -> None:
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL))
    assert datetime.now(UTC) - world.state.campaign.goals[goal_id].created_at < timedelta(minutes=1)
    click = "f894f652ea334e739002f7167ab8f8e3"  # the docs' example MSCLKID; the emulator never issued it
    assert click not in world.state.campaign.clicks
    assert errors(service.apply_offline_conversions([conversion(microsoft_click_id=click)])) == []
    assert [c["MicrosoftClickId"] for c in arrived(world)] == [click]


BAD_CONVERSIONS = [
    pytest.param({"conversion_name": None}, 5605, "OfflineConversionNameNullOrEmpty", "ConversionName"),
    pytest.param({"conversion_name": ""}, 5605, "OfflineConversionNameNullOrEmpty", "ConversionName"),
    pytest.param({"conversion_name": "Unknown"}, 5606, "OfflineConversionNameInvalid", "ConversionName"),
    pytest.param({"conversion_name": GOAL.lower()}, 5606, "OfflineConversionNameInvalid", "ConversionName"),
    pytest.param({"conversion_time": None}, 5608, "OfflineConversionTimeNullOrEmpty", "ConversionTime"),
    pytest.param({"conversion_time": ago(hours=-1)}, 5614, "FutureConversionTimeCannotBeSet", "ConversionTime"),
    pytest.param({"conversion_time": ago(days=91)}, 5609, "OfflineConversionTimeOutOfWindow", "ConversionTime"),
    pytest.param(
        {"microsoft_click_id": None}, 5603, "OfflineConversionMicrosoftClickIdNullOrEmpty", "MicrosoftClickId"
    ),
    pytest.param(
        {"microsoft_click_id": "not-a-click"}, 5604, "OfflineConversionMicrosoftClickIdInvalid", "MicrosoftClickId"
    ),
    pytest.param(
        {"microsoft_click_id": "a" * 31}, 5604, "OfflineConversionMicrosoftClickIdInvalid", "MicrosoftClickId"
    ),
    pytest.param(
        {"hashed_email_address": "ada@example.com"}, 201, "ConversionEmailAddressIsNotHashed", "HashedEmailAddress"
    ),
    pytest.param(
        {"hashed_email_address": EMAIL_HASH.upper()}, 201, "ConversionEmailAddressIsNotHashed", "HashedEmailAddress"
    ),
    pytest.param(
        {"microsoft_click_id": None, "hashed_phone_number": "+1 425 555 0100"},
        201,
        "ConversionPhoneNumberIsNotHashed",
        "HashedPhoneNumber",
    ),
    pytest.param({"conversion_value": -0.01}, 5610, "OfflineConversionValueInvalid", "ConversionValue"),
    pytest.param(
        {"conversion_currency_code": "usd"}, 5611, "OfflineConversionCurrencyCodeInvalid", "ConversionCurrencyCode"
    ),
    pytest.param(
        {"conversion_currency_code": "US"}, 5611, "OfflineConversionCurrencyCodeInvalid", "ConversionCurrencyCode"
    ),
    pytest.param(
        {"external_attribution_model": "Linear"},
        201,
        "GoalNotEligibleForExternalAttribution",
        "ExternalAttributionModel",
    ),
    pytest.param(
        {"external_attribution_credit": 0.5},
        201,
        "GoalNotEligibleForExternalAttribution",
        "ExternalAttributionCredit",
    ),
]


@pytest.mark.parametrize(("fields", "code", "symbol", "member"), BAD_CONVERSIONS)
def test_conversion_breaking_a_rule_is_refused_at_its_index_and_the_others_arrive(
    fields: dict[str, Any],
    code: int,
    symbol: str,
    member: str,
    service: CampaignManagement,
    world: World,
) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    sent = [conversion(), conversion(**fields), conversion()]
    assert errors(service.apply_offline_conversions(sent)) == [(1, code, symbol, f"OfflineConversions[1].{member}")]
    assert [c["MicrosoftClickId"] for c in arrived(world)] == [sent[0].microsoft_click_id, sent[2].microsoft_click_id]


@pytest.mark.parametrize(("count", "code"), [(0, 5600), (1001, 5601)])
def test_conversion_list_limits_fail_the_whole_call(
    count: int, code: int, client: BingAdsClient, service: CampaignManagement, world: World
) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    body = {"OfflineConversions": [conversion().to_wire() for _ in range(count)]}
    fault = raw_fault(client, "ApplyOfflineConversions", body)
    assert (fault.status, fault.codes) == (400, [code])
    assert arrived(world) == []


def test_thousand_conversions_are_one_accepted_call(service: CampaignManagement, world: World) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    assert errors(service.apply_offline_conversions([conversion() for _ in range(1000)])) == []
    assert len(arrived(world)) == 1000


def test_repeated_click_time_and_goal_is_kept_once_and_the_first_wins(
    service: CampaignManagement, world: World
) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    add_goal(service, m.OfflineConversionGoal(name="Calls"))
    when = ago(days=1)
    first = conversion(conversion_value=1, conversion_time=when)
    again_in_request = first.model_copy(update={"conversion_value": 2})
    later = first.model_copy(update={"conversion_time": when + timedelta(minutes=1)})
    other_goal = first.model_copy(update={"conversion_name": "Calls"})
    assert errors(service.apply_offline_conversions([first, again_in_request, later, other_goal])) == []
    assert errors(service.apply_offline_conversions([first.model_copy(update={"conversion_value": 3})])) == []
    kept = arrived(world)
    assert [(c["ConversionName"], c.get("ConversionValue")) for c in kept] == [(GOAL, 1), (GOAL, 1), ("Calls", 1)]


def test_enhanced_conversions_dedupe_on_the_hashed_identity(service: CampaignManagement, world: World) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    when = ago(days=2)
    by_email = conversion(microsoft_click_id=None, hashed_email_address=EMAIL_HASH, conversion_time=when)
    by_phone = conversion(microsoft_click_id=None, hashed_phone_number=PHONE_HASH, conversion_time=when)
    assert errors(service.apply_offline_conversions([by_email, by_phone, by_email, by_phone])) == []
    assert [(c.get("HashedEmailAddress"), c.get("HashedPhoneNumber")) for c in arrived(world)] == [
        (EMAIL_HASH, None),
        (None, PHONE_HASH),
    ]


def test_conversion_before_its_click_is_5616(service: CampaignManagement, world: World) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    click = seeded_click(world, world.account)
    click_time = datetime.fromisoformat(click["ClickTime"])
    sent = conversion(microsoft_click_id=click["MicrosoftClickId"], conversion_time=click_time - timedelta(hours=1))
    assert errors(service.apply_offline_conversions([sent])) == [
        (0, 5616, "ConversionTimeEarlierThanClickTime", "OfflineConversions[0].ConversionTime")
    ]


def test_conversion_after_the_goal_window_is_5617_and_within_it_arrives(
    service: CampaignManagement, world: World
) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL, conversion_window_in_minutes=1440))
    click = seeded_click(world, world.account)
    click_time = datetime.fromisoformat(click["ClickTime"])
    late = conversion(microsoft_click_id=click["MicrosoftClickId"], conversion_time=click_time + timedelta(days=2))
    in_time = conversion(microsoft_click_id=click["MicrosoftClickId"], conversion_time=click_time + timedelta(hours=3))
    assert errors(service.apply_offline_conversions([late, in_time])) == [
        (0, 5617, "ClickIdDateTimeOutsideGoalConversionWindow", "OfflineConversions[0].ConversionTime")
    ]
    assert [c["MicrosoftClickId"] for c in arrived(world)] == [click["MicrosoftClickId"]]


def test_posted_click_is_checked_like_a_seeded_one(service: CampaignManagement, world: World) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    click_time = ago(days=3).replace(microsecond=0)
    posted = world.http.post(
        "/_emulator/clicks", json={"AccountId": str(world.account), "ClickTime": click_time.isoformat()}
    )
    assert posted.status_code == 201
    click = posted.json()
    assert datetime.fromisoformat(click["ClickTime"]) == click_time and len(click["MicrosoftClickId"]) == 32
    early = conversion(microsoft_click_id=click["MicrosoftClickId"], conversion_time=click_time - timedelta(seconds=1))
    assert [e[1] for e in errors(service.apply_offline_conversions([early]))] == [5616]


def test_seeded_clicks_are_a_few_hundred_per_account_over_100_days_and_follow_the_seed() -> None:
    first, again, other = (EmulatorState(EmulatorConfig(seed=s)) for s in (7, 7, 8))
    for state in (first, again):
        assert len(state.campaign.clicks) == 300 * len(state.world.accounts)
    assert list(first.campaign.clicks) == list(again.campaign.clicks)
    assert set(first.campaign.clicks).isdisjoint(other.campaign.clicks)
    clicks = first.campaign.clicks_of(next(iter(first.world.accounts)))
    assert len(clicks) == 300
    ages = [datetime.now(UTC) - c.click_time for c in clicks]
    assert min(ages) < timedelta(days=5) and timedelta(days=95) < max(ages) <= timedelta(days=100, minutes=1)


def test_clicks_route_lists_one_account(world: World) -> None:
    clicks = world.http.get("/_emulator/clicks", params={"account_id": world.sibling}).json()
    assert len(clicks) == 300 and {c["AccountId"] for c in clicks} == {str(world.sibling)}
    assert world.http.get("/_emulator/clicks", params={"account_id": "x"}).status_code == 400


def test_externally_attributed_goal_needs_model_and_credit_between_0_and_1(
    service: CampaignManagement, world: World
) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL, is_externally_attributed=True))
    sent = [
        conversion(external_attribution_model="Linear", external_attribution_credit=0.25),
        conversion(external_attribution_credit=0.5),
        conversion(external_attribution_model="Linear"),
        conversion(external_attribution_model="Linear", external_attribution_credit=1.5),
        conversion(external_attribution_model="Linear", external_attribution_credit=1),
    ]
    assert errors(service.apply_offline_conversions(sent)) == [
        (1, 201, "ExternalAttributionRequiredFieldEmpty", "OfflineConversions[1].ExternalAttributionModel"),
        (2, 201, "ExternalAttributionRequiredFieldEmpty", "OfflineConversions[2].ExternalAttributionCredit"),
        (3, 201, "ExternalAttributionCreditValueInvalid", "OfflineConversions[3].ExternalAttributionCredit"),
    ]
    assert [c["ExternalAttributionCredit"] for c in arrived(world)] == [0.25, 1]


def test_conversions_reach_the_goals_their_account_sees(service: CampaignManagement, world: World) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    add_goal(service, m.OfflineConversionGoal(name="Shared", scope="Customer"))
    sent = [conversion(), conversion(conversion_name="Shared")]
    assert errors(service.apply_offline_conversions(sent, account_id=world.sibling)) == [
        (0, 5606, "OfflineConversionNameInvalid", "OfflineConversions[0].ConversionName")
    ]
    assert [(c["ConversionName"], c["AccountId"]) for c in arrived(world)] == [("Shared", str(world.sibling))]
    assert [e[1] for e in errors(service.apply_offline_conversions(sent[1:], account_id=world.linked))] == [5606]


def test_deleted_goal_takes_no_conversions_but_a_paused_one_does(service: CampaignManagement) -> None:
    deleted = add_goal(service, m.OfflineConversionGoal(name=GOAL))
    paused = add_goal(service, m.OfflineConversionGoal(name="Paused goal"))
    updates = [
        m.OfflineConversionGoal(id=deleted, status="Deleted"),
        m.OfflineConversionGoal(id=paused, status="Paused"),
    ]
    assert errors(service.update_conversion_goals(updates)) == []
    sent = [conversion(), conversion(conversion_name="Paused goal")]
    assert [e[1] for e in errors(service.apply_offline_conversions(sent))] == [5606]


# ---- adjustments ----


def adjustment(**fields: Any) -> m.OfflineConversionAdjustment:
    values: dict[str, Any] = {
        "conversion_name": GOAL,
        "conversion_time": ago(days=3),
        "microsoft_click_id": new_click(),
        "adjustment_type": "Restate",
        "adjustment_time": ago(days=1),
        "adjustment_value": 40.0,
        "adjustment_currency_code": "USD",
    }
    return m.OfflineConversionAdjustment(**(values | fields))


def test_restate_and_retract_arrive(service: CampaignManagement, world: World) -> None:
    goal_id = add_goal(service, m.OfflineConversionGoal(name=GOAL))
    sent = [
        adjustment(),
        adjustment(adjustment_type="Retract", adjustment_value=None, adjustment_currency_code=None),
        adjustment(adjustment_currency_code=None),  # the account goal's currency (the account's) applies
    ]
    assert errors(service.apply_offline_conversion_adjustments(sent)) == []
    got = arrived(world, "offline-conversion-adjustments")
    assert [(a["AdjustmentType"], a.get("AdjustmentValue")) for a in got] == [
        ("Restate", 40.0),
        ("Retract", None),
        ("Restate", 40.0),
    ]
    assert {(a["AccountId"], a["ConversionGoalId"]) for a in got} == {(str(world.account), str(goal_id))}


BAD_ADJUSTMENTS = [
    pytest.param({"conversion_name": None}, 5605, "ConversionName"),
    pytest.param({"conversion_name": "Unknown"}, 5606, "ConversionName"),
    pytest.param({"conversion_time": None}, 5608, "ConversionTime"),
    pytest.param({"adjustment_type": None}, 5618, "AdjustmentType"),
    pytest.param({"adjustment_time": None}, 5619, "AdjustmentTime"),
    pytest.param({"adjustment_time": ago(days=4)}, 5620, "AdjustmentTime"),
    pytest.param({"adjustment_time": ago(hours=-1)}, 5622, "AdjustmentTime"),
    pytest.param({"conversion_time": ago(days=95), "adjustment_time": ago(days=91)}, 5623, "AdjustmentTime"),
    pytest.param({"microsoft_click_id": None}, 5603, "MicrosoftClickId"),
    pytest.param({"microsoft_click_id": "g" * 32}, 5604, "MicrosoftClickId"),
    pytest.param({"adjustment_type": "Retract", "adjustment_currency_code": None}, 5624, "AdjustmentValue"),
    pytest.param({"adjustment_value": None}, 5625, "AdjustmentValue"),
    pytest.param({"adjustment_value": -5}, 5610, "AdjustmentValue"),
    pytest.param({"adjustment_currency_code": "Dollars"}, 5611, "AdjustmentCurrencyCode"),
    pytest.param({"conversion_name": "Shared", "adjustment_currency_code": None}, 5626, "AdjustmentCurrencyCode"),
]


@pytest.mark.parametrize(("fields", "code", "member"), BAD_ADJUSTMENTS)
def test_adjustment_breaking_a_rule_is_refused_at_its_index(
    fields: dict[str, Any], code: int, member: str, service: CampaignManagement, world: World
) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    add_goal(service, m.OfflineConversionGoal(name="Shared", scope="Customer"))
    sent = [adjustment(), adjustment(**fields)]
    ((index, got_code, _, path),) = errors(service.apply_offline_conversion_adjustments(sent))
    assert (index, got_code, path) == (1, code, f"OfflineConversionAdjustments[1].{member}")
    assert len(arrived(world, "offline-conversion-adjustments")) == 1


# ---- headers and inspection ----


def test_campaign_calls_need_the_customer_account_id_header_1030(client: BingAdsClient) -> None:
    op = OPERATIONS["GetUetTagsByIds"]
    with pytest.raises(ApiError) as raised:
        client.raw_rest("campaign-management", op.method, op.path, {}, account_id=None)
    assert (raised.value.status, raised.value.codes) == (400, [1030])


def test_an_account_the_user_cannot_see_is_106(service: CampaignManagement, world: World) -> None:
    visible = set(world.state.visible_account_ids(world.state.config.default_user_id))
    hidden = next(a for a in world.state.world.accounts if a not in visible)
    with pytest.raises(ApiError) as raised:
        service.get_uet_tags(account_id=hidden)
    assert raised.value.codes == [106]


def test_every_call_that_reaches_a_handler_is_counted(
    client: BingAdsClient, service: CampaignManagement, world: World
) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    service.apply_offline_conversions([conversion()])
    service.apply_offline_conversions([conversion(conversion_name="Unknown")])
    raw_fault(client, "ApplyOfflineConversions", {"OfflineConversions": []})
    calls = world.http.get("/_emulator/calls").json()
    assert (calls["AddConversionGoals"], calls["ApplyOfflineConversions"]) == (1, 3)
    assert world.http.delete("/_emulator/calls").json() == {}
    assert world.http.get("/_emulator/calls").json() == {}


@pytest.mark.parametrize(
    ("goal", "code"),
    [
        pytest.param(
            m.UrlGoal(
                name="G", url_expression="t", url_operator="Contains", view_through_conversion_window_in_minutes=0
            ),
            5337,
            id="view-through-0",
        ),
        pytest.param(m.EventGoal(name="G", action_expression="buy"), 5336, id="event-expression-without-operator"),
    ],
)
def test_client_refuses_locally_what_microsoft_refuses(
    goal: m.ConversionGoal, code: int, client: BingAdsClient, service: CampaignManagement, world: World
) -> None:
    tag = add_tag(service)
    goal = goal.model_copy(update={"tag_id": tag.id})
    with pytest.raises(ValidationError):
        service.add_conversion_goals([goal])
    assert world.http.get("/_emulator/calls").json() == {"AddUetTags": 1}
    answer = raw(client, "AddConversionGoals", {"ConversionGoals": [goal.to_wire()]})
    assert [c for _, c, _, _ in batch(answer)] == [code]


def test_a_time_that_is_not_a_date_time_fails_the_whole_request_201(
    client: BingAdsClient, service: CampaignManagement, world: World
) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    good = conversion().to_wire()
    fault = raw_fault(
        client, "ApplyOfflineConversions", {"OfflineConversions": [good, {**good, "ConversionTime": "yesterday"}]}
    )
    assert (fault.status, fault.codes) == (400, [201])
    assert arrived(world) == []


def test_a_time_without_offset_is_taken_as_utc(
    client: BingAdsClient, service: CampaignManagement, world: World
) -> None:
    add_goal(service, m.OfflineConversionGoal(name=GOAL))
    naive = ago(days=1).replace(tzinfo=None, microsecond=0)
    body = {"OfflineConversions": [{**conversion().to_wire(), "ConversionTime": naive.isoformat()}]}
    assert raw(client, "ApplyOfflineConversions", body)["PartialErrors"] == []
    (got,) = arrived(world)
    assert datetime.fromisoformat(got["ConversionTime"]) == naive.replace(tzinfo=UTC)


# ---- account properties: MSCLKID auto-tagging ----


def test_auto_tagging_is_off_until_set_and_is_kept_per_account(service: CampaignManagement, world: World) -> None:
    assert service.msclkid_auto_tagging() is False
    service.enable_msclkid_auto_tagging()
    assert service.msclkid_auto_tagging() is True
    assert service.get_account_properties([m.MSCLKID_AUTO_TAGGING], account_id=world.sibling) == {
        m.MSCLKID_AUTO_TAGGING: "false"
    }


def test_creating_an_offline_goal_turns_auto_tagging_on(service: CampaignManagement) -> None:
    assert all(r.ok for r in service.add_conversion_goals([m.OfflineConversionGoal(name=GOAL)]))
    assert service.msclkid_auto_tagging() is True


def test_unknown_property_names_are_refused(service: CampaignManagement) -> None:
    with pytest.raises(ApiError, match="ApiInputValidationError"):
        service.get_account_properties(["NoSuchProperty"])
    with pytest.raises(ApiError, match="true or false"):
        service.set_account_properties({m.MSCLKID_AUTO_TAGGING: "yes"})
    assert service.msclkid_auto_tagging() is False  # all or none
