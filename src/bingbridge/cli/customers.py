"""Customer Management commands: customers, accounts, client links, user invitations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bingbridge.cli.common import connection_options, emit, json_option, make_client, report_errors, to_rows

if TYPE_CHECKING:
    from bingbridge.api.client import BingAdsClient
    from bingbridge.api.customer_management import LinkResult


@click.group()
def customers() -> None:
    """Customers (manager accounts) the signed-in user can reach.

    Example: bingbridge customers list --top 5
    """


@customers.command("get")
@click.argument("customer_id", type=int)
@connection_options
@json_option
@report_errors
def customers_get(customer_id: int, as_json: bool, config_file: Path | None, **conn: Any) -> None:
    """Show one customer.

    Example: bingbridge customers get 123456789
    """
    with make_client(config_file, **conn) as client:
        customer = client.customer_management.get_customer(customer_id)
    emit(to_rows([customer])[0] if customer else {}, as_json=as_json)


@customers.command("list")
@click.option("--name-filter", default=None, help="Only customers whose name begins with this (any case).")
@click.option("--top", type=int, default=5, show_default=True, help="How many customers at most.")
@connection_options
@json_option
@report_errors
def customers_list(name_filter: str | None, top: int, as_json: bool, config_file: Path | None, **conn: Any) -> None:
    """List customers by name (GetCustomersInfo).

    Example: bingbridge customers list --name-filter Contoso --top 10
    """
    with make_client(config_file, **conn) as client:
        found = client.customer_management.get_customers_info(name_filter, top)
    emit(to_rows(found), as_json=as_json, columns=["id", "name"])


@customers.command("pilot-features")
@click.argument("customer_id", type=int, required=False)
@connection_options
@json_option
@report_errors
def customers_pilot_features(customer_id: int | None, as_json: bool, config_file: Path | None, **conn: Any) -> None:
    """List the pilot (beta) feature ids a customer is enabled for (GetCustomerPilotFeatures).

    The customer defaults to BINGBRIDGE_CUSTOMER_ID.

    Example: bingbridge customers pilot-features 123456789
    """
    with make_client(config_file, **conn) as client:
        features = client.customer_management.get_customer_pilot_features(
            customer_id or client.settings.require("customer_id")
        )
    emit([{"feature_id": f} for f in features], as_json=as_json, columns=["feature_id"])


@click.group()
def accounts() -> None:
    """Ad accounts: under a customer, linked, or found by search.

    Example: bingbridge accounts search --name Contoso
    """


def _account_scope(func: Any) -> Any:
    func = click.option("--only-parent", is_flag=True, help="Only accounts directly under the customer.")(func)
    return click.option("--customer-id", type=int, default=None, help="Default: the user's own customer.")(func)


@accounts.command("info")
@_account_scope
@connection_options
@json_option
@report_errors
def accounts_info(
    customer_id: int | None, only_parent: bool, as_json: bool, config_file: Path | None, **conn: Any
) -> None:
    """Ids, names and numbers of a customer's accounts (GetAccountsInfo).

    Example: bingbridge accounts info --customer-id 123456789 --only-parent
    """
    with make_client(config_file, **conn) as client:
        found = client.customer_management.get_accounts_info(customer_id, only_parent)
    emit(to_rows(found), as_json=as_json, columns=["id", "name", "number", "account_life_cycle_status"])


@accounts.command("auto-tagging")
@click.option("--account-id", type=int, default=None, help="Ad account (default BINGBRIDGE_ACCOUNT_ID).")
@click.option("--enable", is_flag=True, help="Turn MSCLKID auto-tagging on (SetAccountProperties).")
@connection_options
@json_option
@report_errors
def accounts_auto_tagging(
    account_id: int | None, enable: bool, as_json: bool, config_file: Path | None, **conn: Any
) -> None:
    """Whether the account adds an msclkid to landing URLs (MSCLKIDAutoTaggingEnabled); without it no offline
    conversion or CAPI event can be matched by click. Exit 1 when it is off and --enable was not given.

    Example: bingbridge accounts auto-tagging --enable
    """
    with make_client(config_file, **conn) as client:
        service = client.campaign_management
        if enable:
            service.enable_msclkid_auto_tagging(account_id=account_id)
        on = service.msclkid_auto_tagging(account_id=account_id)
    emit({"account_id": account_id or client.settings.account_id, "msclkid_auto_tagging": on}, as_json=as_json)
    if not on:
        raise SystemExit(1)


@accounts.command("linked")
@_account_scope
@connection_options
@json_option
@report_errors
def accounts_linked(
    customer_id: int | None, only_parent: bool, as_json: bool, config_file: Path | None, **conn: Any
) -> None:
    """The customer and account hierarchy under a customer (GetLinkedAccountsAndCustomersInfo).

    Example: bingbridge accounts linked --customer-id 123456789
    """
    with make_client(config_file, **conn) as client:
        answer = client.customer_management.get_linked_accounts_and_customers_info(customer_id, only_parent)
    if as_json:
        emit(answer.model_dump(exclude_none=True), as_json=True)
        return
    emit(to_rows(answer.customers_info or []), as_json=False, columns=["id", "name"], title="Customers")
    emit(to_rows(answer.accounts_info or []), as_json=False, columns=["id", "name", "number"], title="Accounts")


@accounts.command("search")
@click.option("--account-id", type=int, multiple=True, help="Account id (repeat for several).")
@click.option("--name", help="Accounts whose name contains this.")
@click.option("--number", help="Account number, e.g. F12345AB.")
@click.option("--customer-id", "by_customer", type=int, help="Accounts of this customer.")
@click.option("--user-id", type=int, help="Accounts this user can reach.")
@click.option("--status", type=click.Choice(["Active", "Draft", "Inactive", "Pause", "Pending", "Suspended"]))
@click.option("--order-by", type=click.Choice(["Id", "Name", "Number"]))
@click.option("--desc", is_flag=True, help="Sort descending.")
@click.option("--page-size", type=int, default=100, show_default=True, help="1 to 1000.")
@click.option("--page", type=int, default=0, show_default=True, help="Zero-based page index.")
@click.option("--all", "all_pages", is_flag=True, help="Fetch every page.")
@connection_options
@json_option
@report_errors
def accounts_search(
    account_id: tuple[int, ...],
    name: str | None,
    number: str | None,
    by_customer: int | None,
    user_id: int | None,
    status: str | None,
    order_by: str | None,
    desc: bool,
    page_size: int,
    page: int,
    all_pages: bool,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Search accounts by exactly one of --account-id, --name, --number, --customer-id, --user-id.

    Example: bingbridge accounts search --name Contoso --status Active --order-by Name --all
    """
    from bingbridge.api import customer_management as cm
    from bingbridge.api.models.customer import OrderBy, Paging

    predicates = cm.account_predicates(
        account_id=list(account_id) or None,
        name=name,
        number=number,
        customer_id=by_customer,
        user_id=user_id,
        status=status,
    )
    ordering = [OrderBy(field=order_by, order="Descending" if desc else "Ascending")] if order_by else None
    with make_client(config_file, **conn) as client:
        service = client.customer_management
        if all_pages:
            found = list(service.iter_accounts(predicates, ordering, page_size))
        else:
            found = service.search_accounts(predicates, ordering, Paging(index=page, size=page_size))
    emit(
        to_rows(found),
        as_json=as_json,
        columns=["id", "name", "number", "parent_customer_id", "account_life_cycle_status"],
    )


@click.group("client-links")
def client_links() -> None:
    """Links that let a manager (agency) customer manage client accounts or customers.

    Example: bingbridge client-links search --direct-managing-customer-id 123456789
    """


def _emit_link_results(results: list[LinkResult], as_json: bool, member: str) -> None:
    """One row per requested link (its id, one more of its members, ok, errors); exit 1 if one failed."""
    rows = [
        {
            "client_entity_id": r.link.client_entity_id,
            member: getattr(r.link, member),
            "ok": r.ok,
            "errors": [str(e) for e in r.errors],
        }
        for r in results
    ]
    emit(rows, as_json=as_json)
    if not all(r.ok for r in results):
        raise SystemExit(1)


@client_links.command("add")
@click.option("--client-entity-id", type=int, help="The client account (or customer, for CustomerLink) id.")
@click.option("--client-entity-number", help="Or its number instead of the id.")
@click.option("--managing-customer-id", type=int, help="Default: BINGBRIDGE_CUSTOMER_ID.")
@click.option("--type", "link_type", type=click.Choice(["AccountLink", "CustomerLink"]), default="AccountLink")
@click.option("--name", help="Friendly name, at most 40 characters.")
@click.option("--note", help="A message to the client.")
@click.option("--permission", type=click.Choice(["Administrative", "Standard"]), help="CustomerLink only.")
@click.option("--inviter-email")
@click.option("--inviter-name")
@click.option("--inviter-phone")
@click.option("--bill-to-client", is_flag=True, help="The client pays (default: the manager pays).")
@click.option("--suppress-notification", is_flag=True, help="Do not e-mail the client.")
@connection_options
@json_option
@report_errors
def client_links_add(
    client_entity_id: int | None,
    client_entity_number: str | None,
    managing_customer_id: int | None,
    link_type: str,
    name: str | None,
    note: str | None,
    permission: str | None,
    inviter_email: str | None,
    inviter_name: str | None,
    inviter_phone: str | None,
    bill_to_client: bool,
    suppress_notification: bool,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Ask to manage a client account or customer (AddClientLinks).

    Example: bingbridge client-links add --client-entity-id 987654321 --name "Contoso search"
    """
    from bingbridge.api.models.customer import ClientLink

    with make_client(config_file, **conn) as client:
        managing_customer_id = managing_customer_id or _customer_id(client, "--managing-customer-id")
        link = ClientLink(
            type=link_type,
            client_entity_id=client_entity_id,
            client_entity_number=client_entity_number,
            managing_customer_id=managing_customer_id,
            name=name,
            note=note,
            customer_link_permission=permission,
            inviter_email=inviter_email,
            inviter_name=inviter_name,
            inviter_phone=inviter_phone,
            is_bill_to_client=bill_to_client,
            suppress_notification=suppress_notification,
        )
        results = client.customer_management.add_client_links([link])
    _emit_link_results(results, as_json, "client_entity_number")


@client_links.command("search")
@click.option("--client-account-id", type=int, multiple=True)
@click.option("--client-customer-id", type=int, multiple=True)
@click.option("--direct-managing-customer-id", type=int)
@click.option("--managing-customer-id", type=int, help="Deprecated by Microsoft; prefer --direct-managing-customer-id.")
@click.option("--order-by", type=click.Choice(["Id", "Name", "Number"]))
@click.option("--desc", is_flag=True)
@click.option("--page-size", type=int, default=100, show_default=True, help="1 to 100.")
@click.option("--page", type=int, default=0, show_default=True)
@connection_options
@json_option
@report_errors
def client_links_search(
    client_account_id: tuple[int, ...],
    client_customer_id: tuple[int, ...],
    direct_managing_customer_id: int | None,
    managing_customer_id: int | None,
    order_by: str | None,
    desc: bool,
    page_size: int,
    page: int,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """Search client links with one or two criteria (SearchClientLinks).

    Example: bingbridge client-links search --direct-managing-customer-id 123456789
    """
    from bingbridge.api import customer_management as cm
    from bingbridge.api.models.customer import OrderBy, Paging

    predicates = cm.client_link_predicates(
        client_account_id=list(client_account_id) or None,
        client_customer_id=list(client_customer_id) or None,
        direct_managing_customer_id=direct_managing_customer_id,
        managing_customer_id=managing_customer_id,
    )
    ordering = [OrderBy(field=order_by, order="Descending" if desc else "Ascending")] if order_by else None
    with make_client(config_file, **conn) as client:
        found = client.customer_management.search_client_links(predicates, ordering, Paging(index=page, size=page_size))
    emit(
        to_rows(found),
        as_json=as_json,
        columns=["type", "client_entity_id", "client_entity_name", "managing_customer_id", "name", "status"],
    )


def _change_links(status: str, ids: tuple[int, ...], customer_links: bool, as_json: bool, **conn: Any) -> None:
    from bingbridge.api import customer_management as cm

    with make_client(**conn) as client:
        service = client.customer_management
        manager = client.settings.require("customer_id") if cm.CLIENT_LINK_CHANGES[status][1] == "manager" else None
        found = service.search_client_links(cm.status_change_predicates(ids, customer_links, manager))
        results = service.update_client_links(cm.links_to_change(found, ids, status))
    _emit_link_results(results, as_json, "status")


def _link_change_command(name: str, status: str, summary: str, example_id: int) -> None:
    help_text = f"""{summary} (UpdateClientLinks).

    IDS are the client account ids of the links (with --customer-link: client customer ids).

    Example: bingbridge client-links {name} {example_id}
    """

    @client_links.command(name, help=help_text)
    @click.argument("ids", type=int, nargs=-1, required=True)
    @click.option("--customer-link", is_flag=True, help="The ids are client customers (CustomerLink), not accounts.")
    @connection_options
    @json_option
    @report_errors
    def command(ids: tuple[int, ...], customer_link: bool, as_json: bool, **conn: Any) -> None:
        _change_links(status, ids, customer_link, as_json, **conn)


_link_change_command("accept", "LinkAccepted", "As the client, accept pending links from a manager", 456)
_link_change_command("decline", "LinkDeclined", "As the client, decline pending links from a manager", 789)
_link_change_command(
    "cancel", "LinkCanceled", "As the manager (BINGBRIDGE_CUSTOMER_ID), cancel links still pending", 987654321
)


def _customer_id(client: BingAdsClient, option: str) -> int:
    """The settings' customer id, or a ConfigurationError naming this command's option for it."""
    from bingbridge.errors import ConfigurationError

    if client.settings.customer_id is None:
        raise ConfigurationError(
            "no customer id to act for", env_var="BINGBRIDGE_CUSTOMER_ID", hint=f"Or pass {option} ID."
        )
    return client.settings.customer_id


@click.group()
def users() -> None:
    """Users and invitations.

    Example: bingbridge users invite --first-name Ada --last-name Lovelace --email ada@example.com --role-id 100
    """


@users.command("invite")
@click.option("--first-name", required=True, help="At most 40 characters.")
@click.option("--last-name", required=True, help="At most 40 characters.")
@click.option("--email", required=True, help="The Microsoft account e-mail, at most 100 characters.")
@click.option("--customer-id", "invite_customer", type=int, help="Default: BINGBRIDGE_CUSTOMER_ID.")
@click.option(
    "--role-id",
    type=int,
    required=True,
    help="16 Advertiser Campaign Manager, 33 Aggregator, 41 Super Admin, 100 Viewer, 203 Standard User.",
)
@click.option("--account-id", "account_ids", type=int, multiple=True, help="Accounts to grant (default: all).")
@click.option("--lcid", default="EnglishUS", show_default=True, help="Language of the e-mails.")
@connection_options
@json_option
@report_errors
def users_invite(
    first_name: str,
    last_name: str,
    email: str,
    invite_customer: int | None,
    role_id: int,
    account_ids: tuple[int, ...],
    lcid: str,
    as_json: bool,
    config_file: Path | None,
    **conn: Any,
) -> None:
    """E-mail an invitation to sign up with a role (SendUserInvitation).

    Example: bingbridge users invite --first-name Ada --last-name Lovelace --email ada@example.com --role-id 100
    """
    from bingbridge.api.models.customer import UserInvitation

    with make_client(config_file, **conn) as client:
        invitation = UserInvitation(
            first_name=first_name,
            last_name=last_name,
            email=email,
            customer_id=invite_customer or _customer_id(client, "--customer-id"),
            role_id=role_id,
            account_ids=list(account_ids) or None,
            lcid=lcid,
        )
        invitation_id = client.customer_management.send_user_invitation(invitation)
    emit({"user_invitation_id": invitation_id}, as_json=as_json)


@users.command("invitations")
@click.option("--customer-id", "invited_to", type=int, help="Default: BINGBRIDGE_CUSTOMER_ID.")
@connection_options
@json_option
@report_errors
def users_invitations(invited_to: int | None, as_json: bool, config_file: Path | None, **conn: Any) -> None:
    """List a customer's pending invitations, expired ones too (SearchUserInvitations).

    Microsoft's API cannot withdraw an invitation (only the web UI can); it expires after 30 days.

    Example: bingbridge users invitations --customer-id 123456789
    """
    with make_client(config_file, **conn) as client:
        found = client.customer_management.search_user_invitations(invited_to or client.settings.require("customer_id"))
    emit(
        to_rows(found),
        as_json=as_json,
        columns=["id", "first_name", "last_name", "email", "role_id", "expiration_date"],
    )
