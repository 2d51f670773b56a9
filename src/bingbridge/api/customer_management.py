"""Customer Management: the operation table, input rules, and the typed service (sync and async).

Each typed method describes its call once (`@operation`); `CustomerManagement` runs it on BingAdsClient and
`AsyncCustomerManagement` on AsyncBingAdsClient.

Limits and predicate rules come from Microsoft's docs as summarised in the protocol reference (2.1, 3.1, 3.2).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

from bingbridge.api.calls import AsyncService, Call, SyncService, answer, operation
from bingbridge.api.models import customer as m
from bingbridge.api.operations import OperationTable
from bingbridge.errors import ApiError, ErrorDetail, FieldProblem, ValidationError

OPERATIONS = OperationTable("customer-management", "/CustomerManagement/v13")
ADD_CLIENT_LINKS = OPERATIONS.add("POST", "/ClientLinks", m.AddClientLinksRequest, m.AddClientLinksResponse)
UPDATE_CLIENT_LINKS = OPERATIONS.add("PUT", "/ClientLinks", m.UpdateClientLinksRequest, m.UpdateClientLinksResponse)
SEARCH_CLIENT_LINKS = OPERATIONS.add(
    "POST", "/ClientLinks/Search", m.SearchClientLinksRequest, m.SearchClientLinksResponse
)
SEARCH_ACCOUNTS = OPERATIONS.add("POST", "/Accounts/Search", m.SearchAccountsRequest, m.SearchAccountsResponse)
GET_ACCOUNTS_INFO = OPERATIONS.add("POST", "/AccountsInfo/Query", m.GetAccountsInfoRequest, m.GetAccountsInfoResponse)
GET_CUSTOMER = OPERATIONS.add("POST", "/Customer/Query", m.GetCustomerRequest, m.GetCustomerResponse)
GET_CUSTOMERS_INFO = OPERATIONS.add(
    "POST", "/CustomersInfo/Query", m.GetCustomersInfoRequest, m.GetCustomersInfoResponse
)
GET_LINKED_ACCOUNTS_AND_CUSTOMERS_INFO = OPERATIONS.add(
    "POST",
    "/LinkedAccountsAndCustomersInfo/Query",
    m.GetLinkedAccountsAndCustomersInfoRequest,
    m.GetLinkedAccountsAndCustomersInfoResponse,
)
GET_CUSTOMER_PILOT_FEATURES = OPERATIONS.add(
    "POST", "/CustomerPilotFeatures/Query", m.GetCustomerPilotFeaturesRequest, m.GetCustomerPilotFeaturesResponse
)
SEND_USER_INVITATION = OPERATIONS.add(
    "POST", "/UserInvitation/Send", m.SendUserInvitationRequest, m.SendUserInvitationResponse
)
SEARCH_USER_INVITATIONS = OPERATIONS.add(
    "POST", "/UserInvitations/Search", m.SearchUserInvitationsRequest, m.SearchUserInvitationsResponse
)
GET_USER = OPERATIONS.add("POST", "/User/Query", m.GetUserRequest, m.GetUserResponse)

# ---- limits and rules ----
MAX_CLIENT_LINKS_PER_CALL = 10
MAX_CLIENT_LINK_NAME = 40
MAX_SEARCH_ACCOUNTS_PAGE = 1000
MAX_SEARCH_CLIENT_LINKS_PAGE = 100
MAX_INVITATION_NAME = 40
MAX_INVITATION_EMAIL = 100
MIN_PREDICATE_VALUE = 4
ROLE_IDS = {
    16: "Advertiser Campaign Manager",
    33: "Aggregator",
    41: "Super Admin",
    100: "Viewer",
    203: "Standard User",
}
ACCOUNT_PREDICATES: dict[str, tuple[str, ...]] = {
    "AccountId": ("Equals", "In"),
    "AccountLifeCycleStatus": ("Equals",),
    "AccountName": ("Contains", "Equals"),
    "AccountNumber": ("Contains", "Equals", "In"),
    "CustomerId": ("Equals",),
    "UserId": ("Equals",),
}
CLIENT_LINK_PREDICATES: dict[str, tuple[str, ...]] = {
    "ClientAccountId": ("Equals", "In"),
    "ClientCustomerId": ("Equals", "In"),
    "DirectManagingCustomerId": ("Equals",),
    "ManagingCustomerId": ("Equals",),
}
CLIENT_LINK_EXCLUSIVE = (
    ("DirectManagingCustomerId", "ManagingCustomerId"),
    ("ClientAccountId", "ClientCustomerId"),
)
INVITATION_PREDICATES: dict[str, tuple[str, ...]] = {"CustomerId": ("Equals",)}
ACCOUNT_STATUSES = ("Active", "Draft", "Inactive", "Pause", "Pending", "Suspended")
# UpdateClientLinks: the status a link may be set to, from which statuses, and by which side of the link. The
# client accepts or declines an invitation; the managing customer cancels its own (client link lifecycle docs).
CLIENT_LINK_CHANGES: dict[str, tuple[tuple[str, ...], str]] = {
    "LinkAccepted": (("LinkPending",), "client"),
    "LinkDeclined": (("LinkPending",), "client"),
    "LinkCanceled": (("LinkPending",), "manager"),
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check(problems: list[FieldProblem], operation: str) -> None:
    if problems:
        raise ValidationError(problems, operation=operation)


def _check_predicates(
    predicates: Sequence[m.Predicate], allowed: dict[str, tuple[str, ...]], problems: list[FieldProblem]
) -> None:
    seen = set()
    for i, p in enumerate(predicates):
        where = f"predicates[{i}]"
        if p.field not in allowed:
            problems.append(FieldProblem(f"{where}.field", f"must be one of {', '.join(allowed)}, got {p.field!r}"))
            continue
        if p.operator not in allowed[p.field]:
            problems.append(
                FieldProblem(
                    f"{where}.operator",
                    f"{p.field} takes {' or '.join(allowed[p.field])}, not {p.operator}",
                )
            )
        if p.field in seen:
            problems.append(FieldProblem(f"{where}.field", f"{p.field} appears twice; give each field once"))
        seen.add(p.field)
        if len(p.value or "") < MIN_PREDICATE_VALUE:
            problems.append(FieldProblem(f"{where}.value", f"must be at least {MIN_PREDICATE_VALUE} characters long"))
        if p.field == "AccountLifeCycleStatus" and p.value not in ACCOUNT_STATUSES:
            problems.append(FieldProblem(f"{where}.value", f"must be one of {', '.join(ACCOUNT_STATUSES)}"))


def _check_page(page: m.Paging, maximum: int, problems: list[FieldProblem]) -> None:
    if not 1 <= page.size <= maximum:
        problems.append(FieldProblem("page_info.size", f"must be between 1 and {maximum}, got {page.size}"))
    if page.index < 0:
        problems.append(FieldProblem("page_info.index", f"must be 0 or more, got {page.index}"))


def _check_ordering(ordering: Sequence[m.OrderBy] | None, problems: list[FieldProblem]) -> None:
    if not ordering:
        return
    if len(ordering) > 1:
        problems.append(FieldProblem("ordering", "give one OrderBy; Microsoft ignores the others"))
    if ordering[0].field not in ("Id", "Name", "Number"):
        problems.append(FieldProblem("ordering[0].field", f"must be Id, Name or Number, got {ordering[0].field}"))


def add_client_links_request(links: Sequence[m.ClientLink]) -> m.AddClientLinksRequest:
    """Apply the defaults (AccountLink, no bill-to-client, notify the client) and the rules."""
    problems: list[FieldProblem] = []
    if not 1 <= len(links) <= MAX_CLIENT_LINKS_PER_CALL:
        problems.append(
            FieldProblem("client_links", f"give 1 to {MAX_CLIENT_LINKS_PER_CALL} links per call, got {len(links)}")
        )
    prepared = []
    for i, link in enumerate(links):
        where = f"client_links[{i}]"
        link = link.model_copy(
            update={
                "type": link.type or "AccountLink",
                "is_bill_to_client": False if link.is_bill_to_client is None else link.is_bill_to_client,
                "suppress_notification": bool(link.suppress_notification),
            }
        )
        if (link.client_entity_id is None) == (link.client_entity_number is None):
            problems.append(
                FieldProblem(
                    f"{where}.client_entity_id",
                    "give exactly one of client_entity_id or client_entity_number",
                )
            )
        if link.managing_customer_id is not None and link.managing_customer_number is not None:
            problems.append(
                FieldProblem(
                    f"{where}.managing_customer_id",
                    "give managing_customer_id or managing_customer_number, not both",
                )
            )
        if link.managing_customer_id is None and link.managing_customer_number is None:
            problems.append(
                FieldProblem(f"{where}.managing_customer_id", "required: the customer that will manage the client")
            )
        if link.name is not None and len(link.name) > MAX_CLIENT_LINK_NAME:
            problems.append(
                FieldProblem(f"{where}.name", f"at most {MAX_CLIENT_LINK_NAME} characters, got {len(link.name)}")
            )
        if link.customer_link_permission is not None and link.type != "CustomerLink":
            problems.append(
                FieldProblem(
                    f"{where}.customer_link_permission",
                    "only allowed when type is CustomerLink; leave it empty for AccountLink",
                )
            )
        if link.status is not None:
            problems.append(FieldProblem(f"{where}.status", "is read-only on add; leave it empty"))
        prepared.append(link)
    _check(problems, ADD_CLIENT_LINKS.name)
    return m.AddClientLinksRequest(client_links=prepared)


def search_client_links_request(
    predicates: Sequence[m.Predicate],
    ordering: Sequence[m.OrderBy] | None = None,
    page: m.Paging | None = None,
) -> m.SearchClientLinksRequest:
    page = page or m.Paging(index=0, size=MAX_SEARCH_CLIENT_LINKS_PAGE)
    problems: list[FieldProblem] = []
    if not 1 <= len(predicates) <= 2:
        problems.append(FieldProblem("predicates", f"give one or two predicates, got {len(predicates)}"))
    _check_predicates(predicates, CLIENT_LINK_PREDICATES, problems)
    fields = {p.field for p in predicates}
    for a, b in CLIENT_LINK_EXCLUSIVE:
        if {a, b} <= fields:
            problems.append(FieldProblem("predicates", f"{a} cannot be combined with {b}"))
    _check_ordering(ordering, problems)
    _check_page(page, MAX_SEARCH_CLIENT_LINKS_PAGE, problems)
    _check(problems, SEARCH_CLIENT_LINKS.name)
    return m.SearchClientLinksRequest(
        predicates=list(predicates), ordering=list(ordering) if ordering else None, page_info=page
    )


def search_accounts_request(
    predicates: Sequence[m.Predicate],
    ordering: Sequence[m.OrderBy] | None = None,
    page: m.Paging | None = None,
    return_additional_fields: Sequence[str] | None = None,
) -> m.SearchAccountsRequest:
    page = page or m.Paging(index=0, size=100)
    problems: list[FieldProblem] = []
    fields = [p.field for p in predicates]
    with_status = "AccountLifeCycleStatus" in fields
    if len(predicates) != (2 if with_status else 1):
        rule = (
            "AccountLifeCycleStatus needs exactly one other predicate"
            if with_status
            else f"give exactly one predicate (plus AccountLifeCycleStatus if you like), got {len(predicates)}"
        )
        problems.append(FieldProblem("predicates", rule))
    _check_predicates(predicates, ACCOUNT_PREDICATES, problems)
    _check_ordering(ordering, problems)
    _check_page(page, MAX_SEARCH_ACCOUNTS_PAGE, problems)
    _check(problems, SEARCH_ACCOUNTS.name)
    return m.SearchAccountsRequest(
        predicates=list(predicates),
        ordering=list(ordering) if ordering else None,
        page_info=page,
        return_additional_fields=list(return_additional_fields) if return_additional_fields else None,
    )


def account_predicates(
    *,
    account_id: int | Sequence[int] | None = None,
    name: str | None = None,
    name_equals: bool = False,
    number: str | None = None,
    customer_id: int | None = None,
    user_id: int | None = None,
    status: str | None = None,
) -> list[m.Predicate]:
    """Turn the usual search criteria into SearchAccounts predicates."""
    predicates = []
    if account_id is not None:
        ids = [account_id] if isinstance(account_id, int) else list(account_id)
        op = "Equals" if len(ids) == 1 else "In"
        predicates.append(m.Predicate(field="AccountId", operator=op, value=",".join(map(str, ids))))
    if name is not None:
        predicates.append(
            m.Predicate(field="AccountName", operator="Equals" if name_equals else "Contains", value=name)
        )
    if number is not None:
        predicates.append(m.Predicate(field="AccountNumber", operator="Equals", value=number))
    if customer_id is not None:
        predicates.append(m.Predicate(field="CustomerId", operator="Equals", value=str(customer_id)))
    if user_id is not None:
        predicates.append(m.Predicate(field="UserId", operator="Equals", value=str(user_id)))
    if status is not None:
        predicates.append(m.Predicate(field="AccountLifeCycleStatus", operator="Equals", value=status))
    return predicates


def client_link_predicates(
    *,
    client_account_id: int | Sequence[int] | None = None,
    client_customer_id: int | Sequence[int] | None = None,
    direct_managing_customer_id: int | None = None,
    managing_customer_id: int | None = None,
) -> list[m.Predicate]:
    """Turn the usual search criteria into SearchClientLinks predicates."""
    predicates = []
    for field, value in (("ClientAccountId", client_account_id), ("ClientCustomerId", client_customer_id)):
        if value is not None:
            ids = [value] if isinstance(value, int) else list(value)
            op = "Equals" if len(ids) == 1 else "In"
            predicates.append(m.Predicate(field=field, operator=op, value=",".join(map(str, ids))))
    for field, single in (
        ("DirectManagingCustomerId", direct_managing_customer_id),
        ("ManagingCustomerId", managing_customer_id),
    ):
        if single is not None:
            predicates.append(m.Predicate(field=field, operator="Equals", value=str(single)))
    return predicates


def get_customer_request(customer_id: int) -> m.GetCustomerRequest:
    if customer_id <= 0:
        _check([FieldProblem("customer_id", f"must be a positive id, got {customer_id}")], GET_CUSTOMER.name)
    return m.GetCustomerRequest(customer_id=customer_id)


def get_customers_info_request(name_filter: str | None, top_n: int) -> m.GetCustomersInfoRequest:
    if top_n <= 0:
        _check([FieldProblem("top_n", f"must be a positive whole number, got {top_n}")], GET_CUSTOMERS_INFO.name)
    return m.GetCustomersInfoRequest(customer_name_filter=name_filter or "", top_n=top_n)


def send_user_invitation_request(invitation: m.UserInvitation) -> m.SendUserInvitationRequest:
    inv = invitation.model_copy(update={"lcid": invitation.lcid or "EnglishUS"})
    problems: list[FieldProblem] = []
    for field, limit in (("first_name", MAX_INVITATION_NAME), ("last_name", MAX_INVITATION_NAME)):
        value = getattr(inv, field)
        if not value:
            problems.append(FieldProblem(field, "required"))
        elif len(value) > limit:
            problems.append(FieldProblem(field, f"at most {limit} characters, got {len(value)}"))
    if not inv.email:
        problems.append(FieldProblem("email", "required"))
    elif len(inv.email) > MAX_INVITATION_EMAIL:
        problems.append(FieldProblem("email", f"at most {MAX_INVITATION_EMAIL} characters, got {len(inv.email)}"))
    elif not _EMAIL.match(inv.email):
        problems.append(FieldProblem("email", f"is not an e-mail address: {inv.email!r}"))
    if inv.customer_id is None:
        problems.append(FieldProblem("customer_id", "required: the customer the user is invited to"))
    if inv.role_id not in ROLE_IDS:
        roles = ", ".join(f"{k} ({v})" for k, v in ROLE_IDS.items())
        problems.append(FieldProblem("role_id", f"must be one of {roles}, got {inv.role_id}"))
    if inv.id is not None or inv.expiration_date is not None:
        problems.append(FieldProblem("id", "id and expiration_date are read-only; leave them empty"))
    _check(problems, SEND_USER_INVITATION.name)
    return m.SendUserInvitationRequest(user_invitation=inv)


def update_client_links_request(links: Sequence[m.ClientLink]) -> m.UpdateClientLinksRequest:
    """Check links to update: each as SearchClientLinks returned it (with its Timestamp), its Status changed."""
    problems: list[FieldProblem] = []
    if not 1 <= len(links) <= MAX_CLIENT_LINKS_PER_CALL:
        problems.append(
            FieldProblem("client_links", f"give 1 to {MAX_CLIENT_LINKS_PER_CALL} links per call, got {len(links)}")
        )
    for i, link in enumerate(links):
        where = f"client_links[{i}]"
        if link.status not in CLIENT_LINK_CHANGES:
            problems.append(FieldProblem(f"{where}.status", f"must be one of {', '.join(CLIENT_LINK_CHANGES)}"))
        if link.client_entity_id is None or link.managing_customer_id is None:
            problems.append(
                FieldProblem(f"{where}.client_entity_id", "client_entity_id and managing_customer_id are required")
            )
        if not link.timestamp:
            problems.append(
                FieldProblem(f"{where}.timestamp", "required: update the link as SearchClientLinks returned it")
            )
    _check(problems, UPDATE_CLIENT_LINKS.name)
    return m.UpdateClientLinksRequest(client_links=list(links))


def status_change_predicates(
    entity_ids: Sequence[int], customer_links: bool, managing_customer_id: int | None
) -> list[m.Predicate]:
    """SearchClientLinks predicates for the links of these client accounts (or customers), from one manager."""
    if customer_links:
        return client_link_predicates(client_customer_id=entity_ids, direct_managing_customer_id=managing_customer_id)
    return client_link_predicates(client_account_id=entity_ids, direct_managing_customer_id=managing_customer_id)


def links_to_change(found: Sequence[m.ClientLink], entity_ids: Sequence[int], status: str) -> list[m.ClientLink]:
    """The links of `entity_ids` (client accounts or customers) set to `status`, from a SearchClientLinks answer.

    Every id needs a link whose current status allows the change; otherwise nothing is changed.
    """
    allowed, _ = CLIENT_LINK_CHANGES[status]
    changed, problems = [], []
    for i, entity_id in enumerate(entity_ids):
        link = next((x for x in found if x.client_entity_id == entity_id and x.status in allowed), None)
        if link is None:
            problems.append(
                FieldProblem(f"ids[{i}]", f"{entity_id} has no client link in status {' or '.join(allowed)}")
            )
        else:
            changed.append(link.model_copy(update={"status": status}))
    _check(problems, UPDATE_CLIENT_LINKS.name)
    return changed


def search_user_invitations_request(customer_id: int) -> m.SearchUserInvitationsRequest:
    predicates = [m.Predicate(field="CustomerId", operator="Equals", value=str(customer_id))]
    problems: list[FieldProblem] = []
    _check_predicates(predicates, INVITATION_PREDICATES, problems)
    _check(problems, SEARCH_USER_INVITATIONS.name)
    return m.SearchUserInvitationsRequest(predicates=predicates)


def get_customer_pilot_features_request(customer_id: int) -> m.GetCustomerPilotFeaturesRequest:
    if customer_id <= 0:
        problem = FieldProblem("customer_id", f"must be a positive id, got {customer_id}")
        _check([problem], GET_CUSTOMER_PILOT_FEATURES.name)
    return m.GetCustomerPilotFeaturesRequest(customer_id=customer_id)


@dataclass(frozen=True)
class LinkResult:
    """What happened to one requested client link."""

    link: m.ClientLink
    errors: list[ErrorDetail]

    @property
    def ok(self) -> bool:
        return not self.errors


def link_results(
    operation_name: str,
    links: Sequence[m.ClientLink],
    response: m.AddClientLinksResponse | m.UpdateClientLinksResponse,
) -> list[LinkResult]:
    """Pair each requested link with its partial errors; operation-wide errors raise ApiError."""
    if response.operation_errors:
        raise ApiError(
            operation=operation_name,
            status=200,
            tracking_id=response.tracking_id,
            errors=[ErrorDetail(code=e.code, message=e.message, details=e.details) for e in response.operation_errors],
        )
    partial = list(response.partial_errors or [])
    results = []
    for i, link in enumerate(links):
        errors = (partial[i] if i < len(partial) else None) or []
        results.append(
            LinkResult(
                link,
                [ErrorDetail(code=e.code, message=e.message, details=e.details, index=i) for e in errors],
            )
        )
    return results


class _CustomerManagementCalls:
    """The typed Customer Management calls, described once for both clients."""

    @operation
    def add_client_links(self, links: Sequence[m.ClientLink]) -> Call[list[LinkResult]]:
        """Invite customers to be managed (AccountLink or CustomerLink); what happened to each link."""
        request = add_client_links_request(links)
        return Call.of(
            ADD_CLIENT_LINKS, request, lambda r: link_results(ADD_CLIENT_LINKS.name, request.client_links, r)
        )

    @operation
    def update_client_links(self, links: Sequence[m.ClientLink]) -> Call[list[LinkResult]]:
        """Change the status of links as SearchClientLinks returned them (accept, decline or cancel)."""
        request = update_client_links_request(links)
        return Call.of(
            UPDATE_CLIENT_LINKS, request, lambda r: link_results(UPDATE_CLIENT_LINKS.name, request.client_links, r)
        )

    @operation
    def search_client_links(
        self,
        predicates: Sequence[m.Predicate],
        ordering: Sequence[m.OrderBy] | None = None,
        page: m.Paging | None = None,
    ) -> Call[list[m.ClientLink]]:
        """The latest link of each agency and client matching the predicates (see `client_link_predicates`)."""
        request = search_client_links_request(predicates, ordering, page)
        return Call.of(SEARCH_CLIENT_LINKS, request, lambda r: r.client_links or [])

    @operation
    def search_accounts(
        self,
        predicates: Sequence[m.Predicate],
        ordering: Sequence[m.OrderBy] | None = None,
        page: m.Paging | None = None,
        return_additional_fields: Sequence[str] | None = None,
    ) -> Call[list[m.AdvertiserAccount]]:
        """One page of the accounts matching the predicates (see `account_predicates`)."""
        request = search_accounts_request(predicates, ordering, page, return_additional_fields)
        return Call.of(SEARCH_ACCOUNTS, request, lambda r: r.accounts or [])

    @operation
    def get_accounts_info(
        self, customer_id: int | None = None, only_parent_accounts: bool = False
    ) -> Call[list[m.AccountInfo]]:
        """Id, name, number and status of a customer's accounts (default: the user's customer)."""
        request = m.GetAccountsInfoRequest(customer_id=customer_id, only_parent_accounts=only_parent_accounts)
        return Call.of(GET_ACCOUNTS_INFO, request, lambda r: r.accounts_info or [])

    @operation
    def get_customer(self, customer_id: int) -> Call[m.Customer | None]:
        """The customer with this id."""
        return Call.of(GET_CUSTOMER, get_customer_request(customer_id), lambda r: r.customer)

    @operation
    def get_customers_info(self, name_filter: str | None = None, top_n: int = 5) -> Call[list[m.CustomerInfo]]:
        """Up to `top_n` customers the user can reach whose name begins with `name_filter`."""
        request = get_customers_info_request(name_filter, top_n)
        return Call.of(GET_CUSTOMERS_INFO, request, lambda r: r.customers_info or [])

    @operation
    def get_linked_accounts_and_customers_info(
        self, customer_id: int | None = None, only_parent_accounts: bool = False
    ) -> Call[m.GetLinkedAccountsAndCustomersInfoResponse]:
        """The accounts and customers a customer owns or manages through client links."""
        request = m.GetLinkedAccountsAndCustomersInfoRequest(
            customer_id=customer_id, only_parent_accounts=only_parent_accounts
        )
        return Call.of(GET_LINKED_ACCOUNTS_AND_CUSTOMERS_INFO, request, answer)

    @operation
    def get_customer_pilot_features(self, customer_id: int) -> Call[list[int]]:
        """The ids of the pilot (beta) features the customer is enabled for."""
        request = get_customer_pilot_features_request(customer_id)
        return Call.of(GET_CUSTOMER_PILOT_FEATURES, request, lambda r: r.feature_pilot_flags or [])

    @operation
    def send_user_invitation(self, invitation: m.UserInvitation) -> Call[int]:
        """E-mail an invitation to manage the customer's accounts with a role; the invitation's id."""
        request = send_user_invitation_request(invitation)
        return Call.of(SEND_USER_INVITATION, request, lambda r: r.user_invitation_id)

    @operation
    def search_user_invitations(self, customer_id: int) -> Call[list[m.UserInvitation]]:
        """The customer's pending invitations, expired ones included (accepted ones are not listed)."""
        request = search_user_invitations_request(customer_id)
        return Call.of(SEARCH_USER_INVITATIONS, request, lambda r: r.user_invitations or [])

    @operation
    def get_user(self, user_id: int | None = None) -> Call[m.GetUserResponse]:
        """The user (None: the signed-in user) and their customer roles."""
        return Call.of(GET_USER, m.GetUserRequest(user_id=user_id), answer)


class CustomerManagement(_CustomerManagementCalls, SyncService):
    """Typed Customer Management operations, `client.customer_management`."""

    def iter_accounts(
        self,
        predicates: Sequence[m.Predicate],
        ordering: Sequence[m.OrderBy] | None = None,
        page_size: int = MAX_SEARCH_ACCOUNTS_PAGE,
    ) -> Iterator[m.AdvertiserAccount]:
        """Every matching account, page after page, until a short page ends the search."""
        index = 0
        while True:
            page = self.search_accounts(predicates, ordering, m.Paging(index=index, size=page_size))
            yield from page
            if len(page) < page_size:
                return
            index += 1


class AsyncCustomerManagement(_CustomerManagementCalls, AsyncService):
    """Typed Customer Management operations for AsyncBingAdsClient."""

    async def iter_accounts(
        self,
        predicates: Sequence[m.Predicate],
        ordering: Sequence[m.OrderBy] | None = None,
        page_size: int = MAX_SEARCH_ACCOUNTS_PAGE,
    ) -> AsyncIterator[m.AdvertiserAccount]:
        """Every matching account, page after page, until a short page ends the search."""
        index = 0
        while True:
            page = await self.search_accounts(predicates, ordering, m.Paging(index=index, size=page_size))
            for account in page:
                yield account
            if len(page) < page_size:
                return
            index += 1
