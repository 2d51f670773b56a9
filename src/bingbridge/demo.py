"""The end-to-end demo on an in-process emulator: the real OAuth flow, every customer-management action, offline
goals and an upload, then the tracking service with events dispatched and a metrics import, behind the dashboard."""

from __future__ import annotations

import random
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bingbridge.api import customer_management as cm
from bingbridge.api.client import BingAdsClient
from bingbridge.api.models.campaign import OfflineConversionGoal
from bingbridge.api.models.customer import ClientLink, OrderBy, UserInvitation
from bingbridge.auth.check import check_connection
from bingbridge.auth.login import login
from bingbridge.conversions.prepare import PrepareOptions
from bingbridge.conversions.rows import rows_from_records
from bingbridge.conversions.upload import upload_conversions
from bingbridge.emulator.server import RunningEmulator, free_port, start_in_thread
from bingbridge.metrics.importer import ImportOptions, run_import
from bingbridge.service import build_service
from bingbridge.serving import serve_in_thread
from bingbridge.settings import Secret, Settings
from bingbridge.store import open_database, utcnow
from bingbridge.tracking.destinations import DestinationInput, save_destination
from bingbridge.tracking.secrets import SecretBox
from bingbridge.tracking.workspaces import create_key, create_workspace

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


def run_demo(say: Callable[[str], None], show_dashboard: Callable[[str, str], None] | None = None) -> None:
    """Run every step, reporting each with `say`; raises on the first failure.

    `show_dashboard(url, password)` is called while the filled dashboard is served (the demo ends when it returns).
    """
    with start_in_thread() as emulator, tempfile.TemporaryDirectory() as tmp:
        say(f"emulator listening at {emulator.url}")
        settings = demo_settings(emulator, Path(tmp))
        customer_management_steps(emulator, settings, say)
        service_steps(emulator, settings, Path(tmp), say, show_dashboard)


def customer_management_steps(emulator: RunningEmulator, settings: Settings, say: Callable[[str], None]) -> None:
    """Sign in through the authorization-code flow, then call every Customer Management operation."""
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
        added = [unlinked[-1].id or 0]
        pending = service.search_client_links(cm.status_change_predicates(added, False, home))
        (cancelled,) = service.update_client_links(cm.links_to_change(pending, added, "LinkCanceled"))
        say(f"UpdateClientLinks: the demo link cancelled ({'ok' if cancelled.ok else cancelled.errors[0]})")
        say(f"GetCustomerPilotFeatures: {service.get_customer_pilot_features(home)}")
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
        pending_invitations = service.search_user_invitations(home)
        say(f"SearchUserInvitations: {[(i.id, i.email) for i in pending_invitations]}")
        raw = client.raw_rest("customer-management", "POST", "/CustomerManagement/v13/User/Query", {"UserId": None})
        say(f"raw REST POST /CustomerManagement/v13/User/Query: HTTP {raw.status}, TrackingId {raw.tracking_id}")
        soap = client.raw_soap("customer-management", "GetUser", GET_USER_SOAP)
        say(f"raw SOAP GetUser: {len(soap.body)} bytes of XML, TrackingId {soap.tracking_id}")


def client_ids(links: Sequence[ClientLink], infos: Sequence[object]) -> set[int | None]:
    """Ids of accounts already linked or visible, so the demo links a new one."""
    return {link.client_entity_id for link in links} | {getattr(i, "id", None) for i in infos}


GOALS = ("Purchase", "Lead", "Sign Up", "Subscribe", "Add to Cart")


def _demo_events(now: datetime, count: int) -> list[dict[str, object]]:
    """A site's day: conversions with click ids, e-mail-only ones, page views, and some without ad consent."""
    rng = random.Random(5)
    names = ["purchase", "lead", "sign_up", "subscribe", "add_to_cart", "page_view", "view_item"]
    found = []
    for i in range(count):
        event: dict[str, object] = {
            "event_id": f"demo-{i}",
            "event_name": rng.choice(names),
            "timestamp": (now - timedelta(minutes=rng.randint(5, 600))).isoformat(),
            "value": round(rng.uniform(5, 250), 2),
            "currency": "USD",
            "consent": {"ad_storage": "denied" if i % 11 == 0 else "granted"},
        }
        if i % 5 == 0:
            event["user"] = {"email": f"customer{i}@example.com"}
        else:
            event["click_ids"] = {"msclkid": f"{rng.getrandbits(128):032x}"}
        found.append(event)
    return found


def _mint(emulator: RunningEmulator) -> str:
    """A fresh refresh token from the emulator (each destination or connection rotates its own)."""
    return str(httpx.post(f"{emulator.url}/_emulator/tokens").json()["refresh_token"])


def service_steps(
    emulator: RunningEmulator,
    base: Settings,
    workdir: Path,
    say: Callable[[str], None],
    show_dashboard: Callable[[str, str], None] | None,
) -> None:
    """Offline goals and an upload, a workspace with a live destination, events through the API, a metrics import."""
    home = emulator.state.world.users[emulator.config.default_user_id].customer_id
    account = emulator.state.accounts_of(home)[0].id
    assert account is not None
    password = secrets.token_urlsafe(12)
    settings = base.with_overrides(
        refresh_token=_mint(emulator),
        customer_id=home,
        account_id=account,
        database_url=f"sqlite:///{workdir / 'bingbridge.db'}",
        secret_key_file=workdir / "secret.key",
        admin_password=password,
    )
    engine = open_database(settings.database_url)
    now = datetime.now(UTC)
    with BingAdsClient(settings) as client:
        goals = client.campaign_management.add_conversion_goals([OfflineConversionGoal(name=n) for n in GOALS])
        say(f"AddConversionGoals: {sum(g.ok for g in goals)} offline goals in account {account}")
        records = [
            {"ConversionName": "Purchase", "ConversionTime": (now - timedelta(hours=h)).isoformat(),
             "MicrosoftClickId": f"{h:032x}", "ConversionValue": 40 + h, "ConversionCurrencyCode": "USD"}
            for h in range(1, 51)
        ] + [{"ConversionName": "Purchase", "ConversionTime": "yesterday", "MicrosoftClickId": "x"}]  # fmt: skip
        upload = upload_conversions(client, rows_from_records(records), PrepareOptions(now=now))
        summary = upload.summary()
        say(
            f"conversions upload: {summary['accepted']} accepted, {summary['rejected_before_send']} rejected "
            f"before sending (row {upload.outcomes[-1].row}: {upload.outcomes[-1].reason}), "
            f"{summary['upload_calls']} call"
        )
        workspace, key = create_workspace(engine, "Demo shop", now=utcnow())
        destination = save_destination(
            engine,
            SecretBox.for_settings(settings),
            workspace.id,
            DestinationInput(
                customer_id=home,
                account_id=account,
                developer_token=emulator.config.developer_token,
                client_id=emulator.config.client_id,
                client_secret=emulator.config.client_secret,
                refresh_token=_mint(emulator),
                live=True,
            ),
        )
        say(f"workspace {workspace.name!r} with a live destination for account {destination.account_id}")
        app = build_service(settings, engine, worker=True, schedule=False)
        server = serve_in_thread(app)
        try:
            answer = httpx.post(
                f"{server.url}/v1/events",
                json={"events": _demo_events(now, 400)},
                headers={"Authorization": f"Bearer {key}"},
            ).json()
            say(f"POST /v1/events: {len(answer['accepted'])} events stored, dispatch decisions {answer['dispatch']}")
            _wait_until_dispatched(server.url, create_key(engine, workspace.id, "api", now=utcnow())[1])
            sent = len(httpx.get(f"{emulator.url}/_emulator/offline-conversions").json())
            say(f"dispatch worker: the emulator now holds {sent} conversions (upload + tracked events)")
            result = run_import(client, engine, ImportOptions(days=90, trigger="demo"))
            say(f"metrics import: {result.rows} ad-day rows for {len(result.outcomes)} accounts, 90 days")
            if show_dashboard is None:
                say("dashboard: filled and checked, and stopped with the demo (not serving its URL any longer)")
            else:
                say(f"dashboard: {server.url}/  (sign in with password {password})")
                show_dashboard(server.url, password)
        finally:
            server.stop()
    engine.dispose()


def _wait_until_dispatched(url: str, key: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = httpx.get(
            f"{url}/v1/dispatch-log", params={"status": "pending"}, headers={"Authorization": f"Bearer {key}"}
        )
        pending.raise_for_status()
        if not pending.json()["rows"]:
            return
        time.sleep(0.3)
    raise TimeoutError("events were still pending after a minute")
