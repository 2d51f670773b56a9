"""The emulator's SOAP XML against Microsoft's WSDL schemas: responses, faults, request parsing, raw envelopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from lxml import etree

from bingbridge.api.models import customer as customer_models
from bingbridge.api.models.base import KeyValuePairOfstringstring, WireModel
from bingbridge.api.models.customer import (
    AccountInfo,
    AddClientLinksRequest,
    AddClientLinksResponse,
    Address,
    AdvertiserAccount,
    ClientLink,
    ContactInfo,
    Customer,
    CustomerInfo,
    CustomerRole,
    GetAccountsInfoRequest,
    GetAccountsInfoResponse,
    GetCustomerPilotFeaturesRequest,
    GetCustomerPilotFeaturesResponse,
    GetCustomerRequest,
    GetCustomerResponse,
    GetCustomersInfoRequest,
    GetCustomersInfoResponse,
    GetLinkedAccountsAndCustomersInfoRequest,
    GetLinkedAccountsAndCustomersInfoResponse,
    GetUserRequest,
    GetUserResponse,
    OperationError,
    OrderBy,
    Paging,
    PersonName,
    Predicate,
    SearchAccountsRequest,
    SearchAccountsResponse,
    SearchClientLinksRequest,
    SearchClientLinksResponse,
    SearchUserInvitationsRequest,
    SearchUserInvitationsResponse,
    SendUserInvitationRequest,
    SendUserInvitationResponse,
    UpdateClientLinksRequest,
    UpdateClientLinksResponse,
    User,
    UserInvitation,
)
from bingbridge.api.services import SERVICES
from bingbridge.api.wire import CallContext, read_soap_reply, soap_envelope
from bingbridge.emulator import soapxml
from bingbridge.emulator.soapxml import (
    ADAPI_NS,
    ARRAYS_NS,
    CUSTOMER_ENTITIES_NS,
    CUSTOMER_EXCEPTION_NS,
    GENERIC_NS,
    XSI_NS,
    FaultError,
    FaultKind,
    SoapXmlError,
    element_to_model,
    model_to_element,
    parse_request,
    soap_fault,
    soap_response,
)
from bingbridge.errors import ApiError, AuthenticationError
from tests.soap_reader import read_answer
from tests.soap_schema import validate_element, validate_envelope

FIXTURES = Path(__file__).parent / "fixtures" / "soap"
CM = "customer-management"
CM_NS = SERVICES[CM].namespace
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TRACKING_ID = "6c9c0f1e-2b7d-4e4c-9a51-3f0d2c8b7a10"
WHEN = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)

ADDRESS = Address(
    city="Redmond",
    country_code="US",
    id=9001,
    line1="One Microsoft Way",
    line2="Building 92",
    line3="Floor 3",
    line4="Desk 12",
    postal_code="98052",
    state_or_province="WA",
    time_stamp="AAAAAAAPQkA=",
    business_name="Contoso Ltd",
)
# A required member (value) left unset must still be written, as i:nil.
FORWARD_MAP = [
    KeyValuePairOfstringstring(key="AccountMode", value="Expert"),
    KeyValuePairOfstringstring(key="Note", value=None),
]
ACCOUNT = AdvertiserAccount(
    bill_to_customer_id=222000,
    currency_code="USD",
    account_financial_status="ClearFinancialStatus",
    id=180012345,
    language="English",
    last_modified_by_user_id=5550001,
    last_modified_time=WHEN,
    name="Contoso Search",
    number="F12345XY",
    parent_customer_id=222000,
    payment_method_id=3330001,
    payment_method_type="CreditCard",
    primary_user_id=5550001,
    account_life_cycle_status="Active",
    time_stamp="AAAAAAAPQkE=",
    time_zone="PacificTimeUSCanadaTijuana",
    pause_reason=0,
    forward_compatibility_map=FORWARD_MAP,
    linked_agencies=[CustomerInfo(id=444000, name="Fabrikam Agency"), CustomerInfo(id=444001)],
    sales_house_customer_id=555000,
    tax_information=[KeyValuePairOfstringstring(key="VatNumber", value="GB123456789")],
    back_up_payment_instrument_id=6660001,
    billing_threshold_amount=1000.5,
    business_address=ADDRESS,
    auto_tag_type="Preserve",
    sold_to_payment_instrument_id=7770001,
    account_mode="Expert",
    parent_customer_number="C123456",
)
CLIENT_LINK = ClientLink(
    type="AccountLink",
    client_entity_id=180012345,
    client_entity_number="F12345XY",
    client_entity_name="Contoso Search",
    managing_customer_id=444000,
    managing_customer_number="C444000",
    managing_customer_name="Fabrikam Agency",
    note="Please accept",
    name="Fabrikam manages Contoso",
    inviter_email="ops@fabrikam.example",
    inviter_name="Ops Team",
    inviter_phone="+1 425 555 0100",
    is_bill_to_client=True,
    start_date=WHEN,
    status="LinkPending",
    suppress_notification=False,
    last_modified_date_time=WHEN,
    last_modified_by_user_id=5550001,
    timestamp="AAAAAAAPQkI=",
    forward_compatibility_map=FORWARD_MAP,
    customer_link_permission="Standard",
    client_entity_customer_number="C222000",
)
CUSTOMER = Customer(
    customer_financial_status="ClearFinancialStatus",
    id=222000,
    industry="Retail",
    last_modified_by_user_id=5550001,
    last_modified_time=WHEN,
    market_country="US",
    forward_compatibility_map=FORWARD_MAP,
    market_language="English",
    name="Contoso",
    service_level="SelfServe",
    customer_life_cycle_status="Active",
    time_stamp="AAAAAAAPQkM=",
    number="C222000",
    customer_address=ADDRESS,
)
USER = User(
    contact_info=ContactInfo(
        address=ADDRESS,
        contact_by_phone=True,
        contact_by_postal_mail=False,
        email="ada@contoso.example",
        email_format="Html",
        fax="+1 425 555 0199",
        home_phone="+1 425 555 0101",
        id=8001,
        mobile="+1 425 555 0102",
        phone1="+1 425 555 0103",
        phone2="+1 425 555 0104",
    ),
    customer_id=222000,
    id=5550001,
    job_title="Marketing Lead",
    last_modified_by_user_id=5550001,
    last_modified_time=WHEN,
    lcid="EnglishUS",
    name=PersonName(first_name="Ada", last_name="Lovelace", middle_initial="K"),
    password="********",
    secret_answer="Cat",
    secret_question="FavoritePetsName",
    user_life_cycle_status="Active",
    time_stamp="AAAAAAAPQkQ=",
    user_name="ada.lovelace",
    forward_compatibility_map=FORWARD_MAP,
    authentication_token="token-not-used",
)
ROLES = [
    CustomerRole(
        role_id=41,
        customer_id=222000,
        account_ids=[180012345, 180012346],
        linked_account_ids=[190000001],
        customer_link_permission="Administrative",
    ),
    CustomerRole(role_id=100, customer_id=444000),
]
ERROR = OperationError(code=1100, details="ClientEntityId", message="The client link is not valid.")
INVITATION = UserInvitation(
    id=77001,
    first_name="Grace",
    last_name="Hopper",
    email="grace@contoso.example",
    customer_id=222000,
    role_id=203,
    expiration_date=WHEN,
    lcid="EnglishUS",
)

RESPONSES: dict[str, WireModel] = {
    "AddClientLinks": AddClientLinksResponse(
        operation_errors=[OperationError(code=0, message="An internal error has occurred.")],
        partial_errors=[None, [ERROR, OperationError(code=1101, message="Duplicate link.")], None],
    ),
    "SearchClientLinks": SearchClientLinksResponse(
        client_links=[
            CLIENT_LINK,
            ClientLink(
                type="CustomerLink",
                client_entity_id=222001,
                status="Active",
                suppress_notification=True,
                last_modified_date_time=WHEN,
                last_modified_by_user_id=5550001,
            ),
        ]
    ),
    "SearchAccounts": SearchAccountsResponse(
        accounts=[ACCOUNT, AdvertiserAccount(id=180012346, name="B", parent_customer_id=222000)]
    ),
    "GetAccountsInfo": GetAccountsInfoResponse(
        accounts_info=[
            AccountInfo(id=180012345, name="Contoso Search", number="F12345XY", account_life_cycle_status="Active"),
            AccountInfo(id=180012346, account_life_cycle_status="Pause", pause_reason=2),
        ]
    ),
    "GetCustomer": GetCustomerResponse(customer=CUSTOMER),
    "GetCustomersInfo": GetCustomersInfoResponse(
        customers_info=[CustomerInfo(id=222000, name="Contoso"), CustomerInfo(id=222001, name="Contoso EU")]
    ),
    "GetLinkedAccountsAndCustomersInfo": GetLinkedAccountsAndCustomersInfoResponse(
        accounts_info=[AccountInfo(id=180012345, name="Contoso Search", account_life_cycle_status="Active")],
        customers_info=[CustomerInfo(id=444000, name="Fabrikam Agency")],
    ),
    "SendUserInvitation": SendUserInvitationResponse(user_invitation_id=77001),
    "GetUser": GetUserResponse(user=USER, customer_roles=ROLES),
    "UpdateClientLinks": UpdateClientLinksResponse(partial_errors=[None, [ERROR]]),
    "GetCustomerPilotFeatures": GetCustomerPilotFeaturesResponse(feature_pilot_flags=[574, 268]),
    "SearchUserInvitations": SearchUserInvitationsResponse(user_invitations=[INVITATION]),
}

REQUESTS: dict[str, WireModel] = {
    "AddClientLinks": AddClientLinksRequest(client_links=[CLIENT_LINK, ClientLink(client_entity_number="F9")]),
    "SearchClientLinks": SearchClientLinksRequest(
        predicates=[Predicate(field="DirectCustomerId", operator="Equals", value="222000")],
        ordering=[OrderBy(field="Number", order="Ascending")],
        page_info=Paging(index=0, size=100),
    ),
    "SearchAccounts": SearchAccountsRequest(
        predicates=[
            Predicate(field="UserId", operator="Equals", value="5550001"),
            Predicate(field="AccountLifeCycleStatus", operator="In", value="Active,Pause"),
        ],
        ordering=[OrderBy(field="Name", order="Descending")],
        page_info=Paging(index=2, size=1000),
        return_additional_fields=["TaxCertificate", "AccountMode", "ParentCustomerNumber"],
    ),
    "GetAccountsInfo": GetAccountsInfoRequest(customer_id=222000, only_parent_accounts=True),
    "GetCustomer": GetCustomerRequest(customer_id=222000),
    "GetCustomersInfo": GetCustomersInfoRequest(customer_name_filter="Con", top_n=10),
    "GetLinkedAccountsAndCustomersInfo": GetLinkedAccountsAndCustomersInfoRequest(customer_id=222000),
    "SendUserInvitation": SendUserInvitationRequest(
        user_invitation=UserInvitation(
            id=0,
            first_name="Grace",
            last_name="Hopper",
            email="grace@contoso.example",
            customer_id=222000,
            role_id=203,
            account_ids=[180012345],
            expiration_date=WHEN,
            lcid="EnglishUK",
        )
    ),
    "GetUser": GetUserRequest(user_id=5550001),
    "UpdateClientLinks": UpdateClientLinksRequest(
        client_links=[CLIENT_LINK.model_copy(update={"status": "LinkAccepted"})]
    ),
    "GetCustomerPilotFeatures": GetCustomerPilotFeaturesRequest(customer_id=222000),
    "SearchUserInvitations": SearchUserInvitationsRequest(
        predicates=[Predicate(field="CustomerId", operator="Equals", value="222000")]
    ),
}

# One real operation per service, its body written by hand.
ENVELOPE_BODIES = {
    "customer-management": "customer-management.GetUserRequest.xml",
    "campaign-management": "campaign-management.GetUetTagsByIdsRequest.xml",
    "reporting": "reporting.PollGenerateReportRequest.xml",
    "bulk": "bulk.GetBulkUploadUrlRequest.xml",
    "ad-insight": "ad-insight.GetBidLandscapeByKeywordIdsRequest.xml",
    "customer-billing": "customer-billing.GetAccountMonthlySpendRequest.xml",
}


def nodes(element: ET.Element) -> tuple[Any, ...]:
    """An element as a comparable structure: tag, attributes, trimmed text, children (zeep's assert_nodes_equal)."""
    return (
        element.tag,
        sorted(element.attrib.items()),
        (element.text or "").strip(),
        [nodes(child) for child in element],
    )


def body_of(envelope: bytes) -> ET.Element:
    body = ET.fromstring(envelope).find(f"{{{SOAP_ENV}}}Body")
    assert body is not None and len(body) == 1
    return body[0]


def roundtrip(model: WireModel, name: str) -> ET.Element:
    """Serialize to bytes and parse again, as the emulator's peer would."""
    return ET.fromstring(ET.tostring(model_to_element(model, name, CM_NS)))


# ---- responses ----


def test_every_customer_management_message_has_a_sample() -> None:
    messages = {
        name
        for name, obj in vars(customer_models).items()
        if isinstance(obj, type)
        and issubclass(obj, WireModel)
        and obj.__module__ == customer_models.__name__
        and name.endswith(("Request", "Response"))
    }
    samples = {f"{op}Response": type(m).__name__ for op, m in RESPONSES.items()}
    samples |= {f"{op}Request": type(m).__name__ for op, m in REQUESTS.items()}
    assert all(element == type_name for element, type_name in samples.items())
    assert set(samples) == messages


@pytest.mark.parametrize("op", RESPONSES)
def test_response_envelope_is_schema_valid(op: str) -> None:
    envelope = soap_response(CM_NS, op, RESPONSES[op], TRACKING_ID)
    payload = validate_envelope(CM, envelope)
    assert payload.tag == f"{{{CM_NS}}}{op}Response"
    assert etree.fromstring(envelope).findtext(f".//{{{CM_NS}}}TrackingId") == TRACKING_ID


@pytest.mark.parametrize("op", RESPONSES)
def test_response_reads_back_as_the_same_model(op: str) -> None:
    response = RESPONSES[op]
    assert element_to_model(body_of(soap_response(CM_NS, op, response, TRACKING_ID)), type(response)) == response


@pytest.mark.parametrize("op", RESPONSES)
def test_response_carries_every_member_for_a_wsdl_built_client(op: str) -> None:
    assert read_answer(CM, soap_response(CM_NS, op, RESPONSES[op], TRACKING_ID), op) is not None


def test_a_null_member_of_an_answer_is_nil() -> None:
    envelope = soap_response(CM_NS, "GetCustomer", GetCustomerResponse(customer=Customer(id=1)), TRACKING_ID)
    customer = body_of(envelope).find(f"{{{CM_NS}}}Customer")
    assert customer is not None
    address = customer.find(f"{{{CUSTOMER_ENTITIES_NS}}}CustomerAddress")
    assert address is not None and address.get(f"{{{XSI_NS}}}nil") == "true"
    assert len(customer) == len(Customer.model_fields)


def test_partial_errors_keep_one_nillable_entry_per_requested_link() -> None:
    payload = body_of(soap_response(CM_NS, "AddClientLinks", RESPONSES["AddClientLinks"], TRACKING_ID))
    entries = payload.findall(f"{{{CM_NS}}}PartialErrors/{{{CUSTOMER_EXCEPTION_NS}}}ArrayOfOperationError")
    assert [entry.get(f"{{{XSI_NS}}}nil") for entry in entries] == ["true", None, "true"]
    assert [len(entry) for entry in entries] == [0, 2, 0]
    first = entries[1].find(f"{{{CUSTOMER_EXCEPTION_NS}}}OperationError")
    assert first is not None
    assert [(child.tag.split("}")[1], child.text) for child in first] == [
        ("Code", "1100"),
        ("Details", "ClientEntityId"),
        ("Message", "The client link is not valid."),
    ]


def test_arrays_and_maps_use_microsofts_datacontract_namespaces() -> None:
    payload = body_of(soap_response(CM_NS, "GetUser", RESPONSES["GetUser"], TRACKING_ID))
    roles = payload.findall(f"{{{CM_NS}}}CustomerRoles/{{{CUSTOMER_ENTITIES_NS}}}CustomerRole")
    ids = roles[0].findall(f"{{{CUSTOMER_ENTITIES_NS}}}AccountIds/{{{ARRAYS_NS}}}long")
    assert [i.text for i in ids] == ["180012345", "180012346"]
    pairs = payload.findall(
        f"{{{CM_NS}}}User/{{{CUSTOMER_ENTITIES_NS}}}ForwardCompatibilityMap/{{{GENERIC_NS}}}KeyValuePairOfstringstring"
    )
    assert [(p.findtext(f"{{{GENERIC_NS}}}key"), p.findtext(f"{{{GENERIC_NS}}}value")) for p in pairs] == [
        ("AccountMode", "Expert"),
        ("Note", ""),
    ]
    value = pairs[1].find(f"{{{GENERIC_NS}}}value")
    assert value is not None and value.get(f"{{{XSI_NS}}}nil") == "true"


def test_unset_fields_are_left_out() -> None:
    element = model_to_element(GetCustomerResponse(customer=Customer(id=1)), "GetCustomerResponse", CM_NS)
    customer = element.find(f"{{{CM_NS}}}Customer")
    assert customer is not None and [child.tag for child in customer] == [f"{{{CUSTOMER_ENTITIES_NS}}}Id"]


def test_scalars_use_xml_schema_lexical_forms() -> None:
    link = ClientLink(
        is_bill_to_client=False,
        start_date=datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        suppress_notification=True,
    )
    account = AdvertiserAccount(billing_threshold_amount=1e-7)
    element = model_to_element(SearchAccountsResponse(accounts=[account]), "SearchAccountsResponse", CM_NS)
    assert element.findtext(f".//{{{CUSTOMER_ENTITIES_NS}}}BillingThresholdAmount") == "0.0000001"
    link_xml = model_to_element(SearchClientLinksResponse(client_links=[link]), "SearchClientLinksResponse", CM_NS)
    texts = {child.tag.split("}")[1]: child.text for child in link_xml.iter()}
    assert texts["IsBillToClient"] == "false"
    assert texts["SuppressNotification"] == "true"
    assert texts["StartDate"] == "2026-03-01T12:00:00Z"


def test_the_schema_rejects_members_out_of_wsdl_order() -> None:
    element = model_to_element(GetCustomerResponse(customer=CUSTOMER), "GetCustomerResponse", CM_NS)
    customer = element[0]
    first, second = customer[0], customer[1]
    customer.remove(first)
    customer.insert(1, first)
    assert customer[0] is second
    with pytest.raises(AssertionError, match="CustomerFinancialStatus"):
        validate_element(CM, ET.tostring(element))


# ---- requests ----


@pytest.mark.parametrize("op", REQUESTS)
def test_request_element_is_schema_valid_and_reads_back(op: str) -> None:
    request = REQUESTS[op]
    element = model_to_element(request, f"{op}Request", CM_NS)
    validate_element(CM, ET.tostring(element))
    assert element_to_model(roundtrip(request, f"{op}Request"), type(request)) == request


def test_search_accounts_request_matches_the_hand_written_body() -> None:
    request = SearchAccountsRequest(
        predicates=[Predicate(field="UserId", operator="Equals", value="5550001")],
        ordering=[OrderBy(field="Name", order="Descending")],
        page_info=Paging(index=2, size=100),
        return_additional_fields=["TaxCertificate", "AccountMode"],
    )
    expected = ET.parse(FIXTURES / "customer-management.SearchAccountsRequest.xml").getroot()
    assert nodes(model_to_element(request, "SearchAccountsRequest", CM_NS)) == nodes(expected)
    assert element_to_model(expected, SearchAccountsRequest) == request


def test_sdk_request_with_empty_members_parses() -> None:
    op, element, headers = parse_request(
        (FIXTURES / "customer-management.AddClientLinks.sdk-envelope.xml").read_bytes()
    )
    assert op == "AddClientLinks"
    assert headers == {"AuthenticationToken": "ACCESS", "DeveloperToken": "DEVTOKEN"}
    request = element_to_model(element, AddClientLinksRequest)
    assert request == AddClientLinksRequest(
        client_links=[
            ClientLink(
                type="AccountLink",
                client_entity_id=123,
                managing_customer_id=222,
                name="x",
                is_bill_to_client=True,
                suppress_notification=True,
            )
        ]
    )


def test_nil_members_are_not_set() -> None:
    element = ET.fromstring(
        f'<GetAccountsInfoRequest xmlns="{CM_NS}" xmlns:i="{XSI_NS}">'
        '<CustomerId i:nil="true"/><OnlyParentAccounts>true</OnlyParentAccounts></GetAccountsInfoRequest>'
    )
    assert element_to_model(element, GetAccountsInfoRequest) == GetAccountsInfoRequest(only_parent_accounts=True)


def test_action_header_is_read_like_any_other_header() -> None:
    body = (
        f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Header>'
        f'<Action s:mustUnderstand="1" xmlns="http://schemas.microsoft.com/ws/2005/05/addressing/none">GetUser</Action>'
        f'<DeveloperToken xmlns="{CM_NS}">BBD37VB98</DeveloperToken><CustomerId xmlns="{CM_NS}"/>'
        f'</s:Header><s:Body><GetUserRequest xmlns="{CM_NS}"><UserId>5</UserId></GetUserRequest></s:Body></s:Envelope>'
    ).encode()
    op, element, headers = parse_request(body)
    assert (op, headers) == ("GetUser", {"Action": "GetUser", "DeveloperToken": "BBD37VB98"})
    assert element_to_model(element, GetUserRequest) == GetUserRequest(user_id=5)


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        f'<Envelope xmlns="{CM_NS}"/>'.encode(),
        f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body/></s:Envelope>'.encode(),
        f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><GetUser xmlns="{CM_NS}"/></s:Body></s:Envelope>'.encode(),
    ],
    ids=["not-xml", "not-soap", "empty-body", "not-a-request"],
)
def test_parse_request_rejects_what_is_not_a_soap_request(body: bytes) -> None:
    with pytest.raises(SoapXmlError):
        parse_request(body)


# ---- polymorphism (xsi:type), as Campaign Management's ConversionGoal subclasses need ----


class SpecialLink(ClientLink):
    """A derived type in another namespace, standing in for OfflineConversionGoal and friends."""

    extra_note: str | None = None


def test_derived_items_carry_xsi_type_and_read_back_as_the_subclass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(soapxml.TYPE_NAMESPACES, __name__, "urn:test:derived")
    response = SearchClientLinksResponse(client_links=[SpecialLink(name="n", extra_note="x"), ClientLink(name="m")])
    xml = ET.tostring(model_to_element(response, "SearchClientLinksResponse", CM_NS))
    items = etree.fromstring(xml).findall(f"{{{CM_NS}}}ClientLinks/{{{CUSTOMER_ENTITIES_NS}}}ClientLink")
    prefix, _, name = items[0].get(f"{{{XSI_NS}}}type", "").partition(":")
    assert (items[0].nsmap[prefix], name) == ("urn:test:derived", "SpecialLink")
    assert [etree.QName(child).text for child in items[0]] == [
        f"{{{CUSTOMER_ENTITIES_NS}}}Name",
        "{urn:test:derived}ExtraNote",
    ]
    assert items[1].get(f"{{{XSI_NS}}}type") is None
    parsed = element_to_model(ET.fromstring(xml), SearchClientLinksResponse)
    assert isinstance(parsed, SearchClientLinksResponse) and parsed == response
    assert parsed.client_links is not None and type(parsed.client_links[0]) is SpecialLink


def test_a_type_without_a_namespace_is_named() -> None:
    with pytest.raises(LookupError, match="SpecialLink"):
        model_to_element(SearchClientLinksResponse(client_links=[SpecialLink()]), "SearchClientLinksResponse", CM_NS)


class Outer(WireModel):
    """Refers to a model defined after it, which WireModel's deferred build leaves unresolved at first."""

    inners: list[Inner] | None = None


class Inner(WireModel):
    size: int | None = None


def test_models_with_forward_references_are_read_and_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(soapxml.TYPE_NAMESPACES, __name__, "urn:test:forward")
    xml = (
        '<m:OuterRequest xmlns:m="urn:test:message" xmlns:f="urn:test:forward">'
        "<m:Inners><f:Inner><f:Size>3</f:Size></f:Inner></m:Inners></m:OuterRequest>"
    )
    # Reading first: Outer has not been used yet, so its field annotation is still a forward reference.
    outer = element_to_model(ET.fromstring(xml), Outer)
    assert outer == Outer(inners=[Inner(size=3)])
    assert nodes(model_to_element(outer, "OuterRequest", "urn:test:message")) == nodes(ET.fromstring(xml))


# ---- faults ----


def test_adapi_fault_is_schema_valid_and_carries_the_error() -> None:
    envelope = soap_fault(
        CM_NS,
        "AdApiFaultDetail",
        [(109, "AuthenticationTokenExpired", "Authentication token expired. Please renew it or obtain a new token.")],
        TRACKING_ID,
    )
    fault = validate_envelope(CM, envelope)
    assert fault.findtext("faultstring") == (
        f"Invalid client data. Check the SOAP fault details for more information. TrackingId: {TRACKING_ID}."
    )
    error = fault.find(f"detail/{{{ADAPI_NS}}}AdApiFaultDetail/{{{ADAPI_NS}}}Errors/{{{ADAPI_NS}}}AdApiError")
    assert error is not None
    assert [(etree.QName(c).localname, c.text, c.get(f"{{{XSI_NS}}}nil")) for c in error] == [
        ("Code", "109", None),
        ("Detail", None, "true"),
        ("ErrorCode", "AuthenticationTokenExpired", None),
        ("Message", "Authentication token expired. Please renew it or obtain a new token.", None),
    ]


def test_customer_management_api_fault_is_schema_valid_and_has_no_error_code() -> None:
    errors = [FaultError(1102, "ClientLinkAlreadyExists", "The link already exists.", "ClientLinks[0]")]
    fault = validate_envelope(CM, soap_fault(CM_NS, "ApiFault", errors, TRACKING_ID))
    detail = fault.find(f"detail/{{{CM_NS}}}ApiFault")
    assert detail is not None
    assert [etree.QName(c).text for c in detail] == [
        f"{{{ADAPI_NS}}}TrackingId",
        f"{{{CUSTOMER_EXCEPTION_NS}}}OperationErrors",
    ]
    error = detail.find(f".//{{{CUSTOMER_EXCEPTION_NS}}}OperationError")
    assert error is not None
    assert [(etree.QName(c).localname, c.text) for c in error] == [
        ("Code", "1102"),
        ("Details", "ClientLinks[0]"),
        ("Message", "The link already exists."),
    ]


# The service-specific fault detail each WSDL declares next to AdApiFaultDetail.
SERVICE_FAULTS: dict[str, FaultKind] = {
    "customer-management": "ApiFault",
    "customer-billing": "ApiFault",
    "campaign-management": "ApiFaultDetail",
    "bulk": "ApiFaultDetail",
    "reporting": "ApiFaultDetail",
    "ad-insight": "ApiFaultDetail",
}


@pytest.mark.parametrize("key", sorted(SERVICES))
def test_every_service_fault_kind_is_schema_valid(key: str) -> None:
    namespace = SERVICES[key].namespace
    for kind in ("AdApiFaultDetail", SERVICE_FAULTS[key]):
        envelope = soap_fault(namespace, kind, [(0, "InternalError", "An internal error has occurred.")], "t-0")
        fault = validate_envelope(key, envelope)
        (detail,) = fault.findall("detail/*")
        assert etree.QName(detail).localname == kind
        assert detail.findtext(f"{{{ADAPI_NS}}}TrackingId") == "t-0"
        assert detail.findtext(".//{*}Message") == "An internal error has occurred."


def test_client_reads_emulator_faults_with_tracking_id_and_codes() -> None:
    adapi = soap_fault(CM_NS, "AdApiFaultDetail", [(105, "InvalidCredentials", "Authentication failed.")], "t-105")
    with pytest.raises(AuthenticationError) as auth:
        read_soap_reply("GetUser", httpx.Response(500, content=adapi))
    assert (auth.value.tracking_id, auth.value.codes) == ("t-105", [105])
    assert auth.value.errors[0].error_code == "InvalidCredentials"
    api_fault = soap_fault(CM_NS, "ApiFault", [(1102, "Ignored", "The link already exists.")], "t-1102")
    with pytest.raises(ApiError) as api:
        read_soap_reply("AddClientLinks", httpx.Response(500, content=api_fault))
    assert (api.value.tracking_id, api.value.codes, api.value.errors[0].error_code) == ("t-1102", [1102], None)


# ---- the client's raw SOAP envelope, every service ----


def test_every_service_has_an_envelope_fixture() -> None:
    assert set(ENVELOPE_BODIES) == set(SERVICES)


@pytest.mark.parametrize("key", sorted(SERVICES))
def test_client_soap_envelope_is_schema_valid(key: str) -> None:
    service = SERVICES[key]
    body = (FIXTURES / ENVELOPE_BODIES[key]).read_text()
    ctx = CallContext(access_token="tok<&>en", developer_token="BBD37VB98", customer_id=222000, account_id=180012345)
    envelope = soap_envelope(service, body, ctx)
    payload = validate_envelope(key, envelope)
    expected = ET.fromstring(body.encode())
    assert nodes(ET.fromstring(etree.tostring(payload))) == nodes(expected)
    header = etree.fromstring(envelope).find(f"{{{SOAP_ENV}}}Header")
    assert header is not None
    sent = {etree.QName(child).localname: child.text for child in header}
    wanted = {"AuthenticationToken": "tok<&>en", "DeveloperToken": "BBD37VB98"}
    if "CustomerId" in service.soap_headers:
        wanted |= {"CustomerAccountId": "180012345", "CustomerId": "222000"}
    assert sent == wanted
    assert [etree.QName(child).namespace for child in header] == [service.namespace] * len(wanted)
