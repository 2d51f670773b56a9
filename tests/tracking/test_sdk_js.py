"""The browser snippet, run for real in Node with a fake document, location and fetch (skipped without node)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import Engine

from tests.tracking.ingest_support import MSCLKID, TestClient, stored_events

SDK = Path(__file__).parents[2] / "src" / "bingbridge" / "web" / "static" / "sdk.js"
HARNESS = Path(__file__).with_name("sdk_harness.js")
NODE = shutil.which("node")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
NINETY_DAYS = 90 * 24 * 3600

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run(scenario: dict[str, Any]) -> dict[str, Any]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(HARNESS), str(SDK), json.dumps(scenario)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def cookie_value(write: str) -> dict[str, str]:
    name, _, rest = write.partition("=")
    assert name == "_bb_click_ids"
    value: dict[str, str] = json.loads(unquote(rest.split(";")[0]))
    return value


def attributes(write: str) -> list[str]:
    return [part.strip() for part in write.split(";")[1:]]


LANDING = {
    "url": f"https://shop.example/landing?utm_source=bing&msclkid={MSCLKID}&gclid=G-1&fbclid=F-1",
    "scriptSrc": "https://track.example.com/sdk.js",
    "init": {"key": "bbk_test"},
    "track": [["purchase", {"value": 49.9, "currency": "EUR"}]],
}


def test_click_ids_of_the_landing_url_go_into_a_90_day_first_party_cookie() -> None:
    out = run(LANDING)
    (write,) = out["writes"]
    assert cookie_value(write) == {"msclkid": MSCLKID, "gclid": "G-1", "fbclid": "F-1"}
    assert attributes(write) == [f"Max-Age={NINETY_DAYS}", "Path=/", "SameSite=Lax", "Secure"]


def test_track_posts_the_event_with_the_key_and_keepalive() -> None:
    out = run(LANDING)
    (request,) = out["requests"]
    assert request["url"] == "https://track.example.com/v1/events"  # the origin the script came from
    options = request["options"]
    assert (options["method"], options["keepalive"]) == ("POST", True)
    assert options["headers"] == {"Content-Type": "application/json", "Authorization": "Bearer bbk_test"}
    body = json.loads(options["body"])
    assert UUID4.match(body["event_id"])
    assert (body["event_name"], body["value"], body["currency"]) == ("purchase", 49.9, "EUR")
    assert body["click_ids"] == {"msclkid": MSCLKID, "gclid": "G-1", "fbclid": "F-1"}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", body["timestamp"])
    assert out["results"][0] == {"ok": True, "status": 200, "event_id": body["event_id"], "body": {"accepted": ["x"]}}


def test_a_later_page_sends_the_click_ids_kept_in_the_cookie() -> None:
    first = run(LANDING)
    out = run(
        {
            "url": "http://shop.example/checkout",
            "cookie": "other=1; " + first["jar"],
            "init": {"key": "bbk_test", "endpoint": "http://localhost:8000/"},
            "track": [["lead", {"event_id": "lead-1", "user": {"email": "a@example.com"}, "properties": {"f": 1}}]],
        }
    )
    body = json.loads(out["requests"][0]["options"]["body"])
    assert out["requests"][0]["url"] == "http://localhost:8000/v1/events"
    assert (body["event_id"], body["user"], body["properties"]) == ("lead-1", {"email": "a@example.com"}, {"f": 1})
    assert body["click_ids"]["msclkid"] == MSCLKID
    assert "Secure" not in attributes(out["writes"][0])  # plain http: a Secure cookie would not be kept


def test_a_new_click_replaces_the_stored_one() -> None:
    first = run(LANDING)
    newer = "f" * 32
    out = run({**LANDING, "url": f"https://shop.example/?msclkid={newer}", "cookie": first["jar"]})
    assert cookie_value(out["writes"][0])["msclkid"] == newer
    assert cookie_value(out["writes"][0])["gclid"] == "G-1"


def test_an_msclkid_that_is_not_32_hex_characters_is_ignored() -> None:
    out = run({**LANDING, "url": "https://shop.example/?msclkid=not-a-click&ttclid=T-1"})
    assert cookie_value(out["writes"][0]) == {"ttclid": "T-1"}


def test_with_ad_storage_denied_nothing_is_stored_or_sent() -> None:
    out = run({**LANDING, "init": {"key": "bbk_test", "consent": {"ad_storage": "denied"}}})
    assert out["writes"] == []
    body = json.loads(out["requests"][0]["options"]["body"])
    assert body["consent"] == {"ad_storage": "denied"}
    assert "click_ids" not in body


def test_event_ids_are_made_without_crypto_randomuuid_too() -> None:
    out = run({**LANDING, "crypto": False})
    assert UUID4.match(json.loads(out["requests"][0]["options"]["body"])["event_id"])


def test_tracking_before_init_is_an_error() -> None:
    out = run({"url": "https://shop.example/", "before": [["purchase", {}]]})
    assert out["error"] == "bingbridge.track: call bingbridge.init({key}) first"
    assert out["requests"] == []


def test_what_the_snippet_sends_is_accepted_by_the_service(
    client: TestClient, ingestion_key: str, engine: Engine
) -> None:
    out = run({**LANDING, "init": {"key": ingestion_key}})
    options = out["requests"][0]["options"]
    response = client.post("/v1/events", content=options["body"], headers=options["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["dispatch"] == {"pending": 1}
    assert stored_events(engine)[0].click_ids == {"msclkid": MSCLKID, "gclid": "G-1", "fbclid": "F-1"}


def test_a_page_load_sends_url_referrer_title_and_the_page_load_id() -> None:
    out = run(
        {**LANDING, "referrer": "https://www.bing.com/", "title": "Boots", "track": [["page()", {}], ["purchase", {}]]}
    )
    page_view, purchase = (json.loads(r["options"]["body"]) for r in out["requests"])
    assert page_view["event_name"] == "page_view"
    assert page_view["page"]["url"] == LANDING["url"]
    assert (page_view["page"]["referrer"], page_view["page"]["title"]) == ("https://www.bing.com/", "Boots")
    assert UUID4.match(page_view["page"]["load_id"])
    assert purchase["page"] == page_view["page"]  # the events of one page load share its id
    assert page_view["event_id"] != purchase["event_id"]


def test_with_ad_storage_denied_a_page_load_carries_no_url_or_referrer() -> None:
    out = run({
        **LANDING, "referrer": "https://www.bing.com/?q=boots", "title": "Boots", "track": [["page()", {}]],
        "init": {"key": "bbk_test", "consent": {"ad_storage": "denied"}},
    })  # fmt: skip
    body = json.loads(out["requests"][0]["options"]["body"])
    assert set(body["page"]) == {"title", "load_id"} and "click_ids" not in body


def test_a_page_load_is_accepted_by_the_service_and_routed(
    client: TestClient, ingestion_key: str, engine: Engine
) -> None:
    out = run({**LANDING, "init": {"key": ingestion_key}, "title": "Boots", "track": [["page()", {}]]})
    options = out["requests"][0]["options"]
    response = client.post("/v1/events", content=options["body"], headers=options["headers"])
    assert response.status_code == 200, response.text
    (decision,) = response.json()["results"][0]["dispatches"]
    assert (decision["channel"], decision["status"]) == ("offline", "skipped")  # no CAPI on this destination
    assert stored_events(engine)[0].page["url"] == LANDING["url"]
