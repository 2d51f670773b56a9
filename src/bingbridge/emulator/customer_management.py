"""Customer Management operations as Microsoft answers them, over the emulator's state.

Codes Microsoft documents are used as documented (3024, 3030, 3079, 3080, 1410, 1424, 106, ...). Where
Microsoft publishes no number for a rule (e.g. a too-long invitation name) the emulator answers 201
ApiInputValidationError with a message naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bingbridge.api import customer_management as rules
from bingbridge.api.models import customer as m
from bingbridge.emulator import faults
from bingbridge.emulator.context import Caller, Handler
from bingbridge.emulator.state import EmulatorState


def _invalid(message: str) -> faults.Fault:
    return faults.customer(201, message)


def _require_customer(state: EmulatorState, caller: Caller, customer_id: int) -> None:
    if customer_id not in state.visible_customer_ids(caller.user_id):
        raise faults.ad_api(106)


def get_user(state: EmulatorState, caller: Caller, req: m.GetUserRequest) -> m.GetUserResponse:
    user_id = req.user_id or caller.user_id
    me = state.world.users[caller.user_id]
    record = state.world.users.get(user_id)
    if record is None or record.customer_id != me.customer_id:
        raise faults.ad_api(106)
    home = record.customer_id
    roles = [
        m.CustomerRole(
            role_id=record.role_id,
            customer_id=home,
            account_ids=[a.id for a in state.accounts_of(home) if a.id is not None],
            linked_account_ids=state.linked_account_ids(home) or None,
        )
    ]
    return m.GetUserResponse(user=record.user, customer_roles=roles)


def get_customer(state: EmulatorState, caller: Caller, req: m.GetCustomerRequest) -> m.GetCustomerResponse:
    _require_customer(state, caller, req.customer_id)
    return m.GetCustomerResponse(customer=state.world.customers[req.customer_id])


def get_customers_info(
    state: EmulatorState, caller: Caller, req: m.GetCustomersInfoRequest
) -> m.GetCustomersInfoResponse:
    if req.top_n <= 0:
        raise _invalid("TopN must be a nonzero positive integer.")
    prefix = (req.customer_name_filter or "").lower()
    found = [
        m.CustomerInfo(id=cid, name=state.world.customers[cid].name)
        for cid in state.visible_customer_ids(caller.user_id)
        if (state.world.customers[cid].name or "").lower().startswith(prefix)
    ]
    return m.GetCustomersInfoResponse(customers_info=found[: req.top_n])


def _account_infos(state: EmulatorState, ids: list[int]) -> list[m.AccountInfo]:
    infos = []
    for aid in ids:
        a = state.world.accounts[aid]
        infos.append(
            m.AccountInfo(
                id=aid,
                name=a.name,
                number=a.number,
                account_life_cycle_status=a.account_life_cycle_status or "Active",
                pause_reason=a.pause_reason,
            )
        )
    return infos


def _accounts_under(state: EmulatorState, customer_id: int, only_parent: bool) -> list[int]:
    own = [a.id for a in state.accounts_of(customer_id) if a.id is not None]
    return own if only_parent else own + state.linked_account_ids(customer_id)


def get_accounts_info(state: EmulatorState, caller: Caller, req: m.GetAccountsInfoRequest) -> m.GetAccountsInfoResponse:
    customer_id = req.customer_id or state.world.users[caller.user_id].customer_id
    _require_customer(state, caller, customer_id)
    ids = _accounts_under(state, customer_id, req.only_parent_accounts)
    return m.GetAccountsInfoResponse(accounts_info=_account_infos(state, ids))


def get_linked_accounts_and_customers_info(
    state: EmulatorState, caller: Caller, req: m.GetLinkedAccountsAndCustomersInfoRequest
) -> m.GetLinkedAccountsAndCustomersInfoResponse:
    customer_id = req.customer_id or state.world.users[caller.user_id].customer_id
    _require_customer(state, caller, customer_id)
    ids = _accounts_under(state, customer_id, req.only_parent_accounts)
    customer_ids = [customer_id] if req.only_parent_accounts else [customer_id, *state.linked_customer_ids(customer_id)]
    customers = [m.CustomerInfo(id=cid, name=state.world.customers[cid].name) for cid in customer_ids]
    return m.GetLinkedAccountsAndCustomersInfoResponse(
        accounts_info=_account_infos(state, ids), customers_info=customers
    )


def _check_predicates(predicates: list[m.Predicate], allowed: dict[str, tuple[str, ...]]) -> None:
    if not predicates:
        raise faults.customer(3079, "At least one predicate is required.")
    for p in predicates:
        if p.field not in allowed or p.operator not in allowed[p.field] or not p.value:
            raise faults.customer(3030, f"The predicate {p.field} {p.operator} is invalid.")


def _check_page(page: m.Paging | None, maximum: int) -> m.Paging:
    if page is None:
        raise faults.customer(3080, "Page Info must be present.")
    if not 1 <= page.size <= maximum or page.index < 0:
        raise faults.customer(3024, f"The page size must be between 1 and {maximum}.")
    return page


def _ids(value: str | None) -> set[int]:
    return {int(v) for v in (value or "").split(",") if v.strip().isdigit()}


def _sort(items: list[Any], ordering: list[m.OrderBy] | None, keys: dict[str, Callable[[Any], Any]]) -> list[Any]:
    if not ordering or ordering[0].field not in keys:
        return items
    key = keys[ordering[0].field]
    return sorted(items, key=lambda x: (key(x) is None, key(x)), reverse=ordering[0].order == "Descending")


def _account_matches(state: EmulatorState, caller: Caller, a: m.AdvertiserAccount, p: m.Predicate) -> bool:
    value = p.value or ""
    if p.field == "AccountId":
        return a.id in _ids(value)
    if p.field == "AccountName":
        name = (a.name or "").lower()
        return name == value.lower() if p.operator == "Equals" else value.lower() in name
    if p.field == "AccountNumber":
        if p.operator == "In":
            return a.number in {v.strip() for v in value.split(",")}
        return a.number == value if p.operator == "Equals" else value.lower() in (a.number or "").lower()
    if p.field == "CustomerId":
        return str(a.parent_customer_id) == value
    if p.field == "UserId":
        return value.isdigit() and int(value) == caller.user_id
    if p.field == "AccountLifeCycleStatus":
        status = a.account_life_cycle_status
        # Microsoft: "Active" also returns accounts paused for billing (PauseReason 2); "Pause" covers 1 and 4.
        if value == "Active":
            return status == "Active" or (status == "Pause" and a.pause_reason == 2)
        if value == "Pause":
            return status == "Pause" and a.pause_reason in (1, 4)
        return status == value
    return False


def search_accounts(state: EmulatorState, caller: Caller, req: m.SearchAccountsRequest) -> m.SearchAccountsResponse:
    _check_predicates(req.predicates, rules.ACCOUNT_PREDICATES)
    fields = [p.field for p in req.predicates]
    if len(req.predicates) > (2 if "AccountLifeCycleStatus" in fields else 1) or fields == ["AccountLifeCycleStatus"]:
        raise faults.customer(474, "Required search predicate is missing or more than one was given.")
    page = _check_page(req.page_info, rules.MAX_SEARCH_ACCOUNTS_PAGE)
    visible = state.visible_account_ids(caller.user_id)
    found = [
        state.world.accounts[aid]
        for aid in visible
        if all(_account_matches(state, caller, state.world.accounts[aid], p) for p in req.predicates)
    ]
    found = _sort(found, req.ordering, {"Id": lambda a: a.id, "Name": lambda a: a.name, "Number": lambda a: a.number})
    return m.SearchAccountsResponse(accounts=found[page.index * page.size : (page.index + 1) * page.size])


def _link_matches(link: m.ClientLink, p: m.Predicate, customer_of: Callable[[int], int | None]) -> bool:
    ids = _ids(p.value)
    if p.field == "ClientAccountId":
        return link.type == "AccountLink" and link.client_entity_id in ids
    if p.field == "ClientCustomerId":
        if link.type == "CustomerLink":
            return link.client_entity_id in ids
        return link.client_entity_id is not None and customer_of(link.client_entity_id) in ids
    # DirectManagingCustomerId and the deprecated ManagingCustomerId both filter on the managing customer.
    return link.managing_customer_id in ids


def search_client_links(
    state: EmulatorState, caller: Caller, req: m.SearchClientLinksRequest
) -> m.SearchClientLinksResponse:
    _check_predicates(req.predicates, rules.CLIENT_LINK_PREDICATES)
    fields = {p.field for p in req.predicates}
    if len(req.predicates) > 2 or any({a, b} <= fields for a, b in rules.CLIENT_LINK_EXCLUSIVE):
        raise faults.customer(3030, "These predicates cannot be combined.")
    page = _check_page(req.page_info, rules.MAX_SEARCH_CLIENT_LINKS_PAGE)
    predicates = [p for p in req.predicates if not ("ClientAccountId" in fields and p.field == "ManagingCustomerId")]
    visible_customers = set(state.visible_customer_ids(caller.user_id))

    def customer_of(account_id: int) -> int | None:
        account = state.world.accounts.get(account_id)
        return account.parent_customer_id if account else None

    latest: dict[tuple[int | None, int | None], m.ClientLink] = {}
    for link in state.world.client_links:
        client_customer = (
            link.client_entity_id if link.type == "CustomerLink" else customer_of(link.client_entity_id or 0)
        )
        if link.managing_customer_id not in visible_customers and client_customer not in visible_customers:
            continue
        if all(_link_matches(link, p, customer_of) for p in predicates):
            latest[(link.managing_customer_id, link.client_entity_id)] = link  # later links replace earlier
    found = _sort(
        list(latest.values()),
        req.ordering,
        {
            "Id": lambda x: x.client_entity_id,
            "Name": lambda x: x.name,
            "Number": lambda x: x.managing_customer_number,
        },
    )
    return m.SearchClientLinksResponse(client_links=found[page.index * page.size : (page.index + 1) * page.size])


def _link_problem(state: EmulatorState, caller: Caller, link: m.ClientLink) -> m.OperationError | None:
    w = state.world
    if link.name is not None and len(link.name) > rules.MAX_CLIENT_LINK_NAME:
        return m.OperationError(code=201, message="The client link name exceeds 40 characters.")
    if link.customer_link_permission and link.type != "CustomerLink":
        return m.OperationError(code=201, message="CustomerLinkPermission applies only to CustomerLink.")
    kind = link.type or "AccountLink"
    pool: dict[int, Any] = w.accounts if kind == "AccountLink" else w.customers
    entity = link.client_entity_id
    if entity is None and link.client_entity_number:
        entity = next((i for i, e in pool.items() if e.number == link.client_entity_number), None)
    if entity is None or entity not in pool:
        return m.OperationError(code=201, message="The client entity does not exist.")
    managing = link.managing_customer_id or state.world.users[caller.user_id].customer_id
    if managing not in state.visible_customer_ids(caller.user_id):
        return m.OperationError(code=106, message="The user is not authorized to link for this customer.")
    for existing in w.client_links:
        if existing.client_entity_id != entity:
            continue
        # A pending or live link from the same manager: Microsoft answers 1410 (invitation already sent).
        if existing.managing_customer_id == managing and existing.status in (
            "LinkPending",
            "LinkInProgress",
            "LinkAccepted",
            "Active",
        ):
            return m.OperationError(
                code=1410,
                message="An invitation to manage the specified client account has already been sent.",
            )
        if existing.managing_customer_id != managing and existing.status == "Active" and kind == "AccountLink":
            return m.OperationError(code=1424, message="The client account is already managed by another agency.")
    return None


def add_client_links(state: EmulatorState, caller: Caller, req: m.AddClientLinksRequest) -> m.AddClientLinksResponse:
    if not req.client_links:
        raise faults.customer(3087, "The required list is null or empty.")
    if len(req.client_links) > rules.MAX_CLIENT_LINKS_PER_CALL:
        raise faults.customer(3024, "The batch size exceeds the limit of 10 client links.")
    partial: list[list[m.OperationError] | None] = []
    now = datetime.now(UTC)
    for link in req.client_links:
        problem = _link_problem(state, caller, link)
        if problem is not None:
            partial.append([problem])
            continue
        partial.append(None)
        kind = link.type or "AccountLink"
        pool: dict[int, Any] = state.world.accounts if kind == "AccountLink" else state.world.customers
        entity = link.client_entity_id or next(i for i, e in pool.items() if e.number == link.client_entity_number)
        managing = link.managing_customer_id or state.world.users[caller.user_id].customer_id
        state.world.client_links.append(
            link.model_copy(
                update={
                    "type": kind,
                    "client_entity_id": entity,
                    "client_entity_number": pool[entity].number,
                    "client_entity_name": pool[entity].name,
                    "managing_customer_id": managing,
                    "managing_customer_number": state.world.customers[managing].number,
                    "managing_customer_name": state.world.customers[managing].name,
                    "status": "LinkPending",
                    "suppress_notification": bool(link.suppress_notification),
                    "timestamp": state.new_timestamp(),
                    "start_date": now,
                    "last_modified_date_time": now,
                    "last_modified_by_user_id": caller.user_id,
                }
            )
        )
    # Microsoft answers one inner list per requested link, null where the link was added (reference 13).
    return m.AddClientLinksResponse(partial_errors=partial)


def _stored_link(state: EmulatorState, link: m.ClientLink) -> int | None:
    """The index of the latest stored link between the same managing customer and client entity."""
    for index in range(len(state.world.client_links) - 1, -1, -1):
        stored = state.world.client_links[index]
        if (stored.client_entity_id, stored.managing_customer_id) == (link.client_entity_id, link.managing_customer_id):
            return index
    return None


def _client_customer(state: EmulatorState, link: m.ClientLink) -> int | None:
    if link.type == "CustomerLink":
        return link.client_entity_id
    account = state.world.accounts.get(link.client_entity_id or 0)
    return account.parent_customer_id if account else None


def _update_problem(state: EmulatorState, caller: Caller, link: m.ClientLink) -> m.OperationError | None:
    index = _stored_link(state, link)
    if index is None:
        return m.OperationError(code=201, message="The client link does not exist.")
    stored = state.world.client_links[index]
    change = rules.CLIENT_LINK_CHANGES.get(link.status or "")
    # Choice: Microsoft publishes no number for a status the link cannot move to; 3083 says it may not be updated.
    if change is None or stored.status not in change[0]:
        return m.OperationError(code=3083, message=f"The client link status cannot change from {stored.status}.")
    home = state.world.users[caller.user_id].customer_id
    side_customer = _client_customer(state, stored) if change[1] == "client" else stored.managing_customer_id
    if side_customer != home:
        return m.OperationError(code=106, message="The user is not authorized to change this client link status.")
    # Choice: a Timestamp that is not the stored one answers 201 (Microsoft requires it "for validation").
    if link.timestamp != stored.timestamp:
        return m.OperationError(
            code=201, message="The Timestamp does not match; get the client link with SearchClientLinks first."
        )
    return None


def update_client_links(
    state: EmulatorState, caller: Caller, req: m.UpdateClientLinksRequest
) -> m.UpdateClientLinksResponse:
    if not req.client_links:
        raise faults.customer(3087, "The required list is null or empty.")
    if len(req.client_links) > rules.MAX_CLIENT_LINKS_PER_CALL:
        raise faults.customer(3024, "The batch size exceeds the limit of 10 client links.")
    partial: list[list[m.OperationError] | None] = []
    for link in req.client_links:
        problem = _update_problem(state, caller, link)
        partial.append(None if problem is None else [problem])
        if problem is not None:
            continue
        index = _stored_link(state, link)
        assert index is not None
        # Choice: an accepted link goes straight to Active (Microsoft passes it through LinkInProgress first).
        status = "Active" if link.status == "LinkAccepted" else link.status
        state.world.client_links[index] = state.world.client_links[index].model_copy(
            update={
                "status": status,
                "last_modified_date_time": datetime.now(UTC),
                "last_modified_by_user_id": caller.user_id,
                "timestamp": state.new_timestamp(),
            }
        )
    return m.UpdateClientLinksResponse(partial_errors=partial)


def get_customer_pilot_features(
    state: EmulatorState, caller: Caller, req: m.GetCustomerPilotFeaturesRequest
) -> m.GetCustomerPilotFeaturesResponse:
    _require_customer(state, caller, req.customer_id)
    return m.GetCustomerPilotFeaturesResponse(feature_pilot_flags=state.world.pilot_features.get(req.customer_id, []))


def search_user_invitations(
    state: EmulatorState, caller: Caller, req: m.SearchUserInvitationsRequest
) -> m.SearchUserInvitationsResponse:
    _check_predicates(req.predicates, rules.INVITATION_PREDICATES)
    if len(req.predicates) != 1 or not (req.predicates[0].value or "").isdigit():
        raise faults.customer(3030, "Give one CustomerId predicate with a customer id.")
    customer_id = int(req.predicates[0].value or 0)
    _require_customer(state, caller, customer_id)
    # Pending invitations, expired ones included; nobody accepts an invitation in the emulator.
    found = [inv for inv in state.world.invitations.values() if inv.customer_id == customer_id]
    return m.SearchUserInvitationsResponse(user_invitations=found)


def send_user_invitation(
    state: EmulatorState, caller: Caller, req: m.SendUserInvitationRequest
) -> m.SendUserInvitationResponse:
    inv = req.user_invitation
    for field, limit in (("FirstName", 40), ("LastName", 40), ("Email", 100)):
        value = getattr(inv, {"FirstName": "first_name", "LastName": "last_name", "Email": "email"}[field])
        if not value or len(value) > limit:
            raise _invalid(f"{field} is required and may have at most {limit} characters.")
    if inv.role_id not in rules.ROLE_IDS:
        raise _invalid("RoleId is not a valid role.")
    if inv.customer_id is None:
        raise _invalid("CustomerId is required.")
    _require_customer(state, caller, inv.customer_id)
    for account_id in inv.account_ids or []:
        if state.world.accounts.get(account_id, m.AdvertiserAccount()).parent_customer_id != inv.customer_id:
            raise faults.ad_api(106)
    invitation_id = state.new_id()
    state.world.invitations[invitation_id] = inv.model_copy(
        update={
            "id": invitation_id,
            "expiration_date": datetime.now(UTC) + timedelta(days=30),
            "lcid": inv.lcid or "EnglishUS",  # Microsoft's default
        }
    )
    return m.SendUserInvitationResponse(user_invitation_id=invitation_id)


HANDLERS: dict[str, Handler] = {
    "AddClientLinks": add_client_links,
    "UpdateClientLinks": update_client_links,
    "SearchClientLinks": search_client_links,
    "SearchAccounts": search_accounts,
    "GetAccountsInfo": get_accounts_info,
    "GetCustomer": get_customer,
    "GetCustomersInfo": get_customers_info,
    "GetLinkedAccountsAndCustomersInfo": get_linked_accounts_and_customers_info,
    "GetCustomerPilotFeatures": get_customer_pilot_features,
    "SendUserInvitation": send_user_invitation,
    "SearchUserInvitations": search_user_invitations,
    "GetUser": get_user,
}
