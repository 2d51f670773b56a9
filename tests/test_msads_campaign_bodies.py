"""The JSON bodies `client.campaign_management` sends for every operation, read by Microsoft's REST SDK (msads).

Each case drives the typed service through a recording MockTransport (`tests/msads_support.py`); the recorded
body must survive msads' `<Op>Request.from_dict` / `to_dict` unchanged (`tests/msads_compat.py`), and the method
and path must be the ones msads' CampaignManagementServiceApi uses.

msads types ConversionGoal.Type and ConversionGoalTypes as a Flag enum whose parser starts from its own `None`
member: the checker compares flags as sets of names and ignores that spurious `None` (see `assert_accepted_by_msads`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bingbridge.api import campaign_management as cm
from bingbridge.api.models import campaign as m
from bingbridge.api.models.base import WireModel
from bingbridge.api.operations import Operation
from tests.msads_compat import MSADS_IMPORT_WARNING, assert_accepted_by_msads, msads_model, msads_module_name
from tests.msads_support import BASE_URL, Recorded, recording_client

pytestmark = pytest.mark.filterwarnings(MSADS_IMPORT_WARNING)

ACCOUNT = 100170606
TAG = 100400017
GOAL = 100400123
OTHER_GOAL = 100400456
CLICK = "f894f652ea334e739002f7167ab8f8e3"  # Microsoft's documented example MSCLKID
EMAIL = hashlib.sha256(b"ada@example.com").hexdigest()
PHONE = hashlib.sha256(b"+14255550100").hexdigest()
WHEN = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
LATER = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    with recording_client(tmp_path, cm.OPERATIONS, account_id=ACCOUNT) as recorded:
        yield recorded


@dataclass(frozen=True)
class BodyCase:
    """One realistic call of a typed Campaign Management method."""

    operation: str
    name: str
    call: Callable[[cm.CampaignManagement], object]


def _case(operation: str, name: str, call: Callable[[cm.CampaignManagement], object]) -> Any:
    return pytest.param(BodyCase(operation, name, call), id=f"{operation}-{name}")


def _offline_goal_with_every_seed_input() -> m.OfflineConversionGoal:
    """The seed's Add Offline Conversions Goal action with every input set."""
    return m.OfflineConversionGoal(
        name="Closed deals",
        goal_category="Purchase",
        conversion_window_in_minutes=129_600,
        count_type="Unique",
        exclude_from_bidding=True,
        is_enhanced_conversions_enabled=True,
        scope="Customer",
        status="Paused",
        is_externally_attributed=True,
        revenue=m.ConversionGoalRevenue(type="VariableValue", value=49.99, currency_code="EUR"),
        attribution_model_type="LastTouch",
    )


CASES: list[Any] = [
    # ---- AddConversionGoals, one case per goal type users create ----
    _case("AddConversionGoals", "offline-every-seed-input", lambda s: s.add_conversion_goals(
        [_offline_goal_with_every_seed_input()]
    )),
    _case("AddConversionGoals", "offline-seed-defaults", lambda s: s.add_conversion_goals(
        [m.OfflineConversionGoal(name="Phone orders")]
    )),
    _case("AddConversionGoals", "url", lambda s: s.add_conversion_goals([
        m.UrlGoal(
            name="Thank-you page", tag_id=TAG, url_expression="/thanks", url_operator="BeginsWith",
            revenue=m.ConversionGoalRevenue(type="FixedValue", value=5, currency_code="USD"), goal_category="Signup",
            view_through_conversion_window_in_minutes=1440,
        )
    ])),
    _case("AddConversionGoals", "duration", lambda s: s.add_conversion_goals([
        m.DurationGoal(name="Engaged visit", tag_id=TAG, minimum_duration_in_seconds=300, count_type="Unique")
    ])),
    _case("AddConversionGoals", "pages-viewed-per-visit", lambda s: s.add_conversion_goals([
        m.PagesViewedPerVisitGoal(name="Deep visit", tag_id=TAG, minimum_pages_viewed=5, status="Active")
    ])),
    _case("AddConversionGoals", "event", lambda s: s.add_conversion_goals([
        m.EventGoal(
            name="Purchase event", tag_id=TAG, goal_category="Purchase",
            action_expression="purchase", action_operator="Equals",
            category_expression="checkout", category_operator="Contains",
            label_expression="^web-.*", label_operator="RegularExpression",
            value=10, value_operator="GreaterThan",
            revenue=m.ConversionGoalRevenue(type="VariableValue", value=0, currency_code="USD"),
        )
    ])),
    _case("AddConversionGoals", "all-types-in-one-call", lambda s: s.add_conversion_goals([
        m.OfflineConversionGoal(name="Offline"),
        m.UrlGoal(name="Url", tag_id=TAG, url_expression="thanks", url_operator="Contains"),
        m.DurationGoal(name="Duration", tag_id=TAG, minimum_duration_in_seconds=60),
        m.PagesViewedPerVisitGoal(name="Pages", tag_id=TAG, minimum_pages_viewed=3),
        m.EventGoal(name="Event", tag_id=TAG, action_expression="signup", action_operator="Equals"),
        m.InStoreTransactionGoal(name="Stores", scope="Customer"),
        m.AppInstallGoal(name="App", app_platform="Android", app_store_id="com.contoso.app", scope="Customer"),
    ])),
    # ---- UpdateConversionGoals ----
    _case("UpdateConversionGoals", "offline-partial", lambda s: s.update_conversion_goals([
        m.OfflineConversionGoal(id=GOAL, conversion_window_in_minutes=1440, status="Paused")
    ])),
    _case("UpdateConversionGoals", "rename-and-new-revenue", lambda s: s.update_conversion_goals([
        m.OfflineConversionGoal(
            id=GOAL, name="Closed deals (CRM)",
            revenue=m.ConversionGoalRevenue(type="FixedValue", value=100, currency_code="GBP"),
        ),
        m.UrlGoal(id=OTHER_GOAL, url_expression="/order-complete", url_operator="Equals"),
    ])),
    # ---- GetConversionGoalsByIds ----
    _case("GetConversionGoalsByIds", "all-offline-goals", lambda s: s.get_conversion_goals(["OfflineConversion"])),
    _case("GetConversionGoalsByIds", "all-types-no-ids", lambda s: s.get_conversion_goals()),
    _case("GetConversionGoalsByIds", "ids-with-additional-fields", lambda s: s.get_conversion_goals(
        ["OfflineConversion", "Url"], [GOAL, OTHER_GOAL],
        additional_fields=["GoalCategory", "IsExternallyAttributed", "ViewThroughConversionWindowInMinutes"],
    )),
    _case("GetConversionGoalsByIds", "empty-ids", lambda s: s.get_conversion_goals(["Event"], [])),
    # ---- GetConversionGoalsByTagIds ----
    _case("GetConversionGoalsByTagIds", "one-tag-two-types", lambda s: s.get_conversion_goals_by_tag_ids(
        [TAG], ["Url", "Event"]
    )),
    _case("GetConversionGoalsByTagIds", "tags-all-types", lambda s: s.get_conversion_goals_by_tag_ids(
        [TAG, TAG + 1]
    )),
    # ---- ApplyOfflineConversions ----
    _case("ApplyOfflineConversions", "click-ids", lambda s: s.apply_offline_conversions([
        m.OfflineConversion(conversion_name="Closed deals", conversion_time=WHEN, microsoft_click_id=CLICK),
        m.OfflineConversion(
            conversion_name="Closed deals", conversion_time=LATER, microsoft_click_id=CLICK,
            conversion_value=120.5, conversion_currency_code="EUR",
        ),
    ])),
    _case("ApplyOfflineConversions", "hashed-identities", lambda s: s.apply_offline_conversions([
        m.OfflineConversion(conversion_name="Closed deals", conversion_time=WHEN, hashed_email_address=EMAIL),
        m.OfflineConversion(conversion_name="Closed deals", conversion_time=WHEN, hashed_phone_number=PHONE),
        m.OfflineConversion(
            conversion_name="Closed deals", conversion_time=WHEN, microsoft_click_id=CLICK,
            hashed_email_address=EMAIL, hashed_phone_number=PHONE, conversion_value=0,
        ),
    ])),
    _case("ApplyOfflineConversions", "external-attribution", lambda s: s.apply_offline_conversions([
        m.OfflineConversion(
            conversion_name="Closed deals", conversion_time=WHEN, microsoft_click_id=CLICK,
            external_attribution_model="Linear", external_attribution_credit=0.25,
            conversion_value=200, conversion_currency_code="USD",
        )
    ])),
    _case("ApplyOfflineConversions", "thousand", lambda s: s.apply_offline_conversions([
        m.OfflineConversion(conversion_name="Closed deals", conversion_time=WHEN, microsoft_click_id=f"{i:032x}")
        for i in range(1000)
    ])),
    # ---- ApplyOfflineConversionAdjustments ----
    _case("ApplyOfflineConversionAdjustments", "restate", lambda s: s.apply_offline_conversion_adjustments([
        m.OfflineConversionAdjustment(
            conversion_name="Closed deals", conversion_time=WHEN, microsoft_click_id=CLICK,
            adjustment_type="Restate", adjustment_time=LATER, adjustment_value=80, adjustment_currency_code="EUR",
        )
    ])),
    _case("ApplyOfflineConversionAdjustments", "retract-by-hashed-email", lambda s: (
        s.apply_offline_conversion_adjustments([
            m.OfflineConversionAdjustment(
                conversion_name="Closed deals", conversion_time=WHEN, hashed_email_address=EMAIL,
                hashed_phone_number=PHONE, adjustment_type="Retract", adjustment_time=LATER,
            )
        ])
    )),
    # ---- UET tags ----
    _case("AddUetTags", "name-and-description", lambda s: s.add_uet_tags([
        m.UetTag(name="Contoso site", description="Every page of contoso.example"),
        m.UetTag(name="Checkout"),
    ])),
    _case("GetUetTagsByIds", "all-tags", lambda s: s.get_uet_tags()),
    _case("GetUetTagsByIds", "by-ids", lambda s: s.get_uet_tags([TAG, TAG + 1])),
    _case("UpdateUetTags", "rename-and-describe", lambda s: s.update_uet_tags([
        m.UetTag(id=TAG, name="Contoso site (all pages)", description="Moved to the master page"),
        m.UetTag(id=TAG + 1, description="Checkout only"),
    ])),
    # ---- account properties ----
    _case("GetAccountProperties", "auto-tagging", lambda s: s.get_account_properties([m.MSCLKID_AUTO_TAGGING])),
    _case("GetAccountProperties", "several", lambda s: s.get_account_properties(
        [m.MSCLKID_AUTO_TAGGING, "TrackingUrlTemplate", "FinalUrlSuffix"]
    )),
    _case("SetAccountProperties", "enable-auto-tagging", lambda s: s.enable_msclkid_auto_tagging()),
    _case("SetAccountProperties", "two", lambda s: s.set_account_properties(
        {m.MSCLKID_AUTO_TAGGING: "true", "FinalUrlSuffix": "src=bing"}
    )),
]  # fmt: skip


def _op(name: str) -> Operation[Any, Any]:
    return next(op for op in cm.OPERATIONS if op.name == name)


@pytest.mark.parametrize("case", CASES)
def test_sent_body_is_read_back_unchanged_by_msads(case: BodyCase, recorded: Recorded) -> None:
    case.call(recorded.client.campaign_management)
    (request,) = recorded.transport.requests
    op = _op(case.operation)
    assert (request.method, request.url.path) == (op.method, op.path)
    assert request.headers["CustomerAccountId"] == str(ACCOUNT)
    assert_accepted_by_msads(op.request.type_name(), json.loads(request.content), package="campaign")


@pytest.mark.parametrize("op", cm.OPERATIONS, ids=lambda op: op.name)
def test_every_operation_has_body_cases(op: Operation[Any, Any]) -> None:
    covered = {param.values[0].operation for param in CASES}
    assert op.name in covered, f"add realistic calls of {op.name} to CASES in {__file__}"


def test_the_cases_send_every_goal_type_users_create(recorded: Recorded) -> None:
    for param in CASES:
        case: BodyCase = param.values[0]
        if case.operation == "AddConversionGoals":
            case.call(recorded.client.campaign_management)
    sent = {g["Type"] for r in recorded.transport.requests for g in json.loads(r.content)["ConversionGoals"]}
    assert {"OfflineConversion", "Url", "Duration", "PagesViewedPerVisit", "Event"} <= sent


@pytest.mark.parametrize("op", cm.OPERATIONS, ids=lambda op: op.name)
def test_operation_route_is_the_one_msads_uses(op: Operation[Any, Any]) -> None:
    from openapi_client.api.campaign_management_service_api import CampaignManagementServiceApi
    from openapi_client.api_client import ApiClient
    from openapi_client.configuration import Configuration

    api = CampaignManagementServiceApi(ApiClient(Configuration(host=BASE_URL)))
    serialize = getattr(api, f"_{msads_module_name(op.name)}_serialize")
    request = msads_model(op.request.type_name(), "campaign")()
    method, url, *_ = serialize(request, _request_auth=None, _content_type=None, _headers=None, _host_index=0)
    assert (method, url) == (op.method, BASE_URL + op.path)


def test_checker_reads_goal_type_flags_as_sets_and_rejects_unknown_ones() -> None:
    body = {"ConversionGoalTypes": "Event, Url, OfflineConversion"}
    assert_accepted_by_msads("GetConversionGoalsByIdsRequest", body, package="campaign")
    with pytest.raises(AssertionError, match=r"ConversionGoalTypes: .*Invalid CampaignType value: Offline"):
        assert_accepted_by_msads("GetConversionGoalsByIdsRequest", {"ConversionGoalTypes": "Url, Offline"}, "campaign")


def test_checker_rejects_a_member_of_another_goal_type() -> None:
    body = {"ConversionGoals": [{"Type": "OfflineConversion", "Name": "x", "UrlExpression": "thanks"}]}
    with pytest.raises(AssertionError, match=r"ConversionGoals\[0\]\.UrlExpression: msads does not know this key"):
        assert_accepted_by_msads("AddConversionGoalsRequest", body, package="campaign")


# ---- our models against msads' models ----

# Abstract bases whose msads class holds only the discriminator; their members are compared on the subclasses.
_BASES_COMPARED_VIA = {"ConversionGoal": None, "BatchError": "BatchErrorBase"}
# Our own groupings of responses that share members; msads has no class of that name.
# msads types SetAccountProperties' answer as a bare `object` (it has no members to compare).
_OURS_ONLY = {"PartialErrorsResponse", "GetConversionGoalsResponse", "UetTagsResponse", "SetAccountPropertiesResponse"}


def _campaign_models() -> list[Any]:
    return [
        pytest.param(value, id=value.__name__)
        for value in vars(m).values()
        if isinstance(value, type)
        and issubclass(value, WireModel)
        and value.__module__ == m.__name__
        and value.__name__ not in _OURS_ONLY
        and _BASES_COMPARED_VIA.get(value.__name__, "") is not None
    ]


@pytest.mark.parametrize("model", _campaign_models())
def test_our_model_has_the_fields_of_the_msads_model(model: Any) -> None:
    theirs = msads_model(_BASES_COMPARED_VIA.get(model.__name__) or model.type_name(), "campaign")
    our_names = {info.alias or name for name, info in model.model_fields.items()}
    their_names = {info.alias or name for name, info in theirs.model_fields.items()}
    assert their_names - our_names == set(), f"{model.__name__} does not read these msads fields"
    assert our_names - their_names == set(), f"{model.__name__} has fields msads does not know"
