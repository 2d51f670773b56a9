"""Workspaces and the "UET & Offline Conversions" card: field validation, secrets never shown, Test, Live,
health, and Connect Microsoft Advertising through the emulator's OAuth endpoints."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import insert

from bingbridge.emulator.server import RunningEmulator
from bingbridge.store.engine import utcnow
from bingbridge.store.schema import dispatch_calls
from bingbridge.tracking.destinations import get_destination, set_live
from bingbridge.tracking.events import parse_events
from bingbridge.tracking.ingest import ingest
from bingbridge.tracking.worker import Worker
from bingbridge.tracking.workspaces import key_holder, list_keys, list_workspaces, workspace_for_key
from tests.tracking.ingest_support import make_event, stored_dispatches
from tests.web.conftest import (
    DashboardWorld,
    dashboard_settings,
    emulator_account,
    emulator_destination,
    open_dashboard,
    sign_in,
)

SECRETS = {
    "developer_token": "DEVTOKEN-s3cr3t-1111",
    "client_secret": "CLIENTSECRET-s3cr3t-2222",
    "access_token": "ACCESS-s3cr3t-4444",
    "refresh_token": "REFRESH-s3cr3t-3333",
}


def card(**values: str) -> dict[str, str]:
    form = {"customer_id": "123456789", "account_id": "987654321", "client_id": "client-abc", **SECRETS}
    form.update(values)
    return form


def create_workspace(world: DashboardWorld, name: str = "Web shop") -> str:
    answer = world.post("/workspaces", {"name": name})
    assert answer.status_code == 201
    key = re.search(r'id="ingestion-key"[^>]*>(bbk_[^<]+)<', answer.text)
    assert key is not None
    return key.group(1)


def create_destination(world: DashboardWorld, **values: str) -> int:
    create_workspace(world)
    answer = world.post("/workspaces/1/destinations", card(**values))
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1])


def field_errors(html: str) -> dict[str, str]:
    return dict(
        re.findall(r'<p class="field-error" id="([a-z_]+)-error"><span aria-hidden="true">✕</span> ([^<]+)</p>', html)
    )


def test_creating_a_workspace_shows_its_key_once(signed_in: DashboardWorld) -> None:
    key = create_workspace(signed_in)
    assert workspace_for_key(signed_in.engine, key) is not None
    home = signed_in.client.get("/").text
    assert "Web shop" in home and key not in home


def test_a_duplicate_workspace_name_is_a_field_error(signed_in: DashboardWorld) -> None:
    create_workspace(signed_in)
    answer = signed_in.post("/workspaces", {"name": "Web shop"})
    assert answer.status_code == 422
    assert "a workspace named &#39;Web shop&#39; already exists" in answer.text


def test_save_shows_a_message_at_each_invalid_field(signed_in: DashboardWorld) -> None:
    create_workspace(signed_in)
    answer = signed_in.post(
        "/workspaces/1/destinations",
        {"customer_id": "12ab", "account_id": "", "uet_tag_id": "tag-1", "calls_per_hour": "many"},
    )
    assert answer.status_code == 422
    errors = field_errors(answer.text)
    assert errors == {
        "customer_id": "must be a number, got &#39;12ab&#39;",
        "account_id": "required (a number such as 123456789)",
        "developer_token": "required",
        "client_id": "required",
        "client_secret": "required",
        "refresh_token": "required",
        "uet_tag_id": "must be a number, got &#39;tag-1&#39;",
        "calls_per_hour": "must be a whole number, got &#39;many&#39;",
    }
    assert 'id="customer_id" name="customer_id" value="12ab"' in answer.text
    assert answer.text.count('aria-invalid="true"') == len(errors)
    assert "Not saved: fix 8 problems" in answer.text


def test_a_malformed_event_mapping_line_is_a_field_error(signed_in: DashboardWorld) -> None:
    create_workspace(signed_in)
    answer = signed_in.post("/workspaces/1/destinations", card(conversion_names="purchase = Purchase\nlead Lead"))
    assert field_errors(answer.text) == {"conversion_names": "line 2: write event_name = Goal name"}


def test_secrets_never_appear_in_any_page(signed_in: DashboardWorld) -> None:
    destination_id = create_destination(signed_in)
    bodies = [
        signed_in.post("/workspaces/1/destinations", card(customer_id="x")).text,  # a failed save
        signed_in.post(f"/destinations/{destination_id}", card(account_id="y")).text,
        signed_in.client.get(signed_in.post(f"/destinations/{destination_id}/test").headers["location"]).text,
    ]
    pages = {}
    for path in ("/", f"/destinations/{destination_id}", f"/destinations/{destination_id}/goals", "/dispatch",
                 "/dead-letters", "/metrics", "/workspaces/1/destinations/new"):  # fmt: skip
        answer = signed_in.client.get(path)
        assert answer.status_code == 200, path
        pages[path] = answer.text
    bodies += pages.values()
    cookies = " ".join(signed_in.client.cookies.values())
    for secret in SECRETS.values():
        assert all(secret not in body for body in bodies)
        assert secret not in cookies
    card_page = pages[f"/destinations/{destination_id}"]
    assert card_page.count('<span class="secret-state set">set</span>') == 4  # each secret shows only as "set"


def test_empty_secret_fields_keep_the_stored_secrets(signed_in: DashboardWorld) -> None:
    destination_id = create_destination(signed_in)
    form = card(customer_id="555", developer_token="", client_secret="", access_token="", refresh_token="NEW-REFRESH")
    assert signed_in.post(f"/destinations/{destination_id}", form).status_code == 303
    destination = get_destination(signed_in.engine, destination_id)
    assert destination is not None and destination.customer_id == 555
    stored = signed_in.dash.box.open(destination.sealed)
    assert stored["developer_token"] == SECRETS["developer_token"]
    assert stored["client_secret"] == SECRETS["client_secret"]
    assert stored["refresh_token"] == "NEW-REFRESH"


def test_the_live_switch_starts_and_stops_dispatch(signed_in: DashboardWorld) -> None:
    destination_id = create_destination(signed_in)
    signed_in.post(f"/destinations/{destination_id}/live", {"live": "1"})
    destination = get_destination(signed_in.engine, destination_id)
    assert destination is not None and destination.live
    page = signed_in.client.get(f"/destinations/{destination_id}").text
    assert 'role="switch" aria-checked="true"' in page
    assert "Live: dispatch started. Note: the last connection test did not pass." in page
    signed_in.post(f"/destinations/{destination_id}/live", {"live": "0"})
    destination = get_destination(signed_in.engine, destination_id)
    assert destination is not None and not destination.live


def test_the_health_badge_says_why_in_text_and_shape(signed_in: DashboardWorld) -> None:
    destination_id = create_destination(signed_in)
    now = utcnow()
    with signed_in.engine.begin() as conn:
        for i in range(3):
            conn.execute(
                insert(dispatch_calls).values(
                    destination_id=destination_id, batch_id=f"b{i}", at=now, rows=1, ok=0, code=0
                )
            )
    paused = signed_in.client.get(f"/destinations/{destination_id}").text
    assert '<span aria-hidden="true" class="badge-shape">‖</span> Paused</span>' in paused
    assert "The Live switch is off: nothing is sent. Health of recent calls: Down, the last 3 calls failed" in paused
    set_live(signed_in.engine, destination_id, True)
    for path in ("/", f"/destinations/{destination_id}"):
        page = signed_in.client.get(path).text
        assert '<span aria-hidden="true" class="badge-shape">■</span> Down</span>' in page
        assert "the last 3 calls failed (last: code 0)" in page


def emulated_destination(emulated: DashboardWorld, emulator: RunningEmulator, refresh_token: str) -> int:
    """A destination saved through the card with the emulator's credentials and `refresh_token`."""
    customer_id, account_id = emulator_account(emulator)
    config = emulator.config
    return create_destination(
        emulated,
        customer_id=str(customer_id),
        account_id=str(account_id),
        developer_token=config.developer_token,
        client_id=config.client_id,
        client_secret=config.client_secret,
        access_token="",
        refresh_token=refresh_token,
    )


def test_the_test_button_reports_success_with_latency(
    emulated: DashboardWorld, bingads_emulator: RunningEmulator
) -> None:
    refresh = httpx.post(f"{bingads_emulator.url}/_emulator/tokens").json()["refresh_token"]
    destination_id = emulated_destination(emulated, bingads_emulator, refresh)
    answer = emulated.post(f"/destinations/{destination_id}/test")
    assert answer.headers["location"] == f"/destinations/{destination_id}#test"
    page = emulated.client.get(answer.headers["location"]).text
    assert re.search(r"Test passed in \d+ ms\.", page)
    assert re.search(r"<strong>Test passed</strong> in \d+ ms\s+\(token \d+ ms, API call \d+ ms\), TrackingId", page)


def test_the_test_button_names_the_failing_credential(
    emulated: DashboardWorld, bingads_emulator: RunningEmulator
) -> None:
    customer_id, account_id = emulator_account(bingads_emulator)
    destination_id = create_destination(
        emulated, customer_id=str(customer_id), account_id=str(account_id), client_id=bingads_emulator.config.client_id
    )
    page = emulated.client.get(emulated.post(f"/destinations/{destination_id}/test").headers["location"]).text
    assert re.search(r"Test failed \(client_secret\) after \d+ ms", page)
    assert "<strong>Test failed</strong> at <em>client_secret</em>" in page
    assert "invalid_client: AADSTS7000215: Invalid client secret provided." in page


def test_a_refused_refresh_token_says_to_reconnect_the_destination(
    emulated: DashboardWorld, bingads_emulator: RunningEmulator
) -> None:
    destination_id = emulated_destination(emulated, bingads_emulator, "revoked-long-ago")
    page = emulated.client.get(emulated.post(f"/destinations/{destination_id}/test").headers["location"]).text
    assert re.search(r"Test failed \(refresh_token\) after \d+ ms", page)
    assert "reconnect this destination: Connect Microsoft Advertising again, or Save a new refresh token" in page
    assert "auth login" not in page


def test_save_ends_a_credentials_pause_and_dispatch_resumes_at_once(
    emulated: DashboardWorld, bingads_emulator: RunningEmulator
) -> None:
    destination_id = emulated_destination(emulated, bingads_emulator, "revoked-long-ago")
    set_live(emulated.engine, destination_id, True)
    now = utcnow()
    valid, _ = parse_events({"events": [make_event(f"e-{i}") for i in range(20)]}, now=now)
    ingest(emulated.engine, 1, [e for _, e in valid], now=now)
    with Worker(emulated.engine, emulated.dash.box, emulated.settings) as worker:
        assert worker.run_once() == 20  # refused: given back untouched, the destination paused
        for path in ("/", f"/destinations/{destination_id}"):
            page = emulated.client.get(path).text
            assert '<span aria-hidden="true" class="badge-shape">■</span> Down</span>' in page
            assert "credentials refused (invalid_grant): reconnect this destination" in page
        assert worker.run_once() == 0

        config = bingads_emulator.config
        customer_id, account_id = emulator_account(bingads_emulator)
        fresh = httpx.post(f"{bingads_emulator.url}/_emulator/tokens").json()["refresh_token"]
        saved = emulated.post(
            f"/destinations/{destination_id}",
            card(
                customer_id=str(customer_id),
                account_id=str(account_id),
                client_id=config.client_id,
                developer_token="",
                client_secret="",
                access_token="",
                refresh_token=fresh,
            ),
        )
        assert saved.status_code == 303
        assert worker.run_once() == 20  # at once, not after the five-minute pause
    assert not [r for r in stored_dispatches(emulated.engine) if r.status == "pending"]
    assert "credentials refused" not in emulated.client.get("/").text


def test_connect_runs_the_oauth_flow_and_stores_the_tokens(
    emulated: DashboardWorld, bingads_emulator: RunningEmulator
) -> None:
    customer_id, account_id = emulator_account(bingads_emulator)
    config = bingads_emulator.config
    create_workspace(emulated)
    form = card(
        customer_id=str(customer_id),
        account_id=str(account_id),
        developer_token=config.developer_token,
        client_id=config.client_id,
        client_secret=config.client_secret,
        access_token="",
        refresh_token="",
    )
    start = emulated.post("/workspaces/1/destinations/connect", form)
    assert start.status_code == 303
    authorize = urlsplit(start.headers["location"])
    query = parse_qs(authorize.query)
    assert start.headers["location"].startswith(bingads_emulator.url)
    assert query["redirect_uri"] == ["http://testserver/oauth/callback"]
    assert query["code_challenge_method"] == ["S256"]
    assert "code_verifier" not in start.headers["location"]
    back = httpx.get(start.headers["location"], follow_redirects=False)  # Microsoft's sign-in, auto-approved
    callback = urlsplit(back.headers["location"])
    done = emulated.client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert done.status_code == 303, done.text
    destination = get_destination(emulated.engine, 1)
    assert destination is not None and done.headers["location"] == "/destinations/1"
    stored = emulated.dash.box.open(destination.sealed)
    assert stored["refresh_token"] and stored["access_token"]
    page = emulated.client.get("/destinations/1").text
    assert "Connected to Microsoft Advertising: tokens stored." in page
    assert stored["refresh_token"] not in page and stored["access_token"] not in page
    tested = emulated.client.get(emulated.post("/destinations/1/test").headers["location"]).text
    assert "<strong>Test passed</strong>" in tested


def test_a_callback_with_a_foreign_state_is_refused(
    emulated: DashboardWorld, bingads_emulator: RunningEmulator
) -> None:
    customer_id, account_id = emulator_account(bingads_emulator)
    config = bingads_emulator.config
    create_workspace(emulated)
    form = card(customer_id=str(customer_id), account_id=str(account_id), client_id=config.client_id,
                client_secret=config.client_secret, refresh_token="", access_token="")  # fmt: skip
    emulated.post("/workspaces/1/destinations/connect", form)
    answer = emulated.client.get("/oauth/callback?code=stolen&state=not-this-flow")
    assert answer.status_code == 400
    assert "state_mismatch" in answer.text
    assert get_destination(emulated.engine, 1) is None
    again = emulated.client.get("/oauth/callback?code=stolen&state=not-this-flow")
    assert again.status_code == 400 and "Press Connect again" in again.text


def test_connect_checks_the_other_fields_first(signed_in: DashboardWorld) -> None:
    create_workspace(signed_in)
    answer = signed_in.post("/workspaces/1/destinations/connect", card(client_id="", refresh_token=""))
    assert answer.status_code == 422
    assert field_errors(answer.text) == {"client_id": "required"}


def test_reconnecting_keeps_the_live_switch(emulated: DashboardWorld, bingads_emulator: RunningEmulator) -> None:
    destination_id = emulator_destination(emulated, bingads_emulator)
    set_live(emulated.engine, destination_id, True)
    start = emulated.post(f"/destinations/{destination_id}/connect", card(**_emulator_card(bingads_emulator)))
    back = httpx.get(start.headers["location"], follow_redirects=False)
    callback = urlsplit(back.headers["location"])
    emulated.client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    destination = get_destination(emulated.engine, destination_id)
    assert destination is not None and destination.live


def test_an_unknown_destination_is_not_found(signed_in: DashboardWorld) -> None:
    answer = signed_in.client.get("/destinations/99")
    assert answer.status_code == 404
    assert "This destination does not exist." in answer.text
    assert signed_in.post("/destinations/99/test").status_code == 404


def _emulator_card(emulator: RunningEmulator) -> dict[str, str]:
    customer_id, account_id = emulator_account(emulator)
    config = emulator.config
    return {
        "customer_id": str(customer_id),
        "account_id": str(account_id),
        "developer_token": "",
        "client_id": config.client_id,
        "client_secret": "",
        "access_token": "",
        "refresh_token": "",
    }


# ---- keys ----


def test_keys_are_created_rotated_and_revoked_from_the_dashboard(signed_in: DashboardWorld) -> None:
    ingestion = create_workspace(signed_in)
    (workspace,) = list_workspaces(signed_in.engine)
    page = signed_in.client.get(f"/workspaces/{workspace.id}/keys")
    assert page.status_code == 200 and "Ingestion (public)" in page.text and ingestion not in page.text

    created = signed_in.post(f"/workspaces/{workspace.id}/keys", {"kind": "api", "name": "reporting"})
    assert created.status_code == 201
    api_key = re.search(r'id="new-key"[^>]*>(bbs_[^<]+)<', created.text)
    assert api_key is not None
    holder = key_holder(signed_in.engine, api_key.group(1))
    assert holder is not None and holder.kind == "api"

    rotated = signed_in.post(f"/keys/{holder.key_id}/rotate")
    assert rotated.status_code == 201 and f"replaces key {holder.key_id}" in rotated.text
    assert key_holder(signed_in.engine, api_key.group(1)) is None

    (current,) = [k for k in list_keys(signed_in.engine) if k.kind == "api"]
    assert signed_in.post(f"/keys/{current.id}/rotate", {"grace_hours": "5"}).status_code == 422
    graced = signed_in.post(f"/keys/{current.id}/rotate", {"grace_hours": "24"})
    assert graced.status_code == 201
    assert "Active until" in signed_in.client.get(f"/workspaces/{workspace.id}/keys").text
    assert len([k for k in list_keys(signed_in.engine) if k.kind == "api"]) == 2  # both work for a day

    (ingestion_key,) = [k for k in list_keys(signed_in.engine) if k.kind == "ingestion"]
    revoked = signed_in.post(f"/keys/{ingestion_key.id}/revoke")
    assert revoked.status_code == 303
    assert key_holder(signed_in.engine, ingestion) is None
    assert "Revoked" in signed_in.client.get(f"/workspaces/{workspace.id}/keys").text
    assert signed_in.post(f"/keys/{ingestion_key.id}/revoke").status_code == 409
    assert signed_in.post("/keys/999/revoke").status_code == 404
    assert signed_in.post(f"/workspaces/{workspace.id}/keys", {"kind": "admin"}).status_code == 422


# ---- a changed secret key ----


def test_a_changed_secret_key_is_explained_on_the_card_not_a_500(tmp_path: Path, signed_in: DashboardWorld) -> None:
    create_workspace(signed_in)
    assert signed_in.post("/workspaces/1/destinations", card()).status_code == 303
    changed = dashboard_settings(tmp_path / "changed", database_url=signed_in.settings.database_url)
    for other in open_dashboard(changed):
        sign_in(other.client)
        page = other.client.get("/destinations/1")
        assert page.status_code == 200
        assert "encrypted with another secret key" in page.text and "press Save" in page.text
        tested = other.post("/destinations/1/test")
        assert tested.status_code == 303
        assert "the secrets cannot be read" in other.client.get(tested.headers["location"]).text
        goals = other.client.get("/destinations/1/goals")
        assert goals.status_code == 200 and "encrypted with another secret key" in goals.text
        assert other.post("/destinations/1", card(name="Re-entered")).status_code == 303  # sealed anew
        again = other.client.get("/destinations/1")
        assert "encrypted with another secret key" not in again.text
        assert other.dash.box.open(get_destination(other.engine, 1).sealed)["refresh_token"] == SECRETS["refresh_token"]  # type: ignore[union-attr]


def test_the_capi_token_is_stored_and_never_shown_back(signed_in: DashboardWorld) -> None:
    token = "CAPITOKEN-s3cr3t-5555"
    destination_id = create_destination(
        signed_in, uet_tag_id="42", capi_token=token, event_channels="purchase = offline, capi"
    )
    destination = get_destination(signed_in.engine, destination_id)
    assert destination is not None and destination.channels == ("offline", "capi")
    assert signed_in.dash.box.open(destination.sealed)["capi_token"] == token
    page = signed_in.client.get(f"/destinations/{destination_id}").text
    assert token not in page
    assert 'name="capi_token"' in page and page.count('<span class="secret-state set">set</span>') == 5
    assert "Offline Conversions, UET Conversions API" in page
    assert "Microsoft counts each one twice" in page  # purchase goes through both channels


def test_the_test_shows_auto_tagging_and_turns_it_on(
    emulated: DashboardWorld, bingads_emulator: RunningEmulator
) -> None:
    destination_id = emulator_destination(emulated, bingads_emulator)
    destination = get_destination(emulated.engine, destination_id)
    assert destination is not None
    bingads_emulator.state.campaign.account_properties.pop(destination.account_id, None)
    page = emulated.client.get(emulated.post(f"/destinations/{destination_id}/test").headers["location"]).text
    assert "MSCLKID auto-tagging is off" in page and "Turn on auto-tagging" in page
    page = emulated.client.get(emulated.post(f"/destinations/{destination_id}/auto-tagging").headers["location"]).text
    assert "MSCLKID auto-tagging is on" in page
