"""Raw SOAP passthrough against the emulator: every request we send and every answer it gives is WSDL-valid."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from lxml import etree

from bingbridge.api.client import BingAdsClient
from bingbridge.api.customer_management import OPERATIONS
from bingbridge.api.wire import CallContext, read_soap_reply
from bingbridge.auth.tokens import MemoryTokenStore
from bingbridge.emulator.server import RunningEmulator
from bingbridge.errors import AuthenticationError, PermissionDeniedError
from bingbridge.settings import Settings
from tests.conftest import cli_env
from tests.soap_reader import read_answer
from tests.soap_schema import validate_envelope

CM = "https://bingads.microsoft.com/Customer/v13"
ENT = "https://bingads.microsoft.com/Customer/v13/Entities"
CM_EXCEPTION = "https://bingads.microsoft.com/Customer/v13/Exception"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def bodies(customer: int, account: int) -> dict[str, str]:
    """One valid request body per Customer Management operation the emulator serves."""
    return {
        "GetUser": f'<GetUserRequest xmlns="{CM}"/>',
        "GetCustomer": f'<GetCustomerRequest xmlns="{CM}"><CustomerId>{customer}</CustomerId></GetCustomerRequest>',
        "GetCustomersInfo": f'<GetCustomersInfoRequest xmlns="{CM}"><CustomerNameFilter/><TopN>5</TopN>'
        "</GetCustomersInfoRequest>",
        "GetAccountsInfo": f'<GetAccountsInfoRequest xmlns="{CM}"><CustomerId>{customer}</CustomerId>'
        "<OnlyParentAccounts>false</OnlyParentAccounts></GetAccountsInfoRequest>",
        "GetLinkedAccountsAndCustomersInfo": f'<GetLinkedAccountsAndCustomersInfoRequest xmlns="{CM}">'
        f"<CustomerId>{customer}</CustomerId><OnlyParentAccounts>false</OnlyParentAccounts>"
        "</GetLinkedAccountsAndCustomersInfoRequest>",
        "SearchAccounts": f'<SearchAccountsRequest xmlns="{CM}" xmlns:e="{ENT}"><Predicates><e:Predicate>'
        "<e:Field>AccountName</e:Field><e:Operator>Contains</e:Operator><e:Value>Search</e:Value>"
        "</e:Predicate></Predicates><Ordering><e:OrderBy><e:Field>Name</e:Field><e:Order>Ascending</e:Order>"
        "</e:OrderBy></Ordering><PageInfo><e:Index>0</e:Index><e:Size>100</e:Size></PageInfo></SearchAccountsRequest>",
        "SearchClientLinks": f'<SearchClientLinksRequest xmlns="{CM}" xmlns:e="{ENT}"><Predicates><e:Predicate>'
        f"<e:Field>DirectManagingCustomerId</e:Field><e:Operator>Equals</e:Operator><e:Value>{customer}</e:Value>"
        "</e:Predicate></Predicates><PageInfo><e:Index>0</e:Index><e:Size>100</e:Size></PageInfo>"
        "</SearchClientLinksRequest>",
        "AddClientLinks": f'<AddClientLinksRequest xmlns="{CM}" xmlns:e="{ENT}"><ClientLinks><e:ClientLink>'
        f"<e:Type>AccountLink</e:Type><e:ClientEntityId>{account}</e:ClientEntityId>"
        f"<e:ManagingCustomerId>{customer}</e:ManagingCustomerId><e:Name>SOAP link</e:Name>"
        "<e:IsBillToClient>true</e:IsBillToClient><e:SuppressNotification>true</e:SuppressNotification>"
        "<e:ForwardCompatibilityMap/></e:ClientLink></ClientLinks></AddClientLinksRequest>",
        "SendUserInvitation": f'<SendUserInvitationRequest xmlns="{CM}" xmlns:e="{ENT}"><UserInvitation>'
        "<e:Id>0</e:Id><e:FirstName>Grace</e:FirstName><e:LastName>Hopper</e:LastName>"
        f"<e:Email>grace@example.com</e:Email><e:CustomerId>{customer}</e:CustomerId><e:RoleId>100</e:RoleId>"
        "<e:ExpirationDate>2026-12-31T00:00:00</e:ExpirationDate><e:Lcid>EnglishUS</e:Lcid>"
        "</UserInvitation></SendUserInvitationRequest>",
        "GetCustomerPilotFeatures": f'<GetCustomerPilotFeaturesRequest xmlns="{CM}"><CustomerId>{customer}'
        "</CustomerId></GetCustomerPilotFeaturesRequest>",
        "SearchUserInvitations": f'<SearchUserInvitationsRequest xmlns="{CM}" xmlns:e="{ENT}"><Predicates>'
        f"<e:Predicate><e:Field>CustomerId</e:Field><e:Operator>Equals</e:Operator><e:Value>{customer}</e:Value>"
        "</e:Predicate></Predicates></SearchUserInvitationsRequest>",
        # Cancels the link AddClientLinks made just before (its Timestamp is read from the emulator's state).
        "UpdateClientLinks": f'<UpdateClientLinksRequest xmlns="{CM}" xmlns:e="{ENT}"><ClientLinks><e:ClientLink>'
        f"<e:Type>AccountLink</e:Type><e:ClientEntityId>{account}</e:ClientEntityId>"
        f"<e:ManagingCustomerId>{customer}</e:ManagingCustomerId><e:Status>LinkCanceled</e:Status>"
        "<e:Timestamp>{timestamp}</e:Timestamp></e:ClientLink></ClientLinks></UpdateClientLinksRequest>",
    }


def test_every_customer_management_operation_has_a_soap_body() -> None:
    assert set(bodies(1, 2)) == {op.name for op in OPERATIONS}


@pytest.fixture
def soap_log(client: BingAdsClient) -> list[tuple[bytes, bytes]]:
    """Every SOAP request and answer the client exchanges, for schema checks."""
    log: list[tuple[bytes, bytes]] = []

    def keep(response: httpx.Response) -> None:
        if response.request.url.path.endswith(".svc"):
            response.read()
            log.append((response.request.content, response.content))

    client.http.event_hooks["response"].append(keep)
    return log


def test_every_customer_management_operation_over_soap_is_schema_valid(
    client: BingAdsClient, bingads_emulator: RunningEmulator, soap_log: list[tuple[bytes, bytes]]
) -> None:
    world = bingads_emulator.state.world
    home = next(iter(world.users.values())).customer_id
    free_account = next(a.id for a in world.accounts.values() if a.parent_customer_id == list(world.customers)[-1])
    assert free_account is not None
    for action, body in bodies(home, free_account).items():
        if action == "UpdateClientLinks":
            body = body.replace("{timestamp}", world.client_links[-1].timestamp or "")
        reply = client.raw_soap("customer-management", action, body)
        assert reply.body.split(">", 1)[0].endswith(f"{action}Response") or f"{action}Response" in reply.body[:200]
        assert reply.tracking_id
    assert len(soap_log) == len(bodies(home, free_account))
    for (request, answer), action in zip(soap_log, bodies(home, free_account), strict=True):
        validate_envelope("customer-management", request)
        assert read_answer("customer-management", answer, action) is not None
    added = etree.fromstring(soap_log[list(bodies(home, free_account)).index("AddClientLinks")][1])
    entries = added.findall(f".//{{{CM}}}PartialErrors/{{{CM_EXCEPTION}}}ArrayOfOperationError")
    assert [entry.get(f"{{{XSI}}}nil") for entry in entries] == ["true"]  # one link, added: one nil entry
    assert world.client_links[-1].name == "SOAP link" and world.client_links[-1].status == "LinkCanceled"


def test_soap_fault_for_a_stranger_customer_raises_with_tracking_id(
    client: BingAdsClient, bingads_emulator: RunningEmulator, soap_log: list[tuple[bytes, bytes]]
) -> None:
    stranger = list(bingads_emulator.state.world.customers)[-1]
    body = f'<GetCustomerRequest xmlns="{CM}"><CustomerId>{stranger}</CustomerId></GetCustomerRequest>'
    with pytest.raises(PermissionDeniedError) as raised:
        client.raw_soap("customer-management", "GetCustomer", body)
    assert raised.value.codes == [106] and raised.value.tracking_id and raised.value.status == 500
    validate_envelope("customer-management", soap_log[-1][1])


def test_soap_bad_developer_token_is_105(bingads_settings: Settings) -> None:
    settings = bingads_settings.with_overrides(developer_token="WRONG")
    with BingAdsClient(settings, token_store=MemoryTokenStore()) as c, pytest.raises(AuthenticationError) as raised:
        c.raw_soap("customer-management", "GetUser", f'<GetUserRequest xmlns="{CM}"/>')
    assert raised.value.codes == [105]


def test_soap_expired_token_refreshes_once(client: BingAdsClient, bingads_emulator: RunningEmulator) -> None:
    client.raw_soap("customer-management", "GetUser", f'<GetUserRequest xmlns="{CM}"/>')
    httpx.post(f"{bingads_emulator.url}/_emulator/expire-access-tokens")
    assert (
        "GetUserResponse" in client.raw_soap("customer-management", "GetUser", f'<GetUserRequest xmlns="{CM}"/>').body
    )


def test_fault_in_an_http_200_answer_is_still_a_fault() -> None:
    fault = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode>'
        "<faultstring>Invalid client data.</faultstring><detail>"
        '<AdApiFaultDetail xmlns="https://adapi.microsoft.com"><TrackingId>t-1</TrackingId><Errors><AdApiError>'
        "<Code>117</Code><ErrorCode>CallRateExceeded</ErrorCode><Message>slow down</Message></AdApiError></Errors>"
        "</AdApiFaultDetail></detail></s:Fault></s:Body></s:Envelope>"
    )
    response = httpx.Response(200, content=fault.encode(), request=httpx.Request("POST", "http://x"))
    with pytest.raises(Exception) as raised:
        read_soap_reply("GetUser", response)
    assert type(raised.value).__name__ == "ThrottledError"
    assert str(raised.value).startswith("TrackingId t-1:")


def test_campaign_envelope_carries_customer_and_account_headers() -> None:
    from bingbridge.api.services import SERVICES
    from bingbridge.api.wire import soap_envelope

    ctx = CallContext(access_token="a&b", developer_token="d", customer_id=1, account_id=2)
    cm = soap_envelope(SERVICES["customer-management"], f'<GetUserRequest xmlns="{CM}"/>', ctx).decode()
    campaign = soap_envelope(
        SERVICES["campaign-management"],
        '<GetUetTagsByIdsRequest xmlns="https://bingads.microsoft.com/CampaignManagement/v13"/>',
        ctx,
    ).decode()
    assert "CustomerId" not in cm and "a&amp;b" in cm
    assert "<tns:CustomerAccountId>2</tns:CustomerAccountId><tns:CustomerId>1</tns:CustomerId>" in campaign
    validate_envelope("campaign-management", campaign.encode())


def test_cli_raw_soap_prints_the_sunset_notice(bingads_settings: Settings) -> None:
    env = cli_env(bingads_settings)
    result = subprocess.run(
        [sys.executable, "-m", "bingbridge", "raw", "soap", "--action", "GetUser", "--body", "-"],
        input=f'<GetUserRequest xmlns="{CM}"/>',
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "retires the SOAP API on 2027-01-31" in result.stderr
    assert "<" in result.stdout and "GetUserResponse" in result.stdout
