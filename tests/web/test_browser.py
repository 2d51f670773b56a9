"""The dashboard in a real browser: headless Debian Chromium driven by Playwright against the real service.

The service runs as `bingbridge serve` would: uvicorn on a free loopback port, the ingestion API with the
dashboard mounted, a dispatch worker in a thread, SQLite in a temporary folder, and the emulator standing in for
Microsoft (OAuth sign-in included). The journey: sign in, create a workspace, see Save's field messages, Connect
Microsoft Advertising, Test, create the mapped goals and a UET tag, switch Live, send events to /v1/events, watch
them arrive in the dispatch log, make one dead letter and replay it, run a metrics import and see the charts.
Screenshots at desktop and phone size go to artifacts/screenshots/ (git-ignored).

Chromium is Debian's (`scripts/browser-deps.sh` installs it); Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from bingbridge.emulator.server import RunningEmulator, start_in_thread
from bingbridge.emulator.state import EmulatorConfig
from bingbridge.serving import serve_in_thread
from bingbridge.settings import Secret, Settings
from bingbridge.store.engine import open_database, utcnow
from bingbridge.tracking.retry_window import RetryWindow
from bingbridge.tracking.secrets import SecretBox
from bingbridge.tracking.worker import Worker
from bingbridge.web.app import create_app
from bingbridge.web.dashboard import mount_dashboard
from tests.web.conftest import PASSWORD

CHROMIUM = Path(os.environ.get("BINGBRIDGE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run scripts/browser-deps.sh (apt-get install chromium)"
)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')")


@dataclass
class Service:
    url: str
    emulator: RunningEmulator
    inspector: httpx.Client

    def configure_emulator(self, **changes: Any) -> None:
        self.inspector.post("/_emulator/config", json=changes).raise_for_status()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """The tracking service with the dashboard and an in-process worker, on the emulator."""
    with start_in_thread(EmulatorConfig()) as emulator, httpx.Client(base_url=emulator.url) as inspector:
        config = emulator.config
        refresh = inspector.post("/_emulator/tokens").json()["refresh_token"]
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'bingbridge.db'}",
            secret_key=Secret(Fernet.generate_key().decode()),
            secret_key_file=tmp_path / "secret.key",
            admin_password=Secret(PASSWORD),
            token_file=tmp_path / "tokens.json",
            api_base_url=emulator.url,
            client_id=config.client_id,
            client_secret=Secret(config.client_secret),
            developer_token=Secret(config.developer_token),
            refresh_token=Secret(refresh),
            timeout_seconds=30,
        )
        engine = open_database(settings.database_url)
        app = create_app(settings, engine)
        stop = threading.Event()
        # No retry window and a long DLQ retry interval: a failing call makes a dead letter at once, and only the
        # Replay button or the worker's outage probe sends it again.
        worker = Worker(engine, SecretBox.for_settings(settings), settings, poll_seconds=0.2,
                        retry_window=RetryWindow(window=timedelta(0)), dlq_retry_seconds=3600)  # fmt: skip
        worker_thread = threading.Thread(target=worker.run, args=(stop,), name="bingbridge-worker-test", daemon=True)
        with httpx.Client(timeout=30) as http:
            mount_dashboard(app, settings, engine, http=http)
            server = serve_in_thread(app)
            worker_thread.start()
            try:
                yield Service(server.url, emulator, inspector)
            finally:
                stop.set()
                worker_thread.join(timeout=30)
                worker.close()
                server.stop()
        engine.dispose()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A page of a fresh headless Chromium profile; console errors (CSP violations, failed assets, script
    errors) fail the test."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=DESKTOP,
        )
        context.set_default_timeout(20_000)
        tab = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []

        def console(message: Any) -> None:
            # A form sent back with field messages answers 422 on purpose; Chromium logs every 4xx page it loads.
            if message.type == "error" and "status of 422" not in message.text:
                errors.append(message.text)

        tab.on("console", console)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield tab
            assert errors == [], f"errors in the browser console: {errors}"
        finally:
            context.close()


def shot(page: Any, name: str, *, phone: bool = False) -> Path:
    """A full-page screenshot (desktop, or phone-sized and checked for sideways scrolling)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}{'-phone' if phone else ''}.png"
    if phone:
        page.set_viewport_size(PHONE)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways on a phone by {overflow}px"
    page.screenshot(path=str(path), full_page=True)
    if phone:
        page.set_viewport_size(DESKTOP)
    return path


def wait_for(page: Any, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Reload until `condition` holds (the pages are server-rendered)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
        page.reload()


def event(event_id: str, name: str = "purchase", **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_name": name,
        "timestamp": (utcnow() - timedelta(minutes=10)).isoformat() + "Z",
        "value": 49.9,
        "currency": "USD",
        "consent": {"ad_storage": "granted"},
        "click_ids": {"msclkid": secrets.token_hex(16)},
        **fields,
    }


def send(service: Service, key: str, events: list[dict[str, Any]]) -> None:
    answer = httpx.post(f"{service.url}/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["accepted"]) == len(events)


def test_the_whole_journey_in_a_browser(service: Service, page: Any) -> None:
    expect = sync_api.expect
    url = service.url
    state = service.emulator.state
    user = state.config.default_user_id
    account_id = next(
        a for a in state.visible_account_ids(user) if state.world.accounts[a].account_life_cycle_status == "Active"
    )
    customer_id = state.world.accounts[account_id].parent_customer_id
    config = service.emulator.config

    # Sign in: every page sends a signed-out browser to the sign-in form first.
    page.goto(f"{url}/metrics")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmetrics$"))
    shot(page, "01-sign-in")
    page.get_by_label("Admin password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{url}/metrics")
    page.get_by_role("link", name="Connections").click()

    # A workspace: its ingestion key is shown once.
    page.get_by_label("Name").fill("Web shop")
    page.get_by_role("button", name="Create workspace").click()
    key = page.locator("#ingestion-key").inner_text()
    assert key.startswith("bbk_")
    shot(page, "02-workspace-created")

    # The destination card: Save with nothing filled in names each field's problem.
    page.get_by_role("link", name="Add a Microsoft Advertising destination").click()
    expect(page.get_by_text("UET & Offline Conversions")).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name="Not saved: fix 6 problems")).to_be_visible()
    expect(page.locator("#customer_id-error")).to_have_text("✕ required (a number such as 123456789)")
    shot(page, "03-destination-field-errors")
    shot(page, "03-destination-field-errors", phone=True)

    # Connect Microsoft Advertising: the browser goes through Microsoft's (the emulator's) sign-in and comes back
    # with the tokens stored; they were never typed.
    page.locator("#customer_id").fill(str(customer_id))
    page.locator("#account_id").fill(str(account_id))
    page.locator("#developer_token").fill(config.developer_token)
    page.locator("#client_id").fill(config.client_id)
    page.locator("#client_secret").fill(config.client_secret)
    page.get_by_role("button", name="Connect Microsoft Advertising").click()
    expect(page.get_by_text("Connected to Microsoft Advertising: tokens stored.")).to_be_visible()
    expect(page.locator("label[for=refresh_token] .secret-state")).to_have_text("set")

    # Test: success with the latency in ms.
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".result-ok")).to_contain_text(re.compile(r"Test passed in \d+ ms"))
    assert config.client_secret not in page.content()

    # Goals and UET tags: create the goals the event mapping names, and a tag with its tracking script.
    page.get_by_role("link", name="Goals & UET tags").click()
    page.get_by_role("button", name="Create the missing offline goals").click()
    expect(page.get_by_text("Created offline goals: Add to Cart, Lead, Purchase, Sign Up, Subscribe.")).to_be_visible()
    page.locator("#tag-name").fill("Web shop tag")
    page.get_by_role("button", name="Create UET tag").click()
    expect(page.locator("#new-tag-script")).to_contain_text("bat.bing.com")
    shot(page, "04-goals-and-uet-tag")

    # The Live switch, reached and pressed with the keyboard.
    page.goto(f"{url}/destinations/1")
    switch = page.get_by_role("switch", name="Live")
    expect(switch).to_have_attribute("aria-checked", "false")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('role')") == "switch":
            break
    else:
        pytest.fail("the Live switch cannot be reached with Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "a focused control shows no focus outline"
    page.keyboard.press("Space")
    expect(page.get_by_role("switch", name="Live")).to_have_attribute("aria-checked", "true")
    shot(page, "05-destination-live")
    shot(page, "05-destination-live", phone=True)

    # Events through the ingestion API; the worker dispatches them; the log shows each outcome.
    send(service, key, [
        event("order-1001"), event("order-1002"), event("order-1003"),
        event("view-1", "page_view"),
        event("order-1004", consent={"ad_storage": "denied"}),
    ])  # fmt: skip
    page.goto(f"{url}/dispatch")
    wait_for(page, lambda: page.locator("tr.row-sent").count() == 3, "three sent conversions")
    expect(page.locator("tr.row-blocked")).to_contain_text("ad_storage_consent_denied")
    expect(page.locator("tr.row-skipped")).to_contain_text("Event page_view skipped")
    assert re.fullmatch(r"[0-9a-f-]{36}", page.locator("tr.row-sent code.wrap").first.inner_text())  # TrackingId
    shot(page, "06-dispatch-log")
    shot(page, "06-dispatch-log", phone=True)

    # A dead letter: Microsoft fails every call, the conversion is dead-lettered; replay once it is back.
    service.configure_emulator(error_rate=1.0)
    send(service, key, [event("order-dlq")])
    page.goto(f"{url}/dead-letters")
    wait_for(page, lambda: page.get_by_text("order-dlq").count() > 0, "the dead letter")
    expect(page.locator("tbody tr").first).to_contain_text("InternalError")
    shot(page, "07-dead-letters")
    # While Microsoft fails, the worker's outage probe calls again with the dead letter (backoff of up to 1 s, then
    # 2 s): three failed calls in a row make the destination Down.
    page.goto(f"{url}/")
    wait_for(page, lambda: page.locator(".badge-down").count() > 0, "the destination Down")
    expect(page.locator(".badge-down")).to_contain_text("Down")
    expect(page.get_by_text("the last 3 calls failed")).to_be_visible()
    shot(page, "08-connections-down")
    # While Microsoft fails, the worker probes the dead letters at the backoff's pace, and one probe after it is back
    # would send this one before the click: the destination is switched off for the replay, and on again after.
    page.goto(f"{url}/destinations/1")
    page.get_by_role("switch", name="Live").click()
    expect(page.get_by_role("switch", name="Live")).to_have_attribute("aria-checked", "false")
    service.configure_emulator(error_rate=0.0)
    page.goto(f"{url}/dead-letters")
    page.get_by_role("button", name=re.compile(r"Replay dispatch \d+ \(purchase order-dlq\)")).click()
    expect(page.get_by_text("queued for replay")).to_be_visible()
    page.goto(f"{url}/destinations/1")
    page.get_by_role("switch", name="Live").click()
    expect(page.get_by_role("switch", name="Live")).to_have_attribute("aria-checked", "true")
    page.goto(f"{url}/dispatch?event_name=purchase&status=sent")
    wait_for(page, lambda: page.get_by_text("order-dlq").count() > 0, "the replayed conversion sent")
    received = service.inspector.get("/_emulator/offline-conversions").json()
    assert len(received) == 4

    # Metrics: run an import now, see the run succeed and the charts drawn.
    page.goto(f"{url}/metrics")
    page.get_by_label(re.compile("Backfill days")).fill("30")
    page.get_by_role("button", name="Run import now").click()
    expect(page.locator(".flash-ok")).to_contain_text("Import started")
    expect(page.locator("#import-state")).to_contain_text("succeeded", timeout=120_000)  # the script reloads
    expect(page.locator("svg.chart polyline")).to_have_count(6)  # spend, revenue, ROAS, clicks, impressions, conv.
    expect(page.locator("#runs tbody tr").first).to_contain_text("succeeded")
    assert page.locator("#figure-spend circle.point").count() == 30
    assert page.locator("#figure-roas circle.point").count() == 30
    expect(page.locator("td[data-label=Campaign] .entity-id").first).to_be_visible()  # names beside ids
    account = page.locator("#m-account option").nth(1)
    page.locator("#m-account").select_option(account.get_attribute("value"))
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"account=\d+"))
    shot(page, "09-metrics")
    page.locator("#figure-spend").screenshot(path=str(SCREENSHOTS / "09-metrics-spend-chart.png"))
    shot(page, "09-metrics", phone=True)

    # Keys: the ingestion key cannot read; an API key made on the Keys page can, until it is rotated.
    health = f"{url}/v1/health"
    assert httpx.get(health, headers={"Authorization": f"Bearer {key}"}).status_code == 403
    page.goto(f"{url}/")
    page.get_by_role("link", name="Keys").click()
    page.get_by_label("Kind").select_option("api")
    page.get_by_label("Name", exact=True).fill("reporting")
    page.get_by_role("button", name="Create key").click()
    api_key = page.locator("#new-key").inner_text()
    assert api_key.startswith("bbs_")
    assert httpx.get(health, headers={"Authorization": f"Bearer {api_key}"}).status_code == 200
    shot(page, "10-new-api-key")
    page.get_by_role("link", name="Back to the keys").click()
    page.locator("tr", has_text="reporting").get_by_role("button", name="Rotate").click()
    expect(page.get_by_text("which is refused from now on")).to_be_visible()
    assert httpx.get(health, headers={"Authorization": f"Bearer {api_key}"}).status_code == 401
    rotated = page.locator("#new-key").inner_text()
    assert httpx.get(health, headers={"Authorization": f"Bearer {rotated}"}).status_code == 200
    page.get_by_role("link", name="Back to the keys").click()
    shot(page, "11-keys", phone=True)

    # Sign out ends the session: the cookie the browser still holds opens nothing afterwards.
    cookies = page.context.cookies()
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(f"{url}/login")
    page.context.add_cookies(cookies)
    page.goto(f"{url}/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
