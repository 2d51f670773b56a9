"""Customer Management: the operation table, input rules, and the typed service (sync and async).

Limits and predicate rules come from Microsoft's docs as summarised in the protocol reference (2.1, 3.1, 3.2).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bingbridge.api.models import customer as m
from bingbridge.api.operations import Operation
from bingbridge.errors import ApiError, ErrorDetail, FieldProblem, ValidationError

if TYPE_CHECKING:
    from bingbridge.api.client import AsyncBingAdsClient, BingAdsClient

_CM = "customer-management"
_BASE = "/CustomerManagement/v13"

ADD_CLIENT_LINKS = Operation(
    _CM, "AddClientLinks", "POST", f"{_BASE}/ClientLinks", m.AddClientLinksRequest, m.AddClientLinksResponse
)
SEARCH_CLIENT_LINKS = Operation(
    _CM,
    "SearchClientLinks",
    "POST",
    f"{_BASE}/ClientLinks/Search",
    m.SearchClientLinksRequest,
    m.SearchClientLinksResponse,
)
SEARCH_ACCOUNTS = Operation(
    _CM,
    "SearchAccounts",
    "POST",
    f"{_BASE}/Accounts/Search",
    m.SearchAccountsRequest,
    m.SearchAccountsResponse,
)
GET_ACCOUNTS_INFO = Operation(
    _CM,
    "GetAccountsInfo",
    "POST",
    f"{_BASE}/AccountsInfo/Query",
    m.GetAccountsInfoRequest,
    m.GetAccountsInfoResponse,
)
GET_CUSTOMER = Operation(
    _CM, "GetCustomer", "POST", f"{_BASE}/Customer/Query", m.GetCustomerRequest, m.GetCustomerResponse
)
GET_CUSTOMERS_INFO = Operation(
    _CM,
    "GetCustomersInfo",
    "POST",
    f"{_BASE}/CustomersInfo/Query",
    m.GetCustomersInfoRequest,
    m.GetCustomersInfoResponse,
)
GET_LINKED_ACCOUNTS_AND_CUSTOMERS_INFO = Operation(
    _CM,
    "GetLinkedAccountsAndCustomersInfo",
    "POST",
    f"{_BASE}/LinkedAccountsAndCustomersInfo/Query",
    m.GetLinkedAccountsAndCustomersInfoRequest,
    m.GetLinkedAccountsAndCustomersInfoResponse,
)
SEND_USER_INVITATION = Operation(
    _CM,
    "SendUserInvitation",
    "POST",
    f"{_BASE}/UserInvitation/Send",
    m.SendUserInvitationRequest,
    m.SendUserInvitationResponse,
)
GET_USER = Operation(_CM, "GetUser", "POST", f"{_BASE}/User/Query", m.GetUserRequest, m.GetUserResponse)

OPERATIONS: tuple[Operation[Any, Any], ...] = (
    ADD_CLIENT_LINKS,
    SEARCH_CLIENT_LINKS,
    SEARCH_ACCOUNTS,
    GET_ACCOUNTS_INFO,
    GET_CUSTOMER,
    GET_CUSTOMERS_INFO,
    GET_LINKED_ACCOUNTS_AND_CUSTOMERS_INFO,
    SEND_USER_INVITATION,
    GET_USER,
)

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
ACCOUNT_STATUSES = ("Active", "Draft", "Inactive", "Pause", "Pending", "Suspended")
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


@dataclass(frozen=True)
class LinkResult:
    """What happened to one requested client link."""

    link: m.ClientLink
    errors: list[ErrorDetail]

    @property
    def ok(self) -> bool:
        return not self.errors


def link_results(request: m.AddClientLinksRequest, response: m.AddClientLinksResponse) -> list[LinkResult]:
    """Pair each requested link with its partial errors; operation-wide errors raise ApiError."""
    if response.operation_errors:
        raise ApiError(
            operation=ADD_CLIENT_LINKS.name,
            status=200,
            tracking_id=response.tracking_id,
            errors=[ErrorDetail(code=e.code, message=e.message, details=e.details) for e in response.operation_errors],
        )
    partial = list(response.partial_errors or [])
    results = []
    for i, link in enumerate(request.client_links):
        errors = (partial[i] if i < len(partial) else None) or []
        results.append(
            LinkResult(
                link,
                [ErrorDetail(code=e.code, message=e.message, details=e.details, index=i) for e in errors],
            )
        )
    return results


class CustomerManagement:
    """Typed Customer Management operations, `client.customer_management`."""

    def __init__(self, client: BingAdsClient) -> None:
        self._client = client

    def add_client_links(self, links: Sequence[m.ClientLink]) -> list[LinkResult]:
        request = add_client_links_request(links)
        return link_results(request, self._client.call(ADD_CLIENT_LINKS, request))

    def search_client_links(
        self,
        predicates: Sequence[m.Predicate],
        ordering: Sequence[m.OrderBy] | None = None,
        page: m.Paging | None = None,
    ) -> list[m.ClientLink]:
        request = search_client_links_request(predicates, ordering, page)
        return self._client.call(SEARCH_CLIENT_LINKS, request).client_links or []

    def search_accounts(
        self,
        predicates: Sequence[m.Predicate],
        ordering: Sequence[m.OrderBy] | None = None,
        page: m.Paging | None = None,
        return_additional_fields: Sequence[str] | None = None,
    ) -> list[m.AdvertiserAccount]:
        request = search_accounts_request(predicates, ordering, page, return_additional_fields)
        return self._client.call(SEARCH_ACCOUNTS, request).accounts or []

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

    def get_accounts_info(
        self, customer_id: int | None = None, only_parent_accounts: bool = False
    ) -> list[m.AccountInfo]:
        request = m.GetAccountsInfoRequest(customer_id=customer_id, only_parent_accounts=only_parent_accounts)
        return self._client.call(GET_ACCOUNTS_INFO, request).accounts_info or []

    def get_customer(self, customer_id: int) -> m.Customer | None:
        return self._client.call(GET_CUSTOMER, get_customer_request(customer_id)).customer

    def get_customers_info(self, name_filter: str | None = None, top_n: int = 5) -> list[m.CustomerInfo]:
        request = get_customers_info_request(name_filter, top_n)
        return self._client.call(GET_CUSTOMERS_INFO, request).customers_info or []

    def get_linked_accounts_and_customers_info(
        self, customer_id: int | None = None, only_parent_accounts: bool = False
    ) -> m.GetLinkedAccountsAndCustomersInfoResponse:
        request = m.GetLinkedAccountsAndCustomersInfoRequest(
            customer_id=customer_id, only_parent_accounts=only_parent_accounts
        )
        return self._client.call(GET_LINKED_ACCOUNTS_AND_CUSTOMERS_INFO, request)

    def send_user_invitation(self, invitation: m.UserInvitation) -> int:
        request = send_user_invitation_request(invitation)
        return self._client.call(SEND_USER_INVITATION, request).user_invitation_id

    def get_user(self, user_id: int | None = None) -> m.GetUserResponse:
        """The user (None: the signed-in user) and their customer roles."""
        return self._client.call(GET_USER, m.GetUserRequest(user_id=user_id))


class AsyncCustomerManagement:
    """Typed Customer Management operations for AsyncBingAdsClient."""

    def __init__(self, client: AsyncBingAdsClient) -> None:
        self._client = client

    async def add_client_links(self, links: Sequence[m.ClientLink]) -> list[LinkResult]:
        request = add_client_links_request(links)
        return link_results(request, await self._client.call(ADD_CLIENT_LINKS, request))

    async def search_client_links(
        self,
        predicates: Sequence[m.Predicate],
        ordering: Sequence[m.OrderBy] | None = None,
        page: m.Paging | None = None,
    ) -> list[m.ClientLink]:
        request = search_client_links_request(predicates, ordering, page)
        return (await self._client.call(SEARCH_CLIENT_LINKS, request)).client_links or []

    async def search_accounts(
        self,
        predicates: Sequence[m.Predicate],
        ordering: Sequence[m.OrderBy] | None = None,
        page: m.Paging | None = None,
        return_additional_fields: Sequence[str] | None = None,
    ) -> list[m.AdvertiserAccount]:
        request = search_accounts_request(predicates, ordering, page, return_additional_fields)
        return (await self._client.call(SEARCH_ACCOUNTS, request)).accounts or []

    async def iter_accounts(
        self,
        predicates: Sequence[m.Predicate],
        ordering: Sequence[m.OrderBy] | None = None,
        page_size: int = MAX_SEARCH_ACCOUNTS_PAGE,
    ) -> AsyncIterator[m.AdvertiserAccount]:
        index = 0
        while True:
            page = await self.search_accounts(predicates, ordering, m.Paging(index=index, size=page_size))
            for account in page:
                yield account
            if len(page) < page_size:
                return
            index += 1

    async def get_accounts_info(
        self, customer_id: int | None = None, only_parent_accounts: bool = False
    ) -> list[m.AccountInfo]:
        request = m.GetAccountsInfoRequest(customer_id=customer_id, only_parent_accounts=only_parent_accounts)
        return (await self._client.call(GET_ACCOUNTS_INFO, request)).accounts_info or []

    async def get_customer(self, customer_id: int) -> m.Customer | None:
        return (await self._client.call(GET_CUSTOMER, get_customer_request(customer_id))).customer

    async def get_customers_info(self, name_filter: str | None = None, top_n: int = 5) -> list[m.CustomerInfo]:
        request = get_customers_info_request(name_filter, top_n)
        return (await self._client.call(GET_CUSTOMERS_INFO, request)).customers_info or []

    async def get_linked_accounts_and_customers_info(
        self, customer_id: int | None = None, only_parent_accounts: bool = False
    ) -> m.GetLinkedAccountsAndCustomersInfoResponse:
        request = m.GetLinkedAccountsAndCustomersInfoRequest(
            customer_id=customer_id, only_parent_accounts=only_parent_accounts
        )
        return await self._client.call(GET_LINKED_ACCOUNTS_AND_CUSTOMERS_INFO, request)

    async def send_user_invitation(self, invitation: m.UserInvitation) -> int:
        request = send_user_invitation_request(invitation)
        return (await self._client.call(SEND_USER_INVITATION, request)).user_invitation_id

    async def get_user(self, user_id: int | None = None) -> m.GetUserResponse:
        return await self._client.call(GET_USER, m.GetUserRequest(user_id=user_id))
