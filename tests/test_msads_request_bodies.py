"""The JSON bodies our client sends for every Customer Management operation, read by Microsoft's REST SDK.

Each case drives `client.customer_management` through an `httpx.MockTransport` that records the request and
answers a minimal valid response; the recorded body must survive msads' `<Op>Request.from_dict` / `to_dict`
unchanged (see `tests/msads_compat.py`), and the method and path must be the ones msads itself uses. Our
Customer Management models must also know the same fields as msads' models, so nothing Microsoft sends is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bingbridge.api import customer_management as cm
from bingbridge.api.models import customer as customer_models
from bingbridge.api.models.base import KeyValuePairOfstringstring, WireModel
from bingbridge.api.models.customer import ClientLink, OrderBy, Paging, Predicate, UserInvitation
from bingbridge.api.operations import Operation
from tests.msads_compat import MSADS_IMPORT_WARNING, assert_accepted_by_msads, msads_model, msads_module_name
from tests.msads_support import BASE_URL, Recorded, recording_client

pytestmark = pytest.mark.filterwarnings(MSADS_IMPORT_WARNING)

AGENCY = 100150217
CLIENT_CUSTOMER = 100150390
ACCOUNT = 100170606
OTHER_ACCOUNT = 100174584
USER = 100221368
# The least each operation may answer; SendUserInvitationResponse is the only one with a required field.
MINIMAL_RESPONSES: dict[str, dict[str, Any]] = {"SendUserInvitation": {"UserInvitationId": "100300001"}}


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    """A client whose only network is a recording MockTransport, holding a valid access token."""
    with recording_client(tmp_path, cm.OPERATIONS, MINIMAL_RESPONSES) as recorded:
        yield recorded


@dataclass(frozen=True)
class BodyCase:
    """One realistic call of a typed Customer Management method."""

    operation: str
    name: str
    call: Callable[[cm.CustomerManagement], object]


def _case(
    operation: str, name: str, call: Callable[[cm.CustomerManagement], object], *, known_bug: str | None = None
) -> Any:
    """A pytest param; `known_bug` marks a discrepancy with msads that is reported and not yet fixed (strict
    xfail, so the fix makes the test fail until the mark is removed)."""
    marks = [pytest.mark.xfail(strict=True, reason=known_bug)] if known_bug else []
    return pytest.param(BodyCase(operation, name, call), id=f"{operation}-{name}", marks=marks)


START = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)

CASES: list[Any] = [
    # ---- AddClientLinks ----
    _case("AddClientLinks", "account-link-defaults", lambda s: s.add_client_links(
        [ClientLink(client_entity_id=ACCOUNT, managing_customer_id=AGENCY)]
    )),
    _case("AddClientLinks", "account-link-by-numbers-with-inviter", lambda s: s.add_client_links([
        ClientLink(
            client_entity_number="F119XKQ7",
            managing_customer_number="C41JRQX2",
            name="Contoso search",
            note="Please accept so we can run your search campaigns.",
            inviter_email="ada@northwind.example",
            inviter_name="Ada Lovelace",
            inviter_phone="+1 425 555 0100",
            is_bill_to_client=True,
            start_date=START,
        )
    ])),
    _case("AddClientLinks", "customer-link-with-permission", lambda s: s.add_client_links([
        ClientLink(
            type="CustomerLink",
            client_entity_id=CLIENT_CUSTOMER,
            managing_customer_id=AGENCY,
            customer_link_permission="Administrative",
            suppress_notification=True,
            start_date=datetime(2026, 3, 1, tzinfo=UTC),
        ),
        ClientLink(
            type="CustomerLink",
            client_entity_id=CLIENT_CUSTOMER + 1,
            managing_customer_id=AGENCY,
            customer_link_permission="Standard",
        ),
    ])),
    _case("AddClientLinks", "ten-links", lambda s: s.add_client_links(
        [ClientLink(client_entity_id=ACCOUNT + i, managing_customer_id=AGENCY, name=f"Link {i}") for i in range(10)]
    )),
    _case("AddClientLinks", "forward-compatibility-map", lambda s: s.add_client_links([
        ClientLink(
            client_entity_id=ACCOUNT,
            managing_customer_id=AGENCY,
            forward_compatibility_map=[KeyValuePairOfstringstring(key="Feature", value="On")],
        )
    ])),
    # ---- SearchClientLinks ----
    _case("SearchClientLinks", "client-account-equals", lambda s: s.search_client_links(
        cm.client_link_predicates(client_account_id=ACCOUNT)
    )),
    _case("SearchClientLinks", "client-accounts-in-and-direct-manager", lambda s: s.search_client_links(
        cm.client_link_predicates(client_account_id=[ACCOUNT, OTHER_ACCOUNT], direct_managing_customer_id=AGENCY)
    )),
    _case("SearchClientLinks", "client-customers-in-and-manager-ordered-paged", lambda s: s.search_client_links(
        cm.client_link_predicates(
            client_customer_id=[CLIENT_CUSTOMER, CLIENT_CUSTOMER + 7], managing_customer_id=AGENCY
        ),
        ordering=[OrderBy(field="Name", order="Descending")],
        page=Paging(index=2, size=50),
    )),
    _case("SearchClientLinks", "client-customer-equals-ordered-by-id", lambda s: s.search_client_links(
        cm.client_link_predicates(client_customer_id=CLIENT_CUSTOMER),
        ordering=[OrderBy(field="Id")],
        page=Paging(index=0, size=1),
    )),
    # ---- SearchAccounts ----
    _case("SearchAccounts", "account-id-equals", lambda s: s.search_accounts(
        cm.account_predicates(account_id=ACCOUNT)
    )),
    _case("SearchAccounts", "account-ids-in", lambda s: s.search_accounts(
        cm.account_predicates(account_id=[ACCOUNT, OTHER_ACCOUNT])
    )),
    _case("SearchAccounts", "name-contains", lambda s: s.search_accounts(cm.account_predicates(name="Contoso"))),
    _case("SearchAccounts", "name-equals-ordered-by-name", lambda s: s.search_accounts(
        cm.account_predicates(name="Contoso Retail - Search", name_equals=True),
        ordering=[OrderBy(field="Name", order="Ascending")],
    )),
    _case("SearchAccounts", "number-equals", lambda s: s.search_accounts(cm.account_predicates(number="F119XKQ7"))),
    _case("SearchAccounts", "number-in-and-contains", lambda s: s.search_accounts(
        [Predicate(field="AccountNumber", operator="In", value="F119XKQ7,F6XV0N48")]
    )),
    _case("SearchAccounts", "number-contains", lambda s: s.search_accounts(
        [Predicate(field="AccountNumber", operator="Contains", value="F119")]
    )),
    _case("SearchAccounts", "customer-id-with-status-paged", lambda s: s.search_accounts(
        cm.account_predicates(customer_id=AGENCY, status="Active"),
        ordering=[OrderBy(field="Number", order="Descending")],
        page=Paging(index=3, size=1000),
    )),
    _case("SearchAccounts", "user-id-with-paused-status", lambda s: s.search_accounts(
        cm.account_predicates(user_id=USER, status="Pause")
    )),
    _case("SearchAccounts", "one-additional-field", lambda s: s.search_accounts(
        cm.account_predicates(customer_id=AGENCY), return_additional_fields=["TaxCertificate"]
    )),
    _case("SearchAccounts", "several-additional-fields", lambda s: s.search_accounts(
        cm.account_predicates(customer_id=AGENCY),
        ordering=[OrderBy(field="Id", order="Ascending")],
        page=Paging(index=0, size=25),
        return_additional_fields=["AccountMode", "TaxCertificate", "ParentCustomerNumber"],
    )),
    # ---- GetAccountsInfo ----
    _case("GetAccountsInfo", "signed-in-customer", lambda s: s.get_accounts_info()),
    _case("GetAccountsInfo", "customer-only-parent", lambda s: s.get_accounts_info(AGENCY, only_parent_accounts=True)),
    # ---- GetCustomer ----
    _case("GetCustomer", "by-id", lambda s: s.get_customer(AGENCY)),
    # ---- GetCustomersInfo ----
    _case("GetCustomersInfo", "defaults", lambda s: s.get_customers_info()),
    _case("GetCustomersInfo", "name-prefix-top-100", lambda s: s.get_customers_info("Contoso", top_n=100)),
    # ---- GetLinkedAccountsAndCustomersInfo ----
    _case("GetLinkedAccountsAndCustomersInfo", "signed-in-customer", lambda s: (
        s.get_linked_accounts_and_customers_info()
    )),
    _case("GetLinkedAccountsAndCustomersInfo", "customer-only-parent", lambda s: (
        s.get_linked_accounts_and_customers_info(AGENCY, only_parent_accounts=True)
    )),
    # ---- SendUserInvitation ----
    _case("SendUserInvitation", "whole-customer-default-language", lambda s: s.send_user_invitation(
        UserInvitation(
            first_name="Grace", last_name="Hopper", email="grace@example.com", customer_id=AGENCY, role_id=41
        )
    )),
    _case("SendUserInvitation", "some-accounts-in-french", lambda s: s.send_user_invitation(
        UserInvitation(
            first_name="Édith",
            last_name="Piaf",
            email="edith.piaf@example.fr",
            customer_id=AGENCY,
            role_id=16,
            account_ids=[ACCOUNT, OTHER_ACCOUNT],
            lcid="FrenchFrance",
        )
    )),
    _case("SendUserInvitation", "viewer-one-account", lambda s: s.send_user_invitation(
        UserInvitation(
            first_name="Alan", last_name="Turing", email="alan@example.com", customer_id=AGENCY, role_id=100,
            account_ids=[ACCOUNT],
        )
    )),
    # ---- UpdateClientLinks ----
    _case("UpdateClientLinks", "accept-an-account-link", lambda s: s.update_client_links([
        ClientLink(
            type="AccountLink", client_entity_id=ACCOUNT, managing_customer_id=AGENCY, status="LinkAccepted",
            timestamp="AAAAAAAPQkA=", start_date=START, is_bill_to_client=False, suppress_notification=True,
        )
    ])),
    _case("UpdateClientLinks", "cancel-two", lambda s: s.update_client_links([
        ClientLink(client_entity_id=ACCOUNT, managing_customer_id=AGENCY, status="LinkCanceled", timestamp="AQ=="),
        ClientLink(
            type="CustomerLink", client_entity_id=CLIENT_CUSTOMER, managing_customer_id=AGENCY,
            status="LinkCanceled", timestamp="Ag==", customer_link_permission="Standard",
        ),
    ])),
    # ---- GetCustomerPilotFeatures ----
    _case("GetCustomerPilotFeatures", "agency", lambda s: s.get_customer_pilot_features(AGENCY)),
    # ---- SearchUserInvitations ----
    _case("SearchUserInvitations", "by-customer", lambda s: s.search_user_invitations(AGENCY)),
    # ---- GetUser ----
    _case("GetUser", "signed-in-user", lambda s: s.get_user()),
    _case("GetUser", "by-id", lambda s: s.get_user(USER)),
]  # fmt: skip


def _op(name: str) -> Operation[Any, Any]:
    return next(op for op in cm.OPERATIONS if op.name == name)


@pytest.mark.parametrize("case", CASES)
def test_sent_body_is_read_back_unchanged_by_msads(case: BodyCase, recorded: Recorded) -> None:
    case.call(recorded.client.customer_management)
    (request,) = recorded.transport.requests
    op = _op(case.operation)
    assert (request.method, request.url.path) == (op.method, op.path)
    assert_accepted_by_msads(op.request.type_name(), json.loads(request.content))


@pytest.mark.parametrize("op", cm.OPERATIONS, ids=lambda op: op.name)
def test_every_operation_has_body_cases(op: Operation[Any, Any]) -> None:
    covered = {param.values[0].operation for param in CASES}
    assert op.name in covered, f"add realistic calls of {op.name} to CASES in {__file__}"


@pytest.mark.parametrize("op", cm.OPERATIONS, ids=lambda op: op.name)
def test_operation_route_is_the_one_msads_uses(op: Operation[Any, Any]) -> None:
    from openapi_client.api.customer_management_service_api import CustomerManagementServiceApi
    from openapi_client.api_client import ApiClient
    from openapi_client.configuration import Configuration

    api = CustomerManagementServiceApi(ApiClient(Configuration(host=BASE_URL)))
    serialize = getattr(api, f"_{msads_module_name(op.name)}_serialize")
    request = msads_model(op.request.type_name())()
    method, url, *_ = serialize(request, _request_auth=None, _content_type=None, _headers=None, _host_index=0)
    assert (method, url) == (op.method, BASE_URL + op.path)


# ---- the checker itself must be able to fail ----


def _rejection(model_name: str, body: dict[str, Any]) -> str:
    with pytest.raises(AssertionError) as raised:
        assert_accepted_by_msads(model_name, body)
    return str(raised.value)


def test_checker_rejects_a_key_msads_does_not_know() -> None:
    body = {"ClientLinks": [{"ClientEntityId": "1", "ClientEntityID": "1"}]}
    assert "ClientLinks[0].ClientEntityID: msads does not know this key" in _rejection("AddClientLinksRequest", body)


def test_checker_rejects_an_int_where_msads_wants_a_string_id() -> None:
    message = _rejection("GetUserRequest", {"UserId": 100221368})
    assert "UserId: Input should be a valid string (got 100221368)" in message


def test_checker_rejects_a_string_where_msads_wants_a_number() -> None:
    body = {"Predicates": [], "PageInfo": {"Index": 0, "Size": "100"}}
    assert "PageInfo.Size: Input should be a valid integer" in _rejection("SearchAccountsRequest", body)


def test_checker_rejects_an_unknown_enum_value_with_its_path() -> None:
    body = {"Predicates": [{"Field": "AccountName", "Operator": "Like", "Value": "Contoso"}]}
    assert "Predicates[0].Operator: Input should be 'Equals'" in _rejection("SearchAccountsRequest", body)


def test_checker_rejects_a_value_msads_drops() -> None:
    body = {"ClientLinks": [{"ClientEntityId": "1"}, None]}
    assert "ClientLinks: we sent 2 items, msads keeps 1" in _rejection("AddClientLinksRequest", body)


def test_checker_rejects_a_time_msads_reads_differently() -> None:
    # pydantic reads a numeric string as Unix time; on the wire it is not an ISO 8601 dateTime.
    body = {"ClientLinks": [{"StartDate": "1772357415"}]}
    message = _rejection("AddClientLinksRequest", body)
    assert "ClientLinks[0].StartDate: we sent '1772357415', msads reads the time 2026-03-01T09:30:15+00:00" in message


def test_checker_accepts_the_same_instant_and_flags_in_any_order() -> None:
    assert_accepted_by_msads("AddClientLinksRequest", {"ClientLinks": [{"StartDate": "2026-03-01T09:30:15Z"}]})
    body = {"Predicates": [], "ReturnAdditionalFields": "ParentCustomerNumber, AccountMode"}
    assert_accepted_by_msads("SearchAccountsRequest", body)


# ---- our models against msads' models ----


def _customer_models() -> list[Any]:
    """Every Customer Management model class we define, as params; known gaps are strict xfails."""
    models = [
        value
        for value in vars(customer_models).values()
        if isinstance(value, type) and issubclass(value, WireModel) and value.__module__ == customer_models.__name__
    ]
    known_bugs: dict[str, str] = {}
    return [
        pytest.param(
            model,
            id=model.__name__,
            marks=[pytest.mark.xfail(strict=True, reason=known_bugs[model.__name__])]
            if model.__name__ in known_bugs
            else [],
        )
        for model in models
    ]


@pytest.mark.parametrize("model", _customer_models())
def test_our_model_has_the_fields_of_the_msads_model(model: Any) -> None:
    theirs = msads_model(model.type_name())
    our_names = {info.alias or name for name, info in model.model_fields.items()}
    their_names = {info.alias or name for name, info in theirs.model_fields.items()}
    assert their_names - our_names == set(), f"{model.__name__} does not read these msads fields"
    assert our_names - their_names == set(), f"{model.__name__} has fields msads does not know"
