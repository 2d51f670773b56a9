"""Customer Management data objects and messages (namespace Customer/v13 and Customer/v13/Entities).

Field order follows the v13 WSDL sequences; see the protocol reference, section 2.3.
"""

from __future__ import annotations

from typing import Literal

from bingbridge.api.models.base import (
    Flags,
    KeyValuePairOfstringbase64Binary,
    KeyValuePairOfstringstring,
    LongId,
    WireDateTime,
    WireModel,
    WireResponse,
)

ClientLinkType = Literal["AccountLink", "CustomerLink"]
ClientLinkStatus = Literal[
    "LinkPending", "LinkCanceled", "LinkExpired", "LinkAccepted", "LinkDeclined", "LinkInProgress", "Active",
    "LinkFailed", "UnlinkRequested", "UnlinkPending", "UnlinkCanceled", "UnlinkInProgress", "Inactive",
    "UnlinkFailed",
]  # fmt: skip
AccountLifeCycleStatus = Literal["Draft", "Active", "Inactive", "Pause", "Pending", "Suspended"]
PredicateOperator = Literal[
    "Equals",
    "NotEquals",
    "Contains",
    "In",
    "GreaterThanEquals",
    "LessThanEquals",
    "StartsWith",
    "NotContains",
]
OrderByField = Literal["Id", "Name", "Number", "LifeCycleStatus", "CouponClassName", "CouponStartDate"]
SortOrder = Literal["Ascending", "Descending"]
CustomerLinkPermission = Literal["Administrative", "Standard"]


class Address(WireModel):
    city: str | None = None
    country_code: str | None = None
    id: LongId | None = None
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    line4: str | None = None
    postal_code: str | None = None
    state_or_province: str | None = None
    time_stamp: str | None = None
    business_name: str | None = None


class AccountTaxCertificate(WireModel):
    tax_certificate_blob_container_name: str | None = None
    tax_certificates: list[KeyValuePairOfstringbase64Binary] | None = None
    status: str | None = None


class ClientLink(WireModel):
    """A request to manage another customer's account (AccountLink) or customer (CustomerLink)."""

    type: ClientLinkType | None = None
    client_entity_id: LongId | None = None
    client_entity_number: str | None = None
    client_entity_name: str | None = None
    managing_customer_id: LongId | None = None
    managing_customer_number: str | None = None
    managing_customer_name: str | None = None
    note: str | None = None
    name: str | None = None
    inviter_email: str | None = None
    inviter_name: str | None = None
    inviter_phone: str | None = None
    is_bill_to_client: bool | None = None
    start_date: WireDateTime | None = None
    status: ClientLinkStatus | None = None
    suppress_notification: bool | None = None
    last_modified_date_time: WireDateTime | None = None
    last_modified_by_user_id: LongId | None = None
    timestamp: str | None = None
    forward_compatibility_map: list[KeyValuePairOfstringstring] | None = None
    customer_link_permission: CustomerLinkPermission | None = None
    client_entity_customer_number: str | None = None


class CustomerInfo(WireModel):
    id: LongId | None = None
    name: str | None = None


class AccountInfo(WireModel):
    id: LongId
    name: str | None = None
    number: str | None = None
    account_life_cycle_status: AccountLifeCycleStatus
    pause_reason: int | None = None


class AdvertiserAccount(WireModel):
    """An ad account. Order is Microsoft's, not alphabetical, after ParentCustomerId."""

    bill_to_customer_id: LongId | None = None
    currency_code: str | None = None
    account_financial_status: str | None = None
    id: LongId | None = None
    language: str | None = None
    last_modified_by_user_id: LongId | None = None
    last_modified_time: WireDateTime | None = None
    name: str | None = None
    number: str | None = None
    parent_customer_id: LongId | None = None
    payment_method_id: LongId | None = None
    payment_method_type: str | None = None
    primary_user_id: LongId | None = None
    account_life_cycle_status: AccountLifeCycleStatus | None = None
    time_stamp: str | None = None
    time_zone: str | None = None
    pause_reason: int | None = None
    forward_compatibility_map: list[KeyValuePairOfstringstring] | None = None
    linked_agencies: list[CustomerInfo] | None = None
    sales_house_customer_id: LongId | None = None
    tax_information: list[KeyValuePairOfstringstring] | None = None
    back_up_payment_instrument_id: LongId | None = None
    billing_threshold_amount: float | None = None
    business_address: Address | None = None
    auto_tag_type: Literal["Inactive", "Preserve", "Replace"] | None = None
    sold_to_payment_instrument_id: LongId | None = None
    tax_certificate: AccountTaxCertificate | None = None
    account_mode: str | None = None
    parent_customer_number: str | None = None


class Customer(WireModel):
    customer_financial_status: str | None = None
    id: LongId | None = None
    industry: str | None = None
    last_modified_by_user_id: LongId | None = None
    last_modified_time: WireDateTime | None = None
    market_country: str | None = None
    forward_compatibility_map: list[KeyValuePairOfstringstring] | None = None
    market_language: str | None = None
    name: str | None = None
    service_level: str | None = None
    customer_life_cycle_status: Literal["Active", "Inactive"] | None = None
    time_stamp: str | None = None
    number: str | None = None
    customer_address: Address | None = None


class ContactInfo(WireModel):
    address: Address | None = None
    contact_by_phone: bool | None = None
    contact_by_postal_mail: bool | None = None
    email: str | None = None
    email_format: str | None = None
    fax: str | None = None
    home_phone: str | None = None
    id: LongId | None = None
    mobile: str | None = None
    phone1: str | None = None
    phone2: str | None = None


class PersonName(WireModel):
    first_name: str | None = None
    last_name: str | None = None
    middle_initial: str | None = None


class User(WireModel):
    contact_info: ContactInfo | None = None
    customer_id: LongId | None = None
    id: LongId | None = None
    job_title: str | None = None
    last_modified_by_user_id: LongId | None = None
    last_modified_time: WireDateTime | None = None
    lcid: str | None = None
    name: PersonName | None = None
    password: str | None = None
    secret_answer: str | None = None
    secret_question: str | None = None
    user_life_cycle_status: str | None = None
    time_stamp: str | None = None
    user_name: str | None = None
    forward_compatibility_map: list[KeyValuePairOfstringstring] | None = None
    authentication_token: str | None = None


class CustomerRole(WireModel):
    role_id: int
    customer_id: LongId
    account_ids: list[LongId] | None = None
    linked_account_ids: list[LongId] | None = None
    customer_link_permission: str | None = None


class UserInvitation(WireModel):
    """An e-mail invitation to sign up and manage a customer's accounts with a role."""

    id: LongId | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    customer_id: LongId | None = None
    role_id: int | None = None
    account_ids: list[LongId] | None = None
    expiration_date: WireDateTime | None = None
    lcid: str | None = None


class Predicate(WireModel):
    field: str | None = None
    operator: PredicateOperator
    value: str | None = None


class OrderBy(WireModel):
    field: OrderByField
    order: SortOrder = "Ascending"


class Paging(WireModel):
    index: int = 0
    size: int


class OperationError(WireModel):
    """A Customer Management error: it has no symbolic ErrorCode."""

    code: int
    details: str | None = None
    message: str | None = None


# ---- request and response messages (namespace Customer/v13) ----


class AddClientLinksRequest(WireModel):
    client_links: list[ClientLink]


class AddClientLinksResponse(WireResponse):
    operation_errors: list[OperationError] | None = None
    # Index-aligned with the request: None (or empty) where the link was added.
    partial_errors: list[list[OperationError] | None] | None = None


class SearchClientLinksRequest(WireModel):
    predicates: list[Predicate]
    ordering: list[OrderBy] | None = None
    page_info: Paging | None = None


class SearchClientLinksResponse(WireResponse):
    client_links: list[ClientLink] | None = None


class SearchAccountsRequest(WireModel):
    predicates: list[Predicate]
    ordering: list[OrderBy] | None = None
    page_info: Paging | None = None
    return_additional_fields: Flags | None = None


class SearchAccountsResponse(WireResponse):
    accounts: list[AdvertiserAccount] | None = None


class GetAccountsInfoRequest(WireModel):
    customer_id: LongId | None = None
    only_parent_accounts: bool = False


class GetAccountsInfoResponse(WireResponse):
    accounts_info: list[AccountInfo] | None = None


class GetCustomerRequest(WireModel):
    customer_id: LongId


class GetCustomerResponse(WireResponse):
    customer: Customer | None = None


class GetCustomersInfoRequest(WireModel):
    customer_name_filter: str | None = None
    top_n: int = 5


class GetCustomersInfoResponse(WireResponse):
    customers_info: list[CustomerInfo] | None = None


class GetLinkedAccountsAndCustomersInfoRequest(WireModel):
    customer_id: LongId | None = None
    only_parent_accounts: bool = False


class GetLinkedAccountsAndCustomersInfoResponse(WireResponse):
    accounts_info: list[AccountInfo] | None = None
    customers_info: list[CustomerInfo] | None = None


class SendUserInvitationRequest(WireModel):
    user_invitation: UserInvitation


class SendUserInvitationResponse(WireResponse):
    user_invitation_id: LongId


class SearchUserInvitationsRequest(WireModel):
    predicates: list[Predicate]


class SearchUserInvitationsResponse(WireResponse):
    user_invitations: list[UserInvitation] | None = None


class UpdateClientLinksRequest(WireModel):
    client_links: list[ClientLink]


class UpdateClientLinksResponse(WireResponse):
    operation_errors: list[OperationError] | None = None
    # Index-aligned with the request: None where the link was updated.
    partial_errors: list[list[OperationError] | None] | None = None


class GetCustomerPilotFeaturesRequest(WireModel):
    customer_id: LongId


class GetCustomerPilotFeaturesResponse(WireResponse):
    # The ids of the pilot features the customer takes part in (Microsoft's docs list what each id means).
    feature_pilot_flags: list[int] | None = None


class GetUserRequest(WireModel):
    user_id: LongId | None = None


class GetUserResponse(WireResponse):
    user: User | None = None
    customer_roles: list[CustomerRole] | None = None
