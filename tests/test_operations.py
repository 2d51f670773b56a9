"""The operation tables and the one description of each typed call, run by the sync and the async client."""

from __future__ import annotations

import inspect

import httpx
import pytest

from bingbridge.api import campaign_management, customer_management, reporting
from bingbridge.api.client import AsyncBingAdsClient, BingAdsClient
from bingbridge.api.models import campaign as m
from bingbridge.api.models.customer import GetUserRequest, GetUserResponse, SearchAccountsResponse
from bingbridge.api.operations import OperationTable
from bingbridge.auth.tokens import MemoryTokenStore
from bingbridge.emulator.server import RunningEmulator
from bingbridge.errors import ConfigurationError
from bingbridge.settings import Settings

SERVICES = [
    (customer_management.CustomerManagement, customer_management.AsyncCustomerManagement),
    (campaign_management.CampaignManagement, campaign_management.AsyncCampaignManagement),
    (reporting.Reporting, reporting.AsyncReporting),
]


def test_a_row_takes_its_name_from_the_request_type() -> None:
    table = OperationTable("customer-management", "/CustomerManagement/v13")
    row = table.add("POST", "/User/Query", GetUserRequest, GetUserResponse)
    assert (row.name, row.path, list(table)) == ("GetUser", "/CustomerManagement/v13/User/Query", [row])


def test_a_row_whose_response_does_not_match_its_request_is_refused() -> None:
    with pytest.raises(TypeError, match="GetUserResponse"):
        OperationTable("customer-management", "/x").add("POST", "/y", GetUserRequest, SearchAccountsResponse)


def test_every_row_of_every_table_has_an_emulator_handler() -> None:
    from bingbridge.emulator.app import REST_SERVICES

    for operations, handlers in REST_SERVICES:
        assert {op.name for op in operations} == set(handlers)


@pytest.mark.parametrize(("sync", "async_"), SERVICES, ids=lambda cls: cls.__name__)
def test_sync_and_async_services_offer_the_same_documented_methods(sync: type, async_: type) -> None:
    def public(cls: type) -> dict[str, object]:
        return {name: value for name, value in inspect.getmembers(cls) if not name.startswith("_")}

    assert public(sync).keys() == public(async_).keys()
    undocumented = [name for name, method in public(sync).items() if not inspect.getdoc(method)]
    assert undocumented == []


def test_an_account_call_without_an_account_is_refused_before_sending(bingads_settings: Settings) -> None:
    sent: list[httpx.Request] = []
    http = httpx.Client(transport=httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500)))
    client = BingAdsClient(bingads_settings, http=http, token_store=MemoryTokenStore())
    with client, pytest.raises(ConfigurationError, match="BINGBRIDGE_ACCOUNT_ID"):
        client.campaign_management.get_uet_tags()
    assert sent == []


async def test_async_campaign_management_adds_and_reads_a_tag(
    bingads_settings: Settings, bingads_emulator: RunningEmulator
) -> None:
    state = bingads_emulator.state
    account = state.accounts_of(state.world.users[state.config.default_user_id].customer_id)[0].id
    settings = bingads_settings.with_overrides(account_id=account)
    async with AsyncBingAdsClient(settings, token_store=MemoryTokenStore()) as client:
        (added,) = await client.campaign_management.add_uet_tags([m.UetTag(name="Async tag")])
        assert added.ok and added.value is not None
        tags = (await client.campaign_management.get_uet_tags([added.value.id or 0])).uet_tags
    assert [t.name for t in tags or [] if t] == ["Async tag"]
