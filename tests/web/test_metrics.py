"""The metrics page: totals and ratios, the four daily charts, tops, UTM breakdown, runs, and Run import now."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import httpx

from bingbridge.emulator.server import RunningEmulator
from bingbridge.metrics.importer import IMPORT_LEASE
from bingbridge.store import leases, migrate
from bingbridge.store.ad_metrics import UPSERT_COLUMNS, upsert_ad_metrics
from bingbridge.store.engine import utcnow
from tests.web.conftest import DashboardWorld

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)


def load(world: DashboardWorld) -> None:
    base = {
        "account_id": 7, "account_name": "Shop", "campaign_id": 11, "campaign_name": "Brand - Exact",
        "ad_group_id": 1, "ad_group_name": "Core", "final_url": None, "currency_code": "USD",
        "utm_source": "bing", "utm_medium": "cpc", "utm_campaign": "brand", "utm_content": None, "utm_term": None,
        "run_id": 1, "imported_at": utcnow(),
    }  # fmt: skip
    rows = [
        {**base, "date": D1, "ad_id": 1, "ad_name": "Save 20% Today", "impressions": 1000, "clicks": 40,
         "spend": 20.0, "conversions": 4.0, "revenue": 80.0},
        {**base, "date": D2, "ad_id": 1, "ad_name": "Save 20% Today", "impressions": 3000, "clicks": 60,
         "spend": 30.0, "conversions": 1.0, "revenue": 70.0},
    ]  # fmt: skip
    with world.engine.begin() as conn:
        upsert_ad_metrics(conn, [tuple(r[c] for c in UPSERT_COLUMNS) for r in rows])


def kpis(html: str) -> dict[str, str]:
    return dict(re.findall(r"<div><dt>([^<]+)</dt><dd>([^<]+)</dd></div>", html))


def test_totals_and_ratios_of_the_range(signed_in: DashboardWorld) -> None:
    load(signed_in)
    page = signed_in.client.get("/metrics?start=2026-03-01&end=2026-03-02").text
    assert kpis(page) == {
        "Spend": "50.00 USD", "Revenue": "150.00 USD", "Impressions": "4,000", "Clicks": "100", "Conversions": "5.0",
        "CPC": "0.50", "CTR": "2.50%", "CPA": "10.00", "ROAS": "3.00x",
    }  # fmt: skip


def test_six_daily_line_charts_with_revenue_and_roas(signed_in: DashboardWorld) -> None:
    load(signed_in)
    page = signed_in.client.get("/metrics?start=2026-03-01&end=2026-03-02").text
    figure = r'<figure class="card chart-card" id="figure-(\w+)">\s*<figcaption>[^<]*</figcaption>\s*(<svg.*?</svg>)'
    charts = {key: ET.fromstring(svg) for key, svg in re.findall(figure, page, re.S)}
    assert list(charts) == ["spend", "revenue", "roas", "clicks", "impressions", "conversions"]
    ns = "{http://www.w3.org/2000/svg}"
    # Spend 20 then 30: the top tick is 30, so the second day touches the top of the plot.
    assert charts["spend"].find(f"{ns}polyline").get("points") == "64.0,78.7 624.0,16.0"
    assert charts["spend"].find(f"{ns}desc").text == (
        "2026-03-01 to 2026-03-02: total 50.00 USD, highest 30.00 USD on 2026-03-02."
    )
    assert charts["clicks"].find(f"{ns}title").text == "Clicks per day"
    # ROAS 80/20 = 4.00x then 70/30 = 2.33x; its description gives the range's ROAS, not a sum of ratios.
    assert charts["roas"].find(f"{ns}desc").text == (
        "2026-03-01 to 2026-03-02: overall 3.00x, highest 4.00x on 2026-03-01."
    )


def test_tops_and_utm_breakdown(signed_in: DashboardWorld) -> None:
    load(signed_in)
    page = signed_in.client.get("/metrics?start=2026-03-01&end=2026-03-02").text
    # Names beside ids
    assert '<td data-label="Account" class="text">Shop <span class="entity-id">7</span></td>' in page
    assert re.search(
        r'<td data-label="Campaign" class="text">Brand - Exact <span class="entity-id">11</span></td>\s*'
        r'<td data-label="Spend">50.00</td>',
        page,
    )
    assert '<td data-label="Ad" class="text">Save 20% Today <span class="entity-id">1</span></td>' in page
    assert re.search(r'<td data-label="utm_campaign" class="text">brand</td>\s*<td data-label="Spend">50.00</td>', page)


def test_the_default_range_ends_on_the_newest_imported_day(signed_in: DashboardWorld) -> None:
    load(signed_in)
    page = signed_in.client.get("/metrics").text
    assert 'name="end" type="date" value="2026-03-02"' in page
    assert 'name="start" type="date" value="2026-02-01"' in page


def test_a_bad_range_is_named(signed_in: DashboardWorld) -> None:
    answer = signed_in.client.get("/metrics?start=2026-03-05&end=2026-03-01")
    assert answer.status_code == 400
    assert "the first day is after the last" in answer.text


def test_without_a_configured_connection_the_import_says_what_is_missing(signed_in: DashboardWorld) -> None:
    page = signed_in.client.get("/metrics").text
    assert "Import is not configured: missing setting client_id (set BINGBRIDGE_CLIENT_ID" in page
    answer = signed_in.post("/metrics/import")
    assert "Cannot import: missing setting client_id" in signed_in.client.get(answer.headers["location"]).text


def test_run_import_now_imports_in_the_background(emulated: DashboardWorld, bingads_emulator: RunningEmulator) -> None:
    answer = emulated.post("/metrics/import", {"days": "7"})
    assert answer.headers["location"] == "/metrics#runs"
    assert "Import started" in emulated.client.get("/metrics").text
    imports = emulated.dash.imports
    imports.join(timeout=120)
    status = emulated.client.get("/api/imports/current").json()
    assert status["state"] == "finished" and status["status"] == "succeeded" and status["rows"] > 0
    page = emulated.client.get("/metrics").text
    assert re.search(rf"run #{status['run_id']} succeeded, [\d,]+ rows\.", page)
    assert '<td data-label="Trigger">dashboard</td>' in page
    assert "<polyline" in page


def test_only_one_import_runs_at_a_time(emulated: DashboardWorld, bingads_emulator: RunningEmulator) -> None:
    httpx.post(f"{bingads_emulator.url}/_emulator/config", json={"latency_ms": 300})  # the first stays running
    emulated.post("/metrics/import", {"days": "3"})
    second = emulated.post("/metrics/import", {"days": "3"})
    assert "An import is running already" in emulated.client.get(second.headers["location"]).text
    httpx.post(f"{bingads_emulator.url}/_emulator/config", json={"latency_ms": 0})
    imports = emulated.dash.imports
    imports.join(timeout=120)
    assert imports.state.state == "finished"


def test_an_import_run_elsewhere_shows_as_running_and_blocks_another(emulated: DashboardWorld) -> None:
    migrate(emulated.engine)
    leases.take(emulated.engine, IMPORT_LEASE, "the schedule", length=dt.timedelta(minutes=2), now=utcnow())
    assert emulated.client.get("/api/imports/current").json()["state"] == "running"
    refused = emulated.post("/metrics/import", {"days": "3"})
    assert "An import is running already" in emulated.client.get(refused.headers["location"]).text
    leases.release(emulated.engine, IMPORT_LEASE, "the schedule")
    assert emulated.client.get("/api/imports/current").json()["state"] == "idle"


def test_a_bad_backfill_is_refused(emulated: DashboardWorld) -> None:
    answer = emulated.post("/metrics/import", {"days": "5000"})
    assert "must be 1 to" in emulated.client.get(answer.headers["location"]).text


def test_the_account_filter_narrows_every_figure(signed_in: DashboardWorld) -> None:
    load(signed_in)
    other = {c: None for c in UPSERT_COLUMNS} | {
        "account_id": 8, "account_name": "Other shop", "date": D1, "ad_id": 5, "impressions": 10, "clicks": 1,
        "spend": 5.0, "conversions": 0.0, "revenue": 0.0, "currency_code": "USD", "run_id": 1, "imported_at": utcnow(),
    }  # fmt: skip
    with signed_in.engine.begin() as conn:
        upsert_ad_metrics(conn, [tuple(other[c] for c in UPSERT_COLUMNS)])
    everything = signed_in.client.get("/metrics?start=2026-03-01&end=2026-03-02").text
    assert kpis(everything)["Spend"] == "55.00 USD"
    assert '<option value="8">Other shop (8)</option>' in everything
    one = signed_in.client.get("/metrics?start=2026-03-01&end=2026-03-02&account=8").text
    assert kpis(one)["Spend"] == "5.00 USD" and '<option value="8" selected>Other shop (8)</option>' in one
    assert "Brand - Exact" not in one
    bad = signed_in.client.get("/metrics?account=abc")
    assert bad.status_code == 400 and "not an account id" in bad.text
