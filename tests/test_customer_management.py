"""Every Customer Management operation against the emulator: answers, bad input, partial errors."""

from __future__ import annotations

import pytest

from bingbridge.api import customer_management as cm
from bingbridge.api.client import BingAdsClient
from bingbridge.api.models.customer import ClientLink, OrderBy, Paging, Predicate, UserInvitation
from bingbridge.emulator.server import RunningEmulator
from bingbridge.errors import ApiError, PermissionDeniedError, ValidationError
from tests.conftest import Recorder


def home_customer(client: BingAdsClient) -> int:
    user = client.customer_management.get_user().user
    assert user is not None and user.customer_id is not None
    return user.customer_id


def test_get_user_returns_the_signed_in_user_and_roles(client: BingAdsClient) -> None:
    answer = client.customer_management.get_user()
    assert answer.user is not None and answer.user.name is not None
    assert answer.user.name.first_name == "Ada"
    assert answer.customer_roles and answer.customer_roles[0].role_id == 41
    assert answer.tracking_id


def test_get_customers_info_filters_by_name_prefix_and_top_n(client: BingAdsClient) -> None:
    everyone = client.customer_management.get_customers_info(top_n=10)
    assert [c.name for c in everyone] == ["Northwind Agency", "Adatum Travel"]
    assert [c.name for c in client.customer_management.get_customers_info("adat")] == ["Adatum Travel"]
    assert len(client.customer_management.get_customers_info(top_n=1)) == 1


def test_get_customer_of_another_agency_is_refused_with_106(
    client: BingAdsClient, bingads_emulator: RunningEmulator
) -> None:
    stranger = list(bingads_emulator.state.world.customers)[-1]
    with pytest.raises(PermissionDeniedError) as raised:
        client.customer_management.get_customer(stranger)
    assert raised.value.codes == [106]
    assert str(raised.value).startswith(f"TrackingId {raised.value.tracking_id}: GetCustomer failed (HTTP 403)")


def test_get_accounts_info_only_parent_leaves_out_linked_accounts(client: BingAdsClient) -> None:
    home = home_customer(client)
    everything = client.customer_management.get_accounts_info(home)
    own = client.customer_management.get_accounts_info(home, only_parent_accounts=True)
    assert len(own) == 3 and len(everything) == 7
    assert {a.id for a in own} < {a.id for a in everything}


def test_linked_accounts_and_customers_lists_the_customer_link(client: BingAdsClient) -> None:
    answer = client.customer_management.get_linked_accounts_and_customers_info()
    assert [c.name for c in answer.customers_info or []] == ["Northwind Agency", "Adatum Travel"]
    assert len(answer.accounts_info or []) == 7


def test_search_accounts_by_name_status_and_ordering(client: BingAdsClient) -> None:
    service = client.customer_management
    found = service.search_accounts(
        cm.account_predicates(name="Search", status="Active"), [OrderBy(field="Name", order="Descending")]
    )
    assert [a.name for a in found] == sorted([a.name for a in found], reverse=True)
    assert all(a.account_life_cycle_status == "Active" and "Search" in (a.name or "") for a in found)
    paused = service.search_accounts(cm.account_predicates(customer_id=home_customer(client), status="Pause"))
    assert [a.pause_reason for a in paused] == [1]


def test_iter_accounts_walks_every_page(client: BingAdsClient, recorder: Recorder) -> None:
    predicates = cm.account_predicates(name="Agency")
    everything = client.customer_management.search_accounts(predicates, page=Paging(index=0, size=1000))
    before = len(recorder.api_calls())
    paged = list(client.customer_management.iter_accounts(predicates, [OrderBy(field="Id")], page_size=2))
    assert sorted(a.id for a in paged) == sorted(a.id for a in everything)
    assert len(recorder.api_calls()) - before == 2  # a full page of 2, then a short page of 1


def test_search_accounts_by_id_list_uses_in(client: BingAdsClient) -> None:
    ids = [a.id for a in client.customer_management.get_accounts_info()][:2]
    found = client.customer_management.search_accounts(cm.account_predicates(account_id=ids))
    assert sorted(a.id for a in found) == sorted(ids)


@pytest.mark.parametrize(
    ("predicates", "field"),
    [
        ([], "predicates"),
        (cm.account_predicates(status="Active"), "predicates"),
        (cm.account_predicates(name="abc"), "predicates[0].value"),
        ([Predicate(field="AccountName", operator="StartsWith", value="Contoso")], "predicates[0].operator"),
        (cm.account_predicates(name="Contoso", number="F1234567"), "predicates"),
    ],
)
def test_search_accounts_bad_predicates_fail_before_any_call(
    client: BingAdsClient, recorder: Recorder, predicates: list[Predicate], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        client.customer_management.search_accounts(predicates)
    assert field in [p.field for p in raised.value.problems]
    assert recorder.requests == []


def test_search_accounts_page_size_over_1000_is_rejected(client: BingAdsClient) -> None:
    with pytest.raises(ValidationError, match=r"page_info\.size: must be between 1 and 1000"):
        client.customer_management.search_accounts(cm.account_predicates(name="Contoso"), page=Paging(size=1001))


def test_search_client_links_by_managing_customer_and_client_account(client: BingAdsClient) -> None:
    home = home_customer(client)
    links = client.customer_management.search_client_links(cm.client_link_predicates(direct_managing_customer_id=home))
    assert [link.status for link in links] == ["Active", "Active", "Active", "LinkPending"]
    one = links[0].client_entity_id
    assert one is not None
    narrowed = client.customer_management.search_client_links(
        cm.client_link_predicates(client_account_id=one, direct_managing_customer_id=home)
    )
    assert [link.client_entity_id for link in narrowed] == [one]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"client_account_id": 100000001, "client_customer_id": 100000002},
        {"direct_managing_customer_id": 100000001, "managing_customer_id": 100000002},
    ],
)
def test_search_client_links_refuses_forbidden_combinations(client: BingAdsClient, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValidationError, match="cannot be combined"):
        client.customer_management.search_client_links(cm.client_link_predicates(**kwargs))


def test_add_client_links_reports_each_link(client: BingAdsClient, bingads_emulator: RunningEmulator) -> None:
    home = home_customer(client)
    world = bingads_emulator.state.world
    free_account = next(
        a.id
        for a in world.accounts.values()
        if "Proseware" in (a.name or "") or a.parent_customer_id == list(world.customers)[-1]
    )
    linked = next(link.client_entity_id for link in world.client_links if link.status == "Active")
    results = client.customer_management.add_client_links(
        [
            ClientLink(client_entity_id=free_account, managing_customer_id=home, name="New"),
            ClientLink(client_entity_id=linked, managing_customer_id=home, name="Again"),
        ]
    )
    assert [r.ok for r in results] == [True, False]
    assert results[1].errors[0].code == 1410 and results[1].errors[0].index == 1
    added = world.client_links[-1]
    assert (added.client_entity_id, added.status, added.type, added.is_bill_to_client) == (
        free_account,
        "LinkPending",
        "AccountLink",
        False,
    )


@pytest.mark.parametrize(
    ("link", "field"),
    [
        (ClientLink(client_entity_id=1, managing_customer_id=2, name="x" * 41), "client_links[0].name"),
        (ClientLink(managing_customer_id=2), "client_links[0].client_entity_id"),
        (
            ClientLink(client_entity_id=1, client_entity_number="F1", managing_customer_id=2),
            "client_links[0].client_entity_id",
        ),
        (
            ClientLink(client_entity_id=1, managing_customer_id=2, customer_link_permission="Standard"),
            "client_links[0].customer_link_permission",
        ),
        (ClientLink(client_entity_id=1), "client_links[0].managing_customer_id"),
    ],
)
def test_add_client_links_bad_input_names_the_field(
    client: BingAdsClient, recorder: Recorder, link: ClientLink, field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        client.customer_management.add_client_links([link])
    assert field in [p.field for p in raised.value.problems]
    assert recorder.requests == []


def test_add_client_links_refuses_more_than_ten(client: BingAdsClient) -> None:
    links = [ClientLink(client_entity_id=i + 1, managing_customer_id=2) for i in range(11)]
    with pytest.raises(ValidationError, match="give 1 to 10 links per call, got 11"):
        client.customer_management.add_client_links(links)


def test_customer_link_with_permission_is_allowed(client: BingAdsClient, bingads_emulator: RunningEmulator) -> None:
    home = home_customer(client)
    other = list(bingads_emulator.state.world.customers)[-1]
    [result] = client.customer_management.add_client_links(
        [
            ClientLink(
                type="CustomerLink",
                client_entity_id=other,
                managing_customer_id=home,
                customer_link_permission="Administrative",
            )
        ]
    )
    assert result.ok
    assert bingads_emulator.state.world.client_links[-1].customer_link_permission == "Administrative"


def test_send_user_invitation_defaults_lcid_and_is_stored(
    client: BingAdsClient, bingads_emulator: RunningEmulator
) -> None:
    home = home_customer(client)
    invitation_id = client.customer_management.send_user_invitation(
        UserInvitation(first_name="Grace", last_name="Hopper", email="grace@example.com", customer_id=home, role_id=100)
    )
    stored = bingads_emulator.state.world.invitations[invitation_id]
    assert (stored.email, stored.lcid, stored.role_id) == ("grace@example.com", "EnglishUS", 100)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_name": "x" * 41}, "first_name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 95 + "@x.com"}, "email"),
        ({"role_id": 7}, "role_id"),
        ({"customer_id": None}, "customer_id"),
    ],
)
def test_send_user_invitation_bad_input(
    client: BingAdsClient, recorder: Recorder, changes: dict[str, object], field: str
) -> None:
    base = {"first_name": "Grace", "last_name": "Hopper", "email": "g@example.com", "customer_id": 1, "role_id": 100}
    with pytest.raises(ValidationError) as raised:
        client.customer_management.send_user_invitation(UserInvitation(**{**base, **changes}))
    assert [p.field for p in raised.value.problems] == [field]
    assert recorder.requests == []


def test_customer_list_top_zero_is_rejected_locally(client: BingAdsClient) -> None:
    with pytest.raises(ValidationError, match="top_n"):
        client.customer_management.get_customers_info(top_n=0)


def test_emulator_rejects_what_the_client_would_have_caught(client: BingAdsClient) -> None:
    """Raw requests skip local rules; the emulator still answers with Microsoft's codes."""
    with pytest.raises(ApiError) as raised:
        client.raw_rest("customer-management", "POST", "/CustomerManagement/v13/Accounts/Search", {"Predicates": []})
    assert raised.value.codes == [3079]
    with pytest.raises(ApiError) as raised:
        client.raw_rest(
            "customer-management",
            "POST",
            "/CustomerManagement/v13/Accounts/Search",
            {"Predicates": [{"Field": "AccountName", "Operator": "Contains", "Value": "Search"}]},
        )
    assert raised.value.codes == [3080]


def _pending_link(client: BingAdsClient) -> ClientLink:
    (pending,) = [
        link
        for link in client.customer_management.search_client_links(
            cm.client_link_predicates(direct_managing_customer_id=home_customer(client))
        )
        if link.status == "LinkPending"
    ]
    return pending


def test_update_client_links_cancels_a_pending_link_and_renews_its_timestamp(
    client: BingAdsClient, bingads_emulator: RunningEmulator
) -> None:
    pending = _pending_link(client)
    (result,) = client.customer_management.update_client_links([pending.model_copy(update={"status": "LinkCanceled"})])
    assert result.ok, result.errors
    stored = bingads_emulator.state.world.client_links[-1]
    assert stored.status == "LinkCanceled" and stored.timestamp != pending.timestamp


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param({"status": "LinkCanceled", "timestamp": "AAAAAAAAAAE="}, 201, id="stale-timestamp"),
        pytest.param({"status": "LinkAccepted"}, 106, id="manager-accepts"),
        pytest.param({"status": "LinkCanceled", "client_entity_id": 1}, 201, id="no-such-link"),
    ],
)
def test_update_client_links_refuses_a_link_at_its_index(
    client: BingAdsClient, bingads_emulator: RunningEmulator, change: dict[str, object], code: int
) -> None:
    pending = _pending_link(client)
    good = pending.model_copy(update={"status": "LinkCanceled"})
    bad, ok = client.customer_management.update_client_links([pending.model_copy(update=change), good])
    assert [e.code for e in bad.errors] == [code] and ok.ok


def test_update_client_links_cannot_cancel_an_active_link_3083(client: BingAdsClient) -> None:
    active = next(
        link
        for link in client.customer_management.search_client_links(
            cm.client_link_predicates(direct_managing_customer_id=home_customer(client))
        )
        if link.status == "Active"
    )
    (result,) = client.customer_management.update_client_links([active.model_copy(update={"status": "LinkCanceled"})])
    assert [e.code for e in result.errors] == [3083]


def test_update_client_links_checks_status_and_timestamp_before_any_call(
    client: BingAdsClient, recorder: Recorder
) -> None:
    link = ClientLink(client_entity_id=1, managing_customer_id=2, status="Active")
    with pytest.raises(ValidationError) as raised:
        client.customer_management.update_client_links([link])
    assert {p.field for p in raised.value.problems} == {"client_links[0].status", "client_links[0].timestamp"}
    assert recorder.requests == []


def test_update_client_links_raw_empty_list_is_3087(client: BingAdsClient) -> None:
    with pytest.raises(ApiError) as raised:
        client.raw_rest("customer-management", "PUT", cm.UPDATE_CLIENT_LINKS.path, {"ClientLinks": []})
    assert raised.value.codes == [3087]


def test_pilot_features_of_a_stranger_customer_are_refused_106(
    client: BingAdsClient, bingads_emulator: RunningEmulator
) -> None:
    assert client.customer_management.get_customer_pilot_features(home_customer(client)) == [574]
    with pytest.raises(PermissionDeniedError):
        client.customer_management.get_customer_pilot_features(list(bingads_emulator.state.world.customers)[-1])


def test_search_user_invitations_lists_the_customers_pending_invitations(client: BingAdsClient) -> None:
    customer = home_customer(client)
    sent = client.customer_management.send_user_invitation(
        UserInvitation(
            first_name="Ada", last_name="Lovelace", email="ada@example.com", customer_id=customer, role_id=100
        )
    )
    (found,) = client.customer_management.search_user_invitations(customer)
    assert (found.id, found.email, found.lcid) == (sent, "ada@example.com", "EnglishUS")


def test_search_user_invitations_raw_needs_the_customer_id_predicate_3030(client: BingAdsClient) -> None:
    body = {"Predicates": [{"Field": "Email", "Operator": "Equals", "Value": "ada@example.com"}]}
    with pytest.raises(ApiError) as raised:
        client.raw_rest("customer-management", "POST", cm.SEARCH_USER_INVITATIONS.path, body)
    assert raised.value.codes == [3030]
