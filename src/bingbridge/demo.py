"""The end-to-end demo: an in-process emulator, the real OAuth flow, then every customer-management action."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from bingbridge.api import customer_management as cm
from bingbridge.api.client import BingAdsClient
from bingbridge.api.models.customer import ClientLink, OrderBy, UserInvitation
from bingbridge.auth.check import check_connection
from bingbridge.auth.login import login
from bingbridge.emulator.server import RunningEmulator, free_port, start_in_thread
from bingbridge.settings import Secret, Settings

GET_USER_SOAP = '<GetUserRequest xmlns="https://bingads.microsoft.com/Customer/v13"/>'


def demo_settings(emulator: RunningEmulator, workdir: Path) -> Settings:
    config = emulator.config
    return Settings(
        client_id=config.client_id,
        client_secret=Secret(config.client_secret),
        developer_token=Secret(config.developer_token),
        api_base_url=emulator.url,
        redirect_uri=f"http://localhost:{free_port()}/callback",
        token_file=workdir / "tokens.json",
    )


def run_demo(say: Callable[[str], None]) -> None:
    """Run every step, reporting each with `say`; raises on the first failure."""
    with start_in_thread() as emulator, tempfile.TemporaryDirectory() as tmp:
        say(f"emulator listening at {emulator.url}")
        settings = demo_settings(emulator, Path(tmp))
        with BingAdsClient(settings) as client:
            # The "browser" follows the authorize redirect to the local listener, as a person's would.
            login(
                settings,
                client.tokens,
                client.http,
                open_url=lambda url: httpx.get(url, follow_redirects=True),
            )
            say("signed in through the authorization-code flow with PKCE; tokens stored owner-only")
            report = check_connection(client)
            say(f"connection test: ok={report.ok}, token {report.token_ms:.0f} ms, GetUser {report.api_ms:.0f} ms")
            service = client.customer_management
            user = service.get_user()
            assert user.user is not None and user.user.customer_id is not None
            home = user.user.customer_id
            say(f"GetUser: {user.user.user_name} (user {user.user.id}) in customer {home}")
            customers = service.get_customers_info(top_n=5)
            say(f"GetCustomersInfo: {', '.join(f'{c.name} ({c.id})' for c in customers)}")
            customer = service.get_customer(home)
            assert customer is not None
            say(f"GetCustomer: {customer.name}, market {customer.market_country}")
            infos = service.get_accounts_info(home)
            say(f"GetAccountsInfo: {len(infos)} accounts under or linked to customer {home}")
            linked = service.get_linked_accounts_and_customers_info(home)
            say(
                f"GetLinkedAccountsAndCustomersInfo: {len(linked.accounts_info or [])} accounts, "
                f"{len(linked.customers_info or [])} customers"
            )
            found = list(service.iter_accounts(cm.account_predicates(name="Search"), [OrderBy(field="Name")], 2))
            say(f"SearchAccounts (name contains 'Search', all pages of 2): {[a.name for a in found]}")
            links = service.search_client_links(cm.client_link_predicates(direct_managing_customer_id=home))
            say(f"SearchClientLinks: {[(link.client_entity_name, link.status) for link in links]}")
            unlinked = [a for a in emulator.state.world.accounts.values() if a.id not in client_ids(links, infos)]
            results = service.add_client_links(
                [
                    ClientLink(client_entity_id=unlinked[-1].id, managing_customer_id=home, name="Demo link"),
                    ClientLink(client_entity_id=links[0].client_entity_id, managing_customer_id=home, name="Again"),
                ]
            )
            say("AddClientLinks: " + "; ".join("ok" if r.ok else f"rejected: {r.errors[0]}" for r in results))
            invitation_id = service.send_user_invitation(
                UserInvitation(
                    first_name="Grace",
                    last_name="Hopper",
                    email="grace@example.com",
                    customer_id=home,
                    role_id=100,
                )
            )
            say(f"SendUserInvitation: invitation {invitation_id}")
            raw = client.raw_rest("customer-management", "POST", "/CustomerManagement/v13/User/Query", {"UserId": None})
            say(f"raw REST POST /CustomerManagement/v13/User/Query: HTTP {raw.status}, TrackingId {raw.tracking_id}")
            soap = client.raw_soap("customer-management", "GetUser", GET_USER_SOAP)
            say(f"raw SOAP GetUser: {len(soap.body)} bytes of XML, TrackingId {soap.tracking_id}")


def client_ids(links: Sequence[ClientLink], infos: Sequence[object]) -> set[int | None]:
    """Ids of accounts already linked or visible, so the demo links a new one."""
    return {link.client_entity_id for link in links} | {getattr(i, "id", None) for i in infos}
